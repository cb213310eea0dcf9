/**
 * pageOfHistory, the paging both stores share: pages, the end of a listing
 * whose history restarted, and entries written before positions existed.
 */
import { describe, expect, it } from "vitest";
import {
  formatHistoryPosition,
  nextHistoryPosition,
  pageOfHistory,
  parseHistoryPosition,
  type HistoryPosition,
  type PositionedHistoryEntry,
} from "../../src/store/history-page.js";
import type { HistoryEntry } from "../../src/store/store.js";

/** A config-change entry told apart by its actor. */
function entry(actor: string): HistoryEntry {
  return { kind: "config", change: { target: "c", actor, at: 0, oldConfig: {} as never, newConfig: {} as never } };
}

/** Newest first: `actors` with positions life/seq counting down from `top`; `legacy` more without positions. */
function history(life: number, top: number, actors: string[], legacy: string[] = []): PositionedHistoryEntry[] {
  return [
    ...actors.map((a, i) => ({ entry: entry(a), position: { life, seq: top - i } })),
    ...legacy.map((a) => ({ entry: entry(a) })),
  ];
}

const actors = (entries: HistoryEntry[]) => entries.map((e) => (e.kind === "config" ? e.change.actor : "?"));

describe("history positions", () => {
  it("start a life at the first entry's time and count up within it", () => {
    expect(nextHistoryPosition(undefined, 5_000)).toEqual({ life: 5_000, seq: 1 });
    expect(nextHistoryPosition({ life: 5_000, seq: 7 }, 9_000)).toEqual({ life: 5_000, seq: 8 });
  });

  it("round-trip as text, and refuse text they did not write", () => {
    const p: HistoryPosition = { life: 1_700_000_000_000, seq: -3 };
    expect(parseHistoryPosition(formatHistoryPosition(p))).toEqual(p);
    for (const bad of ["", "1", "1.", ".1", "a.1", "1.1.1", "1.x", " 1.1", "99999999999999999.1"]) expect(parseHistoryPosition(bad), bad).toBeUndefined();
  });

  it("refuse a 16-digit number beyond 2^53 in either half (page tokens are not signed)", () => {
    expect(parseHistoryPosition("9999999999999999.1")).toBeUndefined();
    expect(parseHistoryPosition("1.9999999999999999")).toBeUndefined();
    expect(parseHistoryPosition("9007199254740991.-9007199254740991")).toEqual({ life: 9007199254740991, seq: -9007199254740991 });
  });
});

describe("pageOfHistory", () => {
  const h = history(100, 5, ["e5", "e4", "e3", "e2", "e1"]);

  it("answers the newest entries, then those strictly older than `before`, with next only while older ones follow", () => {
    const p1 = pageOfHistory(h, 2);
    expect([actors(p1.entries), p1.next]).toEqual([["e5", "e4"], { life: 100, seq: 4 }]);
    const p2 = pageOfHistory(h, 2, p1.next);
    expect([actors(p2.entries), p2.next]).toEqual([["e3", "e2"], { life: 100, seq: 2 }]);
    expect(pageOfHistory(h, 2, p2.next)).toEqual({ entries: [entry("e1")] });
    expect(pageOfHistory(h, 5)).toEqual({ entries: h.map((p) => p.entry) });
    expect(pageOfHistory(h, 0)).toEqual({ entries: [] });
    expect(pageOfHistory([], 10)).toEqual({ entries: [] });
  });

  it("continues after a position whose entry is gone, and ends at one older than every entry", () => {
    expect(actors(pageOfHistory(h, 10, { life: 100, seq: 9 }).entries)).toEqual(["e5", "e4", "e3", "e2", "e1"]);
    expect(pageOfHistory(h, 10, { life: 100, seq: 1 })).toEqual({ entries: [] });
  });

  it("ends the listing for a position from another life: an entry of the new life is never returned as older", () => {
    const restarted = history(200, 3, ["n3", "n2", "n1"]);
    expect(pageOfHistory(restarted, 10, { life: 100, seq: 4 })).toEqual({ entries: [] });
    expect(pageOfHistory([], 10, { life: 100, seq: 4 })).toEqual({ entries: [] });
  });

  it("numbers entries written before positions existed down from the oldest numbered one, stably", () => {
    const mixed = history(300, 2, ["m2", "m1"], ["old-a", "old-b"]);
    const p1 = pageOfHistory(mixed, 3);
    expect([actors(p1.entries), p1.next]).toEqual([["m2", "m1", "old-a"], { life: 300, seq: 0 }]);
    // Recording more does not move them: the page after old-a is still old-b.
    const grown = history(300, 4, ["m4", "m3", "m2", "m1"], ["old-a", "old-b"]);
    expect(pageOfHistory(grown, 3, p1.next)).toEqual({ entries: [entry("old-b")] });
    // Only unnumbered entries: a life of their own (0) that the first numbered entry ends.
    const legacy = history(0, 0, [], ["old-a", "old-b", "old-c"]);
    const l1 = pageOfHistory(legacy, 2);
    expect([actors(l1.entries), l1.next]).toEqual([["old-a", "old-b"], { life: 0, seq: -1 }]);
    expect(pageOfHistory(legacy, 2, l1.next)).toEqual({ entries: [entry("old-c")] });
    expect(pageOfHistory(history(400, 1, ["new"], ["old-a", "old-b", "old-c"]), 2, l1.next)).toEqual({ entries: [] });
  });
});
