/**
 * The local breakers of degraded mode (clients/typescript/src/local-breakers.ts):
 * the rule the Python and Go clients' local breakers follow. `failureThreshold`
 * failures in a row open a circuit's breaker for `openDurationMs` (or the
 * dependency's longer Retry-After); then one trial call closes or re-opens it.
 */
import { describe, expect, it } from "vitest";
import { LocalBreakers } from "../../clients/typescript/src/local-breakers.js";
import type { Admission } from "../../clients/typescript/src/run.js";
import type { Outcome } from "@breakerbox/client";
import { manualClock } from "../support/test-server.js";

type Allowed = Extract<Admission, { allowed: true }>;

function allowed(a: Admission): Allowed {
  if (!a.allowed) throw new Error(`denied: ${a.error.message}`);
  return a;
}

/** The denial of `a` as plain fields, or "allowed". */
function denial(a: Admission): unknown {
  if (a.allowed) return "allowed";
  const { circuit, state, reason, retryAfterMs, local } = a.error;
  return { circuit, state, reason, retryAfterMs, local };
}

async function call(breakers: LocalBreakers, circuit: string, outcome: Outcome, retryAfterMs?: number): Promise<void> {
  await allowed(breakers.admit(circuit)).reporter(outcome, 1, retryAfterMs);
}

describe("local breakers", () => {
  it("open after failureThreshold failures in a row (a success in between starts over), per circuit", async () => {
    const clock = manualClock();
    const b = new LocalBreakers(clock, { failureThreshold: 3, openDurationMs: 1000 });
    await call(b, "a", "FAILURE");
    await call(b, "a", "TIMEOUT");
    await call(b, "a", "SUCCESS");
    await call(b, "a", "FAILURE");
    await call(b, "a", "IGNORED"); // counts neither way
    await call(b, "a", "FAILURE");
    expect(denial(b.admit("a"))).toBe("allowed"); // 2 in a row since the success
    await call(b, "a", "TIMEOUT"); // the 3rd in a row
    clock.advance(400);
    expect(denial(b.admit("a"))).toEqual({ circuit: "a", state: "OPEN", reason: "OPEN", retryAfterMs: 600, local: true });
    expect(denial(b.admit("b"))).toBe("allowed"); // another circuit's breaker is its own
  });

  it("after openDurationMs admit one trial call: its success closes, its failure re-opens for openDurationMs", async () => {
    const clock = manualClock();
    const b = new LocalBreakers(clock, { failureThreshold: 1, openDurationMs: 1000 });
    await call(b, "c", "FAILURE");
    clock.advance(1000);
    const trial = allowed(b.admit("c"));
    expect(denial(b.admit("c"))).toEqual({ circuit: "c", state: "HALF_OPEN", reason: "HALF_OPEN_FULL", retryAfterMs: 0, local: true });
    await trial.reporter("FAILURE", 1, undefined);
    expect(denial(b.admit("c"))).toEqual({ circuit: "c", state: "OPEN", reason: "OPEN", retryAfterMs: 1000, local: true });
    clock.advance(1000);
    await call(b, "c", "SUCCESS"); // the next trial succeeds: CLOSED
    for (let i = 0; i < 3; i++) expect(denial(b.admit("c"))).toBe("allowed");
  });

  it("an IGNORED trial frees the trial slot without deciding; a late success of a call from before it opened does not close it", async () => {
    const clock = manualClock();
    const b = new LocalBreakers(clock, { failureThreshold: 1, openDurationMs: 1000 });
    const early = allowed(b.admit("d"));
    await call(b, "d", "FAILURE");
    await early.reporter("SUCCESS", 1, undefined);
    expect(denial(b.admit("d"))).toMatchObject({ state: "OPEN", retryAfterMs: 1000 });
    clock.advance(1000);
    await call(b, "d", "IGNORED");
    const trial = allowed(b.admit("d")); // the slot is free again
    expect(denial(b.admit("d"))).toMatchObject({ state: "HALF_OPEN" });
    await trial.reporter("SUCCESS", 1, undefined);
    expect(denial(b.admit("d"))).toBe("allowed");
  });

  it("stay open for the dependency's Retry-After when longer than openDurationMs", async () => {
    const clock = manualClock();
    const b = new LocalBreakers(clock, { failureThreshold: 1, openDurationMs: 1000 });
    await call(b, "e", "FAILURE", 7000);
    expect(denial(b.admit("e"))).toMatchObject({ state: "OPEN", retryAfterMs: 7000 });
    await call(b, "f", "FAILURE", 10);
    expect(denial(b.admit("f"))).toMatchObject({ state: "OPEN", retryAfterMs: 1000 });
  });

  it("default to 5 failures in a row and 30 s open", async () => {
    const clock = manualClock();
    const b = new LocalBreakers(clock, undefined);
    for (let i = 0; i < 4; i++) await call(b, "g", "FAILURE");
    expect(denial(b.admit("g"))).toBe("allowed");
    await call(b, "g", "FAILURE");
    expect(denial(b.admit("g"))).toMatchObject({ state: "OPEN", retryAfterMs: 30_000 });
  });

  it("clear() drops every breaker; an outcome of a call admitted before it goes nowhere", async () => {
    const clock = manualClock();
    const b = new LocalBreakers(clock, { failureThreshold: 1, openDurationMs: 1000 });
    const before = allowed(b.admit("h"));
    await call(b, "i", "FAILURE");
    b.clear();
    expect(denial(b.admit("i"))).toBe("allowed");
    await before.reporter("FAILURE", 1, undefined);
    expect(denial(b.admit("h"))).toBe("allowed");
  });
});
