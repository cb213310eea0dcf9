/**
 * The bucketed sliding window of a circuit's recent calls.
 *
 * The window is WINDOW_BUCKETS buckets of windowMs / WINDOW_BUCKETS each,
 * aligned to the epoch. A bucket counts while its start is after
 * `now - windowMs`, so the oldest calls leave the window in steps of one
 * bucket: the window covers between 90 % and 100 % of windowMs.
 */
import type { Window } from "./types.js";

export const WINDOW_BUCKETS = 10;

/** Counts summed over the live buckets. */
export interface WindowCounts {
  calls: number;
  failures: number;
  slow: number;
}

export function emptyWindow(): Window {
  return {
    starts: new Array<number>(WINDOW_BUCKETS).fill(-1),
    calls: new Array<number>(WINDOW_BUCKETS).fill(0),
    failures: new Array<number>(WINDOW_BUCKETS).fill(0),
    slow: new Array<number>(WINDOW_BUCKETS).fill(0),
  };
}

export function bucketWidth(windowMs: number): number {
  return Math.max(1, Math.floor(windowMs / WINDOW_BUCKETS));
}

/** Adds one call to the bucket holding `now`; returns that bucket's start. */
export function recordCall(w: Window, windowMs: number, now: number, failed: boolean, slow: boolean): number {
  const width = bucketWidth(windowMs);
  const index = Math.floor(now / width);
  const slot = index % WINDOW_BUCKETS;
  const start = index * width;
  if (w.starts[slot] !== start) {
    w.starts[slot] = start;
    w.calls[slot] = 0;
    w.failures[slot] = 0;
    w.slow[slot] = 0;
  }
  w.calls[slot]! += 1;
  if (failed) w.failures[slot]! += 1;
  if (slow) w.slow[slot]! += 1;
  return start;
}

/** Sums the buckets that are still inside the window at `now`. */
export function windowCounts(w: Window, windowMs: number, now: number): WindowCounts {
  const oldest = now - windowMs;
  let calls = 0;
  let failures = 0;
  let slow = 0;
  for (let i = 0; i < WINDOW_BUCKETS; i++) {
    const start = w.starts[i]!;
    if (start > oldest && start <= now) {
      calls += w.calls[i]!;
      failures += w.failures[i]!;
      slow += w.slow[i]!;
    }
  }
  return { calls, failures, slow };
}
