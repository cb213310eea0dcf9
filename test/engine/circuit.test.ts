import { describe, expect, it } from "vitest";
import {
  acquire,
  applyPatch,
  BUILTIN_DEFAULTS,
  encodePermit,
  newCircuit,
  openDurationFor,
  PermitRejectedError,
  report,
  statsOf,
  type Circuit,
  type CircuitConfig,
  type Outcome,
} from "../../src/engine/index.js";
import { mulberry32, seedLabel, TEST_SEED } from "../conformance/random.js";

const T0 = 1_700_000_000_000;

function config(patch: Partial<CircuitConfig>): CircuitConfig {
  return applyPatch(BUILTIN_DEFAULTS, {
    failureThreshold: 3,
    failureRateThreshold: 0,
    openDurationMs: 10_000,
    backoffMultiplier: 2,
    maxOpenDurationMs: 50_000,
    halfOpenMaxCalls: 2,
    successThreshold: 2,
    permitTtlMs: 5_000,
    ...patch,
  });
}

describe("openDurationFor", () => {
  const base = config({});

  it.each([
    [0, 10_000],
    [1, 20_000],
    [2, 40_000],
    [3, 50_000], // 80 s capped at max_open_duration
    [10, 50_000],
    [5_000, 50_000], // 2^5000 overflows to Infinity, still capped
  ])("grows by backoff_multiplier per re-opening: after %i re-openings it is %i ms", (reopenCount, ms) => {
    expect(openDurationFor(base, reopenCount, 0.5, 0)).toBe(ms);
  });

  it("does not grow with backoff_multiplier 1", () => {
    expect(openDurationFor(config({ backoffMultiplier: 1 }), 7, 0.5, 0)).toBe(10_000);
  });

  it.each([
    [0, 8_000], // -20 %
    [0.25, 9_000],
    [0.5, 10_000], // the middle of the spread is the base
    [0.75, 11_000],
    [0.999, 11_996], // just under +20 %
  ])("spreads by ±jitter: jitter 0.2 and random %f give %i ms", (rand, ms) => {
    expect(openDurationFor(config({ jitter: 0.2 }), 0, rand, 0)).toBe(ms);
  });

  it("rounds to whole ms and never answers less than 1 ms", () => {
    expect(openDurationFor(config({ openDurationMs: 10, jitter: 0.5 }), 0, 0.01, 0)).toBe(5); // 5.1
    expect(openDurationFor(config({ openDurationMs: 10, jitter: 0.99 }), 0, 0, 0)).toBe(1); // 0.1
  });

  it.each([
    ["a hint longer than the open duration wins", 25_000, 25_000],
    ["a hint shorter than the open duration changes nothing", 3_000, 10_000],
    ["a hint is capped at max_open_duration", 3_600_000, 50_000],
    ["a negative hint is ignored", -5_000, 10_000],
    ["no hint (0)", 0, 10_000],
  ])("Retry-After: %s", (_what, hint, ms) => {
    expect(openDurationFor(base, 0, 0.5, hint)).toBe(ms);
  });

  it("takes the hint over a jittered duration that is shorter", () => {
    expect(openDurationFor(config({ jitter: 0.2 }), 0, 0, 9_000)).toBe(9_000);
    expect(openDurationFor(config({ jitter: 0.2 }), 0, 0.999, 9_000)).toBe(11_996);
  });

  it(`stays within ±jitter of the grown duration (${seedLabel(TEST_SEED)})`, () => {
    const rand = mulberry32(TEST_SEED);
    const seen = new Set<number>();
    for (let i = 0; i < 2_000; i++) {
      const jitter = Math.floor(rand() * 100) / 100; // 0 .. 0.99
      const reopenCount = Math.floor(rand() * 6);
      const c = config({ jitter });
      const grown = Math.min(50_000, 10_000 * 2 ** reopenCount);
      const ms = openDurationFor(c, reopenCount, rand(), 0);
      const where = `draw #${i}: jitter ${jitter}, re-openings ${reopenCount}`;
      expect(ms, where).toBeGreaterThanOrEqual(Math.max(1, Math.round(grown * (1 - jitter))));
      expect(ms, where).toBeLessThanOrEqual(Math.round(grown * (1 + jitter)));
      if (reopenCount === 0) seen.add(ms);
    }
    expect(seen.size).toBeGreaterThan(100); // actually spread, not one value
  });
});

/** The PermitRejectedError problem `f` throws, or undefined when it does not throw. */
function problemOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (PermitRejectedError.is(e)) return e.problem;
    throw e;
  }
  return undefined;
}

