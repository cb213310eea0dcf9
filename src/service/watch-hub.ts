/**
 * Watch streams: turns the store's push-style watch into pull-style async
 * iterables for the transports (which write only as fast as the client
 * reads), reads snapshots page by page as the client takes them, adds
 * heartbeats and (on request) periodic live status, wraps log positions in
 * filter-bound resume tokens, bounds the number of concurrent streams
 * (watch-slots.ts) and how far a slow watcher may fall behind (always
 * leaving it a token to resume from), and ends every stream cleanly at
 * shutdown.
 */
import { type CircuitStore, type CircuitView, type WatchFilter, type WatchItem, type WatchSubscription, positionOf } from "../store/store.js";
import { ResourceExhaustedError, ShuttingDownError } from "./errors.js";
import { StatusPoller, type StatusSubscription } from "./status-poller.js";
import { matchingViewPages } from "./watch-reads.js";
import { WatchSlots } from "./watch-slots.js";
import { decodeWatchToken, watchTokenScopeKey, watchTokenWriter } from "./watch-token.js";

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

/**
 * What a message shares with the same entry's message on every other stream:
 * an event's `event`, a config change's `change`, the same object for all
 * streams the entry went to (the store hands one item to all its watchers),
 * so a transport can encode it once, keyed by it. Undefined for what is one
 * stream's own (snapshot, status, heartbeat, snapshot_complete), and for a
 * circuit_removed (rare, and nothing in it is an object to key by).
 * No per-message bookkeeping: this runs once per stream for every entry.
 */
export function sharedPartOf(message: WatchMessage): object | undefined {
  if (message.kind === "event") return message.event;
  if (message.kind === "config_change") return message.change;
  return undefined;
}

/** A token writer shared by the open streams of one filter, counted so the last one out drops it. */
interface SharedTokenWriter {
  write: (position: string) => string;
  streams: number;
}

/** Per-stream options of {@link WatchHub.open}. */
export interface WatchStreamOptions {
  /**
   * Every this many ms, read the matching circuits once and send a `status`
   * message for each whose view changed since it was last sent (as snapshot
   * or status). 0 or absent: no status messages. The service enforces the
   * 1 s minimum; the hub takes any positive value (tests use shorter ones).
   */
  statusIntervalMs?: number;
  /** The API key's name the stream counts against (WatchOptions.maxWatchersPerKey); absent: only the replica limit. */
  key?: string;
}

export interface WatchOptions {
  /**
   * Concurrent Watch streams allowed on the replica; more get
   * RESOURCE_EXHAUSTED TOO_MANY_WATCHERS. Default 20 000 (BREAKERBOX_MAX_WATCH_STREAMS's). Ignored when `slots` is given.
   */
  maxWatchers?: number;
  /** Concurrent Watch streams per API key (WatchStreamOptions.key); default none. Ignored when `slots` is given. */
  maxWatchersPerKey?: number;
  /** The replica's stream limits, shared with Health.Watch (watch-slots.ts). Default: made from the two above. */
  slots?: WatchSlots;
  /** A heartbeat is sent after this long without another message. Default 15 s. */
  heartbeatMs?: number;
  /**
   * Log entries (and status messages) a watcher may leave unread before its
   * stream is ended with RESOURCE_EXHAUSTED WATCHER_TOO_SLOW. The snapshot
   * does not count: it is read from the store as the watcher takes it.
   * Default 10 000.
   */
  maxBacklog?: number;
  /** Clock for heartbeat timestamps. Default Date.now. */
  clock?: () => number;
  /** Told (at most once a minute) when status rounds read every circuit because the store's change record overflowed (StatusPollerOptions.onFeedOverflow). */
  onStatusFeedOverflow?: (rounds: number) => void;
}

/** A bounded FIFO of a stream's unread messages, with the position the newest positional one stands for. */
interface Backlog {
  items: WatchMessage[];
  /** Index of the oldest unread item (shift() on a long array is linear). */
  head: number;
}

