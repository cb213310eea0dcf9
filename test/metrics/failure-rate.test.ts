/**
 * breakerbox_circuit_failure_rate: each labelled circuit's window failure
 * rate as the trip rule sees it, read from the store. On a live server (the
 * memory store; two replicas on one real redis-server, where a rate that
 * replica A's Reports changed shows in replica B's scrape), and the refresh
 * itself (failure-rates.ts) on a real memory store: what it reads, when, and
 * what a failed read leaves.
 */
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { afterEach, describe, expect, it } from "vitest";
import { Outcome } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { applyPatch, BUILTIN_DEFAULTS, BUILTIN_PRESETS } from "../../src/engine/index.js";
import { CircuitStateTracker } from "../../src/metrics/circuit-states.js";
import { createMetrics } from "../../src/metrics/metrics.js";
import { createMemoryStore, type MemoryStore } from "../../src/store/memory.js";
import type { CircuitStore } from "../../src/store/store.js";
import { createCircuitClient, type CircuitClient } from "../support/grpc-client.js";
import { useRedisServer } from "../support/redis-store-fixture.js";
import { waitFor } from "../support/replicas.js";
import { startRealClockServer, startTestServer, type RunningTestServer } from "../support/test-server.js";
import { parseExposition, samplesOf, scrape, type Sample } from "./exposition.js";

const GAUGE = "breakerbox_circuit_failure_rate";
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serve<S extends RunningTestServer>(start: Promise<S>): Promise<{ server: S; client: CircuitClient }> {
  const server = await start;
  cleanups.push(() => server.stop());
  const client = createCircuitClient(server.grpcAddress);
  cleanups.push(() => client.close());
  return { server, client };
}

async function call(client: CircuitClient, circuit: string, outcome: Outcome): Promise<void> {
  const a = await client.call("acquire", { circuit });
  expect(a.allowed, `Acquire of ${circuit} allowed`).toBe(true);
  await client.call("report", { circuit, permit: a.permit, outcome, duration: durationFromMs(5) });
}

const rates = (samples: Sample[]): Record<string, number> => Object.fromEntries(samples.map((s) => [s.labels.circuit!, s.value]));

/**
 * Scrapes until `circuit`'s rate is `want` (the gauge refreshes at most once
 * a second, so a scrape right after a Report may show the rate before it);
 * every rate seen on the way must be one of `before`.
 */
async function waitForRate(httpUrl: string, circuit: string, want: number, before: (number | undefined)[]): Promise<void> {
  let last: number | undefined;
  await waitFor(
    `${circuit}'s failure rate to read ${want}`,
    async () => {
      last = rates(samplesOf(await scrape(httpUrl), GAUGE))[circuit];
      if (last === want) return true;
      expect(before, `a rate of ${circuit} on the way to ${want}`).toContain(last);
      return false;
    },
    { timeoutMs: 15_000, intervalMs: 100, describe: () => String(last) },
  );
}

