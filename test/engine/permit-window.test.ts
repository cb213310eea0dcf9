import { describe, expect, it } from "vitest";
import {
  BUILTIN_DEFAULTS,
  acquire,
  applyPatch,
  lookUpInWindow,
  newCircuit,
  recordInWindow,
  report,
  windowBytes,
  type PermitWindow,
} from "../../src/engine/index.js";

const T0 = 1_700_000_000_000;

describe("permit window", () => {
  it("packs two slots a byte, high nibble first, and grows only as far as the slots used", () => {
    const windows = new Map<string, PermitWindow>();
    recordInWindow(windows, "s", 2, T0, "TIMEOUT", 16);
    recordInWindow(windows, "s", 0, T0, "SUCCESS", 16);
    const w = windows.get("s")!;
    expect(w.hi).toBe(2);
    expect([...w.ring.subarray(0, 2)]).toEqual([0x10, 0x30]);
    expect(lookUpInWindow(windows, "s", 0, 16)).toEqual({ kind: "repeated", first: "SUCCESS" });
    expect(lookUpInWindow(windows, "s", 1, 16)).toEqual({ kind: "new" });
    expect(lookUpInWindow(windows, "s", 3, 16)).toEqual({ kind: "new" });
    expect(lookUpInWindow(windows, "t", 0, 16)).toEqual({ kind: "new" });
    expect(w.ring.length).toBeLessThanOrEqual(8);
  });

  it("clears the slots hi passes over, across the ring's end, and forgets seqs slots or more behind hi", () => {
    const windows = new Map<string, PermitWindow>();
    for (let seq = 0; seq < 8; seq++) recordInWindow(windows, "s", seq, T0, "FAILURE", 8);
    recordInWindow(windows, "s", 13, T0, "IGNORED", 8); // passes over 8..12: slots 0..4 cleared
    // The window is now seqs 6..13.
    expect([6, 7].map((s) => lookUpInWindow(windows, "s", s, 8))).toEqual([
      { kind: "repeated", first: "FAILURE" },
      { kind: "repeated", first: "FAILURE" },
    ]);
    expect([8, 9, 10, 11, 12].map((s) => lookUpInWindow(windows, "s", s, 8).kind)).toEqual(["new", "new", "new", "new", "new"]);
    expect(lookUpInWindow(windows, "s", 5, 8)).toEqual({ kind: "forgotten" });
    expect(lookUpInWindow(windows, "s", 13, 8)).toEqual({ kind: "repeated", first: "IGNORED" });
    recordInWindow(windows, "s", 40, T0, "SUCCESS", 8); // past the whole ring
    expect([33, 34, 35, 36, 37, 38, 39].map((s) => lookUpInWindow(windows, "s", s, 8).kind)).toEqual(["new", "new", "new", "new", "new", "new", "new"]);
    expect(lookUpInWindow(windows, "s", 32, 8)).toEqual({ kind: "forgotten" });
  });

  it("keeps 200,000 reports of one circuit's stream in at most 200,000 / 2 bytes plus one 4 KiB growth step, nothing by body", () => {
    const cfg = applyPatch(BUILTIN_DEFAULTS, { failureThreshold: 0, failureRateThreshold: 0, slowCallDurationMs: 0, permitTtlMs: 30_000 });
    const c = newCircuit("engine.hot", T0);
    const n = 200_000;
    for (let i = 0; i < n; i++) {
      const now = T0 + Math.floor(i / 10); // 10 a ms: 20 s, one stream
      const permit = acquire(c, cfg, { now, rand: 0.5 }).permit!;
      report(c, cfg, { now, rand: 0.5, permit, outcome: "SUCCESS", durationMs: 1, retryAfterMs: 0 });
    }
    expect(c.reported.size).toBe(0);
    expect(c.windows.size).toBe(1);
    expect(windowBytes(c.windows)).toBeLessThanOrEqual(n / 2 + 4096 + 16);
  });
});