export class WatchHub {
  private readonly slots: WatchSlots;
  private readonly heartbeatMs: number;
  private readonly maxBacklog: number;
  private readonly clock: () => number;
  private readonly stops = new Set<() => void>();
  /** Token writers by filter (watch-token.ts scope key): one token per entry for all streams of a filter. */
  private readonly tokenWriters = new Map<string, SharedTokenWriter>();
  /** The replica's status rounds, shared by every stream that asked for status. */
  readonly poller: StatusPoller;
  private closing = false;

  constructor(
    private readonly store: CircuitStore,
    options: WatchOptions,
  ) {
    this.slots =
      options.slots ??
      new WatchSlots({ maxStreams: options.maxWatchers ?? 20_000, ...(options.maxWatchersPerKey === undefined ? {} : { maxPerKey: options.maxWatchersPerKey }) });
    this.heartbeatMs = options.heartbeatMs ?? 15_000;
    this.maxBacklog = options.maxBacklog ?? 10_000;
    this.clock = options.clock ?? Date.now;
    this.poller = new StatusPoller(store, {
      maxBacklog: this.maxBacklog,
      ...(options.onStatusFeedOverflow === undefined ? {} : { onFeedOverflow: options.onStatusFeedOverflow }),
    });
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
    return {
      [Symbol.asyncIterator]: () => this.serve(filter, resumeToken, signal, streamOptions.statusIntervalMs ?? 0, streamOptions.key),
    };
  }

