/**
 * Positions in a circuit's history and the paging over them, shared by both
 * stores so they page identically (the Lua twin of {@link nextHistoryPosition}
 * is push_history in src/store/redis/lua/includes/history.lua).
 *
 * Every entry gets a position when it is recorded: the `life` of the
 * circuit's history (the store time its first entry was recorded: a circuit
 * evicted and used again starts a new life) and a `seq`, one more than the
 * newest entry's. Positions never change once given, and trimming the oldest
 * entries leaves the others' alone, so "entries older than position p" means
 * the same thing however many entries were recorded since: a GetHistory page
 * token holds the position of the last entry it returned.
 */
import type { HistoryEntry } from "./store.js";

/** Where an entry sits in its circuit's history; stable while newer entries are recorded. */
export interface HistoryPosition {
  /** Store time (ms) the first entry of this history was recorded: names the circuit's life. */
  life: number;
  /** 1 for the life's first entry, one more for each later one. */
  seq: number;
}

/** A stored history entry with its position (absent only in entries written before positions existed). */
export interface PositionedHistoryEntry {
  entry: HistoryEntry;
  position?: HistoryPosition;
}

/** One page of a circuit's history, newest first. */
export interface HistoryPage {
  entries: HistoryEntry[];
  /** The last entry's position when older entries follow it; pass it as `before` for the next page. */
  next?: HistoryPosition;
}

/**
 * The position of an entry recorded at `at` (store ms) on top of a history
 * whose newest entry is at `newest` (undefined for an empty history, or one
 * whose newest entry has no position: either starts a new life).
 */
export function nextHistoryPosition(newest: HistoryPosition | undefined, at: number): HistoryPosition {
  return newest === undefined ? { life: at, seq: 1 } : { life: newest.life, seq: newest.seq + 1 };
}

/**
 * At most `limit` entries of `newestFirst` (a circuit's whole retained
 * history), starting with the newest, or with `before`: the entries strictly
 * older than it. A `before` from another life of the history (the circuit was
 * evicted and re-created, so its history restarted) or older than every
 * retained entry ends the listing: the page is empty, with no `next`, and an
 * entry of the new life is never returned as if it were older.
 *
 * Entries without a position (written before positions existed; always the
 * oldest, since every entry recorded since has one) are numbered down from
 * the oldest numbered entry, which stays while any of them does: their
 * positions are as stable as the others'.
 */
export function pageOfHistory(newestFirst: readonly PositionedHistoryEntry[], limit: number, before?: HistoryPosition): HistoryPage {
  const positions = completePositions(newestFirst);
  let start = 0;
  if (before !== undefined) {
    if (positions[0]?.life !== before.life) return { entries: [] };
    start = positions.findIndex((p) => p.seq < before.seq);
    if (start === -1) return { entries: [] };
  }
  const end = Math.min(newestFirst.length, start + Math.max(0, limit));
  const entries = newestFirst.slice(start, end).map((p) => p.entry);
  return end < newestFirst.length && end > start ? { entries, next: positions[end - 1]! } : { entries };
}

function completePositions(newestFirst: readonly PositionedHistoryEntry[]): HistoryPosition[] {
  let anchor: { life: number; seq: number; index: number } | undefined;
  newestFirst.forEach((p, index) => {
    if (p.position !== undefined) anchor = { ...p.position, index };
  });
  // No numbered entry at all: number them in life 0, which no recorded entry has.
  const base = anchor ?? { life: 0, seq: 0, index: 0 };
  return newestFirst.map((p, index) => p.position ?? { life: base.life, seq: base.seq - (index - base.index) });
}

/** `position` as a string (the GetHistory page token's payload). */
export function formatHistoryPosition(position: HistoryPosition): string {
  return `${position.life}.${position.seq}`;
}

/** The position `text` holds, or undefined if it is not one {@link formatHistoryPosition} wrote. */
export function parseHistoryPosition(text: string): HistoryPosition | undefined {
  const m = /^(\d{1,16})\.(-?\d{1,16})$/.exec(text);
  if (m === null) return undefined;
  const life = Number(m[1]);
  const seq = Number(m[2]);
  return Number.isSafeInteger(life) && Number.isSafeInteger(seq) ? { life, seq } : undefined;
}
