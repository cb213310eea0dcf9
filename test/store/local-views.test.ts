/**
 * The local view's staleness bound (docs/operations.md, "The local view"):
 * a replica grants CLOSED permits from its view for at most VIEW_TTL_MS after
 * the circuit opened elsewhere, however late the reply that confirmed the
 * view was read. Time is faked (Date and performance), so nothing here
 * depends on the machine's speed.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { BUILTIN_DEFAULTS, type CircuitStats, type State } from "../../src/engine/index.js";
import { SKEW_TRUST_MS, VIEW_TTL_MS, createLocalViews, type LocalViews } from "../../src/store/redis/local-views.js";
import type { AcquireDecision } from "../../src/store/store.js";
import { mulberry32, seedLabel, TEST_SEED } from "../conformance/random.js";

const CIRCUIT = "tool.late";
const configOf = () => BUILTIN_DEFAULTS;
/** The view reads no stats. */
const STATS = {} as CircuitStats;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date", "performance"], now: 1_700_000_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

/** A local clock reading in ms since the test began. */
function elapsed(start: number): number {
  return performance.now() - start;
}

/**
 * One replica's views over a simulated Redis whose clock is `offsetMs` ahead
 * of this machine's. The circuit is CLOSED (generation 1) until `openAt`
 * (ms after the test began), OPEN (generation 2) from then on. Each Acquire
 * sent to Redis runs its script `execLagMs` after it was sent and its reply
 * is read `replyDelayMs` after that; the first reply is the late one.
 */
function scenario(options: { offsetMs: number; execLagMs: number; replyDelayMs: number; openAt: number }) {
  const start = performance.now();
  const views: LocalViews = createLocalViews({ feedIsCurrent: () => true, testClock: undefined });
  let remoteCalls = 0;
  const remote = async (sentAt: number): Promise<AcquireDecision> => {
    remoteCalls += 1;
    vi.advanceTimersByTime(options.execLagMs);
    const ranAt = elapsed(start);
    const phase: State = ranAt >= options.openAt ? "OPEN" : "CLOSED";
    const generation = phase === "OPEN" ? 2 : 1;
    const redisNow = Math.floor(Date.now() + options.offsetMs);
    vi.advanceTimersByTime(remoteCalls === 1 ? options.replyDelayMs : 0);
    views.confirm(CIRCUIT, phase, generation, redisNow, sentAt);
    return phase === "OPEN"
      ? { allowed: false, state: "OPEN", retryAfterMs: 1000, shadowDenied: false }
      : { allowed: true, permit: "p", state: "CLOSED", retryAfterMs: 0, shadowDenied: false };
  };
  /** Acquires at the current time; answers whether the view granted it (no round trip). */
  const acquireLocally = async (): Promise<boolean> => {
    const before = remoteCalls;
    await views.acquire(CIRCUIT, { stream: "localviews", seq: before }, configOf, remote);
    return remoteCalls === before;
  };
  return { views, acquireLocally, now: () => elapsed(start) };
}

describe("local view staleness", () => {
  it("stops granting CLOSED permits VIEW_TTL_MS after the request that confirmed the view was sent, though its reply was read 800 ms late", async () => {
    const s = scenario({ offsetMs: 5_000, execLagMs: 0, replyDelayMs: 800, openAt: 1 });
    expect(await s.acquireLocally()).toBe(false); // the first Acquire goes to Redis; its reply is read at 800 ms
    expect(s.now()).toBe(800);
    const localAt: number[] = [];
    while (s.now() < 2_500) {
      vi.advanceTimersByTime(1);
      if (await s.acquireLocally()) localAt.push(s.now());
    }
    // Granted locally from 801 ms to 998 ms (1 ms of rounding in Redis TIME
    // counted against the view), then Redis says OPEN and no view grants.
    expect(localAt.length).toBe(198);
    expect(localAt[0]).toBe(801);
    expect(localAt.at(-1)).toBe(998);
    expect(localAt.at(-1)! - 1).toBeLessThan(VIEW_TTL_MS); // the circuit opened at 1 ms
  });

  it("holds the bound for any reply delay, execution lag, clock offset and opening time (seeded)", async () => {
    const seed = TEST_SEED;
    console.log(`local view staleness: ${seedLabel(seed)}`);
    const random = mulberry32(seed);
    for (let run = 0; run < 150; run++) {
      const execLagMs = Math.floor(random() * 50);
      const params = {
        offsetMs: Math.floor((random() - 0.5) * 2_000_000),
        execLagMs,
        replyDelayMs: Math.floor(random() * 2_000),
        openAt: execLagMs + Math.floor(random() * 1_500),
      };
      const s = scenario(params);
      await s.acquireLocally();
      while (s.now() < params.openAt + 2 * VIEW_TTL_MS) {
        vi.advanceTimersByTime(3);
        const local = await s.acquireLocally();
        // Never granted locally once VIEW_TTL_MS passed since the circuit opened.
        if (local && s.now() - params.openAt >= VIEW_TTL_MS) {
          throw new Error(`run ${run} (${seedLabel(seed)}): granted CLOSED ${s.now() - params.openAt} ms after the open, ${JSON.stringify(params)}`);
        }
      }
    }
  });

  it("trusts the clock offset an Acquire reply taught for SKEW_TRUST_MS: a view learned from the stream later needs Redis first", async () => {
    const s = scenario({ offsetMs: 0, execLagMs: 0, replyDelayMs: 0, openAt: Number.POSITIVE_INFINITY });
    expect(await s.acquireLocally()).toBe(false);
    const closedAgain = (generation: number) =>
      s.views.learn({ circuit: CIRCUIT, from: "HALF_OPEN", to: "CLOSED", at: Date.now(), reason: "probes_succeeded", generation, stats: STATS });
    vi.advanceTimersByTime(SKEW_TRUST_MS - 1_000);
    closedAgain(3);
    expect(await s.acquireLocally()).toBe(true);
    vi.advanceTimersByTime(1_000);
    closedAgain(5);
    expect(await s.acquireLocally()).toBe(false); // the offset is SKEW_TRUST_MS old: Redis decides and teaches it again
    expect(await s.acquireLocally()).toBe(true);
  });
});