describe("breakerbox_circuit_failure_rate on a live server, memory store", () => {
  it("is the window's failures ÷ calls, as GetState and the trip rule see it, and follows the window", async () => {
    const { server, client } = await serve(startTestServer());
    for (const o of [Outcome.FAILURE, Outcome.FAILURE, Outcome.FAILURE, Outcome.SUCCESS]) await call(client, "fr.a", o);

    const e = await scrape(server.httpUrl);
    expect(e.types.get(GAUGE)).toBe("gauge");
    expect(samplesOf(e, GAUGE)).toEqual([{ name: GAUGE, labels: { circuit: "fr.a" }, value: 0.75 }]);
    expect((await client.call("getState", { circuit: "fr.a" })).status!.stats!.failureRate).toBe(0.75);

    await call(client, "fr.a", Outcome.SUCCESS);
    await waitForRate(server.httpUrl, "fr.a", 0.6, [0.75]);

    // The calls slide out of the 120 s window: nothing changed the circuit since, the rate reads 0.
    server.clock.advance(121_000);
    await waitForRate(server.httpUrl, "fr.a", 0, [0.6]);
    expect((await client.call("getState", { circuit: "fr.a" })).status!.stats!.failureRate).toBe(0);
  });

  it("exports only the circuits with their own label: none beyond the cap, and no _other", async () => {
    const { server, client } = await serve(startTestServer({ BREAKERBOX_METRICS_MAX_CIRCUITS: "1" }));
    await call(client, "fr.first", Outcome.FAILURE);
    for (const o of [Outcome.FAILURE, Outcome.SUCCESS]) await call(client, "fr.beyond", o);

    const e = await scrape(server.httpUrl);
    expect(samplesOf(e, GAUGE)).toEqual([{ name: GAUGE, labels: { circuit: "fr.first" }, value: 1 }]);
    // The other per-circuit metrics count it under _other; this one does not.
    expect(samplesOf(e, "breakerbox_calls_total", { circuit: "_other", outcome: "FAILURE" })[0]!.value).toBe(1);
  });
});

describe("breakerbox_circuit_failure_rate, two replicas on one redis-server", () => {
  const redis = useRedisServer();

  it("shows on replica B the rate replica A's Reports made, though B served none of them", async () => {
    const env = { REDIS_URL: redis().server.url };
    const [a, b] = await Promise.all([serve(startRealClockServer(env)), serve(startRealClockServer(env))]);
    for (const r of [a, b]) await waitFor("the replica to reach Redis", async () => (await fetch(`${r.server.httpUrl}/readyz`)).status === 200, { timeoutMs: 15_000 });

    // B meets the circuit (an Acquire it never reports), so it has its own label there.
    expect((await b.client.call("acquire", { circuit: "fr.shared" })).allowed).toBe(true);
    await waitForRate(b.server.httpUrl, "fr.shared", 0, [undefined]);

    for (const o of [Outcome.FAILURE, Outcome.FAILURE, Outcome.FAILURE, Outcome.SUCCESS]) await call(a.client, "fr.shared", o);
    await waitForRate(b.server.httpUrl, "fr.shared", 0.75, [0]);
    await call(a.client, "fr.shared", Outcome.SUCCESS);
    await waitForRate(b.server.httpUrl, "fr.shared", 0.6, [0.75]);

    const onB = await scrape(b.server.httpUrl);
    expect(samplesOf(onB, "breakerbox_calls_total", { circuit: "fr.shared" })).toEqual([]);
    expect(rates(samplesOf(await scrape(a.server.httpUrl), GAUGE))["fr.shared"]).toBe(0.6);
  });

  it("does not move a circuit time has made due: after open_duration, scrapes leave the OPEN -> HALF_OPEN to the next call", async () => {
    const env = { REDIS_URL: redis().server.url, BREAKERBOX_METRICS_RESYNC_SECONDS: "0" };
    const [a, b] = await Promise.all([serve(startRealClockServer(env)), serve(startRealClockServer(env))]);
    for (const r of [a, b]) await waitFor("the replica to reach Redis", async () => (await fetch(`${r.server.httpUrl}/readyz`)).status === 200, { timeoutMs: 15_000 });
    const c = "fr.due";
    await a.client.call("configure", { target: { case: "circuit", value: c }, config: { failureThreshold: 2, openDuration: durationFromMs(5000), successThreshold: 1 } });
    expect((await b.client.call("acquire", { circuit: c })).allowed).toBe(true); // B meets it
    await call(a.client, c, Outcome.FAILURE);
    await call(a.client, c, Outcome.FAILURE); // opens, on A
    await waitForRate(b.server.httpUrl, c, 1, [undefined, 0]);

    // Both gauges show HALF_OPEN from open_until on; each scrape's refresh skips the circuit.
    const transitions = async (r: { server: RunningTestServer }): Promise<string[]> =>
      samplesOf(await scrape(r.server.httpUrl), "breakerbox_transitions_total", { circuit: c }).map((s) => `${s.labels.from}->${s.labels.to}=${s.value}`);
    for (const r of [a, b]) {
      await waitFor(
        "the gauge to show HALF_OPEN",
        async () => samplesOf(await scrape(r.server.httpUrl), "breakerbox_circuit_state", { circuit: c, state: "HALF_OPEN" })[0]?.value === 1,
        { timeoutMs: 15_000, intervalMs: 100 },
      );
    }
    // Scrape both for two more seconds: each refresh (at most one a second) meets the circuit due.
    const started = Date.now();
    await waitFor("two more seconds of scrapes", async () => (await Promise.all([scrape(a.server.httpUrl), scrape(b.server.httpUrl)])) && Date.now() - started > 2000, {
      timeoutMs: 15_000,
      intervalMs: 200,
    });
    expect(await transitions(a)).toEqual(["CLOSED->OPEN=1"]);
    expect(await transitions(b)).toEqual([]);
    expect(rates(samplesOf(await scrape(b.server.httpUrl), GAUGE))[c]).toBe(1); // the rate that opened it, kept

    // A probe through B applies OPEN -> HALF_OPEN and closes it (clean counters): rate 0.
    await call(b.client, c, Outcome.SUCCESS);
    expect(await transitions(b)).toEqual(["OPEN->HALF_OPEN=1", "HALF_OPEN->CLOSED=1"]);
    await waitForRate(b.server.httpUrl, c, 0, [1]);
  }, 60_000);
});

