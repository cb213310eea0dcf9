/**
 * The CircuitStore conformance suite: every rule of docs/design.md §Semantics,
 * stated as behaviour and checked with exact values, run identically against
 * every store (test/conformance/<store>.test.ts).
 *
 * Rules for the suite itself, so it runs on any store:
 * - Time moves only through `harness.advance`; instants are taken from
 *   `harness.now()` and every expectation is relative to them.
 * - It talks to the store through the CircuitStore interface only and never
 *   touches engine records.
 * - Every test uses its own circuit names (see `names()`), so stores that
 *   share state between tests (Redis) see no interference.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  applyPatch,
  BUILTIN_DEFAULTS,
  BUILTIN_PRESETS,
  circuitHash,
  encodePermit,
  InvalidConfigError,
  PermitRejectedError,
  UnknownPresetError,
  type CircuitConfig,
  type CircuitStats,
  type ConfigLayers,
  type ConfigPatch,
  type ConfigSettings,
  type Outcome,
  type PatternRule,
  type PermitProblem,
  type Principal,
  type State,
} from "../../src/engine/index.js";
import {
  ResumeTokenError,
  type AcquireDecision,
  type CircuitEvent,
  type CircuitStore,
  type HistoryEntry,
  type ReportAck,
  type WatchFilter,
  type WatchItem,
  type WatchSubscription,
  positionOf,
} from "../../src/store/store.js";
import type { HistoryPosition } from "../../src/store/history-page.js";
import { createPermitSigner } from "../../src/store/permit-signer.js";
import { mulberry32, seedLabel, TEST_SEED } from "./random.js";

/** A permit secret the suite knows, for tests that sign permits the store did not issue. */
const SUITE_SECRET = Buffer.alloc(32, 7);

/** What the suite needs from a store under test. */
export interface Harness {
  store: CircuitStore;
  /** Moves the store's clock forward by `ms`. The only way the suite moves time. */
  advance(ms: number): Promise<void>;
  /** The store's current time, ms since the epoch. */
  now(): number;
  close(): Promise<void>;
  /**
   * Resolves once every event published so far has reached the watchers.
   * Stores that deliver synchronously (memory) leave it out.
   */
  settle?(): Promise<void>;
  /**
   * Removes every circuit idle for the default idle TTL (24 h) as of now(),
   * the way the store does in production (memory: evictIdle; Redis: the keys
   * vanish, as when Redis expires them, with no script run).
   */
  expireIdle?(): Promise<void>;
}

export interface HarnessOptions {
  layers: ConfigLayers;
  /** Explicit per-circuit settings, as the config file gives them. */
  circuits?: Record<string, ConfigSettings>;
  /** The store's uniform [0, 1) source for jitter; the harness picks a seeded one if absent. */
  random?: () => number;
  /** Entries the event log keeps (Redis: MAXLEN ~, trimmed by whole stream nodes of 100). */
  eventLogSize?: number;
  /** The store's permit secret; absent: the store's own (memory: per process; Redis: shared in Redis). */
  permitSecret?: Uint8Array;
  /**
   * The store's idle TTL. When set, `advance` also makes the store forget what
   * went idle by the new instant (memory: evictIdle; Redis: key expiry moved
   * along with the test clock), as real time would (idle-cap-suite.ts).
   */
  idleTtlMs?: number;
  /** The store's circuit cap (BREAKERBOX_MAX_CIRCUITS). */
  maxCircuits?: number;
  /** Slots of a permit stream's dedupe window (test-only store option; default 2^21). */
  permitWindowSlots?: number;
}

export type HarnessFactory = (options: HarnessOptions) => Promise<Harness>;

/**
 * The defaults every test starts from: small, round numbers so the
 * expectations read plainly. Each test overrides what it is about.
 */
export const SUITE_DEFAULTS: CircuitConfig = applyPatch(BUILTIN_DEFAULTS, {
  enabled: true,
  failureThreshold: 3,
  failureRateThreshold: 0, // rate rule off unless a test turns it on
  minimumCalls: 4,
  windowMs: 10_000, // buckets of 1 s
  slowCallDurationMs: 0,
  slowCallRateThreshold: 1,
  openDurationMs: 10_000,
  backoffMultiplier: 1,
  maxOpenDurationMs: 60_000,
  halfOpenMaxCalls: 2,
  successThreshold: 2,
  permitTtlMs: 30_000,
  jitter: 0,
  mode: "enforce",
});

const ZERO: CircuitStats = {
  windowCalls: 0,
  windowFailures: 0,
  windowSlowCalls: 0,
  failureRate: 0,
  slowCallRate: 0,
  consecutiveFailures: 0,
  halfOpenInFlight: 0,
  halfOpenSuccesses: 0,
  totalSuccesses: 0,
  totalFailures: 0,
  totalTimeouts: 0,
  totalIgnored: 0,
  totalRejections: 0,
  reopenCount: 0,
};

/** A full stats object: the given counters, every other one 0. */
function stats(counters: Partial<CircuitStats>): CircuitStats {
  return { ...ZERO, ...counters };
}

/** The ack of a counted report: RECORDED (STALE when `stale`), with this report's outcome. */
function recorded(state: State, outcome: Outcome, stale = false): ReportAck {
  return { state, disposition: stale ? "STALE" : "RECORDED", recordedOutcome: outcome, duplicate: false, stale };
}

/** The ack of a repeated report: nothing changed; the first outcome stands. */
function repeated(state: State, first: Outcome, outcome: Outcome): ReportAck {
  return { state, disposition: first === outcome ? "DUPLICATE" : "CONFLICT", recordedOutcome: first, duplicate: true, stale: false };
}

/** A report counted on a CLOSED circuit that stays CLOSED. */
const OK = (outcome: Outcome): ReportAck => recorded("CLOSED", outcome);

/** "FROM>TO reason", the shape event assertions compare. */
function describeEvent(e: CircuitEvent): string {
  return `${e.from}>${e.to} ${e.reason}`;
}

/** Collects what a watcher receives. */
class Recorder {
  readonly items: WatchItem[] = [];
  readonly sink = (item: WatchItem): void => {
    this.items.push(item);
  };
  get events(): CircuitEvent[] {
    return this.items.flatMap((i) => (i.kind === "event" ? [i.event] : []));
  }
}

const RUN = Date.now().toString(36);
let testSeq = 0;

