/**
 * Watch streams: turns the store's push-style watch into pull-style async
 * iterables for the transports, adds heartbeats, bounds the number of
 * concurrent streams and how far a slow watcher may fall behind, and ends
 * every stream cleanly at shutdown.
 */
import type { CircuitStore, WatchFilter, WatchItem } from "../store/store.js";
import { ResourceExhaustedError, ShuttingDownError } from "./errors.js";

/** What a Watch stream yields: the store's items plus heartbeats. */
export type WatchMessage = WatchItem | { kind: "heartbeat"; at: number };

export interface WatchOptions {
  /** Concurrent Watch streams allowed; more get RESOURCE_EXHAUSTED. Default 1000. */
  maxWatchers?: number;
  /** A heartbeat is sent after this long without another message. Default 15 s. */
  heartbeatMs?: number;
  /**
   * Messages a watcher may leave unread before its stream is ended with
   * RESOURCE_EXHAUSTED (it can resume with its last event_id). Default 10 000.
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
   * Opens one stream. The limit check and the store subscription happen when
   * iteration starts; errors (too many streams, bad resume token) surface from
   * the first next().
   */
  open(filter: WatchFilter, resumeToken: string | undefined, signal: AbortSignal): AsyncIterable<WatchMessage> {
    return { [Symbol.asyncIterator]: () => this.run(filter, resumeToken, signal) };
  }

  private async *run(filter: WatchFilter, resumeToken: string | undefined, signal: AbortSignal): AsyncGenerator<WatchMessage> {
    if (this.closing) throw new ShuttingDownError("server is shutting down; reconnect to another replica");
    if (this.stops.size >= this.maxWatchers) {
      throw new ResourceExhaustedError(
        `too many Watch streams (${this.maxWatchers}, BREAKERBOX_MAX_WATCH_STREAMS); close unused streams or watch with a prefix`,
      );
    }
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
    let subscription: { close(): void } | undefined;
    let heartbeat: NodeJS.Timeout | undefined;
    try {
      subscription = await this.store.watch(filter, resumeToken, (item) => {
        if (ended) return;
        if (queue.length >= this.maxBacklog) {
          overflowed = true;
          ended = true;
        } else {
          queue.push(item);
        }
        notify();
      });
      let lastSent = this.clock();
      heartbeat = setInterval(() => {
        if (this.clock() - lastSent >= this.heartbeatMs && queue.length === 0) {
          queue.push({ kind: "heartbeat", at: this.clock() });
          notify();
        }
      }, Math.max(10, Math.floor(this.heartbeatMs / 2)));
      heartbeat.unref();
      for (;;) {
        while (queue.length > 0 && !overflowed) {
          lastSent = this.clock();
          yield queue.shift()!;
        }
        if (overflowed) {
          throw new ResourceExhaustedError(
            `watcher fell ${this.maxBacklog} messages behind; reconnect with the last event_id as resume_token`,
          );
        }
        if (ended || signal.aborted) return;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      if (heartbeat !== undefined) clearInterval(heartbeat);
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