describe("the failure-rate refresh (failure-rates.ts) on a memory store", () => {
  const T0 = 1_700_000_000_000;
  let storeNow = T0;
  let now = 0;

  /** A memory store with a 1 s window (so the feed stops naming a circuit 1.1 s after its last change), and a record of the circuits the refresh read. */
  function setup(maxCircuits = 10) {
    storeNow = T0;
    now = 0;
    const store: MemoryStore = createMemoryStore({
      layers: { defaults: applyPatch(BUILTIN_DEFAULTS, { windowMs: 1000 }), presets: BUILTIN_PRESETS, rules: [] },
      clock: () => storeNow,
      random: () => 0.5,
      tickIntervalMs: 0,
      idleTtlMs: 10_000,
    });
    cleanups.push(() => store.close());
    const read: string[] = [];
    const failing = { get: false, feed: false };
    /** While set, get() waits for it (a store that does not answer). */
    let hold: Promise<void> | undefined;
    const spy: Pick<CircuitStore, "get" | "statusChanges"> = {
      get: async (name) => {
        read.push(name);
        if (failing.get) throw new Error("store away");
        await hold;
        return store.get(name);
      },
      statusChanges: async (cursor) => {
        if (failing.feed) throw new Error("store away");
        return store.statusChanges(cursor);
      },
    };
    const metrics = createMetrics({ maxCircuits, processMetrics: false });
    /** Circuits mayRead refuses (as the state tracker does one time may move). */
    const refuse = new Set<string>();
    const failureRates = metrics.trackFailureRates(spy, { now: () => now, minIntervalMs: 1000, fullReadMs: 60_000, mayRead: (c) => !refuse.has(c) });
    const scrapeRates = async (): Promise<Record<string, number>> => rates(samplesOf(parseExposition(await metrics.exposition()), GAUGE));
    const report = async (name: string, outcome: "SUCCESS" | "FAILURE"): Promise<void> => {
      const d = await store.acquire(name);
      const ack = await store.report(name, { permit: d.permit!, outcome, durationMs: 1, retryAfterMs: 0 });
      metrics.countReport(name, outcome, ack, 1); // labels the circuit, as the service does
    };
    /** The names read since the last call, sorted. */
    const reads = (): string[] => read.splice(0).sort();
    const holdReads = (): (() => void) => {
      let release!: () => void;
      hold = new Promise((resolve) => (release = resolve));
      return () => {
        hold = undefined;
        release();
      };
    };
    return { store, metrics, failureRates, scrapeRates, report, reads, failing, holdReads, refuse };
  }

  it("reads every labelled circuit first, then only the labelled ones the feed names, and the newly labelled", async () => {
    const { store, metrics, scrapeRates, report, reads } = setup();
    await report("a", "FAILURE");
    await report("b", "SUCCESS");
    await store.acquire("quiet"); // exists, no label yet
    await store.acquire("unlabelled"); // never labelled
    expect(await scrapeRates()).toEqual({ a: 1, b: 0 });
    expect(reads()).toEqual(["a", "b"]);

    storeNow += 5000; // every window slid: the feed names nothing from here on but new changes
    now += 1000;
    expect(await scrapeRates()).toEqual({ a: 0, b: 0 });
    expect(reads()).toEqual(["a", "b"]); // changed within their window before the last cursor

    now += 1000;
    await report("b", "FAILURE");
    await report("unlabelled", "FAILURE");
    metrics.circuits.seriesOf("quiet"); // labelled now; the feed will not name it
    expect(await scrapeRates()).toEqual({ a: 0, b: 1, quiet: 0, unlabelled: 1 });
    expect(reads()).toEqual(["b", "quiet", "unlabelled"]);
  });

  it("refreshes at most once per interval, concurrent scrapes sharing one refresh", async () => {
    const { failureRates, scrapeRates, report, reads } = setup();
    await report("a", "FAILURE");
    const [x, y] = await Promise.all([scrapeRates(), scrapeRates()]);
    expect([x, y]).toEqual([{ a: 1 }, { a: 1 }]);
    expect(reads()).toEqual(["a"]);
    expect(failureRates.refreshes).toBe(1);

    await report("a", "SUCCESS");
    now += 999;
    expect(await scrapeRates()).toEqual({ a: 1 }); // too soon: the last values
    expect(reads()).toEqual([]);
    now += 1;
    expect(await scrapeRates()).toEqual({ a: 0.5 });
    expect(reads()).toEqual(["a"]);
  });

  it("keeps the values and the cursor when a read fails, so the next refresh misses nothing", async () => {
    const { scrapeRates, report, reads, failing } = setup();
    await report("a", "FAILURE");
    expect(await scrapeRates()).toEqual({ a: 1 });
    reads();

    await report("a", "SUCCESS"); // 0.5 now; 0 once the 1 s window slides past both calls
    storeNow += 5000;
    failing.get = true;
    now += 1000;
    expect(await scrapeRates()).toEqual({ a: 1 }); // answers, with what it had
    expect(reads()).toEqual(["a"]);
    failing.get = false;
    failing.feed = true;
    now += 1000;
    expect(await scrapeRates()).toEqual({ a: 1 });
    expect(reads()).toEqual([]);

    // A cursor taken by a failed refresh (at T0 + 5 s) would no longer name
    // "a" (changed at T0, 1 s window): only the kept one finds it.
    failing.feed = false;
    now += 1000;
    expect(await scrapeRates()).toEqual({ a: 0 });
    expect(reads()).toEqual(["a"]);
  });

  it("answers a scrape within a second while the store does not answer, and takes the late refresh in later", async () => {
    const { failureRates, scrapeRates, report, holdReads } = setup();
    await report("a", "FAILURE");
    expect(await scrapeRates()).toEqual({ a: 1 });
    await report("a", "SUCCESS");
    const release = holdReads();
    now += 1000;
    expect(await scrapeRates()).toEqual({ a: 1 }); // after FAILURE_RATE_WAIT_MS, with what it had
    expect(failureRates.refreshes).toBe(1);
    release();
    await waitFor("the late refresh", () => failureRates.refreshes === 2, { timeoutMs: 5000, intervalMs: 5 });
    expect(await scrapeRates()).toEqual({ a: 0.5 }); // no new refresh (too soon): the late one's values
  });

  it("drops a circuit that no longer exists, found by the periodic full read", async () => {
    const { store, scrapeRates, report, reads } = setup();
    await report("gone", "FAILURE");
    await report("stays", "FAILURE");
    expect(await scrapeRates()).toEqual({ gone: 1, stays: 1 });
    reads();
    storeNow += 20_000;
    await report("stays", "SUCCESS");
    expect(store.evictIdle()).toBe(1); // "gone": idle past its 10 s TTL
    now += 1000;
    expect(await scrapeRates()).toEqual({ gone: 1, stays: 0 }); // the feed does not name an eviction
    expect(reads()).toEqual(["stays"]);
    now += 60_000;
    expect(await scrapeRates()).toEqual({ stays: 0 });
    expect(reads()).toEqual(["gone", "stays"]);
  });

  it("does not read a circuit mayRead refuses: it keeps its last rate, and is read once it may be", async () => {
    const { scrapeRates, report, reads, refuse } = setup();
    await report("a", "FAILURE");
    await report("b", "FAILURE");
    expect(await scrapeRates()).toEqual({ a: 1, b: 1 });
    reads();
    await report("a", "SUCCESS");
    await report("b", "SUCCESS");
    refuse.add("a");
    now += 1000;
    expect(await scrapeRates()).toEqual({ a: 1, b: 0.5 });
    expect(reads()).toEqual(["b"]);
    // Put aside, not forgotten: read once allowed, though the feed no longer names it.
    storeNow += 5000;
    now += 1000;
    await scrapeRates();
    reads();
    refuse.delete("a");
    now += 1000;
    expect(await scrapeRates()).toEqual({ a: 0, b: 0 });
    expect(reads()).toEqual(["a"]);
  });

  it("keeps no rate beyond the cap", async () => {
    const { scrapeRates, report, reads } = setup(1);
    await report("first", "FAILURE");
    await report("second", "FAILURE");
    expect(await scrapeRates()).toEqual({ first: 1 });
    expect(reads()).toEqual(["first"]);
  });
});