export function describeCircuitStoreConformance(label: string, harness: HarnessFactory): void {
  describe(`CircuitStore conformance: ${label}`, () => {
    let h: Harness | undefined;
    let subscriptions: WatchSubscription[] = [];

    afterEach(async () => {
      for (const s of subscriptions) s.close();
      subscriptions = [];
      await h?.close();
      h = undefined;
    });

    /** Circuit names unique to this test: `names().a` is "cb.<run>.<n>.a". */
    function names(): { prefix: string; n: (tag: string) => string } {
      const prefix = `cb.${RUN}.${++testSeq}.`;
      return { prefix, n: (tag) => prefix + tag };
    }

    async function start(
      config: ConfigPatch = {},
      more: {
        rules?: PatternRule[];
        circuits?: Record<string, ConfigSettings>;
        random?: () => number;
        eventLogSize?: number;
        permitSecret?: Uint8Array;
        permitWindowSlots?: number;
      } = {},
    ): Promise<Harness> {
      const options: HarnessOptions = {
        layers: { defaults: applyPatch(SUITE_DEFAULTS, config), presets: BUILTIN_PRESETS, rules: more.rules ?? [] },
      };
      if (more.circuits !== undefined) options.circuits = more.circuits;
      if (more.random !== undefined) options.random = more.random;
      if (more.eventLogSize !== undefined) options.eventLogSize = more.eventLogSize;
      if (more.permitSecret !== undefined) options.permitSecret = more.permitSecret;
      if (more.permitWindowSlots !== undefined) options.permitWindowSlots = more.permitWindowSlots;
      h = await harness(options);
      return h;
    }

    function store(): CircuitStore {
      return h!.store;
    }

    async function watch(filter: Partial<WatchFilter>, resumeToken?: string): Promise<Recorder> {
      const rec = new Recorder();
      subscriptions.push(await store().watch({ circuits: filter.circuits ?? [], prefix: filter.prefix ?? "" }, resumeToken, rec.sink));
      return rec;
    }

    async function eventsOf(rec: Recorder): Promise<string[]> {
      await h!.settle?.();
      return rec.events.map(describeEvent);
    }

    /** Acquires and expects a permit. */
    async function permit(name: string): Promise<string> {
      const d = await store().acquire(name);
      expect(d.allowed, `acquire ${name}: ${JSON.stringify(d)}`).toBe(true);
      expect(d.permit).toEqual(expect.any(String));
      return d.permit!;
    }

    async function report(
      name: string,
      p: string,
      outcome: Outcome,
      opts: { durationMs?: number; retryAfterMs?: number; principal?: Principal } = {},
    ): Promise<ReportAck> {
      const command = { permit: p, outcome, durationMs: opts.durationMs ?? 10, retryAfterMs: opts.retryAfterMs ?? 0 };
      return store().report(name, opts.principal === undefined ? command : { ...command, principal: opts.principal });
    }

    /** One call: acquire (must be allowed), then report. */
    async function call(name: string, outcome: Outcome, opts: { durationMs?: number; retryAfterMs?: number } = {}): Promise<ReportAck> {
      return report(name, await permit(name), outcome, opts);
    }

    async function calls(name: string, outcomes: Outcome[]): Promise<ReportAck[]> {
      const acks: ReportAck[] = [];
      for (const o of outcomes) acks.push(await call(name, o));
      return acks;
    }

    /** `n` failures in a row (the suite default opens at 3). */
    async function fail(name: string, n = 3): Promise<void> {
      for (let i = 0; i < n; i++) await call(name, "FAILURE");
    }

    async function view(name: string) {
      const v = await store().get(name);
      expect(v, `circuit ${name} exists`).toBeDefined();
      return v!;
    }

    async function stateOf(name: string): Promise<State> {
      return (await view(name)).state;
    }

    async function statsNow(name: string): Promise<CircuitStats> {
      return (await view(name)).stats;
    }

    async function denied(name: string): Promise<AcquireDecision> {
      const d = await store().acquire(name);
      expect(d.allowed, `acquire ${name} denied: ${JSON.stringify(d)}`).toBe(false);
      return d;
    }

    async function rejection(promise: Promise<unknown>): Promise<PermitProblem> {
      const err = await promise.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(PermitRejectedError);
      return (err as PermitRejectedError).problem;
    }

    /** Brings a fresh circuit to HALF_OPEN (3 failures, then open_duration). */
    async function halfOpen(name: string, openMs = 10_000): Promise<void> {
      await fail(name);
      await h!.advance(openMs);
      expect(await stateOf(name)).toBe("HALF_OPEN");
    }

    // ---------------------------------------------------------------- CLOSED

    describe("consecutive failures", () => {
      it("stays CLOSED after failure_threshold - 1 failures and opens at the threshold", async () => {
        const h = await start({ failureThreshold: 3 });
        const name = names().n("a");
        const rec = await watch({ circuits: [name] });
        const t0 = h.now();
        expect(await calls(name, ["FAILURE", "FAILURE"])).toEqual([OK("FAILURE"), OK("FAILURE")]);
        expect(await view(name)).toMatchObject({
          state: "CLOSED",
          generation: 0,
          stats: stats({ windowCalls: 2, windowFailures: 2, failureRate: 1, consecutiveFailures: 2, totalFailures: 2 }),
        });
        expect(await eventsOf(rec)).toEqual([]);

        expect(await call(name, "FAILURE")).toEqual(recorded("OPEN", "FAILURE"));
        const v = await view(name);
        expect(v).toMatchObject({
          state: "OPEN",
          generation: 1,
          since: t0,
          openUntil: t0 + 10_000,
          stats: stats({ windowCalls: 3, windowFailures: 3, failureRate: 1, consecutiveFailures: 3, totalFailures: 3 }),
        });
        expect(await eventsOf(rec)).toEqual(["CLOSED>OPEN consecutive_failures"]);
        expect(rec.events[0]).toMatchObject({ circuit: name, at: t0, generation: 1, openUntil: t0 + 10_000 });
      });

      it("restarts the run after a success in between", async () => {
        await start({ failureThreshold: 3 });
        const name = names().n("a");
        await calls(name, ["FAILURE", "FAILURE", "SUCCESS", "FAILURE", "FAILURE"]);
        expect(await view(name)).toMatchObject({
          state: "CLOSED",
          stats: stats({ windowCalls: 5, windowFailures: 4, failureRate: 0.8, consecutiveFailures: 2, totalFailures: 4, totalSuccesses: 1 }),
        });
        expect(await call(name, "FAILURE")).toMatchObject({ state: "OPEN" });
      });

      it("is off with failure_threshold 0", async () => {
        await start({ failureThreshold: 0 });
        const name = names().n("a");
        await fail(name, 20);
        expect(await view(name)).toMatchObject({
          state: "CLOSED",
          stats: stats({ windowCalls: 20, windowFailures: 20, failureRate: 1, consecutiveFailures: 20, totalFailures: 20 }),
        });
      });

      it("counts TIMEOUT as a failure, in totals.timeouts too", async () => {
        await start({ failureThreshold: 3 });
        const name = names().n("a");
        expect(await calls(name, ["TIMEOUT", "FAILURE"])).toEqual([OK("TIMEOUT"), OK("FAILURE")]);
        expect(await call(name, "TIMEOUT")).toMatchObject({ state: "OPEN" });
        expect(await statsNow(name)).toEqual(
          stats({ windowCalls: 3, windowFailures: 3, failureRate: 1, consecutiveFailures: 3, totalFailures: 3, totalTimeouts: 2 }),
        );
      });

      it("IGNORED neither breaks a failure run nor counts as a call", async () => {
        await start({ failureThreshold: 3, failureRateThreshold: 0.5, minimumCalls: 4 });
        const name = names().n("a");
        expect(await calls(name, ["FAILURE", "FAILURE", "IGNORED", "IGNORED", "IGNORED"])).toEqual([OK("FAILURE"), OK("FAILURE"), OK("IGNORED"), OK("IGNORED"), OK("IGNORED")]);
        expect(await view(name)).toMatchObject({
          state: "CLOSED", // five reports, but only 2 calls: below minimum_calls
          stats: stats({ windowCalls: 2, windowFailures: 2, failureRate: 1, consecutiveFailures: 2, totalFailures: 2, totalIgnored: 3 }),
        });
        // The run went on through the IGNORED reports: the next failure is the third.
        expect(await call(name, "FAILURE")).toMatchObject({ state: "OPEN" });
        expect((await store().history(name, 1))?.entries).toMatchObject([{ kind: "transition", event: { reason: "consecutive_failures" } }]);
      });
    });

    describe("failure rate", () => {
      it("does not apply before minimum_calls", async () => {
        await start({ failureThreshold: 0, failureRateThreshold: 0.5, minimumCalls: 4 });
        const name = names().n("a");
        await fail(name, 3);
        expect(await view(name)).toMatchObject({
          state: "CLOSED",
          stats: stats({ windowCalls: 3, windowFailures: 3, failureRate: 1, consecutiveFailures: 3, totalFailures: 3 }),
        });
        expect(await call(name, "FAILURE")).toMatchObject({ state: "OPEN" });
        expect((await store().history(name, 1))?.entries).toMatchObject([{ kind: "transition", event: { from: "CLOSED", to: "OPEN", reason: "failure_rate" } }]);
      });

      it("opens exactly when the rate reaches the threshold, not below", async () => {
        await start({ failureThreshold: 0, failureRateThreshold: 0.5, minimumCalls: 4 });
        const name = names().n("a");
        const rec = await watch({ circuits: [name] });
        await calls(name, ["SUCCESS", "SUCCESS", "SUCCESS", "FAILURE", "FAILURE"]);
        expect(await view(name)).toMatchObject({
          state: "CLOSED",
          stats: stats({ windowCalls: 5, windowFailures: 2, failureRate: 0.4, consecutiveFailures: 2, totalFailures: 2, totalSuccesses: 3 }),
        });
        expect(await call(name, "FAILURE")).toMatchObject({ state: "OPEN" }); // 3 of 6 = 0.5
        expect(await eventsOf(rec)).toEqual(["CLOSED>OPEN failure_rate"]);
        expect(rec.events[0]!.stats).toMatchObject({ windowCalls: 6, windowFailures: 3, failureRate: 0.5 });
      });

      it("counts TIMEOUT as a failure and leaves IGNORED out of the rate", async () => {
        await start({ failureThreshold: 0, failureRateThreshold: 0.5, minimumCalls: 4 });
        const name = names().n("a");
        await calls(name, ["SUCCESS", "SUCCESS", "TIMEOUT", "IGNORED", "IGNORED", "IGNORED"]);
        expect(await view(name)).toMatchObject({
          state: "CLOSED",
          stats: stats({ windowCalls: 3, windowFailures: 1, failureRate: 1 / 3, consecutiveFailures: 1, totalSuccesses: 2, totalFailures: 1, totalTimeouts: 1, totalIgnored: 3 }),
        });
        expect(await call(name, "TIMEOUT")).toMatchObject({ state: "OPEN" }); // 2 of 4
      });

      it("is off with failure_rate_threshold 0", async () => {
        await start({ failureThreshold: 0, failureRateThreshold: 0, minimumCalls: 1 });
        const name = names().n("a");
        await fail(name, 12);
        expect(await stateOf(name)).toBe("CLOSED");
      });
    });

    describe("bucketed sliding window", () => {
      /** Advances to the next bucket boundary (1 s buckets for the 10 s window). */
      async function alignToBucket(h: Harness, width = 1_000): Promise<number> {
        const skew = h.now() % width;
        if (skew !== 0) await h.advance(width - skew);
        return h.now();
      }

      it("drops a bucket's calls exactly when its start is window old, not 1 ms before", async () => {
        const h = await start({ failureThreshold: 0, failureRateThreshold: 0.5, minimumCalls: 100 });
        const name = names().n("a");
        const b = await alignToBucket(h);
        await calls(name, ["FAILURE", "FAILURE"]);
        await h.advance(500);
        await call(name, "SUCCESS"); // same bucket, [b, b + 1000)
        await h.advance(500);
        await call(name, "SUCCESS"); // next bucket, [b + 1000, b + 2000)
        const seen: [number, number, number][] = [];
        for (const at of [9_999, 10_000, 10_999, 11_000]) {
          await h.advance(b + at - h.now());
          const s = await statsNow(name);
          seen.push([at, s.windowCalls, s.windowFailures]);
        }
        expect(seen).toEqual([
          [9_999, 4, 2],
          [10_000, 1, 0],
          [10_999, 1, 0],
          [11_000, 0, 0],
        ]);
        expect(await statsNow(name)).toEqual(stats({ totalFailures: 2, totalSuccesses: 2 }));
      });

      it.each([
        [9_999, "OPEN", 2, 1],
        [10_000, "CLOSED", 1, 0],
      ] as const)(
        "a failure recorded at a bucket start still counts toward the rate %i ms later: %s",
        async (later, state, windowCalls, windowFailures) => {
          const h = await start({ failureThreshold: 0, failureRateThreshold: 0.5, minimumCalls: 2 });
          const name = names().n("a");
          const b = await alignToBucket(h);
          await call(name, "FAILURE");
          await h.advance(b + later - h.now());
          expect(await call(name, "SUCCESS")).toMatchObject({ state });
          expect((await statsNow(name)).windowCalls).toBe(windowCalls);
          expect((await statsNow(name)).windowFailures).toBe(windowFailures);
        },
      );
    });

    describe("slow calls", () => {
      it("a success slower than slow_call_duration is slow; exactly equal is not; a failure never is", async () => {
        await start({ slowCallDurationMs: 1_000, slowCallRateThreshold: 0.5, minimumCalls: 100 });
        const name = names().n("a");
        await call(name, "SUCCESS", { durationMs: 1_000 });
        expect((await statsNow(name)).windowSlowCalls).toBe(0);
        await call(name, "SUCCESS", { durationMs: 1_001 });
        expect((await statsNow(name)).windowSlowCalls).toBe(1);
        await call(name, "FAILURE", { durationMs: 50_000 });
        expect(await statsNow(name)).toEqual(
          stats({ windowCalls: 3, windowFailures: 1, windowSlowCalls: 1, failureRate: 1 / 3, slowCallRate: 1 / 3, consecutiveFailures: 1, totalSuccesses: 2, totalFailures: 1 }),
        );
      });

      it.each([
        [1_001, "OPEN"],
        [1_000, "CLOSED"],
      ] as const)("the slow-call rate opens with reason slow_call_rate (4th call of %i ms: %s)", async (last, state) => {
        await start({ failureThreshold: 0, failureRateThreshold: 0, slowCallDurationMs: 1_000, slowCallRateThreshold: 0.5, minimumCalls: 4 });
        const name = names().n("a");
        const rec = await watch({ circuits: [name] });
        for (const durationMs of [1_001, 10, 10]) expect(await call(name, "SUCCESS", { durationMs })).toEqual(OK("SUCCESS"));
        expect(await call(name, "SUCCESS", { durationMs: last })).toMatchObject({ state });
        expect(await eventsOf(rec)).toEqual(state === "OPEN" ? ["CLOSED>OPEN slow_call_rate"] : []);
        expect((await statsNow(name)).slowCallRate).toBe(state === "OPEN" ? 0.5 : 0.25);
      });

      it("is off with slow_call_duration 0", async () => {
        await start({ failureThreshold: 0, slowCallDurationMs: 0, slowCallRateThreshold: 0.25, minimumCalls: 2 });
        const name = names().n("a");
        for (let i = 0; i < 3; i++) await call(name, "SUCCESS", { durationMs: 1_000_000 });
        expect(await view(name)).toMatchObject({ state: "CLOSED", stats: stats({ windowCalls: 3, totalSuccesses: 3 }) });
      });
    });

    // ------------------------------------------------------------------ OPEN

    describe("OPEN", () => {
      it("denies with the exact remaining open time as retry_after", async () => {
        const h = await start({ openDurationMs: 10_000 });
        const name = names().n("a");
        await fail(name);
        expect(await store().acquire(name)).toEqual({ allowed: false, state: "OPEN", retryAfterMs: 10_000, reason: "OPEN", shadowDenied: false });
        await h.advance(2_500);
        expect(await denied(name)).toMatchObject({ retryAfterMs: 7_500 });
        await h.advance(7_499);
        expect(await denied(name)).toMatchObject({ state: "OPEN", retryAfterMs: 1 });
        expect((await statsNow(name)).totalRejections).toBe(3);
      });

      it("turns HALF_OPEN exactly at open_duration, lazily on the next acquire", async () => {
        const h = await start({ openDurationMs: 10_000 });
        const name = names().n("a");
        const rec = await watch({ circuits: [name] });
        const t0 = h.now();
        await fail(name);
        await h.advance(9_999);
        expect(await denied(name)).toMatchObject({ state: "OPEN", retryAfterMs: 1 });
        expect(await eventsOf(rec)).toEqual(["CLOSED>OPEN consecutive_failures"]);
        await h.advance(1);
        const d = await store().acquire(name);
        expect(d).toEqual({ allowed: true, permit: expect.any(String), state: "HALF_OPEN", retryAfterMs: 0, shadowDenied: false });
        expect(await eventsOf(rec)).toEqual(["CLOSED>OPEN consecutive_failures", "OPEN>HALF_OPEN open_duration_elapsed"]);
        expect(rec.events[1]).toMatchObject({ at: t0 + 10_000, generation: 2 });
      });

      it("turns HALF_OPEN exactly at open_duration, lazily on get", async () => {
        const h = await start({ openDurationMs: 10_000 });
        const name = names().n("a");
        const rec = await watch({ circuits: [name] });
        const t0 = h.now();
        await fail(name);
        await h.advance(9_999);
        expect(await view(name)).toMatchObject({ state: "OPEN", openUntil: t0 + 10_000, generation: 1 });
        await h.advance(1);
        const v = await view(name);
        expect(v).toMatchObject({ state: "HALF_OPEN", since: t0 + 10_000, generation: 2 });
        expect(v.openUntil).toBeUndefined();
        expect(await eventsOf(rec)).toEqual(["CLOSED>OPEN consecutive_failures", "OPEN>HALF_OPEN open_duration_elapsed"]);
      });
    });

    // ------------------------------------------------------------- HALF_OPEN

    describe("HALF_OPEN", () => {
      it("lets at most half_open_max_calls probes out and denies the next with HALF_OPEN_FULL", async () => {
        await start({ halfOpenMaxCalls: 2 });
        const name = names().n("a");
        await halfOpen(name);
        const p1 = await permit(name);
        await permit(name);
        expect(await store().acquire(name)).toEqual({ allowed: false, state: "HALF_OPEN", retryAfterMs: 0, reason: "HALF_OPEN_FULL", shadowDenied: false });
        expect(await statsNow(name)).toMatchObject({ halfOpenInFlight: 2, totalRejections: 1 });
        // Reporting a probe (even IGNORED) frees its slot.
        expect(await report(name, p1, "IGNORED")).toEqual(recorded("HALF_OPEN", "IGNORED"));
        expect(await statsNow(name)).toMatchObject({ halfOpenInFlight: 1, halfOpenSuccesses: 0, totalIgnored: 1 });
        await permit(name);
        await denied(name);
      });

      it("closes after success_threshold successful probes, with window, counters and backoff reset", async () => {
        const h = await start({ halfOpenMaxCalls: 2, successThreshold: 2 });
        const name = names().n("a");
        const rec = await watch({ circuits: [name] });
        await halfOpen(name);
        const t1 = h.now();
        const [p1, p2] = [await permit(name), await permit(name)];
        expect(await report(name, p1, "SUCCESS")).toEqual(recorded("HALF_OPEN", "SUCCESS"));
        expect(await statsNow(name)).toMatchObject({ halfOpenInFlight: 1, halfOpenSuccesses: 1 });
        expect(await report(name, p2, "SUCCESS")).toEqual(OK("SUCCESS"));
        expect(await view(name)).toMatchObject({
          state: "CLOSED",
          generation: 3,
          since: t1,
          stats: stats({ totalSuccesses: 2, totalFailures: 3 }),
        });
        expect(await eventsOf(rec)).toEqual([
          "CLOSED>OPEN consecutive_failures",
          "OPEN>HALF_OPEN open_duration_elapsed",
          "HALF_OPEN>CLOSED probes_succeeded",
        ]);
        // The failure run starts over: two failures do not open.
        await fail(name, 2);
        expect(await view(name)).toMatchObject({ state: "CLOSED", stats: { consecutiveFailures: 2, windowCalls: 2 } });
      });

      it.each([
        ["FAILURE", "probe_failed", 0],
        ["TIMEOUT", "probe_timeout", 1],
      ] as const)("one %s probe reopens it (reason %s); other probes out become stale", async (outcome, reason, timeouts) => {
        await start({ halfOpenMaxCalls: 2, backoffMultiplier: 2 });
        const name = names().n("a");
        const rec = await watch({ circuits: [name] });
        await halfOpen(name);
        const [p1, p2] = [await permit(name), await permit(name)];
        expect(await report(name, p1, outcome)).toEqual(recorded("OPEN", outcome));
        expect(await denied(name)).toMatchObject({ state: "OPEN", retryAfterMs: 20_000 });
        expect(await eventsOf(rec)).toEqual(["CLOSED>OPEN consecutive_failures", "OPEN>HALF_OPEN open_duration_elapsed", `HALF_OPEN>OPEN ${reason}`]);
        expect(await report(name, p2, "SUCCESS")).toEqual(recorded("OPEN", "SUCCESS", true));
        expect(await view(name)).toMatchObject({
          state: "OPEN",
          // The opening failures have left the 10 s window; probes never enter it.
          stats: stats({
            consecutiveFailures: 3,
            totalFailures: 4,
            totalTimeouts: timeouts,
            totalSuccesses: 1,
            totalRejections: 1,
            reopenCount: 1,
          }),
        });
      });

      it("backs off by backoff_multiplier per failed probe, capped at max_open_duration", async () => {
        const h = await start({ openDurationMs: 10_000, backoffMultiplier: 2, maxOpenDurationMs: 50_000, halfOpenMaxCalls: 1 });
        const name = names().n("a");
        const rec = await watch({ circuits: [name] });
        await fail(name);
        const seen: [number, number][] = [[(await denied(name)).retryAfterMs, (await statsNow(name)).reopenCount]];
        for (let i = 0; i < 4; i++) {
          await h.advance(seen[seen.length - 1]![0]);
          await call(name, "FAILURE");
          seen.push([(await denied(name)).retryAfterMs, (await statsNow(name)).reopenCount]);
        }
        expect(seen).toEqual([
          [10_000, 0],
          [20_000, 1],
          [40_000, 2],
          [50_000, 3],
          [50_000, 4],
        ]);
        await h.settle?.();
        expect(rec.events.filter((e) => e.to === "OPEN").map((e) => e.openUntil! - e.at)).toEqual([10_000, 20_000, 40_000, 50_000, 50_000]);
      });

      it("a recovery resets the backoff to open_duration", async () => {
        const h = await start({ openDurationMs: 10_000, backoffMultiplier: 2, maxOpenDurationMs: 50_000, halfOpenMaxCalls: 1, successThreshold: 1 });
        const name = names().n("a");
        await halfOpen(name);
        await call(name, "FAILURE"); // 20 s
        await h.advance(20_000);
        await call(name, "FAILURE"); // 40 s
        expect(await denied(name)).toMatchObject({ retryAfterMs: 40_000 });
        await h.advance(40_000);
        expect(await call(name, "SUCCESS")).toEqual(OK("SUCCESS"));
        expect((await statsNow(name)).reopenCount).toBe(0);
        await fail(name);
        expect(await denied(name)).toMatchObject({ retryAfterMs: 10_000 });
        await h.advance(10_000);
        await call(name, "FAILURE");
        expect(await denied(name)).toMatchObject({ retryAfterMs: 20_000 });
      });

      it("a retried probe SUCCESS counts once toward success_threshold; a retry as FAILURE is a CONFLICT and does not re-open", async () => {
        await start({ halfOpenMaxCalls: 2, successThreshold: 2 });
        const name = names().n("a");
        await halfOpen(name);
        const p = await permit(name);
        expect(await report(name, p, "SUCCESS")).toEqual(recorded("HALF_OPEN", "SUCCESS"));
        expect(await report(name, p, "SUCCESS")).toEqual(repeated("HALF_OPEN", "SUCCESS", "SUCCESS"));
        expect(await report(name, p, "FAILURE")).toEqual(repeated("HALF_OPEN", "SUCCESS", "FAILURE"));
        expect(await view(name)).toMatchObject({
          state: "HALF_OPEN",
          stats: { halfOpenSuccesses: 1, halfOpenInFlight: 0, totalSuccesses: 1, totalFailures: 3, reopenCount: 0 },
        });
      });

      it("admits exactly half_open_max_calls of 200 concurrent acquires", async () => {
        await start({ halfOpenMaxCalls: 3 });
        const name = names().n("a");
        await halfOpen(name);
        const decisions = await Promise.all(Array.from({ length: 200 }, () => store().acquire(name)));
        const allowed = decisions.filter((d) => d.allowed);
        expect(allowed).toHaveLength(3);
        expect(new Set(allowed.map((d) => d.permit)).size).toBe(3);
        expect(decisions.filter((d) => !d.allowed && d.reason === "HALF_OPEN_FULL" && d.state === "HALF_OPEN")).toHaveLength(197);
        expect(await statsNow(name)).toMatchObject({ halfOpenInFlight: 3, totalRejections: 197 });
      });
    });

    // ---------------------------------------------------------------- jitter

    describe("jitter", () => {
      it.each([
        [0, 8_000, 16_000],
        [0.5, 10_000, 20_000],
        [0.999, 11_996, 23_992],
      ])("with random %f, jitter 0.2 opens for %i ms, then %i ms after a failed probe", async (r, first, second) => {
        const h = await start({ jitter: 0.2, openDurationMs: 10_000, backoffMultiplier: 2, halfOpenMaxCalls: 1 }, { random: () => r });
        const name = names().n("a");
        const t0 = h.now();
        await fail(name);
        expect(await view(name)).toMatchObject({ state: "OPEN", openUntil: t0 + first });
        expect(await denied(name)).toMatchObject({ retryAfterMs: first });
        await h.advance(first);
        await call(name, "FAILURE");
        expect(await denied(name)).toMatchObject({ retryAfterMs: second });
      });

      it("never goes past max_open_duration, jitter included", async () => {
        const h = await start({ jitter: 0.2, openDurationMs: 10_000, maxOpenDurationMs: 10_000 }, { random: () => 0.999 });
        const name = names().n("a");
        const t0 = h.now();
        await fail(name);
        expect(await view(name)).toMatchObject({ state: "OPEN", openUntil: t0 + 10_000 });
      });

      it(`keeps every open duration within ±jitter and spreads them (${seedLabel(TEST_SEED)})`, async () => {
        const h = await start({ jitter: 0.2, openDurationMs: 10_000, failureThreshold: 1 }, { random: mulberry32(TEST_SEED) });
        const { n } = names();
        const durations: number[] = [];
        for (let i = 0; i < 40; i++) {
          await call(n(`c${i}`), "FAILURE");
          durations.push((await view(n(`c${i}`))).openUntil! - h.now());
        }
        for (const d of durations) {
          expect(d).toBeGreaterThanOrEqual(8_000);
          expect(d).toBeLessThanOrEqual(12_000);
        }
        expect(new Set(durations).size).toBeGreaterThan(30);
      });
    });

    // ----------------------------------------------------------- Retry-After

    describe("Retry-After hint", () => {
      it.each([
        ["longer than open_duration keeps it OPEN that long", 25_000, 25_000],
        ["shorter than open_duration changes nothing", 3_000, 10_000],
        ["beyond max_open_duration is capped there", 3_600_000, 60_000],
      ])("on the report that opens, a hint %s", async (_what, hint, expected) => {
        const h = await start({ openDurationMs: 10_000, maxOpenDurationMs: 60_000 });
        const name = names().n("a");
        await fail(name, 2);
        expect(await call(name, "FAILURE", { retryAfterMs: hint })).toMatchObject({ state: "OPEN" });
        expect(await denied(name)).toMatchObject({ retryAfterMs: expected });
        await h.advance(expected - 1);
        expect(await stateOf(name)).toBe("OPEN");
        await h.advance(1);
        expect(await stateOf(name)).toBe("HALF_OPEN");
      });

      it.each([
        [30_000, 30_000],
        [5_000, 20_000],
        [999_999, 60_000],
      ])("on a failed probe, a hint of %i ms reopens for %i ms", async (hint, expected) => {
        await start({ openDurationMs: 10_000, backoffMultiplier: 2, maxOpenDurationMs: 60_000 });
        const name = names().n("a");
        await halfOpen(name);
        await call(name, "FAILURE", { retryAfterMs: hint });
        expect(await denied(name)).toMatchObject({ retryAfterMs: expected });
      });

      it("a hint on a report that does not open changes nothing", async () => {
        await start({ openDurationMs: 10_000 });
        const name = names().n("a");
        await call(name, "FAILURE", { retryAfterMs: 50_000 });
        await call(name, "FAILURE", { retryAfterMs: 50_000 });
        await call(name, "FAILURE");
        expect(await denied(name)).toMatchObject({ retryAfterMs: 10_000 });
      });
    });

    // ------------------------------------------------------------ permit TTL

    describe("permit TTL", () => {
      it("an unreported probe times out at permit_ttl: frees its slot, counts as TIMEOUT, reopens with probe_timeout", async () => {
        const h = await start({ permitTtlMs: 5_000, halfOpenMaxCalls: 1, backoffMultiplier: 2 });
        const name = names().n("a");
        const rec = await watch({ circuits: [name] });
        await halfOpen(name);
        const t1 = h.now();
        await permit(name);
        await h.advance(4_999);
        expect(await denied(name)).toMatchObject({ state: "HALF_OPEN", reason: "HALF_OPEN_FULL" });
        await h.advance(1);
        expect(await view(name)).toMatchObject({
          state: "OPEN",
          openUntil: t1 + 5_000 + 20_000,
          stats: stats({
            consecutiveFailures: 3,
            totalFailures: 4,
            totalTimeouts: 1,
            totalRejections: 1,
            reopenCount: 1,
          }),
        });
        expect(await eventsOf(rec)).toEqual(["CLOSED>OPEN consecutive_failures", "OPEN>HALF_OPEN open_duration_elapsed", "HALF_OPEN>OPEN probe_timeout"]);
        expect(rec.events[2]).toMatchObject({ at: t1 + 5_000 });
        expect(await denied(name)).toMatchObject({ retryAfterMs: 20_000 });
      });

      it.each([
        ["straight away", false],
        ["after a read noticed the timeout", true],
      ])("reporting a timed-out probe afterwards is rejected as expired (%s)", async (_when, readFirst) => {
        const h = await start({ permitTtlMs: 5_000, halfOpenMaxCalls: 1 });
        const name = names().n("a");
        await halfOpen(name);
        const p = await permit(name);
        await h.advance(5_000);
        if (readFirst) expect(await stateOf(name)).toBe("OPEN");
        expect(await rejection(report(name, p, "SUCCESS"))).toBe("expired");
        expect(await view(name)).toMatchObject({ state: "OPEN", stats: { totalTimeouts: 1, totalFailures: 4, totalSuccesses: 0, reopenCount: 1 } });
      });

      it("a CLOSED permit is accepted 1 ms before permit_ttl and rejected as expired at it", async () => {
        const h = await start({ permitTtlMs: 5_000 });
        const name = names().n("a");
        const [a, b] = [await permit(name), await permit(name)];
        await h.advance(4_999);
        expect(await report(name, a, "FAILURE")).toEqual(OK("FAILURE"));
        await h.advance(1);
        expect(await rejection(report(name, b, "FAILURE"))).toBe("expired");
        expect(await statsNow(name)).toEqual(stats({ windowCalls: 1, windowFailures: 1, failureRate: 1, consecutiveFailures: 1, totalFailures: 1 }));
      });
    });

    // ----------------------------------------------------------- generations

    describe("generations", () => {
      it("a late SUCCESS from before the circuit opened is stale and does not count toward closing", async () => {
        await start({ successThreshold: 1 });
        const name = names().n("a");
        const rec = await watch({ circuits: [name] });
        const late = await permit(name);
        await halfOpen(name);
        expect(await report(name, late, "SUCCESS")).toEqual(recorded("HALF_OPEN", "SUCCESS", true));
        expect(await view(name)).toMatchObject({
          state: "HALF_OPEN",
          // Counted in the totals only (the opening failures have left the 10 s window).
          stats: stats({ consecutiveFailures: 3, totalFailures: 3, totalSuccesses: 1 }),
        });
        expect(await eventsOf(rec)).toEqual(["CLOSED>OPEN consecutive_failures", "OPEN>HALF_OPEN open_duration_elapsed"]);
      });

      it("a late FAILURE from before the circuit opened does not reopen HALF_OPEN", async () => {
        await start({});
        const name = names().n("a");
        const late = await permit(name);
        await halfOpen(name);
        expect(await report(name, late, "FAILURE", { retryAfterMs: 50_000 })).toEqual(recorded("HALF_OPEN", "FAILURE", true));
        expect(await view(name)).toMatchObject({
          state: "HALF_OPEN",
          // Counted in the totals only: not in the window, not in the run.
          stats: stats({ consecutiveFailures: 3, totalFailures: 4 }),
        });
      });

      it("a late FAILURE in OPEN does not extend the open time", async () => {
        await start({});
        const name = names().n("a");
        const late = await permit(name);
        await fail(name);
        expect(await report(name, late, "FAILURE", { retryAfterMs: 50_000 })).toEqual(recorded("OPEN", "FAILURE", true));
        expect(await denied(name)).toMatchObject({ retryAfterMs: 10_000 });
      });

      it("a late report after a Reset is stale", async () => {
        await start({});
        const name = names().n("a");
        const late = await permit(name);
        await fail(name, 2);
        await store().reset(name, "ops");
        expect(await report(name, late, "FAILURE")).toEqual(recorded("CLOSED", "FAILURE", true));
        expect(await view(name)).toMatchObject({ state: "CLOSED", stats: stats({ totalFailures: 3 }) });
      });

      it("a late IGNORED is stale too and counts as ignored", async () => {
        await start({});
        const name = names().n("a");
        const late = await permit(name);
        await fail(name);
        expect(await report(name, late, "IGNORED")).toEqual(recorded("OPEN", "IGNORED", true));
        expect((await statsNow(name)).totalIgnored).toBe(1);
      });

      it("concurrent failures open the circuit once; reports after the opening one are stale", async () => {
        await start({ failureThreshold: 3 });
        const name = names().n("a");
        const rec = await watch({ circuits: [name] });
        const permits = await Promise.all(Array.from({ length: 20 }, () => permit(name)));
        const acks = await Promise.all(permits.map((p) => report(name, p, "FAILURE")));
        expect(acks.filter((a) => !a.stale)).toHaveLength(3);
        expect(acks.filter((a) => a.stale)).toHaveLength(17);
        expect(await eventsOf(rec)).toEqual(["CLOSED>OPEN consecutive_failures"]);
        expect(await statsNow(name)).toMatchObject({ totalFailures: 20, windowCalls: 3, consecutiveFailures: 3 });
      });
    });

    // ------------------------------------------------------------- once-only

    describe("each permit counts once", () => {
      it("the same report twice answers duplicate and changes no counter", async () => {
        await start({});
        const name = names().n("a");
        const p = await permit(name);
        expect(await report(name, p, "FAILURE")).toEqual(OK("FAILURE"));
        const before = await statsNow(name);
        expect(await report(name, p, "FAILURE")).toEqual(repeated("CLOSED", "FAILURE", "FAILURE"));
        expect(await statsNow(name)).toEqual(before);
        expect(before).toEqual(stats({ windowCalls: 1, windowFailures: 1, failureRate: 1, consecutiveFailures: 1, totalFailures: 1 }));
      });

      it("a second report with another outcome is ignored: the first one counts", async () => {
        await start({});
        const name = names().n("a");
        const p = await permit(name);
        await report(name, p, "FAILURE");
        expect(await report(name, p, "SUCCESS")).toEqual(repeated("CLOSED", "FAILURE", "SUCCESS"));
        expect(await report(name, p, "IGNORED")).toEqual(repeated("CLOSED", "FAILURE", "IGNORED"));
        expect(await statsNow(name)).toEqual(stats({ windowCalls: 1, windowFailures: 1, failureRate: 1, consecutiveFailures: 1, totalFailures: 1 }));
      });

      it("retrying the report that opened the circuit is a duplicate, not a second failure", async () => {
        await start({});
        const name = names().n("a");
        await fail(name, 2);
        const p = await permit(name);
        expect(await report(name, p, "FAILURE")).toMatchObject({ state: "OPEN", duplicate: false });
        expect(await report(name, p, "FAILURE")).toEqual(repeated("OPEN", "FAILURE", "FAILURE"));
        expect((await statsNow(name)).totalFailures).toBe(3);
      });

      it("20 concurrent reports of one permit count once", async () => {
        await start({});
        const name = names().n("a");
        const p = await permit(name);
        const acks = await Promise.all(Array.from({ length: 20 }, () => report(name, p, "FAILURE")));
        expect(acks.filter((a) => !a.duplicate)).toHaveLength(1);
        expect((await statsNow(name)).totalFailures).toBe(1);
      });
    });

    // ------------------------------------------------ dispositions, principals

    describe("report dispositions", () => {
      it("a counted report answers RECORDED with its own outcome, for every outcome", async () => {
        await start({ failureThreshold: 0 });
        const name = names().n("a");
        for (const outcome of ["SUCCESS", "FAILURE", "TIMEOUT", "IGNORED"] as const) {
          expect(await call(name, outcome)).toEqual(recorded("CLOSED", outcome));
        }
      });

      it("a repeat with another outcome answers CONFLICT with the first outcome, changes nothing and drives nothing", async () => {
        await start({});
        const name = names().n("a");
        const rec = await watch({ circuits: [name] });
        await fail(name, 2);
        const p = await permit(name);
        expect(await report(name, p, "SUCCESS")).toEqual(OK("SUCCESS"));
        const before = await statsNow(name);
        // Three FAILUREs would open the circuit; as repeats of a SUCCESS they count nowhere.
        for (const outcome of ["FAILURE", "TIMEOUT", "FAILURE"] as const) {
          expect(await report(name, p, outcome)).toEqual(repeated("CLOSED", "SUCCESS", outcome));
        }
        expect(await report(name, p, "SUCCESS")).toEqual(repeated("CLOSED", "SUCCESS", "SUCCESS"));
        expect(await statsNow(name)).toEqual(before);
        expect(before).toEqual(stats({ windowCalls: 3, windowFailures: 2, failureRate: 2 / 3, totalFailures: 2, totalSuccesses: 1 }));
        expect(await eventsOf(rec)).toEqual([]);
      });

      it("a stale permit answers STALE with its outcome, then DUPLICATE or CONFLICT", async () => {
        await start({});
        const name = names().n("a");
        const late = await permit(name);
        await fail(name);
        expect(await report(name, late, "TIMEOUT")).toEqual(recorded("OPEN", "TIMEOUT", true));
        expect(await report(name, late, "TIMEOUT")).toEqual(repeated("OPEN", "TIMEOUT", "TIMEOUT"));
        expect(await report(name, late, "SUCCESS")).toEqual(repeated("OPEN", "TIMEOUT", "SUCCESS"));
        expect(await statsNow(name)).toMatchObject({ totalFailures: 4, totalTimeouts: 1, totalSuccesses: 0 });
      });

      it("remembers a reported permit until permit_ttl after its Acquire; a retry after that is PERMIT_EXPIRED", async () => {
        await start({ permitTtlMs: 30_000 });
        const name = names().n("a");
        const p = await permit(name);
        await h!.advance(10_000);
        expect(await report(name, p, "FAILURE")).toEqual(OK("FAILURE"));
        await h!.advance(19_999);
        expect(await report(name, p, "SUCCESS")).toEqual(repeated("CLOSED", "FAILURE", "SUCCESS"));
        await h!.advance(1);
        expect(await rejection(report(name, p, "FAILURE"))).toBe("expired");
        expect(await rejection(report(name, p, "SUCCESS"))).toBe("expired");
        expect(await statsNow(name)).toMatchObject({ totalFailures: 1, totalSuccesses: 0 });
      });

      it("numbers a circuit's permits in one stream; a permit more than the window's slots behind the stream's highest report answers PERMIT_EXPIRED", async () => {
        await start({ failureThreshold: 0 }, { permitWindowSlots: 8 });
        const name = names().n("a");
        const p: string[] = [];
        for (let i = 0; i < 38; i++) p.push(await permit(name));
        // <hash>.<generation>.<kind>.<expiry>.<stream>.<seq>.<mac>: one stream, seq 0, 1, 2, ...
        expect(new Set(p.map((t) => t.split(".")[4])).size).toBe(1);
        expect(p.map((t) => parseInt(t.split(".")[5]!, 36))).toEqual(p.map((_, i) => i));
        expect(await report(name, p[9]!, "SUCCESS")).toEqual(OK("SUCCESS"));
        expect(await rejection(report(name, p[1]!, "FAILURE"))).toBe("expired"); // 1 <= 9 - 8
        expect(await report(name, p[2]!, "FAILURE")).toEqual(OK("FAILURE"));
        expect(await report(name, p[2]!, "SUCCESS")).toEqual(repeated("CLOSED", "FAILURE", "SUCCESS"));
        expect(await report(name, p[9]!, "SUCCESS")).toEqual(repeated("CLOSED", "SUCCESS", "SUCCESS"));
        // The highest report moves to 17: the slots it passed over are cleared, so p[10] (p[2]'s slot) is new.
        expect(await report(name, p[17]!, "IGNORED")).toEqual(OK("IGNORED"));
        expect(await rejection(report(name, p[9]!, "SUCCESS"))).toBe("expired"); // 9 <= 17 - 8
        expect(await report(name, p[10]!, "TIMEOUT")).toEqual(OK("TIMEOUT"));
        expect(await report(name, p[10]!, "TIMEOUT")).toEqual(repeated("CLOSED", "TIMEOUT", "TIMEOUT"));
        expect(await report(name, p[17]!, "SUCCESS")).toEqual(repeated("CLOSED", "IGNORED", "SUCCESS"));
        // A jump past the whole ring clears every slot.
        expect(await report(name, p[37]!, "SUCCESS")).toEqual(OK("SUCCESS"));
        expect(await rejection(report(name, p[29]!, "SUCCESS"))).toBe("expired");
        expect(await report(name, p[30]!, "FAILURE")).toEqual(OK("FAILURE"));
        expect(await report(name, p[36]!, "SUCCESS")).toEqual(OK("SUCCESS"));
        expect(await report(name, p[37]!, "FAILURE")).toEqual(repeated("CLOSED", "SUCCESS", "FAILURE"));
        expect(await statsNow(name)).toMatchObject({ totalSuccesses: 3, totalFailures: 3, totalTimeouts: 1, totalIgnored: 1 });
      });

      it("starts a new stream once the circuit's stream is permit_ttl old; each stream remembers its own permits", async () => {
        await start({ failureThreshold: 0, permitTtlMs: 30_000 }, { permitWindowSlots: 8 });
        const name = names().n("a");
        const first = [await permit(name), await permit(name)];
        await h!.advance(30_000);
        const second = [await permit(name), await permit(name)];
        const streamOf = (t: string) => t.split(".")[4];
        expect(streamOf(second[0]!)).not.toBe(streamOf(first[0]!));
        expect(second.map((t) => t.split(".")[5])).toEqual(["0", "1"]);
        expect(await rejection(report(name, first[1]!, "SUCCESS"))).toBe("expired");
        expect(await report(name, second[1]!, "SUCCESS")).toEqual(OK("SUCCESS"));
        expect(await report(name, second[0]!, "FAILURE")).toEqual(OK("FAILURE"));
        expect(await report(name, second[1]!, "FAILURE")).toEqual(repeated("CLOSED", "SUCCESS", "FAILURE"));
      });

      it("counts a legacy permit (5-field body of the previous release) once: DUPLICATE, CONFLICT, then PERMIT_EXPIRED", async () => {
        await start({ failureThreshold: 0, permitTtlMs: 30_000 }, { permitSecret: SUITE_SECRET });
        const name = names().n("a");
        const p = await permit(name);
        const body = encodePermit({ circuitHash: circuitHash(name), generation: 0, kind: "closed", expiresAt: h!.now() + 30_000, nonce: "0a1b2c3" });
        const legacy = createPermitSigner(SUITE_SECRET).sign(name, body);
        expect(await report(name, legacy, "FAILURE")).toEqual(OK("FAILURE"));
        expect(await report(name, legacy, "FAILURE")).toEqual(repeated("CLOSED", "FAILURE", "FAILURE"));
        expect(await report(name, legacy, "SUCCESS")).toEqual(repeated("CLOSED", "FAILURE", "SUCCESS"));
        expect(await report(name, p, "SUCCESS")).toEqual(OK("SUCCESS"));
        await h!.advance(29_999);
        expect(await report(name, legacy, "IGNORED")).toEqual(repeated("CLOSED", "FAILURE", "IGNORED"));
        await h!.advance(1);
        expect(await rejection(report(name, legacy, "FAILURE"))).toBe("expired");
        expect(await statsNow(name)).toMatchObject({ totalFailures: 1, totalSuccesses: 1, totalIgnored: 0 });
      });
    });

    describe("principals", () => {
      const ann: Principal = { keyName: "agents", agentInstanceId: "pod-a" };
      const bob: Principal = { keyName: "agents", agentInstanceId: "pod-b" };
      const admin = (actor: string): Principal => ({ keyName: actor, agentInstanceId: "" });

      /** Each transition as "reason by key/instance" ("by -" without a principal), from a watcher and from history (oldest first). */
      async function attributed(name: string, rec: Recorder): Promise<{ watched: string[]; history: string[] }> {
        await h!.settle?.();
        const show = (e: CircuitEvent): string =>
          `${e.reason} by ${e.principal === undefined ? "-" : `${e.principal.keyName}/${e.principal.agentInstanceId}`}${e.actor === undefined ? "" : ` actor ${e.actor}`}`;
        const history = (await store().history(name, 100))!.entries.flatMap((x) => (x.kind === "transition" ? [show(x.event)] : [])).reverse();
        return { watched: rec.events.map(show), history };
      }

      it("a transition a Report drives carries its reporter; time-driven ones carry none", async () => {
        await start({ failureThreshold: 3, halfOpenMaxCalls: 2, successThreshold: 2 });
        const name = names().n("a");
        const rec = await watch({ circuits: [name] });
        await report(name, await permit(name), "FAILURE", { principal: ann });
        await report(name, await permit(name), "FAILURE", { principal: ann });
        await report(name, await permit(name), "FAILURE", { principal: bob }); // opens
        await h!.advance(10_000);
        const probe = await permit(name); // HALF_OPEN by time, on this Acquire
        await report(name, probe, "FAILURE", { principal: ann }); // probe_failed
        await h!.advance(10_000);
        const t = await permit(name); // HALF_OPEN again
        await report(name, t, "TIMEOUT", { principal: bob }); // probe_timeout, reported
        await h!.advance(10_000);
        const [p1, p2] = [await permit(name), await permit(name)];
        await report(name, p1, "SUCCESS", { principal: ann });
        await report(name, p2, "SUCCESS", { principal: bob }); // probes_succeeded
        const expected = [
          "consecutive_failures by agents/pod-b",
          "open_duration_elapsed by -",
          "probe_failed by agents/pod-a",
          "open_duration_elapsed by -",
          "probe_timeout by agents/pod-b",
          "open_duration_elapsed by -",
          "probes_succeeded by agents/pod-b",
        ];
        expect(await attributed(name, rec)).toEqual({ watched: expected, history: expected });
      });

      it("the failure-rate rule credits the reporter whose report tripped it", async () => {
        await start({ failureThreshold: 0, failureRateThreshold: 0.5, minimumCalls: 4 });
        const rate = names().n("rate");
        const recRate = await watch({ circuits: [rate] });
        for (const [outcome, who] of [["SUCCESS", ann], ["SUCCESS", ann], ["FAILURE", ann], ["FAILURE", bob]] as const) {
          await report(rate, await permit(rate), outcome, { principal: who });
        }
        expect(await attributed(rate, recRate)).toEqual({ watched: ["failure_rate by agents/pod-b"], history: ["failure_rate by agents/pod-b"] });
      });

      it("the slow-call rule credits the reporter whose report tripped it", async () => {
        await start({ failureThreshold: 0, failureRateThreshold: 0, slowCallDurationMs: 100, slowCallRateThreshold: 0.5, minimumCalls: 2 });
        const slow = names().n("slow");
        const recSlow = await watch({ circuits: [slow] });
        await report(slow, await permit(slow), "SUCCESS", { durationMs: 500, principal: bob });
        await report(slow, await permit(slow), "SUCCESS", { durationMs: 500, principal: ann });
        expect(await attributed(slow, recSlow)).toEqual({ watched: ["slow_call_rate by agents/pod-a"], history: ["slow_call_rate by agents/pod-a"] });
      });

      it("a probe that times out unreported re-opens with no principal, even when a Report applies it", async () => {
        await start({ permitTtlMs: 1_000 });
        const name = names().n("a");
        const rec = await watch({ circuits: [name] });
        const closed = await permit(name);
        await report(name, closed, "FAILURE", { principal: ann });
        await fail(name, 2);
        await h!.advance(10_000);
        await permit(name); // a probe nobody reports
        const other = await permit(name);
        await h!.advance(1_000);
        // The Report finds the probes expired: time re-opens the circuit before the report is judged.
        expect(await rejection(report(name, other, "SUCCESS", { principal: bob }))).toBe("expired");
        expect((await attributed(name, rec)).history).toEqual([
          "consecutive_failures by -",
          "open_duration_elapsed by -",
          "probe_timeout by -",
        ]);
      });

      it("admin transitions carry the admin as principal (key name = actor, no agent instance)", async () => {
        await start({});
        const name = names().n("a");
        const rec = await watch({ circuits: [name] });
        await store().force(name, "FORCED_OPEN", "alice");
        await store().force(name, "DISABLED", "alice");
        await store().force(name, "CLOSED", "bob");
        await fail(name);
        await h!.advance(10_000);
        await store().reset(name, "carol");
        const expected = [
          "forced_open by alice/ actor alice",
          "disabled by alice/ actor alice",
          "released by bob/ actor bob",
          "consecutive_failures by -",
          "reset by carol/ actor carol",
        ];
        expect(await attributed(name, rec)).toEqual({ watched: expected, history: expected });
        const events = (await store().history(name, 1))!.entries;
        expect(events[0]).toMatchObject({ kind: "transition", event: { principal: admin("carol") } });
      });

      it("a ForceState applies due time-driven transitions without the admin's principal", async () => {
        await start({});
        const name = names().n("a");
        const rec = await watch({ circuits: [name] });
        await fail(name);
        await h!.advance(10_000);
        await store().force(name, "FORCED_OPEN", "alice");
        expect((await attributed(name, rec)).watched).toEqual([
          "consecutive_failures by -",
          "open_duration_elapsed by -",
          "forced_open by alice/ actor alice",
        ]);
      });
    });

    describe("reporter quorum (min_distinct_reporters)", () => {
      const ann: Principal = { keyName: "agents", agentInstanceId: "pod-a" };
      const bob: Principal = { keyName: "agents", agentInstanceId: "pod-b" };
      // The same instance id under another key is another reporter.
      const annElsewhere: Principal = { keyName: "batch", agentInstanceId: "pod-a" };

      /** Each call: acquire, then report `outcome` as `who`. */
      async function by(name: string, who: Principal, outcome: Outcome, n = 1, durationMs = 10): Promise<ReportAck[]> {
        const acks: ReportAck[] = [];
        for (let i = 0; i < n; i++) acks.push(await report(name, await permit(name), outcome, { principal: who, durationMs }));
        return acks;
      }

      /** The watched events and the history's transitions (oldest first) as "reason [reporters]". */
      async function opened(name: string, rec: Recorder): Promise<{ watched: string[]; history: string[] }> {
        await h!.settle?.();
        const show = (e: CircuitEvent): string =>
          `${e.reason} [${(e.failureReporters ?? []).map((p) => `${p.keyName}/${p.agentInstanceId}`).join(" ")}]`;
        const history = (await store().history(name, 100))!.entries.flatMap((x) => (x.kind === "transition" ? [show(x.event)] : [])).reverse();
        return { watched: rec.events.map(show), history };
      }

      it("consecutive failures from one reporter keep it CLOSED; a failure from a second opens it", async () => {
        await start({ failureThreshold: 3, minDistinctReporters: 2 });
        const name = names().n("a");
        const rec = await watch({ circuits: [name] });
        expect(await by(name, ann, "FAILURE", 3)).toEqual([OK("FAILURE"), OK("FAILURE"), OK("FAILURE")]);
        expect(await view(name)).toMatchObject({
          state: "CLOSED",
          generation: 0,
          stats: stats({ windowCalls: 3, windowFailures: 3, failureRate: 1, consecutiveFailures: 3, totalFailures: 3 }),
        });
        expect(await by(name, bob, "TIMEOUT")).toEqual([recorded("OPEN", "TIMEOUT")]);
        expect(await view(name)).toMatchObject({
          state: "OPEN",
          generation: 1,
          stats: stats({ windowCalls: 4, windowFailures: 4, failureRate: 1, consecutiveFailures: 4, totalFailures: 4, totalTimeouts: 1 }),
        });
        const expected = ["consecutive_failures [agents/pod-b agents/pod-a]"];
        expect(await opened(name, rec)).toEqual({ watched: expected, history: expected });
        expect(rec.events[0]).toMatchObject({ reason: "consecutive_failures", principal: bob });
      });

      it("counts reporters by key name and instance id together", async () => {
        await start({ failureThreshold: 2, minDistinctReporters: 3 });
        const name = names().n("a");
        const rec = await watch({ circuits: [name] });
        await by(name, ann, "FAILURE", 2);
        await by(name, annElsewhere, "FAILURE", 2);
        expect(await stateOf(name)).toBe("CLOSED");
        await by(name, bob, "FAILURE");
        expect(await stateOf(name)).toBe("OPEN");
        const expected = ["consecutive_failures [agents/pod-b batch/pod-a agents/pod-a]"];
        expect(await opened(name, rec)).toEqual({ watched: expected, history: expected });
      });

      it("counts, for consecutive failures, only the reporters of the current run", async () => {
        await start({ failureThreshold: 3, minDistinctReporters: 2 });
        const name = names().n("a");
        const rec = await watch({ circuits: [name] });
        await by(name, bob, "FAILURE");
        await by(name, bob, "SUCCESS"); // ends the run, and bob's place in it
        await by(name, ann, "FAILURE", 4);
        expect(await view(name)).toMatchObject({ state: "CLOSED", stats: { consecutiveFailures: 4, windowFailures: 5 } });
        await by(name, ann, "IGNORED"); // not a call: the run goes on
        await by(name, bob, "FAILURE");
        expect(await stateOf(name)).toBe("OPEN");
        const expected = ["consecutive_failures [agents/pod-b agents/pod-a]"];
        expect(await opened(name, rec)).toEqual({ watched: expected, history: expected });
      });

      it("counts, for the failure rate, the reporters whose failures are in the window", async () => {
        await start({ failureThreshold: 0, failureRateThreshold: 0.5, minimumCalls: 4, minDistinctReporters: 2 });
        const name = names().n("a");
        const rec = await watch({ circuits: [name] });
        await by(name, ann, "FAILURE", 4);
        expect(await view(name)).toMatchObject({ state: "CLOSED", stats: stats({ windowCalls: 4, windowFailures: 4, failureRate: 1, consecutiveFailures: 4, totalFailures: 4 }) });
        await h!.advance(10_000); // ann's failures leave the window (buckets of 1 s)
        await by(name, bob, "FAILURE", 4);
        expect(await view(name)).toMatchObject({ state: "CLOSED", stats: { windowCalls: 4, windowFailures: 4, totalFailures: 8 } });
        await h!.advance(1_000);
        await by(name, bob, "SUCCESS"); // a success from another reporter is no failure
        expect(await stateOf(name)).toBe("CLOSED");
        await by(name, ann, "FAILURE");
        expect(await view(name)).toMatchObject({ state: "OPEN", stats: { windowCalls: 6, windowFailures: 5 } });
        const expected = ["failure_rate [agents/pod-a agents/pod-b]"];
        expect(await opened(name, rec)).toEqual({ watched: expected, history: expected });
      });

      it("counts, for the slow-call rate, the reporters of slow calls in the window", async () => {
        await start({ failureThreshold: 0, failureRateThreshold: 0, slowCallDurationMs: 100, slowCallRateThreshold: 0.5, minimumCalls: 2, minDistinctReporters: 2 });
        const name = names().n("a");
        const rec = await watch({ circuits: [name] });
        await by(name, bob, "SUCCESS", 3, 500);
        await by(name, ann, "FAILURE", 1, 500); // a failure is never a slow call
        expect(await view(name)).toMatchObject({ state: "CLOSED", stats: { windowCalls: 4, windowSlowCalls: 3, slowCallRate: 0.75 } });
        await by(name, ann, "SUCCESS", 1, 500);
        expect(await stateOf(name)).toBe("OPEN");
        const expected = ["slow_call_rate [agents/pod-a agents/pod-b]"];
        expect(await opened(name, rec)).toEqual({ watched: expected, history: expected });
      });

      it("a failed probe reopens whatever the quorum; an OPEN transition names its probe's reporter", async () => {
        await start({ failureThreshold: 2, minDistinctReporters: 3, halfOpenMaxCalls: 2 });
        const name = names().n("a");
        const rec = await watch({ circuits: [name] });
        await by(name, ann, "FAILURE");
        await by(name, annElsewhere, "FAILURE");
        await by(name, bob, "FAILURE");
        await h!.advance(10_000);
        await report(name, await permit(name), "FAILURE", { principal: ann });
        expect(await stateOf(name)).toBe("OPEN");
        await h!.advance(10_000);
        await report(name, await permit(name), "TIMEOUT", { principal: bob });
        expect(await view(name)).toMatchObject({ state: "OPEN", stats: { reopenCount: 2 } });
        const expected = [
          "consecutive_failures [agents/pod-b batch/pod-a agents/pod-a]",
          "open_duration_elapsed []",
          "probe_failed [agents/pod-a]",
          "open_duration_elapsed []",
          "probe_timeout [agents/pod-b]",
        ];
        expect(await opened(name, rec)).toEqual({ watched: expected, history: expected });
      });

      it("default 1: a single reporter opens it, as before, and the event names it", async () => {
        await start({ failureThreshold: 3 });
        const name = names().n("a");
        const rec = await watch({ circuits: [name] });
        await by(name, ann, "FAILURE", 2);
        expect(await by(name, ann, "FAILURE")).toEqual([recorded("OPEN", "FAILURE")]);
        await store().reset(name, "ops");
        await fail(name); // reports with no principal: one unnamed reporter
        const expected = ["consecutive_failures [agents/pod-a]", "reset []", "consecutive_failures [/]"];
        expect(await opened(name, rec)).toEqual({ watched: expected, history: expected });
      });

      it("names at most 16 reporters, the most recent first, and keeps counting distinct ones past them", async () => {
        await start({ failureThreshold: 0, failureRateThreshold: 0.5, minimumCalls: 18, minDistinctReporters: 16 });
        const name = names().n("a");
        const rec = await watch({ circuits: [name] });
        const pods = Array.from({ length: 18 }, (_, i) => ({ keyName: "agents", agentInstanceId: `pod-${i}` }));
        for (const who of pods.slice(0, 17)) await by(name, who, "FAILURE");
        await by(name, pods[0]!, "FAILURE"); // pod-0 dropped off the full list and comes back
        expect(await view(name)).toMatchObject({ state: "OPEN", stats: { windowCalls: 18, windowFailures: 18 } });
        const named = ["pod-0", ...Array.from({ length: 15 }, (_, i) => `pod-${16 - i}`)].map((p) => `agents/${p}`).join(" ");
        expect(await opened(name, rec)).toEqual({ watched: [`failure_rate [${named}]`], history: [`failure_rate [${named}]`] });
      });

      it("a Reset clears who reported: the quorum starts again", async () => {
        await start({ failureThreshold: 2, minDistinctReporters: 2 });
        const name = names().n("a");
        await by(name, ann, "FAILURE");
        await store().reset(name, "ops");
        await by(name, bob, "FAILURE", 2);
        expect(await view(name)).toMatchObject({ state: "CLOSED", stats: { consecutiveFailures: 2 } });
        await by(name, ann, "FAILURE");
        expect(await stateOf(name)).toBe("OPEN");
      });
    });

    // ---------------------------------------------------------------- errors

    describe("refused reports", () => {
      it("a refused report still applies and announces the transitions time made due", async () => {
        const h = await start({ failureThreshold: 1, openDurationMs: 10_000, permitTtlMs: 1_000 });
        const name = names().n("a");
        const rec = await watch({ circuits: [name] });
        const p = await permit(name);
        await report(name, p, "FAILURE");
        expect((await store().acquire(name)).allowed).toBe(false);
        await h.advance(10_000);
        // The permit expired long ago; the circuit turned HALF_OPEN meanwhile.
        expect(await rejection(report(name, p, "FAILURE"))).toBe("expired");
        expect(await eventsOf(rec)).toEqual(["CLOSED>OPEN consecutive_failures", "OPEN>HALF_OPEN open_duration_elapsed"]);
        const history = (await store().history(name, 10))?.entries;
        expect(history!.map((e) => (e.kind === "transition" ? e.event.reason : "config"))).toEqual(["open_duration_elapsed", "consecutive_failures"]);
      });

      it.each([
        ["a malformed permit", "malformed", "not-a-permit"],
        ["an empty permit", "malformed", ""],
        ["a permit of another circuit", "foreign", "other"],
        ["a permit from a generation the circuit never reached", "unknown", "future"],
      ] as const)("%s is rejected as %s and changes nothing", async (_what, problem, kind) => {
        await start({}, { permitSecret: SUITE_SECRET });
        const { n } = names();
        const name = n("a");
        await fail(name, 1);
        let token: string = kind; // the malformed rows report the text itself
        if (kind === "other") token = await permit(n("b"));
        if (kind === "future") {
          // Signed with the store's secret: a genuine permit of a generation this circuit has not reached.
          const body = encodePermit({ circuitHash: circuitHash(name), generation: 5, kind: "closed", expiresAt: h!.now() + 30_000, stream: "xxxxxxxxx1", seq: 1 });
          token = createPermitSigner(SUITE_SECRET).sign(name, body);
        }
        expect(await rejection(report(name, token, "FAILURE"))).toBe(problem);
        expect(await statsNow(name)).toEqual(stats({ windowCalls: 1, windowFailures: 1, failureRate: 1, consecutiveFailures: 1, totalFailures: 1 }));
      });

      it.each([
        ["malformed", "not-a-permit"],
        ["foreign", "other"],
        ["bad-signature", "forged"],
        ["unknown", "future"],
      ] as const)("a %s permit is refused before time is applied: the due transition happens at the next use", async (problem, kind) => {
        const h = await start({ failureThreshold: 1, openDurationMs: 10_000 }, { permitSecret: SUITE_SECRET });
        const { n } = names();
        const name = n("a");
        const rec = await watch({ circuits: [name] });
        await fail(name, 1);
        await h.advance(10_000);
        let token: string = kind;
        if (kind === "other") token = await permit(n("b"));
        if (kind === "forged") token = `${encodePermit({ circuitHash: circuitHash(name), generation: 1, kind: "closed", expiresAt: h.now() + 30_000, stream: "xxxxxxxxx1", seq: 1 })}.${"A".repeat(21)}w`;
        if (kind === "future") {
          const body = encodePermit({ circuitHash: circuitHash(name), generation: 5, kind: "closed", expiresAt: h.now() + 30_000, stream: "xxxxxxxxx1", seq: 1 });
          token = createPermitSigner(SUITE_SECRET).sign(name, body);
        }
        expect(await rejection(report(name, token, "FAILURE"))).toBe(problem);
        await h.advance(1_000);
        const at = h.now();
        expect(await stateOf(name)).toBe("HALF_OPEN");
        await h.settle?.();
        expect(rec.events.map((e) => [describeEvent(e), e.at])).toEqual([
          ["CLOSED>OPEN consecutive_failures", at - 11_000],
          ["OPEN>HALF_OPEN open_duration_elapsed", at],
        ]);
      });

      it("a report on a circuit that never existed is rejected as unknown and creates nothing", async () => {
        await start({});
        const { n } = names();
        const p = await permit(n("real"));
        expect(await rejection(report(n("ghost"), p, "FAILURE"))).toBe("unknown");
        expect(await store().get(n("ghost"))).toBeUndefined();
      });

      /** `token` with the character at `at` (negative: from the end) replaced by another of its alphabet. */
      function changeChar(token: string, at: number): string {
        const i = at < 0 ? token.length + at : at;
        const alphabet = i >= token.length - 22 ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" : "0123456789abcdefghijklmnopqrstuvwxyz";
        const next = alphabet[(alphabet.indexOf(token[i]!) + 1) % alphabet.length]!;
        return token.slice(0, i) + next + token.slice(i + 1);
      }

      /** The permit's fields as text: hash, generation, kind, expiry, stream, seq, MAC. */
      function fieldsOf(token: string): string[] {
        return token.split(".");
      }

      it.each([
        ["one character of its MAC changed", (t: string) => changeChar(t, -5)],
        ["the last character of its MAC changed", (t: string) => changeChar(t, -1)],
        ["the last character of its seq changed", (t: string) => changeChar(t, -24)],
        ["the first character of its stream changed", (t: string) => fieldsOf(t).map((f, i) => (i === 4 ? changeChar(f, 0) : f)).join(".")],
        ["another circuit's MAC", (t: string, other: string) => [...fieldsOf(t).slice(0, 6), fieldsOf(other)[6]].join(".")],
        ["a later expiry", (t: string) => fieldsOf(t).map((f, i) => (i === 3 ? (parseInt(f, 36) + 86_400_000).toString(36) : f)).join(".")],
      ])("a permit with %s is PERMIT_BAD_SIGNATURE and changes nothing", async (_what, mutate) => {
        await start({ failureThreshold: 3 });
        const { n } = names();
        const name = n("a");
        const rec = await watch({ circuits: [name] });
        await fail(name, 1);
        const p = await permit(name);
        const before = await view(name);
        const forged = mutate(p, await permit(n("b")));
        expect(forged).not.toBe(p);
        expect(await rejection(report(name, forged, "FAILURE"))).toBe("bad-signature");
        expect(await view(name)).toEqual(before);
        expect(await eventsOf(rec)).toEqual([]);
        // The genuine permit is still unreported: it counts once.
        expect(await report(name, p, "SUCCESS")).toMatchObject({ disposition: "RECORDED" });
      });

      it.each([
        ["a leading zero on the generation", 1],
        ["a leading zero on the expiry", 3],
        ["a leading zero on the hash", 0],
      ])("a re-encoded variant of a real permit (%s) is PERMIT_MALFORMED and changes nothing", async (_what, field) => {
        await start({});
        const { n } = names();
        const name = n("a");
        await fail(name, 1);
        const p = await permit(name);
        const before = await view(name);
        const variant = fieldsOf(p).map((f, i) => (i === field ? `0${f}` : f)).join(".");
        expect(await rejection(report(name, variant, "FAILURE"))).toBe("malformed");
        expect(await view(name)).toEqual(before);
      });

      it("a made-up permit is refused: unsigned as PERMIT_MALFORMED, with a made-up MAC as PERMIT_BAD_SIGNATURE", async () => {
        await start({});
        const { n } = names();
        const name = n("a");
        await fail(name, 1);
        const before = await view(name);
        const body = encodePermit({ circuitHash: circuitHash(name), generation: 0, kind: "closed", expiresAt: h!.now() + 10_000, stream: "made1up000", seq: 0 });
        expect(await rejection(report(name, body, "FAILURE"))).toBe("malformed");
        expect(await rejection(report(name, `${body}.${"A".repeat(21)}w`, "FAILURE"))).toBe("bad-signature");
        expect(await view(name)).toEqual(before);
      });

      it("permits of tool.7899e4ea0aef (same 32-bit hash) reported on tool.e2afc2b32253 are refused and do not count", async () => {
        // The FNV collision of issue 11: the hash field cannot tell them apart, the MAC over the full name does.
        await start({ failureThreshold: 3 });
        const [a, b] = ["tool.7899e4ea0aef", "tool.e2afc2b32253"];
        expect(circuitHash(a)).toBe(circuitHash(b));
        await call(b, "SUCCESS");
        const before = await view(b);
        for (let i = 0; i < 5; i++) expect(await rejection(report(b, await permit(a), "FAILURE"))).toBe("bad-signature");
        expect(await view(b)).toEqual(before);
        expect(await stateOf(b)).toBe("CLOSED");
      });

      it("three mutated reports of one real permit cannot open a threshold-3 circuit", async () => {
        // Issue 11's reproduction: one Acquire, then FAILURE reports of the permit's variants.
        await start({ failureThreshold: 3 });
        const { n } = names();
        const name = n("a");
        const p = await permit(name);
        expect(await report(name, p, "FAILURE")).toMatchObject({ disposition: "RECORDED" });
        const counted = await statsNow(name);
        const variants = [changeChar(p, -24), fieldsOf(p).map((f, i) => (i === 3 ? `0${f}` : f)).join("."), changeChar(p, -1)];
        const problems = [];
        for (const v of variants) problems.push(await rejection(report(name, v, "FAILURE")));
        expect(problems).toEqual(["bad-signature", "malformed", "bad-signature"]);
        expect(await stateOf(name)).toBe("CLOSED");
        expect(await statsNow(name)).toEqual(counted);
        expect(counted).toMatchObject({ consecutiveFailures: 1, totalFailures: 1, windowFailures: 1 });
      });
    });

    // ----------------------------------------------------------------- Reset

    describe("Reset", () => {
      const rows: [State, (name: string) => Promise<void>, Partial<CircuitStats>][] = [
        ["OPEN", async (name) => fail(name), { totalFailures: 3 }],
        [
          "HALF_OPEN",
          async (name) => {
            await halfOpen(name);
            await call(name, "FAILURE"); // reopens for 20 s: backoff 1
            await h!.advance(20_000);
            await permit(name); // one probe out
            expect(await statsNow(name)).toMatchObject({ reopenCount: 1, halfOpenInFlight: 1 });
          },
          { totalFailures: 4 },
        ],
        [
          "FORCED_OPEN",
          async (name) => {
            await fail(name, 2);
            await store().force(name, "FORCED_OPEN", "ops");
            await denied(name);
          },
          { totalFailures: 2, totalRejections: 1 },
        ],
      ];

      it.each(rows)("from %s goes CLOSED with clean counters (totals kept) and the base open duration", async (from, bring, totals) => {
        const h = await start({ backoffMultiplier: 2 });
        const name = names().n("a");
        await bring(name);
        expect(await stateOf(name)).toBe(from);
        const rec = await watch({ circuits: [name] });
        const generation = (await view(name)).generation;
        const v = await store().reset(name, "ops");
        expect(v).toMatchObject({ circuit: name, state: "CLOSED", generation: generation + 1, since: h.now(), stats: stats(totals) });
        expect(v!.openUntil).toBeUndefined();
        expect(await eventsOf(rec)).toEqual([`${from}>CLOSED reset`]);
        await fail(name);
        expect(await denied(name)).toMatchObject({ retryAfterMs: 10_000 });
      });

      it("of a circuit that never existed answers undefined and creates nothing", async () => {
        await start({});
        const name = names().n("ghost");
        expect(await store().reset(name, "ops")).toBeUndefined();
        expect(await store().get(name)).toBeUndefined();
      });
    });

    // ------------------------------------------------------------ ForceState

    describe("ForceState", () => {
      it("FORCED_OPEN denies every call with reason FORCED_OPEN and never times out", async () => {
        const h = await start({});
        const name = names().n("a");
        const rec = await watch({ circuits: [name] });
        const v = await store().force(name, "FORCED_OPEN", "ops"); // creates the circuit
        expect(v).toMatchObject({ circuit: name, state: "FORCED_OPEN", generation: 1 });
        expect(await store().acquire(name)).toEqual({ allowed: false, state: "FORCED_OPEN", retryAfterMs: 0, reason: "FORCED_OPEN", shadowDenied: false });
        await h.advance(86_400_000);
        expect(await denied(name)).toMatchObject({ reason: "FORCED_OPEN" });
        expect(await view(name)).toMatchObject({ state: "FORCED_OPEN", stats: stats({ totalRejections: 2 }) });
        expect(await eventsOf(rec)).toEqual(["CLOSED>FORCED_OPEN forced_open"]);
      });

      it("FORCED_OPEN wins over a config with enabled=false", async () => {
        await start({ enabled: false });
        const name = names().n("a");
        expect(await store().acquire(name)).toMatchObject({ allowed: true, state: "DISABLED" });
        await store().force(name, "FORCED_OPEN", "ops");
        expect(await store().acquire(name)).toEqual({ allowed: false, state: "FORCED_OPEN", retryAfterMs: 0, reason: "FORCED_OPEN", shadowDenied: false });
        expect(await view(name)).toMatchObject({ state: "FORCED_OPEN" });
      });

      it("names the admin who reset, forced or released a circuit in its events and history", async () => {
        await start({});
        const name = names().n("a");
        const seen: { reason: string; actor?: string }[] = [];
        const sub = await store().watch({ circuits: [name], prefix: "" }, undefined, (item) => {
          if (item.kind === "event") seen.push({ reason: item.event.reason, ...(item.event.actor === undefined ? {} : { actor: item.event.actor }) });
        });
        await store().force(name, "FORCED_OPEN", "alice");
        await store().force(name, "CLOSED", "bob");
        await fail(name);
        await store().reset(name, "carol");
        await h!.settle?.();
        sub.close();
        expect(seen).toEqual([
          { reason: "forced_open", actor: "alice" },
          { reason: "released", actor: "bob" },
          { reason: "consecutive_failures" },
          { reason: "reset", actor: "carol" },
        ]);
        const history = (await store().history(name, 10))?.entries;
        expect(history!.map((e) => (e.kind === "transition" ? e.event.actor ?? "" : "config"))).toEqual(["carol", "", "bob", "alice"]);
      });

      it("FORCED_OPEN denies even in shadow mode", async () => {
        await start({ mode: "shadow" });
        const name = names().n("a");
        await store().force(name, "FORCED_OPEN", "ops");
        expect(await store().acquire(name)).toEqual({ allowed: false, state: "FORCED_OPEN", retryAfterMs: 0, reason: "FORCED_OPEN", shadowDenied: false });
      });

      it("FORCED_OPEN over an OPEN circuit stops it from turning HALF_OPEN", async () => {
        const h = await start({});
        const name = names().n("a");
        const rec = await watch({ circuits: [name] });
        await fail(name);
        await store().force(name, "FORCED_OPEN", "ops");
        await h.advance(10_000);
        expect(await stateOf(name)).toBe("FORCED_OPEN");
        expect(await eventsOf(rec)).toEqual(["CLOSED>OPEN consecutive_failures", "OPEN>FORCED_OPEN forced_open"]);
      });

      it("DISABLED allows every call and still counts stats, without transitions", async () => {
        await start({ failureThreshold: 3, failureRateThreshold: 0.5, minimumCalls: 2 });
        const name = names().n("a");
        const rec = await watch({ circuits: [name] });
        expect(await store().force(name, "DISABLED", "ops")).toMatchObject({ state: "DISABLED" });
        expect(await store().acquire(name)).toEqual({ allowed: true, permit: expect.any(String), state: "DISABLED", retryAfterMs: 0, shadowDenied: false });
        for (let i = 0; i < 10; i++) expect(await call(name, "FAILURE")).toEqual(recorded("DISABLED", "FAILURE"));
        expect(await view(name)).toMatchObject({
          state: "DISABLED",
          stats: stats({ windowCalls: 10, windowFailures: 10, failureRate: 1, consecutiveFailures: 10, totalFailures: 10 }),
        });
        expect(await eventsOf(rec)).toEqual(["CLOSED>DISABLED disabled"]);
      });

      it.each(["DISABLED", "FORCED_OPEN"] as const)("releasing %s to CLOSED clears the counters and keeps totals", async (pinned) => {
        await start({});
        const name = names().n("a");
        await fail(name, 2);
        await store().force(name, pinned, "ops");
        const rec = await watch({ circuits: [name] });
        expect(await store().force(name, "CLOSED", "ops")).toMatchObject({ state: "CLOSED", stats: stats({ totalFailures: 2 }) });
        expect(await eventsOf(rec)).toEqual([`${pinned}>CLOSED released`]);
        await fail(name, 2);
        expect(await stateOf(name)).toBe("CLOSED");
      });

      it.each(["CLOSED", "OPEN"] as const)("releasing a circuit that is not pinned (%s) does nothing", async (state) => {
        await start({});
        const name = names().n("a");
        await fail(name, state === "OPEN" ? 3 : 2);
        const before = await view(name);
        const rec = await watch({ circuits: [name] });
        expect(await store().force(name, "CLOSED", "ops")).toMatchObject({ state, generation: before.generation, stats: before.stats });
        expect(await eventsOf(rec)).toEqual([]);
      });

      it.each(["FORCED_OPEN", "DISABLED"] as const)("forcing %s twice emits one event", async (target) => {
        await start({});
        const name = names().n("a");
        await permit(name);
        const rec = await watch({ circuits: [name] });
        await store().force(name, target, "ops");
        expect(await store().force(name, target, "ops")).toMatchObject({ state: target, generation: 1 });
        expect(await eventsOf(rec)).toEqual([`CLOSED>${target} ${target === "FORCED_OPEN" ? "forced_open" : "disabled"}`]);
      });
    });

    // --------------------------------------------------------- enabled=false

    describe("enabled=false", () => {
      it("allows every call, shows DISABLED, records stats and makes no transition", async () => {
        await start({ enabled: false, failureThreshold: 3 });
        const { n, prefix } = names();
        const name = n("a");
        const rec = await watch({ circuits: [name] });
        expect(await store().acquire(name)).toEqual({ allowed: true, permit: expect.any(String), state: "DISABLED", retryAfterMs: 0, shadowDenied: false });
        for (let i = 0; i < 5; i++) expect(await call(name, "FAILURE")).toEqual(recorded("DISABLED", "FAILURE"));
        expect(await view(name)).toMatchObject({
          state: "DISABLED",
          generation: 0,
          stats: stats({ windowCalls: 5, windowFailures: 5, failureRate: 1, consecutiveFailures: 5, totalFailures: 5 }),
        });
        expect(await eventsOf(rec)).toEqual([]);
        expect((await store().list({ prefix, state: "DISABLED", limit: 10 })).circuits.map((c) => c.circuit)).toEqual([name]);
      });
    });

    // ------------------------------------------------------------ shadow mode

    describe("shadow mode", () => {
      it("allows a CLOSED call as enforce would, without a reason", async () => {
        await start({ mode: "shadow" });
        const name = names().n("a");
        expect(await store().acquire(name)).toEqual({ allowed: true, permit: expect.any(String), state: "CLOSED", retryAfterMs: 0, shadowDenied: false });
      });

      it("opens and events as enforce would, but allows the calls OPEN would deny, marking them shadowDenied", async () => {
        await start({ mode: "shadow" });
        const name = names().n("a");
        const rec = await watch({ circuits: [name] });
        await fail(name);
        expect(await stateOf(name)).toBe("OPEN");
        const d = await store().acquire(name);
        expect(d).toEqual({ allowed: true, permit: expect.any(String), state: "OPEN", retryAfterMs: 0, reason: "OPEN", shadowDenied: true });
        // Its outcome counts in the totals only: no window, no run, no reopening.
        expect(await report(name, d.permit!, "FAILURE")).toEqual(recorded("OPEN", "FAILURE"));
        expect(await view(name)).toMatchObject({
          state: "OPEN",
          stats: stats({ windowCalls: 3, windowFailures: 3, failureRate: 1, consecutiveFailures: 3, totalFailures: 4, totalRejections: 1 }),
        });
        expect(await eventsOf(rec)).toEqual(["CLOSED>OPEN consecutive_failures"]);
      });

      it("probes in HALF_OPEN as enforce would; calls beyond the probe budget are shadowDenied and their successes do not close", async () => {
        await start({ mode: "shadow", halfOpenMaxCalls: 2, successThreshold: 2 });
        const name = names().n("a");
        const rec = await watch({ circuits: [name] });
        await halfOpen(name);
        const [p1, p2] = [await permit(name), await permit(name)];
        const extra = await store().acquire(name);
        expect(extra).toEqual({ allowed: true, permit: expect.any(String), state: "HALF_OPEN", retryAfterMs: 0, reason: "HALF_OPEN_FULL", shadowDenied: true });
        expect(await report(name, extra.permit!, "SUCCESS")).toEqual(recorded("HALF_OPEN", "SUCCESS"));
        expect(await statsNow(name)).toMatchObject({ halfOpenSuccesses: 0, halfOpenInFlight: 2, totalSuccesses: 1 });
        await report(name, p1, "SUCCESS");
        expect(await report(name, p2, "SUCCESS")).toEqual(OK("SUCCESS"));
        expect(await eventsOf(rec)).toEqual([
          "CLOSED>OPEN consecutive_failures",
          "OPEN>HALF_OPEN open_duration_elapsed",
          "HALF_OPEN>CLOSED probes_succeeded",
        ]);
      });

      it("a shadowDenied call's failure does not reopen HALF_OPEN", async () => {
        await start({ mode: "shadow", halfOpenMaxCalls: 1 });
        const name = names().n("a");
        await halfOpen(name);
        await permit(name);
        const extra = await store().acquire(name);
        expect(extra).toMatchObject({ allowed: true, shadowDenied: true, reason: "HALF_OPEN_FULL" });
        expect(await report(name, extra.permit!, "FAILURE")).toEqual(recorded("HALF_OPEN", "FAILURE"));
        expect(await statsNow(name)).toMatchObject({ totalFailures: 4, reopenCount: 0, halfOpenInFlight: 1 });
      });
    });

    // ------------------------------------------------------- config layering

    describe("config resolution", () => {
      it("resolves explicit > first matching rule > preset > defaults, and says where each config came from", async () => {
        const { n, prefix } = names();
        const rules: PatternRule[] = [
          { pattern: `${prefix}agent.*`, preset: "strict", patch: { openDurationMs: 20_000 } },
          { pattern: `${prefix}agent.special*`, patch: { failureThreshold: 99 } },
          { pattern: `${prefix}tool.?`, patch: { failureThreshold: 9 } },
        ];
        const circuits: Record<string, ConfigSettings> = {
          [n("agent.pinned")]: { patch: { failureThreshold: 7 } },
          [n("agent.llm")]: { preset: "llm", patch: {} },
          [n("solo")]: { patch: { failureThreshold: 8 } },
        };
        await start({ maxOpenDurationMs: 600_000 }, { rules, circuits });
        const defaults = applyPatch(SUITE_DEFAULTS, { maxOpenDurationMs: 600_000 });
        const strict = applyPatch(applyPatch(defaults, BUILTIN_PRESETS["strict"]), { openDurationMs: 20_000 });
        const rows: [string, string[], CircuitConfig][] = [
          ["other", ["defaults"], defaults],
          ["agent.x", [`pattern:${prefix}agent.*`, "preset:strict", "defaults"], strict],
          ["agent.special1", [`pattern:${prefix}agent.*`, "preset:strict", "defaults"], strict],
          ["agent.pinned", ["circuit", `pattern:${prefix}agent.*`, "preset:strict", "defaults"], { ...strict, failureThreshold: 7 }],
          [
            "agent.llm",
            ["circuit", `pattern:${prefix}agent.*`, "preset:llm", "defaults"],
            applyPatch(applyPatch(defaults, BUILTIN_PRESETS["llm"]), { openDurationMs: 20_000 }),
          ],
          ["tool.a", [`pattern:${prefix}tool.?`, "defaults"], { ...defaults, failureThreshold: 9 }],
          ["tool.ab", ["defaults"], defaults],
          ["solo", ["circuit", "defaults"], { ...defaults, failureThreshold: 8 }],
        ];
        for (const [tag, sources, config] of rows) {
          await permit(n(tag));
          const v = await view(n(tag));
          expect({ tag, sources: v.configSources, config: v.config }).toEqual({ tag, sources, config });
        }
      });

      it("configureCircuit changes a live circuit's config and keeps its state and counters", async () => {
        const h = await start({ failureThreshold: 3 });
        const name = names().n("a");
        await fail(name, 2);
        const t = h.now();
        const v = await store().configureCircuit(name, { patch: { failureThreshold: 5 }, replace: false }, "alice");
        expect(v).toMatchObject({
          state: "CLOSED",
          config: { ...SUITE_DEFAULTS, failureThreshold: 5 },
          configSources: ["circuit", "defaults"],
          stats: stats({ windowCalls: 2, windowFailures: 2, failureRate: 1, consecutiveFailures: 2, totalFailures: 2 }),
        });
        await fail(name, 2);
        expect(await view(name)).toMatchObject({ state: "CLOSED", stats: { consecutiveFailures: 4 } });
        await fail(name, 1);
        expect(await stateOf(name)).toBe("OPEN");
        const history = (await store().history(name, 10))?.entries;
        expect(history).toHaveLength(2);
        expect(history![0]).toMatchObject({ kind: "transition", event: { from: "CLOSED", to: "OPEN", reason: "consecutive_failures" } });
        expect(history![1]).toEqual({
          kind: "config",
          change: {
            target: name,
            actor: "alice",
            at: t,
            oldConfig: SUITE_DEFAULTS,
            newConfig: { ...SUITE_DEFAULTS, failureThreshold: 5 },
            newSources: [{ kind: "circuit", name: "" }, { kind: "defaults", name: "" }],
          },
        });
      });

      it("configureCircuit keeps an OPEN circuit OPEN until the same instant", async () => {
        const h = await start({});
        const name = names().n("a");
        const t0 = h.now();
        await fail(name);
        await store().configureCircuit(name, { patch: { openDurationMs: 30_000 }, replace: false }, "alice");
        expect(await view(name)).toMatchObject({ state: "OPEN", openUntil: t0 + 10_000, config: { openDurationMs: 30_000 } });
      });

      it("configureCircuit merges with earlier settings unless replace is set", async () => {
        await start({});
        const name = names().n("a");
        await store().configureCircuit(name, { patch: { failureThreshold: 5 }, replace: false }, "alice");
        const merged = await store().configureCircuit(name, { preset: "io", patch: { openDurationMs: 20_000 }, replace: false }, "alice");
        expect(merged.configSources).toEqual(["circuit", "preset:io", "defaults"]);
        expect(merged.config).toEqual(applyPatch(applyPatch(SUITE_DEFAULTS, BUILTIN_PRESETS["io"]), { failureThreshold: 5, openDurationMs: 20_000 }));
        const replaced = await store().configureCircuit(name, { patch: { jitter: 0.1 }, replace: true }, "bob");
        expect(replaced.configSources).toEqual(["circuit", "defaults"]);
        expect(replaced.config).toEqual({ ...SUITE_DEFAULTS, jitter: 0.1 });
        const history = (await store().history(name, 10))?.entries;
        expect(history!.map((e) => (e.kind === "config" ? e.change.actor : e.kind))).toEqual(["bob", "alice", "alice"]);
      });

      it("configurePattern updates live matching circuits and answers how many it governs", async () => {
        const h = await start({});
        const { n, prefix } = names();
        await permit(n("a.1"));
        await store().configureCircuit(n("a.2"), { patch: { failureThreshold: 2 }, replace: false }, "alice");
        await permit(n("b.1"));
        const t = h.now();
        expect(await store().configurePattern(`${prefix}a.*`, { patch: { failureThreshold: 1 }, replace: false }, "carol")).toMatchObject({ matchedCircuits: 2 });
        expect(await view(n("a.1"))).toMatchObject({ config: { failureThreshold: 1 }, configSources: [`pattern:${prefix}a.*`, "defaults"] });
        expect(await view(n("a.2"))).toMatchObject({ config: { failureThreshold: 2 }, configSources: ["circuit", `pattern:${prefix}a.*`, "defaults"] });
        expect(await view(n("b.1"))).toMatchObject({ config: { failureThreshold: 3 }, configSources: ["defaults"] });
        await fail(n("a.1"), 1);
        await fail(n("b.1"), 1);
        expect([await stateOf(n("a.1")), await stateOf(n("b.1"))]).toEqual(["OPEN", "CLOSED"]);
        expect((await store().history(n("a.1"), 10))?.entries).toEqual([
          expect.objectContaining({ kind: "transition" }),
          {
            kind: "config",
            change: {
              target: `${prefix}a.*`,
              actor: "carol",
              at: t,
              oldConfig: SUITE_DEFAULTS,
              newConfig: { ...SUITE_DEFAULTS, failureThreshold: 1 },
              newSources: [{ kind: "pattern_rule", name: `${prefix}a.*` }, { kind: "defaults", name: "" }],
            },
          },
        ]);
        // A circuit created later picks the rule up; updating the rule merges fields.
        await store().configurePattern(`${prefix}a.*`, { patch: { openDurationMs: 20_000 }, replace: false }, "carol");
        await permit(n("a.3"));
        expect(await view(n("a.3"))).toMatchObject({ config: { failureThreshold: 1, openDurationMs: 20_000 }, configSources: [`pattern:${prefix}a.*`, "defaults"] });
      });

      it("configurePattern counts only the circuits the rule governs: an earlier runtime rule keeps its own", async () => {
        await start({});
        const { n, prefix } = names();
        await permit(n("x.1"));
        await permit(n("x.2"));
        expect(await store().configurePattern(`${prefix}x.1`, { patch: { failureThreshold: 5 }, replace: false }, "carol")).toMatchObject({ matchedCircuits: 1 });
        expect(await store().configurePattern(`${prefix}x.*`, { patch: { failureThreshold: 1 }, replace: false }, "carol")).toMatchObject({ matchedCircuits: 1 });
        expect(await view(n("x.1"))).toMatchObject({ config: { failureThreshold: 5 }, configSources: [`pattern:${prefix}x.1`, "defaults"] });
        expect(await view(n("x.2"))).toMatchObject({ config: { failureThreshold: 1 }, configSources: [`pattern:${prefix}x.*`, "defaults"] });
        // Updating the first rule in place keeps it first.
        expect(await store().configurePattern(`${prefix}x.1`, { patch: { jitter: 0.1 }, replace: false }, "carol")).toMatchObject({ matchedCircuits: 1 });
        expect(await view(n("x.1"))).toMatchObject({ config: { failureThreshold: 5, jitter: 0.1 }, configSources: [`pattern:${prefix}x.1`, "defaults"] });
      });

      it("refuses a merged config with max_open_duration below open_duration, changing nothing", async () => {
        await start({ maxOpenDurationMs: 60_000 });
        const { n, prefix } = names();
        const name = n("a");
        await fail(name, 1);
        const issues = [{ field: "max_open_duration", message: "max_open_duration (60s) must be at least open_duration (100s)" }];
        const refused = async (p: Promise<unknown>) => {
          const err = await p.then(() => undefined, (e: unknown) => e);
          expect(err).toBeInstanceOf(InvalidConfigError);
          expect((err as InvalidConfigError).issues).toEqual(issues);
        };
        await refused(store().configureCircuit(name, { patch: { openDurationMs: 100_000 }, replace: false }, "alice"));
        await refused(store().configurePattern(`${prefix}*`, { patch: { openDurationMs: 100_000 }, replace: false }, "alice"));
        expect(await view(name)).toMatchObject({ config: SUITE_DEFAULTS, configSources: ["defaults"], stats: { consecutiveFailures: 1 } });
        expect((await store().history(name, 10))?.entries).toEqual([]);
        await permit(n("b"));
        expect((await view(n("b"))).config).toEqual(SUITE_DEFAULTS);
      });

      it("refuses a pattern rule that is valid on its own but not under a matching circuit's own settings, changing nothing", async () => {
        // max_open_duration (600 s) comes from the defaults, open_duration (300 s) from the circuit's own settings.
        const h = await start({ maxOpenDurationMs: 600_000 });
        const defaults = applyPatch(SUITE_DEFAULTS, { maxOpenDurationMs: 600_000 });
        const { n, prefix } = names();
        const name = n("agent.x");
        const own = { openDurationMs: 300_000 };
        const t = h.now();
        await store().configureCircuit(name, { patch: own, replace: false }, "alice");
        const err = await store()
          .configurePattern(`${prefix}agent.*`, { patch: { maxOpenDurationMs: 120_000 }, replace: false }, "carol")
          .then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(InvalidConfigError);
        expect((err as InvalidConfigError).issues).toEqual([
          { field: "max_open_duration", message: "max_open_duration (120s) must be at least open_duration (300s)" },
        ]);
        // The rule was not stored: the circuit keeps its config and history, a new circuit gets the defaults.
        expect(await view(name)).toMatchObject({ config: { ...defaults, ...own }, configSources: ["circuit", "defaults"] });
        expect((await store().history(name, 10))?.entries).toEqual([
          { kind: "config", change: { target: name, actor: "alice", at: t, oldConfig: defaults, newConfig: { ...defaults, ...own }, newSources: [{ kind: "circuit", name: "" }, { kind: "defaults", name: "" }] } },
        ]);
        await permit(n("agent.y"));
        expect(await view(n("agent.y"))).toMatchObject({ config: defaults, configSources: ["defaults"] });
      });

      it("refuses a pattern rule that a config-file circuit's settings make invalid, even before the circuit is used", async () => {
        const { n, prefix } = names();
        await start({ maxOpenDurationMs: 600_000 }, { circuits: { [n("agent.f")]: { patch: { openDurationMs: 300_000 } } } });
        const refused = store().configurePattern(`${prefix}agent.*`, { patch: { maxOpenDurationMs: 120_000 }, replace: false }, "carol");
        await expect(refused).rejects.toBeInstanceOf(InvalidConfigError);
        await expect(refused).rejects.toMatchObject({ issues: [{ field: "max_open_duration" }] });
        expect(await store().get(n("agent.f"))).toBeUndefined();
        await permit(n("agent.g"));
        expect(await view(n("agent.g"))).toMatchObject({ config: { maxOpenDurationMs: 600_000 }, configSources: ["defaults"] });
      });

      it.each(["nope", "toString", "__proto__"])("refuses the unknown preset %j with UnknownPresetError", async (preset) => {
        await start({});
        const { n, prefix } = names();
        await permit(n("a"));
        await expect(store().configureCircuit(n("a"), { preset, patch: {}, replace: false }, "alice")).rejects.toBeInstanceOf(UnknownPresetError);
        await expect(store().configurePattern(`${prefix}*`, { preset, patch: {}, replace: false }, "alice")).rejects.toBeInstanceOf(UnknownPresetError);
        expect(await view(n("a"))).toMatchObject({ config: SUITE_DEFAULTS, configSources: ["defaults"] });
      });
    });

    // --------------------------------------------------------------- history

    describe("history", () => {
      it("lists transitions and config changes newest first, at most limit", async () => {
        const h = await start({});
        const name = names().n("a");
        const t0 = h.now();
        await fail(name);
        await h.advance(1_000);
        await store().configureCircuit(name, { patch: { successThreshold: 1 }, replace: false }, "alice");
        await h.advance(9_000);
        expect(await stateOf(name)).toBe("HALF_OPEN");
        const summary = (entries: HistoryEntry[] | undefined) =>
          entries!.map((e) => (e.kind === "transition" ? `${describeEvent(e.event)} @${e.event.at - t0}` : `config by ${e.change.actor} @${e.change.at - t0}`));
        expect(summary((await store().history(name, 10))?.entries)).toEqual([
          "OPEN>HALF_OPEN open_duration_elapsed @10000",
          "config by alice @1000",
          "CLOSED>OPEN consecutive_failures @0",
        ]);
        expect(summary((await store().history(name, 2))?.entries)).toEqual(["OPEN>HALF_OPEN open_duration_elapsed @10000", "config by alice @1000"]);
        expect(summary((await store().history(name, 1))?.entries)).toEqual(["OPEN>HALF_OPEN open_duration_elapsed @10000"]);
      });

      it("carries the same event ids watchers saw", async () => {
        await start({});
        const name = names().n("a");
        const rec = await watch({ circuits: [name] });
        await fail(name);
        await store().reset(name, "ops");
        await h!.settle?.();
        const ids = (await store().history(name, 10))!.entries.flatMap((e) => (e.kind === "transition" ? [e.event.eventId] : []));
        expect(ids).toEqual(rec.events.map((e) => e.eventId).reverse());
        expect(ids).toHaveLength(2);
      });

      it("of a circuit that never existed is undefined", async () => {
        await start({});
        expect(await store().history(names().n("ghost"), 10)).toBeUndefined();
      });
    });

    // --------------------------------------------------------- history paging

    describe("history paging", () => {
      /** Records `count` transitions of `name`, 1 ms apart (ForceState toggles: DISABLED, CLOSED, ...). */
      async function record(name: string, count: number): Promise<void> {
        for (let i = 0; i < count; i++) {
          await h!.advance(1);
          const current = await store().get(name);
          await store().force(name, current?.state === "DISABLED" ? "CLOSED" : "DISABLED", "ops");
        }
      }

      /** A page as "<ms after t0>" per entry ("c<ms>" for a config change) and whether a next position came with it. */
      async function page(name: string, t0: number, limit: number, before?: HistoryPosition) {
        const p = await store().history(name, limit, before);
        expect(p, `history of ${name}`).toBeDefined();
        const at = p!.entries.map((e) => (e.kind === "transition" ? `${e.event.at - t0}` : `c${e.change.at - t0}`));
        return { at, next: p!.next };
      }

      it("pages newest first: each page continues strictly older than the last entry returned; the last page has no next", async () => {
        const h = await start({});
        const name = names().n("a");
        const t0 = h.now();
        await record(name, 7);
        const p1 = await page(name, t0, 3);
        expect(p1.at).toEqual(["7", "6", "5"]);
        const p2 = await page(name, t0, 3, p1.next!);
        expect(p2.at).toEqual(["4", "3", "2"]);
        const p3 = await page(name, t0, 3, p2.next!);
        expect(p3).toEqual({ at: ["1"], next: undefined });
        // A page that ends exactly at the oldest entry has no next either.
        expect(await page(name, t0, 7)).toEqual({ at: ["7", "6", "5", "4", "3", "2", "1"], next: undefined });
        expect((await page(name, t0, 4, p1.next!)).at).toEqual(["4", "3", "2", "1"]);
        expect((await page(name, t0, 4, p1.next!)).next).toBeUndefined();
        // Asking again with the same position answers the same page.
        expect(await page(name, t0, 3, p1.next!)).toEqual(p2);
      });

      it("does not shift when entries are recorded between pages, config changes by a pattern rule included", async () => {
        const h = await start({});
        const { n, prefix } = names();
        const name = n("a");
        const t0 = h.now();
        await record(name, 5);
        const p1 = await page(name, t0, 2);
        expect(p1.at).toEqual(["5", "4"]);
        await record(name, 2);
        await h.advance(1);
        expect(await store().configurePattern(`${prefix}*`, { patch: { failureThreshold: 9 }, replace: false }, "carol")).toMatchObject({ matchedCircuits: 1 });
        const p2 = await page(name, t0, 2, p1.next!);
        expect(p2.at).toEqual(["3", "2"]);
        expect(await page(name, t0, 2, p2.next!)).toEqual({ at: ["1"], next: undefined });
        // A listing started now sees the new entries first, then continues the same way.
        const fresh = await page(name, t0, 3);
        expect(fresh.at).toEqual(["c8", "7", "6"]);
        expect((await page(name, t0, 3, fresh.next!)).at).toEqual(["5", "4", "3"]);
      });

      it("keeps positions when the oldest entries are trimmed, and ends a listing whose older entries were all trimmed", async () => {
        const h = await start({});
        const name = names().n("a");
        const t0 = h.now();
        await record(name, 5);
        const p1 = await page(name, t0, 2);
        expect(p1.at).toEqual(["5", "4"]);
        await record(name, 100); // 6..105; the store keeps the newest 100: 1..5 are gone
        expect(await page(name, t0, 2, p1.next!)).toEqual({ at: [], next: undefined });
        const seen: string[] = [];
        let next: HistoryPosition | undefined;
        let pages = 0;
        do {
          const p = await page(name, t0, 40, next);
          seen.push(...p.at);
          next = p.next;
          pages += 1;
        } while (next !== undefined);
        expect(pages).toBe(3);
        expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => `${105 - i}`));
      });
    });

    // ----------------------------------------------------------------- Watch

    describe("Watch", () => {
      it("sends a snapshot of each matching circuit, then snapshot_complete, then matching events in order", async () => {
        const h = await start({});
        const { n, prefix } = names();
        const other = names().n("x");
        const t0 = h.now();
        await fail(n("a"));
        await permit(n("b"));
        await permit(other);
        const rec = await watch({ prefix });
        expect(rec.items).toHaveLength(3);
        const snapshots = rec.items.slice(0, 2).map((i) => (i.kind === "snapshot" ? i.status : undefined));
        expect(snapshots.map((s) => [s?.circuit, s?.state]).sort()).toEqual([
          [n("a"), "OPEN"],
          [n("b"), "CLOSED"],
        ]);
        expect(snapshots.find((s) => s?.circuit === n("a"))).toMatchObject({ openUntil: t0 + 10_000, stats: { consecutiveFailures: 3 } });
        expect(rec.items[2]).toEqual({ kind: "snapshot_complete", resumeToken: expect.any(String) });

        await fail(other);
        await fail(n("b"));
        await h.advance(10_000);
        await permit(n("a"));
        expect(await eventsOf(rec)).toEqual(["CLOSED>OPEN consecutive_failures", "OPEN>HALF_OPEN open_duration_elapsed"]);
        expect(rec.events.map((e) => e.circuit)).toEqual([n("b"), n("a")]);
        expect(rec.items.slice(3).every((i) => i.kind === "event")).toBe(true);
      });

      it("selects listed names, plus any under a prefix, including circuits created later", async () => {
        await start({});
        const { n } = names();
        const under = names();
        await permit(n("a"));
        await permit(n("b"));
        const rec = await watch({ circuits: [n("a"), n("c")], prefix: under.prefix });
        expect(rec.items.filter((i) => i.kind === "snapshot").map((i) => (i.kind === "snapshot" ? i.status.circuit : ""))).toEqual([n("a")]);
        await fail(n("b"));
        await fail(n("c"));
        await fail(under.n("z"));
        await fail(n("a"));
        await h!.settle?.();
        expect(rec.events.map((e) => e.circuit)).toEqual([n("c"), under.n("z"), n("a")]);
      });

      it("resumes with a token: exactly the missed matching events, in order, and no snapshot", async () => {
        const h = await start({});
        const { n, prefix } = names();
        const other = names().n("x");
        await permit(n("a"));
        const first = await watch({ prefix });
        const token = (first.items.find((i) => i.kind === "snapshot_complete") as { resumeToken: string }).resumeToken;
        subscriptions.pop()!.close();

        await fail(n("a"));
        await fail(other);
        await h.advance(10_000);
        await permit(n("a"));
        await fail(n("b"));

        const resumed = await watch({ prefix }, token);
        await h.settle?.();
        expect(resumed.items.every((i) => i.kind === "event")).toBe(true);
        expect(resumed.events.map((e) => `${e.circuit.slice(prefix.length)} ${describeEvent(e)}`)).toEqual([
          "a CLOSED>OPEN consecutive_failures",
          "a OPEN>HALF_OPEN open_duration_elapsed",
          "b CLOSED>OPEN consecutive_failures",
        ]);
        // Live events follow the replay.
        await store().reset(n("b"), "ops");
        expect((await eventsOf(resumed)).slice(3)).toEqual(["OPEN>CLOSED reset"]);

        // An event id is a resume token too: resume after the first replayed event.
        const fromEvent = await watch({ prefix }, resumed.events[0]!.eventId);
        await h.settle?.();
        expect(fromEvent.events.map((e) => e.eventId)).toEqual(resumed.events.slice(1).map((e) => e.eventId));
      });

      it("logPosition is a resume token for now: watching from it delivers exactly the matching entries logged after the call, and no snapshot", async () => {
        const h = await start({});
        const { n, prefix } = names();
        await fail(n("before"));
        const position = await store().logPosition();
        await fail(n("a"));
        await fail(names().n("other"));
        await store().reset(n("a"), "ops");
        const rec = await watch({ prefix }, position);
        await h.settle?.();
        expect(rec.items.every((i) => i.kind === "event")).toBe(true);
        expect(rec.events.map((e) => `${e.circuit.slice(prefix.length)} ${describeEvent(e)}`)).toEqual([
          "a CLOSED>OPEN consecutive_failures",
          "a OPEN>CLOSED reset",
        ]);
      });

      it.each(["garbage", "00000000", "not-a-token-1"])("refuses the malformed resume token %j", async (token) => {
        await start({});
        const err = await store()
          .watch({ circuits: [], prefix: names().prefix }, token, () => undefined)
          .then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(ResumeTokenError);
        expect((err as ResumeTokenError).problem).toBe("malformed");
      });

      it("stops delivering after close", async () => {
        await start({});
        const name = names().n("a");
        const rec = await watch({ circuits: [name] });
        subscriptions.pop()!.close();
        await fail(name);
        await h!.settle?.();
        expect(rec.events).toEqual([]);
      });

      it("a quiet watcher's position moves over other circuits' entries: resuming from it after more entries than the log keeps replays exactly the missed matching ones", async () => {
        // 10 kept (Redis trims whole stream nodes of 100, so 300 entries are needed to trim for sure).
        await start({}, { eventLogSize: 10 });
        const { n } = names();
        const busy = names().n("busy");
        await permit(n("a"));
        const quiet = await watch({ circuits: [n("a")] });
        const sub = subscriptions[subscriptions.length - 1]!;
        const snapshotToken = (quiet.items.find((i) => i.kind === "snapshot_complete") as { resumeToken: string }).resumeToken;
        expect(sub.position()).toBe(snapshotToken);
        for (let i = 0; i < 150; i++) {
          await store().force(busy, "FORCED_OPEN", "ops");
          await store().force(busy, "CLOSED", "ops");
        }
        await h!.settle?.();
        expect(quiet.items.map((i) => i.kind)).toEqual(["snapshot", "snapshot_complete"]);
        const position = sub.position();
        expect(position).not.toBe(snapshotToken);
        subscriptions.pop()!.close();

        await fail(n("a"));
        await store().force(busy, "FORCED_OPEN", "ops");

        // The snapshot's position is long gone from the log; the quiet watcher's is not.
        const err = await store()
          .watch({ circuits: [n("a")], prefix: "" }, snapshotToken, () => undefined)
          .then(() => undefined, (e: unknown) => e);
        expect(err).toMatchObject({ problem: "expired" });
        const resumed = await watch({ circuits: [n("a")] }, position);
        await h!.settle?.();
        expect(resumed.items.map((i) => i.kind)).toEqual(["event"]);
        expect(resumed.events.map((e) => `${e.circuit} ${describeEvent(e)}`)).toEqual([`${n("a")} CLOSED>OPEN consecutive_failures`]);
      });

      it("delivers a matching circuit's config changes in order with its events, at their own positions, and replays them on resume", async () => {
        const h = await start({});
        const { n, prefix } = names();
        const t0 = h.now();
        await permit(n("a"));
        await permit(n("b"));
        const rec = await watch({ circuits: [n("a")] });
        await fail(n("a"));
        await h.advance(5_000);
        await store().configureCircuit(n("a"), { patch: { openDurationMs: 1_000 }, replace: false }, "alice");
        await store().configureCircuit(n("b"), { patch: { openDurationMs: 2_000 }, replace: false }, "alice");
        await h.advance(5_000);
        expect(await stateOf(n("a"))).toBe("HALF_OPEN");
        await store().configurePattern(`${prefix}*`, { patch: { successThreshold: 5 }, replace: false }, "bob");
        await store().reset(n("a"), "ops");
        await h.settle?.();
        const summary = (items: WatchItem[]) =>
          items.flatMap((i) => {
            if (i.kind === "event") return [`event ${i.event.circuit.slice(prefix.length)} ${describeEvent(i.event)}`];
            if (i.kind === "config_change") {
              const c = i.change;
              return [`config ${i.circuit.slice(prefix.length)} ${c.target === n("a") ? "a" : c.target.slice(prefix.length)} by ${c.actor} @${c.at - t0} open ${c.oldConfig.openDurationMs}->${c.newConfig.openDurationMs} success ${c.oldConfig.successThreshold}->${c.newConfig.successThreshold}`];
            }
            return [i.kind];
          });
        const expected = [
          "event a CLOSED>OPEN consecutive_failures",
          "config a a by alice @5000 open 10000->1000 success 2->2",
          "event a OPEN>HALF_OPEN open_duration_elapsed",
          "config a * by bob @10000 open 1000->1000 success 2->5",
          "event a HALF_OPEN>CLOSED reset",
        ];
        expect(summary(rec.items)).toEqual(["snapshot", "snapshot_complete", ...expected]);
        const positions = rec.items.slice(2).map((i) => positionOf(i)!);
        expect(new Set(positions).size).toBe(5);

        const snapshotToken = positionOf(rec.items[1]!)!;
        const replay = await watch({ circuits: [n("a")] }, snapshotToken);
        await h.settle?.();
        expect(summary(replay.items)).toEqual(expected);
        expect(replay.items.map((i) => positionOf(i))).toEqual(positions);
        // From a config change's position: what followed it.
        const fromChange = await watch({ circuits: [n("a")] }, positions[1]);
        await h.settle?.();
        expect(summary(fromChange.items)).toEqual(expected.slice(2));
        // The history holds the same change.
        const history = (await store().history(n("a"), 10))!.entries.filter((e) => e.kind === "config");
        expect(history.map((e) => (e.kind === "config" ? e.change : undefined))).toEqual(
          [...rec.items].reverse().flatMap((i) => (i.kind === "config_change" ? [i.change] : [])),
        );
      });
    });

    // ------------------------------------------------------------------ list

    describe("list", () => {
      it("returns circuits in name order, filtered by prefix and state, paged with after and more", async () => {
        const h = await start({});
        const { n, prefix } = names();
        await permit(names().n("outside"));
        for (const tag of ["c", "a", "d", "b"]) await permit(n(tag));
        await fail(n("b"));
        await store().force(n("d"), "DISABLED", "ops");
        const page = async (q: { state?: State; after?: string; limit: number }) => {
          const p = await store().list({ prefix, ...q });
          return [p.circuits.map((c) => c.circuit.slice(prefix.length)).join(","), p.more] as const;
        };
        expect(await page({ limit: 10 })).toEqual(["a,b,c,d", false]);
        expect(await page({ limit: 4 })).toEqual(["a,b,c,d", false]);
        expect(await page({ limit: 2 })).toEqual(["a,b", true]);
        expect(await page({ limit: 2, after: n("b") })).toEqual(["c,d", false]);
        expect(await page({ limit: 2, after: n("a") })).toEqual(["b,c", true]);
        expect(await page({ limit: 10, state: "OPEN" })).toEqual(["b", false]);
        expect(await page({ limit: 10, state: "DISABLED" })).toEqual(["d", false]);
        expect(await page({ limit: 1, state: "CLOSED" })).toEqual(["a", true]);
        expect(await page({ limit: 1, state: "CLOSED", after: n("a") })).toEqual(["c", false]);
        expect(await page({ limit: 10, state: "HALF_OPEN" })).toEqual(["", false]);
        await h.advance(10_000); // b is due: listing shows it HALF_OPEN
        expect(await page({ limit: 10, state: "HALF_OPEN" })).toEqual(["b", false]);
        const full = await store().list({ prefix, limit: 10 });
        expect(full.circuits[1]).toMatchObject({ circuit: n("b"), state: "HALF_OPEN", configSources: ["defaults"], config: SUITE_DEFAULTS });
      });
    });
  });
}
