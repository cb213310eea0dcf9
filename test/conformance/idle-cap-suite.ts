/**
 * Conformance of what bounds a store's circuits: idle expiry (engine
 * isEvictable, its Lua twin in includes/engine.lua `commit`) on every store,
 * and the circuit cap (BREAKERBOX_MAX_CIRCUITS).
 *
 * The harnesses are built with `idleTtlMs`, so `advance` also lets the store
 * forget what went idle by the new instant (circuit-store-suite.ts
 * HarnessOptions). On Redis that is Redis's own key expiry moved along with
 * the test clock, with real time shaving a few ms off: every "still there"
 * check is a minute of test time before the instant, every "gone" check at it.
 */
import { afterEach, describe, expect, it } from "vitest";
import { applyPatch, BUILTIN_PRESETS, type ConfigPatch } from "../../src/engine/index.js";
import { CircuitCapError, type CircuitStore } from "../../src/store/store.js";
import { SUITE_DEFAULTS, type Harness, type HarnessFactory } from "./circuit-store-suite.js";

/** One hour: a tenth of it (the Redis refresh step) and the minute margins read plainly. */
const IDLE = 3_600_000;
const MARGIN = 60_000;

function lifecycle(factory: HarnessFactory): { start(config?: ConfigPatch, maxCircuits?: number): Promise<Harness> } {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });
  return {
    async start(config = {}, maxCircuits) {
      h = await factory({
        layers: { defaults: applyPatch(SUITE_DEFAULTS, config), presets: BUILTIN_PRESETS, rules: [] },
        idleTtlMs: IDLE,
        ...(maxCircuits === undefined ? {} : { maxCircuits }),
      });
      return h;
    },
  };
}

async function use(store: CircuitStore, name: string, outcome: "SUCCESS" | "FAILURE" = "SUCCESS"): Promise<void> {
  const d = await store.acquire(name);
  expect(d.allowed).toBe(true);
  expect((await store.report(name, { permit: d.permit!, outcome, durationMs: 1, retryAfterMs: 0 })).disposition).toBe("RECORDED");
}

async function stateOf(store: CircuitStore, name: string): Promise<string | undefined> {
  return (await store.get(name))?.state;
}

/** Idle expiry, on every store. */
export function describeIdleExpiryConformance(label: string, factory: HarnessFactory): void {
  describe(`${label}: idle expiry`, () => {
    const { start } = lifecycle(factory);
    // Opens on the first failure, for 10 s exactly.
    const opensFast: ConfigPatch = { failureThreshold: 1, openDurationMs: 10_000, jitter: 0 };

    it("forgets a CLOSED circuit one idle TTL after its last use", async () => {
      const h = await start();
      await use(h.store, "idle.closed");
      await h.advance(IDLE - MARGIN);
      expect(await stateOf(h.store, "idle.closed")).toBe("CLOSED");
      await h.advance(MARGIN);
      expect(await h.store.get("idle.closed")).toBeUndefined();
      expect((await h.store.list({ prefix: "idle.", limit: 10 })).circuits).toEqual([]);
    });

    it("forgets a HALF_OPEN circuit with no probe out one idle TTL after its last use; reading it does not postpone that", async () => {
      const h = await start(opensFast);
      await use(h.store, "idle.half", "FAILURE");
      await h.advance(10_000);
      expect(await stateOf(h.store, "idle.half")).toBe("HALF_OPEN");
      await h.advance(IDLE - 10_000 - MARGIN);
      expect(await stateOf(h.store, "idle.half")).toBe("HALF_OPEN");
      await h.advance(MARGIN);
      expect(await h.store.get("idle.half")).toBeUndefined();
    });

    it("forgets an OPEN circuit nobody uses when it turns HALF_OPEN, when that is later than one idle TTL after its last use", async () => {
      const h = await start({ failureThreshold: 1, openDurationMs: 2 * IDLE, maxOpenDurationMs: 2 * IDLE, jitter: 0 });
      await use(h.store, "idle.open", "FAILURE");
      await h.advance(IDLE + MARGIN);
      expect(await stateOf(h.store, "idle.open")).toBe("OPEN");
      await h.advance(IDLE - 2 * MARGIN);
      expect(await stateOf(h.store, "idle.open")).toBe("OPEN");
      await h.advance(MARGIN);
      expect(await h.store.get("idle.open")).toBeUndefined();
    });

    it("never forgets a FORCED_OPEN or DISABLED circuit", async () => {
      const h = await start();
      await h.store.force("idle.forced", "FORCED_OPEN", "ops");
      await h.store.force("idle.disabled", "DISABLED", "ops");
      for (let i = 0; i < 3; i++) await h.advance(IDLE);
      expect(await stateOf(h.store, "idle.forced")).toBe("FORCED_OPEN");
      expect(await stateOf(h.store, "idle.disabled")).toBe("DISABLED");
    });

    it("keeps a circuit used every third of the idle TTL, with its counters, for four idle TTLs", async () => {
      const h = await start();
      await use(h.store, "idle.busy");
      const since = h.now();
      for (let i = 0; i < 12; i++) {
        await h.advance(IDLE / 3);
        await use(h.store, "idle.busy");
      }
      expect(await h.store.get("idle.busy")).toMatchObject({ state: "CLOSED", since, stats: { totalSuccesses: 13 } });
    });
  });
}