describe("CircuitStateTracker.timeMayMove (which circuits the gauge does not read)", () => {
  it("is true for an OPEN circuit from a second before its open_until on and for HALF_OPEN; false for CLOSED, pinned and unknown circuits", async () => {
    let t = 1_700_000_000_000;
    const store = createMemoryStore({
      layers: { defaults: applyPatch(BUILTIN_DEFAULTS, { failureThreshold: 1, openDurationMs: 10_000 }), presets: BUILTIN_PRESETS, rules: [] },
      clock: () => t,
      random: () => 0.5,
      tickIntervalMs: 0,
    });
    const tracker = new CircuitStateTracker({ store, clock: () => t, resyncMs: 0 });
    cleanups.push(() => store.close(), () => tracker.close());
    await tracker.sync();
    const trip = async (name: string): Promise<void> => {
      const d = await store.acquire(name);
      await store.report(name, { permit: d.permit!, outcome: "FAILURE", durationMs: 1, retryAfterMs: 0 });
    };
    await store.acquire("closed");
    tracker.noteServed("closed", "CLOSED");
    await trip("open"); // OPEN until t + 10 s (no jitter at random 0.5)
    await store.force("pinned", "FORCED_OPEN", "test");
    const open = (await store.get("open"))!.openUntil!;
    expect(open).toBe(t + 10_000);

    const moving = (): string[] => ["closed", "open", "pinned", "unknown"].filter((c) => tracker.timeMayMove(c));
    expect(moving()).toEqual([]);
    t = open - 1001;
    expect(moving()).toEqual([]);
    t = open - 1000;
    expect(moving()).toEqual(["open"]);
    t = open + 60_000;
    expect(moving()).toEqual(["open"]); // still OPEN in the store: nobody read it
    store.tick(); // applies OPEN -> HALF_OPEN; its event reaches the tracker
    expect(tracker.stateOf("open")).toBe("HALF_OPEN");
    expect(moving()).toEqual(["open"]);
    await store.reset("open", "test");
    expect(moving()).toEqual([]);
  });
});
