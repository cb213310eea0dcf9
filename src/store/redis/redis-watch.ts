/**
 * Watch on the Redis store: with a resume token (a stream id), exactly the
 * matching entries after it (replayed from the stream, then live); without
 * one, a snapshot of every matching circuit read at a stream position, then
 * the entries after that position. The event feed joins the two without a
 * gap or a repeat.
 */
import { ResumeTokenError, type CircuitView, type WatchFilter, type WatchItem, type WatchSubscription, circuitOf, matchesFilter } from "../store.js";
import type { CircuitNames } from "./circuit-names.js";
import { type EventFeed, type FeedItem, type StreamEvent, isStreamId } from "./event-feed.js";
import { toCircuitEvent } from "./script-replies.js";
import type { Guard } from "./unavailable.js";

export interface RedisWatchSource {
  feed: EventFeed;
  names: CircuitNames;
  /** The views of several circuits as of now, in their order; undefined for one that does not exist (read-page.ts). */
  getMany(names: readonly string[]): Promise<(CircuitView | undefined)[]>;
  /** How many events the stream keeps: a resume token older than that is expired. */
  eventLogSize: number;
  guard: Guard;
}

/** Circuits a snapshot reads at once. */
const SNAPSHOT_SLICE = 1000;

/**
 * The watch item of each transition the feed read, made once and handed to
 * every watcher it matches: the same object for all of them, so the service
 * can encode it once for all their streams (watch-hub.ts sharedItemOf).
 */
const eventItems = new WeakMap<StreamEvent, WatchItem>();

function eventItemOf(event: StreamEvent): WatchItem {
  let item = eventItems.get(event);
  if (item === undefined) {
    item = { kind: "event", event: toCircuitEvent(event) };
    eventItems.set(event, item);
  }
  return item;
}

/** Starts a watch (see CircuitStore.watch). */
export async function openRedisWatch(
  source: RedisWatchSource,
  filter: WatchFilter,
  resumeToken: string | undefined,
  sink: (item: WatchItem) => void,
): Promise<WatchSubscription> {
  const { feed, guard, eventLogSize } = source;
  const deliver = (item: FeedItem): void => {
    if (!matchesFilter(filter, circuitOf(item))) return;
    sink(item.kind === "event" ? eventItemOf(item.event) : item);
  };
  if (resumeToken !== undefined && resumeToken !== "") {
    if (!isStreamId(resumeToken)) {
      throw new ResumeTokenError("malformed", "resume_token is not a token this server issued; pass the last WatchResponse.resume_token unchanged");
    }
    return guard(() => feed.follow(resumeToken, deliver, eventLogSize));
  }
  return guard(async () => {
    const position = await feed.position();
    return feed.follow(position, deliver, eventLogSize, async () => {
      const names = (await source.names.withPrefix(filter.prefix, "circuit")).concat(filter.circuits.filter((n) => !n.startsWith(filter.prefix)));
      const wanted = [...new Set(names)].sort().filter((name) => matchesFilter(filter, name));
      // A slice at a time, a few script calls in flight (read-page.ts), each
      // slice handed on as it is read: the replica holds one slice of views,
      // not the whole snapshot (live entries wait until it is done: follow()).
      for (let from = 0; from < wanted.length; from += SNAPSHOT_SLICE) {
        for (const status of await source.getMany(wanted.slice(from, from + SNAPSHOT_SLICE))) if (status !== undefined) sink({ kind: "snapshot", status });
      }
      sink({ kind: "snapshot_complete", resumeToken: position });
    });
  });
}