/** The circuit cap. */
export function describeCircuitCapConformance(label: string, factory: HarnessFactory): void {
  describe(`${label}: circuit cap`, () => {
    const { start } = lifecycle(factory);

    async function capRefusal(promise: Promise<unknown>): Promise<unknown> {
      const err = await promise.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(CircuitCapError.is(err)).toBe(true);
      return err;
    }

    it("refuses a 4th circuit with maxCircuits 3, whatever would create it, changing nothing; existing ones keep working; idle eviction makes room", async () => {
      const h = await start({ failureThreshold: 1 }, 3);
      await use(h.store, "cap.a");
      await use(h.store, "cap.b");
      await use(h.store, "cap.c");
      expect(await capRefusal(h.store.acquire("cap.d"))).toMatchObject({ circuit: "cap.d", cap: 3 });
      expect(await capRefusal(h.store.force("cap.e", "FORCED_OPEN", "ops"))).toMatchObject({ circuit: "cap.e", cap: 3 });
      expect(await capRefusal(h.store.configureCircuit("cap.f", { patch: { failureThreshold: 7 }, replace: false }, "ops"))).toMatchObject({
        circuit: "cap.f",
        cap: 3,
      });
      expect((await h.store.list({ prefix: "cap.", limit: 10 })).circuits.map((c) => c.circuit)).toEqual(["cap.a", "cap.b", "cap.c"]);

      // Existing circuits: Acquire, Report and the admin writes all work at the cap.
      await use(h.store, "cap.a", "FAILURE");
      expect(await stateOf(h.store, "cap.a")).toBe("OPEN");
      expect((await h.store.reset("cap.a", "ops"))?.state).toBe("CLOSED");
      expect((await h.store.force("cap.b", "DISABLED", "ops")).state).toBe("DISABLED");
      expect((await h.store.force("cap.b", "CLOSED", "ops")).state).toBe("CLOSED");
      expect((await h.store.configureCircuit("cap.c", { patch: { failureThreshold: 2 }, replace: false }, "ops")).config.failureThreshold).toBe(2);

      await h.advance(IDLE);
      expect((await h.store.list({ prefix: "cap.", limit: 10 })).circuits).toEqual([]);
      await use(h.store, "cap.d");
      await use(h.store, "cap.f");
      // The refused Configure stored nothing: cap.f has the defaults.
      expect(await h.store.get("cap.f")).toMatchObject({ config: { failureThreshold: 1 }, configSources: ["defaults"] });
      expect((await h.store.list({ prefix: "cap.", limit: 10 })).circuits.map((c) => c.circuit)).toEqual(["cap.d", "cap.f"]);
    });
  });
}
