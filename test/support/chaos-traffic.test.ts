import { describe, expect, it } from "vitest";
import { probeOvergrants, type ProbeGrant } from "./chaos-traffic.js";

/** A probe of circuit "c", generation 1, incarnation 0, unexpired: sent at `sent`, answered at `done`, reported at `report`. */
function probe(body: string, sent: number, done: number, report?: number, over: Partial<ProbeGrant> = {}): ProbeGrant {
  return {
    circuit: "c",
    generation: 1,
    body,
    replica: 0,
    sentSeq: sent,
    doneSeq: done,
    doneWallMs: 1_000,
    expiresAtMs: 10_000,
    incarnation: 0,
    reportSentSeq: report,
    ...over,
  };
}

describe("probeOvergrants (the chaos test's count of over-granted probes)", () => {
  it("counts a grant decided while max probes were certainly out", () => {
    const a = probe("a", 1, 2);
    const b = probe("b", 3, 4);
    const c = probe("c", 5, 6);
    expect(probeOvergrants([a, b, c], 2)).toEqual([{ grant: c, outstanding: [a, b] }]);
    expect(probeOvergrants([a, b, c], 3)).toEqual([]);
  });

  it("does not count a probe whose Report was sent before the grant's answer came", () => {
    expect(probeOvergrants([probe("a", 1, 2, 5), probe("b", 3, 4), probe("c", 5, 6)], 2)).toEqual([]);
  });

  it("does not count a probe whose grant was still unanswered when the other was sent (order unknown)", () => {
    expect(probeOvergrants([probe("a", 1, 6), probe("b", 3, 4), probe("c", 5, 7)], 2)).toEqual([]);
  });

  it("does not count probes of another generation, circuit or Redis incarnation, expired ones, or grants across a data loss", () => {
    const g = probe("g", 10, 11);
    const others = [
      probe("gen", 1, 2, undefined, { generation: 2 }),
      probe("circuit", 1, 2, undefined, { circuit: "d" }),
      probe("incarnation", 1, 2, undefined, { incarnation: 1 }),
      probe("expired", 1, 2, undefined, { expiresAtMs: 1_200 }),
      probe("straddled", 1, 2, undefined, { incarnation: undefined }),
    ];
    expect(probeOvergrants([...others, g], 1)).toEqual([]);
  });
});
