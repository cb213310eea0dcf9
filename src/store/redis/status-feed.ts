/**
 * The Redis store's change feed for the Watch status rounds
 * (CircuitStore.statusChanges, service/status-poller.ts): which circuits'
 * views may have changed since the last round, so a round reads those
 * instead of every circuit. Single server and Sentinel only; in Cluster mode
 * there is no store-wide key to record changes in, so the store offers no
 * feed and every round reads in full.
 *
 * The record is the touched index (lua/includes/indexes.lua index_touch),
 * kept by the scripts that change circuits in the step that changes them:
 * one ZADD in a script that runs anyway, no round trip. A circuit's view
 * changes in three ways: a script writes it (recorded); time, which a read
 * applies (window counts slide, OPEN turns HALF_OPEN, a probe times out: the
 * score is until when that can happen, so the circuit is named until then);
 * and the resolved config (a pattern rule change: the cursor carries the
 * rules version). Acquire granted from this replica's local view
 * (local-views.ts) writes nothing and changes nothing a view shows (a CLOSED
 * grant keeps no count; probes and refusals always run acquire.lua), so it
 * needs no record. A cursor is `<store ms>:<rules version>:<data epoch>`;
 * a change of either, or a cursor older than the retention, answers "cannot
 * tell" (read everything).
 */
import type { Cluster, Redis } from "ioredis";
import type { StatusChanges } from "../store.js";
import type { KeySpace } from "./keys.js";
import type { FeedCommand } from "./scripts.js";
import type { Guard } from "./unavailable.js";

/**
 * How long the touched index keeps an entry past its score: the longest
 * status interval (1 h, the longest a cursor waits between rounds) and a
 * margin. An older cursor cannot be answered.
 */
export const STATUS_FEED_RETAIN_MS = 3_600_000 + 300_000;
/** Clock difference allowed between Redis servers (a Sentinel failover): names scored this much before the cursor are named too. */
export const STATUS_FEED_SKEW_MS = 1000;

export interface StatusFeedOptions {
  client: Redis | Cluster;
  keys: KeySpace;
  guard: Guard;
  testClock: (() => number) | undefined;
}

type FeedReply = [number | string, string, string, string[] | null];

/** CircuitStore.statusChanges over the touched index. */
export function createStatusFeed(options: StatusFeedOptions): (cursor: string | undefined) => Promise<StatusChanges> {
  const { client, keys, guard } = options;
  const run = (client as unknown as Record<FeedCommand, (...args: (string | number)[]) => Promise<unknown>>).bbStatusChanges;
  return async (cursor) => {
    const [at, rules, epoch] = parseCursor(cursor);
    const clock = options.testClock === undefined ? "" : `@${options.testClock()}`;
    const reply = (await guard(() =>
      run.call(client, keys.rules, keys.touched, clock, at ?? "", STATUS_FEED_RETAIN_MS, STATUS_FEED_SKEW_MS),
    )) as FeedReply;
    const [now, version, nowEpoch, names] = reply;
    const next = `${now}:${version}:${nowEpoch}`;
    // Lua false comes back as null: the index does not reach back to the cursor.
    if (names === null || version !== rules || nowEpoch !== epoch) return { cursor: next };
    return { cursor: next, names };
  };
}

function parseCursor(cursor: string | undefined): [number | undefined, string | undefined, string | undefined] {
  if (cursor === undefined) return [undefined, undefined, undefined];
  const [at, rules, epoch] = cursor.split(":");
  const ms = Number(at);
  return [Number.isFinite(ms) && at !== "" ? ms : undefined, rules, epoch ?? ""];
}