describe("report bookkeeping", () => {
  function take(c: Circuit, cfg: CircuitConfig, now: number): string {
    const r = acquire(c, cfg, { now, rand: 0.5 });
    expect(r.allowed).toBe(true);
    return r.permit!;
  }
  function put(c: Circuit, cfg: CircuitConfig, now: number, permit: string, outcome: Outcome = "SUCCESS") {
    return report(c, cfg, { now, rand: 0.5, permit, outcome, durationMs: 1, retryAfterMs: 0 });
  }

  it("answers expired for a permit past its permit_ttl even if it had been reported, whatever order reports came in", () => {
    const cfg = config({ failureThreshold: 0 });
    const c = newCircuit("engine.expiry-order", T0);
    const y = take(c, cfg, T0); // expires T0 + 5000
    const x = take(c, cfg, T0 + 5); // expires T0 + 5005
    put(c, cfg, T0 + 6, x); // reported first, expires later
    put(c, cfg, T0 + 7, y);
    expect(put(c, cfg, T0 + 4_999, y)).toMatchObject({ duplicate: true });
    // At T0 + 5002, y is past its ttl while x, reported before it, is not.
    expect(problemOf(() => put(c, cfg, T0 + 5_002, y))).toBe("expired");
    expect(problemOf(() => put(c, cfg, T0 + 5_003, y))).toBe("expired");
    expect(put(c, cfg, T0 + 5_004, x)).toMatchObject({ duplicate: true });
    expect(statsOf(c, cfg, T0 + 5_004).totalSuccesses).toBe(2);
  });

  it("answers expired for a timed-out probe reported in the very call that notices the timeout", () => {
    const cfg = config({ halfOpenMaxCalls: 1 });
    const c = newCircuit("engine.probe-timeout", T0);
    for (let i = 0; i < 3; i++) put(c, cfg, T0, take(c, cfg, T0), "FAILURE");
    expect(c.phase.state).toBe("OPEN");
    const probe = take(c, cfg, T0 + 10_000);
    expect(c.phase.state).toBe("HALF_OPEN");
    // No other call between the expiry and this report.
    expect(problemOf(() => put(c, cfg, T0 + 15_000, probe))).toBe("expired");
    expect(c.phase).toEqual({ state: "OPEN", openUntil: T0 + 15_000 + 20_000 });
    expect(statsOf(c, cfg, T0 + 15_000)).toMatchObject({ totalTimeouts: 1, totalFailures: 4, totalSuccesses: 0, reopenCount: 1 });
  });

  it("forgets a stream's window once every permit recorded in it expired (on the next Report)", () => {
    const cfg = config({ failureThreshold: 0 });
    const c = newCircuit("engine.prune", T0);
    const p = take(c, cfg, T0);
    const q = take(c, cfg, T0 + 4_000);
    const r = take(c, cfg, T0 + 5_000); // the stream is a permit_ttl old: r opens another
    const streamOf = (permit: string) => permit.split(".")[4];
    expect(streamOf(q)).toBe(streamOf(p));
    expect(streamOf(r)).not.toBe(streamOf(p));
    put(c, cfg, T0 + 1, p);
    put(c, cfg, T0 + 4_001, q);
    put(c, cfg, T0 + 5_001, r);
    expect([...c.windows.keys()]).toEqual([streamOf(p), streamOf(r)]);
    expect(put(c, cfg, T0 + 8_999, q)).toMatchObject({ disposition: "DUPLICATE" });
    expect(problemOf(() => put(c, cfg, T0 + 9_000, q))).toBe("expired"); // q (the window's latest) expired at T0 + 9000
    expect([...c.windows.keys()]).toEqual([streamOf(r)]);
  });

  it("forgets reported legacy permits once they expire (on the next Report)", () => {
    const cfg = config({ failureThreshold: 0 });
    const c = newCircuit("engine.prune-legacy", T0);
    const legacy = (expiresAt: number, nonce: string) => encodePermit({ circuitHash: c.hash, generation: 0, kind: "closed", expiresAt, nonce });
    const [p, q, r] = [legacy(T0 + 5_000, "p1"), legacy(T0 + 7_000, "q1"), legacy(T0 + 9_000, "r1")];
    put(c, cfg, T0 + 1, p);
    put(c, cfg, T0 + 4_999, q);
    expect([...c.reported.keys()]).toEqual([p, q]);
    expect(put(c, cfg, T0 + 4_999, p, "FAILURE")).toMatchObject({ disposition: "CONFLICT", recordedOutcome: "SUCCESS" });
    put(c, cfg, T0 + 5_000, r); // p expired at T0 + 5000
    expect([...c.reported.keys()]).toEqual([q, r]);
    expect(c.windows.size).toBe(0);
  });
});