  /**
   * One stream, in two phases. Snapshot (no resume token): the stream starts
   * at the store's log position P, subscribes from P (log entries queue up,
   * bounded), and reads the matching circuits page by page as the reader
   * takes them, then sends snapshot_complete with P. Live: the queue, in
   * order, as the reader takes it. A queue that reaches maxBacklog takes
   * nothing more; the reader gets what it holds, then a heartbeat carrying
   * the position after it, then WATCHER_TOO_SLOW: whatever happens, the
   * watcher holds a token it can resume from, and each resume makes progress.
   */
  private async *serve(
    filter: WatchFilter,
    resumeToken: string | undefined,
    signal: AbortSignal,
    statusIntervalMs: number,
    key: string | undefined,
  ): AsyncGenerator<WatchMessage> {
    // One generator per stream, not one around another: every message a
    // stream sends passes each generator layer once, times thousands of streams.
    if (this.closing) throw new ShuttingDownError("server is shutting down; reconnect to another replica");
    const release = this.slots.take(key);
    try {
      const resumeFrom = resumeToken === undefined ? undefined : decodeWatchToken(filter, resumeToken);
      const scopeKey = watchTokenScopeKey(filter);
      let writer = this.tokenWriters.get(scopeKey);
      if (writer === undefined) {
        writer = { write: watchTokenWriter(filter), streams: 0 };
        this.tokenWriters.set(scopeKey, writer);
      }
      writer.streams += 1;
      const sharedWriter = writer;
      const tokenOf = sharedWriter.write;
      const backlog: Backlog = { items: [], head: 0 };
      const unread = (): number => backlog.items.length - backlog.head;
      let wake: (() => void) | undefined;
      let stopping = false;
      let overflowed = false;
      let live = resumeFrom !== undefined;
      let subscription: WatchSubscription | undefined;
      const notify = (): void => {
        const w = wake;
        wake = undefined;
        w?.();
      };
      const stop = (): void => {
        stopping = true;
        notify();
      };
      const dropWriter = (): void => {
        sharedWriter.streams -= 1;
        if (sharedWriter.streams === 0) this.tokenWriters.delete(scopeKey);
      };
      this.stops.add(stop);
      signal.addEventListener("abort", stop, { once: true });
      // The position of the newest positional message queued (before any, where
      // the stream starts): every matching entry up to it is queued or yielded.
      let queuedThrough = resumeFrom ?? "";
      const push = (message: WatchMessage, position?: string): void => {
        if (stopping || overflowed) return;
        if (unread() >= this.maxBacklog) {
          // Full: take nothing more (memory stays bounded), and stop the store
          // delivering. The reader still gets what is queued, then the token.
          overflowed = true;
          subscription?.close();
        } else {
          backlog.items.push(message);
          if (position !== undefined) queuedThrough = position;
        }
        notify();
      };
      // Status (only for streams that asked for it): the replica's poller runs
      // the rounds (status-poller.ts); the stream keeps its own bookkeeping.
      const withStatus = statusIntervalMs > 0;
      let status: StatusSubscription | undefined;
      let heartbeat: NodeJS.Timeout | undefined;
      let lastMessageAt = this.clock();
      try {
        const start = resumeFrom ?? (await this.store.logPosition());
        queuedThrough = start;
        // Before the store subscription: events it replays are noted.
        if (withStatus) {
          status = this.poller.subscribe(filter, statusIntervalMs, {
            live: () => live && !stopping && !overflowed,
            unread,
            send: (view) => push({ kind: "status", status: view, resumeToken: "" }),
          }, resumeFrom !== undefined);
        }
        subscription = await this.store.watch(filter, start, (item) => {
          // Never a snapshot: the stream starts at a position (the hub reads the snapshot itself).
          if (item.kind === "snapshot" || item.kind === "snapshot_complete") return;
          if (item.kind === "event") status?.noteEvent(item.event.circuit, item.event.generation);
          const position = positionOf(item)!;
          push({ ...item, resumeToken: tokenOf(position) }, position);
        });
        const served = subscription;
        if (overflowed) served.close(); // filled while replaying
        heartbeat = setInterval(() => {
          // Only live and with nothing queued: every matching entry up to the
          // store's position for this watcher has then been yielded, so the
          // token never skips an entry the watcher has not received.
          if (live && !overflowed && unread() === 0 && this.clock() - lastMessageAt >= this.heartbeatMs) {
            queuedThrough = served.position();
            backlog.items.push({ kind: "heartbeat", at: this.clock(), resumeToken: tokenOf(queuedThrough) });
            notify();
          }
        }, Math.max(10, Math.floor(this.heartbeatMs / 2)));
        heartbeat.unref();
        if (!live) {
          // The snapshot, read as the reader takes it: a stream holds two pages
          // (this one, and the next, read while this one is sent), and a slow
          // reader holds the store back by nothing.
          for await (const page of matchingViewPages(this.store, filter, undefined, undefined, true)) {
            for (const view of page) {
              if (stopping || signal.aborted) return; // shutdown or cancel: no snapshot_complete, the client starts over
              status?.noteSnapshot(view);
              lastMessageAt = this.clock();
              yield { kind: "snapshot", status: view, resumeToken: "" };
            }
          }
          if (stopping || signal.aborted) return;
          live = true;
          lastMessageAt = this.clock();
          yield { kind: "snapshot_complete", resumeToken: tokenOf(start) };
        }
        for (;;) {
          // At shutdown too, everything queued is delivered before the stream ends.
          while (unread() > 0) {
            const message = backlog.items[backlog.head]!;
            backlog.head += 1;
            // Drop what was read, so a queue that never quite empties does not grow.
            if (backlog.head === backlog.items.length) {
              backlog.items = [];
              backlog.head = 0;
            } else if (backlog.head >= 1024 && backlog.head * 2 >= backlog.items.length) {
              backlog.items = backlog.items.slice(backlog.head);
              backlog.head = 0;
            }
            lastMessageAt = this.clock();
            if (message.kind === "status") status?.taken();
            yield message;
          }
          if (overflowed) {
            yield { kind: "heartbeat", at: this.clock(), resumeToken: tokenOf(queuedThrough) };
            throw new ResourceExhaustedError(
              "watcher_too_slow",
              this.maxBacklog,
              `watcher fell ${this.maxBacklog} messages behind; reconnect with the last resume_token received (the heartbeat just sent)`,
            );
          }
          if (stopping || signal.aborted) return;
          await new Promise<void>((resolve) => (wake = resolve));
        }
      } finally {
        if (heartbeat !== undefined) clearInterval(heartbeat);
        if (status !== undefined) this.poller.unsubscribe(status);
        subscription?.close();
        signal.removeEventListener("abort", stop);
        this.stops.delete(stop);
        dropWriter();
      }
    } finally {
      release();
    }
  }

  /** Ends every open stream after what it has queued, and refuses new ones. */
  shutdown(): void {
    this.closing = true;
    for (const stop of [...this.stops]) stop();
  }
}
