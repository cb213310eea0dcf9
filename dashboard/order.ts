/**
 * The grid's order, worst first: OPEN and FORCED_OPEN, then HALF_OPEN, then
 * everything else; within each, by failure rate (highest first), then by
 * name. An operator opening the page at fleet size sees what needs them at
 * the top without scrolling or filtering.
 *
 * Updates arrive far faster than frames (hundreds of status messages a
 * second), so an update only notes whether the circuit's place may have
 * changed (O(1)); the array is re-sorted at most once per frame, and only
 * when something moved. V8's sort (TimSort) is close to linear on an array
 * that was sorted a frame ago and has a few entries out of place.
 */
import type { StateName } from "./format.js";
import type { CircuitEntry } from "./model.js";

/** 0 first: what denies calls, then what is probing, then the rest. */
const STATE_RANK: Readonly<Record<StateName, number>> = {
  OPEN: 0,
  FORCED_OPEN: 0,
  HALF_OPEN: 1,
  CLOSED: 2,
  DISABLED: 2,
  UNKNOWN: 2,
};

/**
 * One number that orders by state rank, then failure rate descending:
 * rank·2 + (1 − rate) with the rate in [0, 1], so ranks never overlap.
 */
export function sortKey(entry: Pick<CircuitEntry, "state" | "stats">): number {
  const rate = Math.min(1, Math.max(0, entry.stats?.failureRate ?? 0));
  return STATE_RANK[entry.state] * 2 + (1 - rate);
}

/** Worst first, then by name (code-unit order, as the name filter compares). */
export function worstFirst(a: CircuitEntry, b: CircuitEntry): number {
  const d = sortKey(a) - sortKey(b);
  if (d !== 0) return d;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** A circuit with its key as of its last touch: the sort compares plain fields, not the entry's stats. */
interface Item {
  entry: CircuitEntry;
  name: string;
  key: number;
}

function byItem(a: Item, b: Item): number {
  const d = a.key - b.key;
  if (d !== 0) return d;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export class WorstFirst {
  private items: Item[] = [];
  private readonly byName = new Map<string, Item>();
  private entries: CircuitEntry[] = [];
  private dirty = false;
  /** Bumped by every re-sort, so a reader knows when its view of the order is stale. */
  version = 0;

  /** Starts over with these circuits (after a snapshot). */
  reset(entries: Iterable<CircuitEntry>): void {
    this.items = [];
    this.byName.clear();
    for (const entry of entries) {
      const item = { entry, name: entry.name, key: sortKey(entry) };
      this.items.push(item);
      this.byName.set(entry.name, item);
    }
    this.dirty = true;
  }

  /** A circuit was added or updated: O(1); the order is fixed at the next {@link sorted}. */
  touch(entry: CircuitEntry): void {
    const key = sortKey(entry);
    const item = this.byName.get(entry.name);
    if (item === undefined) {
      const added = { entry, name: entry.name, key };
      this.items.push(added);
      this.byName.set(entry.name, added);
    } else if (item.key !== key || item.entry !== entry) {
      item.key = key;
      item.entry = entry;
    } else {
      return;
    }
    this.dirty = true;
  }

  get size(): number {
    return this.items.length;
  }

  /** Every circuit, worst first (re-sorted here if anything moved since the last call). */
  sorted(): readonly CircuitEntry[] {
    if (this.dirty) {
      this.items.sort(byItem);
      this.entries = this.items.map((i) => i.entry);
      this.dirty = false;
      this.version += 1;
    }
    return this.entries;
  }
}
