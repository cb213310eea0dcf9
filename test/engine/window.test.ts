import { describe, expect, it } from "vitest";
import { bucketWidth, emptyWindow, recordCall, WINDOW_BUCKETS, windowCounts } from "../../src/engine/index.js";

const W = 10_000; // 10 buckets of 1 s
const B = 1_700_000_000_000; // a bucket boundary (divisible by 1000)

describe("window buckets", () => {
  it("has ten buckets", () => {
    expect(WINDOW_BUCKETS).toBe(10);
  });

  it.each([
    [10_000, 1_000],
    [120_000, 12_000],
    [105, 10],
    [100, 10],
    [9, 1],
    [5, 1],
  ])("a %i ms window has %i ms buckets", (windowMs, width) => {
    expect(bucketWidth(windowMs)).toBe(width);
  });

  it("starts empty", () => {
    expect(windowCounts(emptyWindow(), W, B)).toEqual({ calls: 0, failures: 0, slow: 0 });
  });

  it("counts calls, failures and slow calls separately", () => {
    const w = emptyWindow();
    recordCall(w, W, B, true, false);
    recordCall(w, W, B + 10, false, true);
    recordCall(w, W, B + 2_500, false, false);
    expect(windowCounts(w, W, B + 2_500)).toEqual({ calls: 3, failures: 1, slow: 1 });
  });

  it("keeps a bucket while its start is after now - window, and drops it at exactly window ms after its start", () => {
    const w = emptyWindow();
    recordCall(w, W, B + 999, true, false); // bucket [B, B+1000)
    recordCall(w, W, B + 1_000, false, false); // bucket [B+1000, B+2000)
    expect(windowCounts(w, W, B + 9_999)).toEqual({ calls: 2, failures: 1, slow: 0 });
    expect(windowCounts(w, W, B + 10_000)).toEqual({ calls: 1, failures: 0, slow: 0 });
    expect(windowCounts(w, W, B + 10_999)).toEqual({ calls: 1, failures: 0, slow: 0 });
    expect(windowCounts(w, W, B + 11_000)).toEqual({ calls: 0, failures: 0, slow: 0 });
  });

  it("so a call stays in the window between 90 % and 100 % of the window", () => {
    const early = emptyWindow();
    recordCall(early, W, B, true, false); // first ms of its bucket: lives the full 10 s
    expect(windowCounts(early, W, B + 9_999).calls).toBe(1);
    expect(windowCounts(early, W, B + 10_000).calls).toBe(0);
    const late = emptyWindow();
    recordCall(late, W, B + 999, true, false); // last ms of its bucket: lives 9.001 s
    expect(windowCounts(late, W, B + 999 + 9_000).calls).toBe(1);
    expect(windowCounts(late, W, B + 999 + 9_001).calls).toBe(0);
  });

  it("reuses a slot from an earlier lap of the ring instead of adding to it", () => {
    const w = emptyWindow();
    recordCall(w, W, B + 100, true, true);
    recordCall(w, W, B + 10_100, false, false); // same slot, one lap later
    expect(windowCounts(w, W, B + 10_100)).toEqual({ calls: 1, failures: 0, slow: 0 });
    expect(w.starts.filter((s) => s !== -1)).toEqual([B + 10_000]);
  });

  it("reuses a slot left stale for several laps", () => {
    const w = emptyWindow();
    recordCall(w, W, B, true, false);
    recordCall(w, W, B + 5 * W, false, false);
    expect(windowCounts(w, W, B + 5 * W)).toEqual({ calls: 1, failures: 0, slow: 0 });
  });

  it("does not count buckets that start after now", () => {
    const w = emptyWindow();
    recordCall(w, W, B + 3_000, true, false);
    expect(windowCounts(w, W, B + 2_999)).toEqual({ calls: 0, failures: 0, slow: 0 });
    expect(windowCounts(w, W, B + 3_000)).toEqual({ calls: 1, failures: 1, slow: 0 });
  });

  it("sums every live bucket of a full window", () => {
    const w = emptyWindow();
    for (let i = 0; i < 10; i++) recordCall(w, W, B + i * 1_000 + 500, i % 2 === 0, i % 5 === 0);
    expect(windowCounts(w, W, B + 9_999)).toEqual({ calls: 10, failures: 5, slow: 2 });
    expect(windowCounts(w, W, B + 10_000)).toEqual({ calls: 9, failures: 4, slow: 1 });
  });
});
