/**
 * Watch streams: turns the store's push-style watch into pull-style async
 * iterables for the transports, adds heartbeats and (on request) periodic
 * live status, wraps log positions in filter-bound resume tokens, bounds the
 * number of concurrent streams and how far a slow watcher may fall behind,
 * and ends every stream cleanly at shutdown.
 */
import { type CircuitStore, type CircuitView, type WatchFilter, type WatchItem, type WatchSubscription, positionOf } from "../store/store.js";
import { ResourceExhaustedError, ShuttingDownError } from "./errors.js";
import { decodeWatchToken, encodeWatchToken } from "./watch-token.js";

/**
 * What a Watch stream yields: the store's items, heartbeats, and, when the
 * stream asked for them, `status` messages (a circuit's live view, sent when
 * it changed since last sent). Each carries `resumeToken`: the stream's
 * position after it (watch-token.ts), on every positional message (event,
 * config_change, circuit_removed, snapshot_complete, heartbeat); "" on
 * snapshot and status.
 */
export type WatchMessage = (WatchItem | { kind: "heartbeat"; at: number } | { kind: "status"; status: CircuitView }) & {
  resumeToken: string;
};

/** Per-stream options of {@link WatchHub.open}. */
export interface WatchStreamOptions {
  /**
   * Every this many ms, read the matching circuits once and send a `status`
   * message for each whose view changed since it was last sent (as snapshot
   * or status). 0 or absent: no status messages. The service enforces the
   * 1 s minimum; the hub takes any positive value (tests use shorter ones).
   */
  statusIntervalMs?: number;
}

/** Page size of the status reads (the store's list API). */
const STATUS_PAGE = 1000;

export interface WatchOptions {
  /** Concurrent Watch streams allowed; more get RESOURCE_EXHAUSTED. Default 1000. */
  maxWatchers?: number;
  /** A heartbeat is sent after this long without another message. Default 15 s. */
  heartbeatMs?: number;
  /**
   * Messages a watcher may leave unread before its stream is ended with
   * RESOURCE_EXHAUSTED (it can resume with its last resume_token). Default 10 000.
   */
  maxBacklog?: number;
  /** Clock for heartbeat timestamps. Default Date.now. */
  clock?: () => number;
}

export class WatchHub {
  private readonly maxWatchers: number;
  private readonly heartbeatMs: number;
  private readonly maxBacklog: number;
  private readonly clock: () => number;
  private readonly stops = new Set<() => void>();
  private closing = false;

  constructor(
    private readonly store: CircuitStore,
    options: WatchOptions,
  ) {
    this.maxWatchers = options.maxWatchers ?? 1000;
    this.heartbeatMs = options.heartbeatMs ?? 15_000;
    this.maxBacklog = options.maxBacklog ?? 10_000;
    this.clock = options.clock ?? Date.now;
  }

  /** Number of open streams. */
  get size(): number {
    return this.stops.size;
  }

  /**
   * Opens one stream. `resumeToken` is a token this hub wrote for the same
   * filter (watch-token.ts). The limit check, the token check and the store
   * subscription happen when iteration starts; errors (too many streams, bad
   * resume token) surface from the first next().
   */
  open(
    filter: WatchFilter,
    resumeToken: string | undefined,
    signal: AbortSignal,
    streamOptions: WatchStreamOptions = {},
  ): AsyncIterable<WatchMessage> {
    return { [Symbol.asyncIterator]: () => this.run(filter, resumeToken, signal, streamOptions.statusIntervalMs ?? 0) };
  }