// Behaviours a mutation run (docs/testing.md) found untested at the engine's own API.
describe("engine contract edges", () => {
  const take = (c: Circuit, cfg: CircuitConfig, now: number) => acquire(c, cfg, { now, rand: 0.5 });
  const put = (c: Circuit, cfg: CircuitConfig, now: number, permit: string, outcome: Outcome) =>
    report(c, cfg, { now, rand: 0.5, permit, outcome, durationMs: 1, retryAfterMs: 0 });

  it("refuses a token that is not a permit, and another circuit's permit, changing nothing", () => {
    const cfg = config({ failureThreshold: 1 });
    const c = newCircuit("engine.mine", T0);
    const other = newCircuit("engine.other", T0);
    const foreign = take(other, cfg, T0).permit!;
    expect(problemOf(() => put(c, cfg, T0, "not-a-permit", "FAILURE"))).toBe("malformed");
    expect(problemOf(() => put(c, cfg, T0, foreign, "FAILURE"))).toBe("foreign");
    expect(c.phase.state).toBe("CLOSED");
    expect(statsOf(c, cfg, T0)).toMatchObject({ totalFailures: 0, windowCalls: 0, consecutiveFailures: 0 });
    // Refused before time was applied: no transitions for the store to publish.
    for (const token of ["not-a-permit", foreign]) {
      const err = (() => {
        try {
          put(c, cfg, T0, token, "FAILURE");
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(PermitRejectedError.is(err) && err.transitions).toEqual([]);
    }
  });

  it("turns the slow-call rule off with slow_call_duration 0, even with slow_call_rate_threshold 0", () => {
    const cfg = config({ failureThreshold: 0, slowCallDurationMs: 0, slowCallRateThreshold: 0, minimumCalls: 1 });
    const c = newCircuit("engine.slow-off", T0);
    for (let i = 0; i < 5; i++) put(c, cfg, T0 + i, take(c, cfg, T0 + i).permit!, "SUCCESS");
    expect(c.phase.state).toBe("CLOSED");
  });

  it("lets the failure rate open the circuit only from minimum_calls calls on", () => {
    const cfg = config({ failureThreshold: 0, failureRateThreshold: 0.5, minimumCalls: 4 });
    const c = newCircuit("engine.minimum-calls", T0);
    for (let i = 0; i < 3; i++) put(c, cfg, T0 + i, take(c, cfg, T0 + i).permit!, "FAILURE");
    expect(c.phase.state).toBe("CLOSED"); // 3 of 3 failed, but only 3 calls
    put(c, cfg, T0 + 3, take(c, cfg, T0 + 3).permit!, "FAILURE");
    expect(c.phase.state).toBe("OPEN");
  });

  it("allows calls on an OPEN circuit whose config says enabled: false", () => {
    const cfg = config({ failureThreshold: 1 });
    const c = newCircuit("engine.disabled-open", T0);
    put(c, cfg, T0, take(c, cfg, T0).permit!, "FAILURE");
    expect(c.phase.state).toBe("OPEN");
    expect(take(c, cfg, T0 + 1).allowed).toBe(false);
    const disabled = config({ failureThreshold: 1, enabled: false });
    expect(take(c, disabled, T0 + 2)).toMatchObject({ allowed: true, state: "DISABLED" });
  });

  it("never opens a circuit with enabled: false, even from permits issued before it was disabled", () => {
    const cfg = config({ failureThreshold: 2 });
    const c = newCircuit("engine.disabled-late-reports", T0);
    const permits = [take(c, cfg, T0).permit!, take(c, cfg, T0).permit!, take(c, cfg, T0).permit!];
    const disabled = config({ failureThreshold: 2, enabled: false });
    for (const p of permits) expect(put(c, disabled, T0 + 1, p, "FAILURE").transitions).toEqual([]);
    expect(c.phase.state).toBe("CLOSED");
    expect(c.generation).toBe(0);
  });

  it("keeps a HALF_OPEN probe held when a stale permit from before the opening is reported", () => {
    const cfg = config({ failureThreshold: 1, halfOpenMaxCalls: 1, permitTtlMs: 60_000 });
    const c = newCircuit("engine.stale-in-half-open", T0);
    const old = take(c, cfg, T0).permit!;
    put(c, cfg, T0, take(c, cfg, T0).permit!, "FAILURE");
    expect(c.phase.state).toBe("OPEN");
    const probe = take(c, cfg, T0 + 10_000);
    expect(probe.allowed).toBe(true);
    expect(c.phase.state).toBe("HALF_OPEN");
    expect(put(c, cfg, T0 + 10_001, old, "SUCCESS").disposition).toBe("STALE");
    // The probe is still out: the one slot stays taken.
    expect(take(c, cfg, T0 + 10_002)).toMatchObject({ allowed: false, reason: "HALF_OPEN_FULL" });
  });
});
