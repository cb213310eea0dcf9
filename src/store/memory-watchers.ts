/**
 * The embedded store's open watches: who wants which circuits, and the
 * synchronous hand-off of each new log entry to every matching watcher.
 *
 * An entry is matched against candidates only, not every watcher: watchers
 * that list circuit names (and no prefix) are indexed by name, those with a
 * prefix only (or none: every circuit) are grouped by prefix, and the rare
 * ones with both are checked one by one. An entry so costs one check per
 * distinct prefix plus a hand-off per matching watcher, however many
 * thousands watch other circuits.
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

interface Watcher {
  filter: WatchFilter;
  sink: (item: WatchItem) => void;
}

export function createMemoryWatchers(): MemoryWatchers {
  /** Watchers of listed names only, by name (a name listed twice counts once). */
  const byName = new Map<string, Set<Watcher>>();
  /** Watchers of a prefix only, by prefix ("" for a watcher of every circuit). */
  const byPrefix = new Map<string, Set<Watcher>>();
  /** Watchers of a prefix and listed names. */
  const mixed = new Set<Watcher>();
  const add = <K>(index: Map<K, Set<Watcher>>, key: K, w: Watcher): void => {
    let set = index.get(key);
    if (set === undefined) index.set(key, (set = new Set()));
    set.add(w);
  };
  const remove = <K>(index: Map<K, Set<Watcher>>, key: K, w: Watcher): void => {
    const set = index.get(key);
    if (set?.delete(w) === true && set.size === 0) index.delete(key);
  };
  return {
    open(filter, sink, head) {
      const watcher: Watcher = { filter, sink };
      const kind = filter.circuits.length === 0 ? "prefix" : filter.prefix === "" ? "names" : "mixed";
      if (kind === "names") for (const name of filter.circuits) add(byName, name, watcher);
      else if (kind === "prefix") add(byPrefix, filter.prefix, watcher);
      else mixed.add(watcher);
      let open = true;
      const close = (): void => {
        if (!open) return;
        open = false;
        if (kind === "names") for (const name of filter.circuits) remove(byName, name, watcher);
        else if (kind === "prefix") remove(byPrefix, filter.prefix, watcher);
        else mixed.delete(watcher);
      };
      return { close, position: head };
    },
    deliver(entry) {
      const circuit = circuitOf(entry);
      // A watcher is in one index only, and under a name once: nobody gets the entry twice.
      const named = byName.get(circuit);
      if (named !== undefined) for (const w of named) w.sink(entry);
      for (const [prefix, watchers] of byPrefix) if (circuit.startsWith(prefix)) for (const w of watchers) w.sink(entry);
      for (const w of mixed) if (matchesFilter(w.filter, circuit)) w.sink(entry);
    },
    clear: () => {
      byName.clear();
      byPrefix.clear();
      mixed.clear();
    },
  };
}