  private async *run(
    filter: WatchFilter,
    resumeToken: string | undefined,
    signal: AbortSignal,
    statusIntervalMs: number,
  ): AsyncGenerator<WatchMessage> {
    if (this.closing) throw new ShuttingDownError("server is shutting down; reconnect to another replica");
    if (this.stops.size >= this.maxWatchers) {
      throw new ResourceExhaustedError(
        "too_many_watchers",
        this.maxWatchers,
        `too many Watch streams (${this.maxWatchers}, BREAKERBOX_MAX_WATCH_STREAMS); close unused streams or watch with a prefix`,
      );
    }
    const resumeFrom = resumeToken === undefined ? undefined : decodeWatchToken(filter, resumeToken);
    const tokenOf = (position: string | undefined): string => (position === undefined ? "" : encodeWatchToken(filter, position));
    const queue: WatchMessage[] = [];
    let wake: (() => void) | undefined;
    let ended = false;
    let overflowed = false;
    const notify = (): void => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const stop = (): void => {
      ended = true;
      notify();
    };
    this.stops.add(stop);
    signal.addEventListener("abort", stop, { once: true });
    const push = (item: WatchMessage): void => {
      if (ended) return;
      if (queue.length >= this.maxBacklog) {
        overflowed = true;
        ended = true;
      } else {
        queue.push(item);
      }
      notify();
    };
    // Status bookkeeping: what each circuit looked like when last sent, and
    // the newest generation an event of it carried (a status read that raced
    // a transition must not be sent after that transition's event).
    const lastSent = new Map<string, string>();
    const eventGeneration = new Map<string, number>();
    let statusReady = resumeToken !== undefined;
    let statusQueued = 0;
    let statusReading = false;
    let subscription: WatchSubscription | undefined;
    let heartbeat: NodeJS.Timeout | undefined;
    let statusTimer: NodeJS.Timeout | undefined;
    const sendStatus = async (): Promise<void> => {
      // One read at a time, and none while earlier statuses are still unread:
      // a slow reader gets fresher statuses later, not a growing backlog.
      if (!statusReady || statusReading || statusQueued > 0 || ended) return;
      statusReading = true;
      try {
        const views = await readMatching(this.store, filter);
        for (const view of views) {
          if (view.generation < (eventGeneration.get(view.circuit) ?? -1)) continue;
          const fingerprint = JSON.stringify(view);
          if (lastSent.get(view.circuit) === fingerprint) continue;
          lastSent.set(view.circuit, fingerprint);
          statusQueued += 1;
          push({ kind: "status", status: view, resumeToken: "" });
        }
      } catch {
        // The store is unreachable (or closing): the stream stays open and
        // the next interval tries again; transitions still arrive as events.
      } finally {
        statusReading = false;
      }
    };
    try {
      subscription = await this.store.watch(filter, resumeFrom, (item) => {
        if (item.kind === "snapshot") lastSent.set(item.status.circuit, JSON.stringify(item.status));
        else if (item.kind === "snapshot_complete") statusReady = true;
        else if (item.kind === "event") {
          eventGeneration.set(item.event.circuit, Math.max(item.event.generation, eventGeneration.get(item.event.circuit) ?? -1));
        }
        push({ ...item, resumeToken: tokenOf(positionOf(item)) });
      });
      const served = subscription;
      if (statusIntervalMs > 0) {
        statusTimer = setInterval(() => void sendStatus(), statusIntervalMs);
        statusTimer.unref();
      }
      let lastMessageAt = this.clock();
      heartbeat = setInterval(() => {
        // Only with nothing queued: every matching entry up to the store's
        // position for this watcher has then been yielded, so the token never
        // skips an entry the watcher has not received.
        if (this.clock() - lastMessageAt >= this.heartbeatMs && queue.length === 0) {
          queue.push({ kind: "heartbeat", at: this.clock(), resumeToken: tokenOf(served.position()) });
          notify();
        }
      }, Math.max(10, Math.floor(this.heartbeatMs / 2)));
      heartbeat.unref();
      for (;;) {
        while (queue.length > 0 && !overflowed) {
          lastMessageAt = this.clock();
          const message = queue.shift()!;
          if (message.kind === "status") statusQueued -= 1;
          yield message;
        }
        if (overflowed) {
          throw new ResourceExhaustedError(
            "watcher_too_slow",
            this.maxBacklog,
            `watcher fell ${this.maxBacklog} messages behind; reconnect with the last resume_token received`,
          );
        }
        if (ended || signal.aborted) return;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      if (heartbeat !== undefined) clearInterval(heartbeat);
      if (statusTimer !== undefined) clearInterval(statusTimer);
      subscription?.close();
      signal.removeEventListener("abort", stop);
      this.stops.delete(stop);
    }
  }

  /** Ends every open stream after what it has queued, and refuses new ones. */
  shutdown(): void {
    this.closing = true;
    for (const stop of [...this.stops]) stop();
  }
}

/**
 * The current views of the circuits `filter` selects, through the store's
 * read API: the prefix (or every circuit, when the filter is empty) page by
 * page, plus a get per listed name the prefix does not cover. Circuits that
 * do not exist are skipped.
 */
async function readMatching(store: CircuitStore, filter: WatchFilter): Promise<CircuitView[]> {
  const views: CircuitView[] = [];
  const all = filter.circuits.length === 0 && filter.prefix === "";
  if (all || filter.prefix !== "") {
    let after: string | undefined;
    for (;;) {
      const page = await store.list({ prefix: filter.prefix, limit: STATUS_PAGE, ...(after === undefined ? {} : { after }) });
      views.push(...page.circuits);
      const last = page.circuits[page.circuits.length - 1];
      if (!page.more || last === undefined) break;
      after = last.circuit;
    }
  }
  for (const name of new Set(filter.circuits)) {
    if (filter.prefix !== "" && name.startsWith(filter.prefix)) continue;
    const view = await store.get(name);
    if (view !== undefined) views.push(view);
  }
  return views;
}
