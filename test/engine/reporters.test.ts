/** Reporter lists: the run prefix, the bound, the window rule and the quorum's range. */
import { describe, expect, it } from "vitest";
import {
  applyPatch,
  BUILTIN_DEFAULTS,
  emptyReporters,
  liveReporters,
  MAX_TRACKED_REPORTERS,
  recordReporter,
  reporterOf,
  reporterQuorum,
  type Principal,
  type Reporters,
} from "../../src/engine/index.js";

const who = (id: string): Principal => ({ keyName: "agents", agentInstanceId: id });
const names = (r: Reporters): string[] => r.failures.map((e) => e.agentInstanceId);

describe("recordReporter", () => {
  it("keeps failure reporters most recent first, and the run's reporters as a prefix of them", () => {
    const r = emptyReporters();
    recordReporter(r, who("a"), 0, true, false);
    recordReporter(r, who("b"), 0, true, false);
    recordReporter(r, who("a"), 1000, true, false);
    expect([names(r), r.run]).toEqual([["a", "b"], 2]);
    expect(r.failures[0]).toEqual({ keyName: "agents", agentInstanceId: "a", start: 1000 });
    recordReporter(r, who("c"), 1000, false, false); // a success ends the run
    expect([names(r), r.run]).toEqual([["a", "b"], 0]);
    recordReporter(r, who("b"), 2000, true, false);
    recordReporter(r, who("b"), 2000, true, false);
    expect([names(r), r.run]).toEqual([["b", "a"], 1]);
    recordReporter(r, who("a"), 2000, true, false); // back from before the run: joins it
    expect([names(r), r.run]).toEqual([["a", "b"], 2]);
  });

  it("keeps slow-call reporters apart; a failure is never a slow call", () => {
    const r = emptyReporters();
    recordReporter(r, who("a"), 0, false, true);
    recordReporter(r, who("b"), 0, true, false);
    expect(r.slow.map((e) => e.agentInstanceId)).toEqual(["a"]);
    expect(names(r)).toEqual(["b"]);
  });

  it(`keeps at most ${MAX_TRACKED_REPORTERS} reporters per list, dropping the least recent, and a run no longer than the list`, () => {
    const r = emptyReporters();
    for (let i = 0; i < 40; i++) recordReporter(r, who(`p${i}`), i, true, false);
    expect(names(r)).toEqual(Array.from({ length: 16 }, (_, i) => `p${39 - i}`));
    expect(r.run).toBe(16);
    for (let i = 0; i < 40; i++) recordReporter(r, who(`s${i}`), i, false, true);
    expect(r.slow).toHaveLength(16);
  });
});

describe("liveReporters", () => {
  it("counts an entry while its bucket start is after now - window, as the window does", () => {
    const r = emptyReporters();
    recordReporter(r, who("old"), 1_000, true, false);
    recordReporter(r, who("new"), 2_000, true, false);
    expect(liveReporters(r.failures, 10_000, 10_999).map((e) => e.agentInstanceId)).toEqual(["new", "old"]);
    expect(liveReporters(r.failures, 10_000, 11_000).map((e) => e.agentInstanceId)).toEqual(["new"]);
    expect(liveReporters(r.failures, 10_000, 12_000)).toEqual([]);
  });
});

describe("reporterQuorum", () => {
  it.each([
    [0, 1],
    [1, 1],
    [2, 2],
    [16, 16],
    [1000, 16], // stored before the bound: read as the bound
  ])("min_distinct_reporters %i needs %i reporters", (value, quorum) => {
    expect(reporterQuorum(applyPatch(BUILTIN_DEFAULTS, { minDistinctReporters: value }))).toBe(quorum);
  });

  it("counts a report without principal as one unnamed reporter", () => {
    expect(reporterOf(undefined)).toEqual({ keyName: "", agentInstanceId: "" });
  });
});
