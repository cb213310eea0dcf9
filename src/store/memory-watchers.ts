/**
 * The embedded store's open watches: who wants which circuits, and the
 * synchronous hand-off of each new log entry to every matching watcher.
 */
import { type WatchFilter, type WatchItem, type WatchSubscription, circuitOf, matchesFilter } from "./store.js";
import type { MemoryLogEntry } from "./memory-event-log.js";

/** The open watches of one memory store. */
export interface MemoryWatchers {
  /**
   * Adds a watcher. `head` is the log's newest position: delivery is
   * synchronous, so every matching entry up to it has reached the sink, and
   * it is the watcher's position (WatchSubscription.position).
   */
  open(filter: WatchFilter, sink: (item: WatchItem) => void, head: () => string): WatchSubscription;
  /** Hands a new log entry to every watcher whose filter matches its circuit. */
  deliver(entry: MemoryLogEntry): void;
  /** Drops every watcher (the store closing). */
  clear(): void;
}

export function createMemoryWatchers(): MemoryWatchers {
  const watchers = new Set<{ filter: WatchFilter; sink: (item: WatchItem) => void }>();
  return {
    open(filter, sink, head) {
      const watcher = { filter, sink };
      watchers.add(watcher);
      return { close: () => void watchers.delete(watcher), position: head };
    },
    deliver(entry) {
      const circuit = circuitOf(entry);
      for (const w of watchers) if (matchesFilter(w.filter, circuit)) w.sink(entry);
    },
    clear: () => watchers.clear(),
  };
}
