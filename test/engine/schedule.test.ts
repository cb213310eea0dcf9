/** When time next matters to a circuit nobody uses: isEvictable, idleExpiryAt, nextDueAt. */
import { describe, expect, it } from "vitest";
import {
  acquire,
  advance,
  applyPatch,
  BUILTIN_DEFAULTS,
  force,
  idleExpiryAt,
  isEvictable,
  newCircuit,
  nextDueAt,
  report,
  type Circuit,
} from "../../src/engine/index.js";

const T0 = 1_700_000_000_000;
const IDLE = 60_000;
const CONFIG = applyPatch(BUILTIN_DEFAULTS, { failureThreshold: 1, openDurationMs: 10_000, jitter: 0, halfOpenMaxCalls: 2, permitTtlMs: 5_000 });

/** A circuit opened by one failure at T0: OPEN until T0 + 10 s. */
function opened(): Circuit {
  const c = newCircuit("s.a", T0);
  const a = acquire(c, CONFIG, { now: T0, rand: 0.5 });
  report(c, CONFIG, { permit: a.permit!, outcome: "FAILURE", durationMs: 1, retryAfterMs: 0, now: T0, rand: 0.5 });
  return c;
}

describe("isEvictable, idleExpiryAt and nextDueAt", () => {
  it("CLOSED: evictable one idle TTL after the last use, not 1 ms sooner; nothing due", () => {
    const c = newCircuit("s.a", T0);
    expect(idleExpiryAt(c, IDLE)).toBe(T0 + IDLE);
    expect(isEvictable(c, T0 + IDLE - 1, IDLE)).toBe(false);
    expect(isEvictable(c, T0 + IDLE, IDLE)).toBe(true);
    expect(nextDueAt(c)).toBeUndefined();
  });

  it("OPEN: never evictable as such; due and evictable from open_until once idle", () => {
    const c = opened();
    expect(c.phase.state).toBe("OPEN");
    expect(nextDueAt(c)).toBe(T0 + 10_000);
    expect(idleExpiryAt(c, IDLE)).toBe(T0 + IDLE);
    expect(idleExpiryAt(c, 1_000)).toBe(T0 + 10_000);
    expect(isEvictable(c, T0 + 10 * IDLE, IDLE)).toBe(false);
  });

  it("HALF_OPEN with no probe out: evictable one idle TTL after the last use; with a probe out: not, and due at its expiry", () => {
    const c = opened();
    advance(c, CONFIG, { now: T0 + 10_000, rand: 0.5 });
    expect(c.phase.state).toBe("HALF_OPEN");
    expect(nextDueAt(c)).toBeUndefined();
    expect(idleExpiryAt(c, IDLE)).toBe(T0 + IDLE);
    expect(isEvictable(c, T0 + IDLE - 1, IDLE)).toBe(false);
    expect(isEvictable(c, T0 + IDLE, IDLE)).toBe(true);

    acquire(c, CONFIG, { now: T0 + 20_000, rand: 0.5 }); // a probe, out until T0 + 25 s
    acquire(c, CONFIG, { now: T0 + 21_000, rand: 0.5 }); // another, until T0 + 26 s
    expect(nextDueAt(c)).toBe(T0 + 25_000);
    expect(idleExpiryAt(c, 1_000)).toBe(T0 + 25_000);
    expect(idleExpiryAt(c, IDLE)).toBe(T0 + 21_000 + IDLE);
    expect(isEvictable(c, T0 + 10 * IDLE, IDLE)).toBe(false);
  });

  it("FORCED_OPEN and DISABLED: never evictable, nothing due, no expiry", () => {
    for (const target of ["FORCED_OPEN", "DISABLED"] as const) {
      const c = newCircuit("s.a", T0);
      force(c, CONFIG, T0, target);
      expect({ target, evictable: isEvictable(c, T0 + 100 * IDLE, IDLE), expiry: idleExpiryAt(c, IDLE), due: nextDueAt(c) }).toEqual({
        target,
        evictable: false,
        expiry: undefined,
        due: undefined,
      });
    }
  });
});
