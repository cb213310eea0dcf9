/**
 * The metrics pieces on their own: the hot-path histogram's exposition, the
 * circuit label cap, the state tracker on a real memory store with a manual
 * clock, the store and service wrappers, and the configuration variables.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { CircuitService } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { ConfigError, loadConfig } from "../../src/config/index.js";
import { BUILTIN_DEFAULTS, BUILTIN_PRESETS, PermitRejectedError } from "../../src/engine/index.js";
import { CircuitSeriesTable, OTHER_CIRCUIT } from "../../src/metrics/circuit-series.js";
import { CircuitStateTracker } from "../../src/metrics/circuit-states.js";
import { instrumentStore, storeResultOf } from "../../src/metrics/instrument.js";
import { createRpcMetricsInterceptor } from "../../src/metrics/rpc-interceptor.js";
import { interceptService } from "../../src/server/interceptor.js";
import { StatusPoller } from "../../src/service/status-poller.js";
import { LatencyHistogram } from "../../src/metrics/latency-histogram.js";
import { createMetrics } from "../../src/metrics/metrics.js";
import { createMemoryStore, type MemoryStore } from "../../src/store/memory.js";
import { StoreUnavailableError, type CircuitStore } from "../../src/store/store.js";
import { waitFor } from "../support/replicas.js";
import { manualClock } from "../support/test-server.js";
import { parseExposition, sampleValue, samplesOf } from "./exposition.js";

function memoryStore(clock = manualClock(), idleTtlMs?: number): MemoryStore {
  return createMemoryStore({
    layers: { defaults: { ...BUILTIN_DEFAULTS, failureThreshold: 1, openDurationMs: 10_000 }, presets: { ...BUILTIN_PRESETS }, rules: [] },
    clock: clock.now,
    ...(idleTtlMs === undefined ? {} : { idleTtlMs }),
    random: () => 0.5,
    tickIntervalMs: 0,
  });
}

async function fail(store: CircuitStore, circuit: string): Promise<void> {
  const d = await store.acquire(circuit);
  await store.report(circuit, { permit: d.permit!, outcome: "FAILURE", durationMs: 1, retryAfterMs: 0 });
}

describe("LatencyHistogram", () => {
  it("exposes cumulative buckets, +Inf, sum and count per series, in Prometheus' format", async () => {
    const registry = new Registry();
    const h = new LatencyHistogram("t_seconds", "test", ["op"], [0.1, 1]);
    h.registerIn(registry);
    const a = h.seriesFor({ op: "a" });
    h.seriesFor({ op: "idle" });
    for (const v of [0.05, 0.1, 0.5, 1, 3]) a.observe(v);
    expect(h.seriesFor({ op: "a" })).toBe(a);

    const e = parseExposition(await registry.metrics());
    expect(e.types.get("t_seconds")).toBe("histogram");
    expect(samplesOf(e, "t_seconds_bucket", { op: "a" }).map((s) => [s.labels.le, s.value])).toEqual([
      ["0.1", 2], // le is inclusive
      ["1", 4],
      ["+Inf", 5],
    ]);
    expect(sampleValue(e, "t_seconds_sum", { op: "a" })).toBeCloseTo(4.65, 10);
    expect(sampleValue(e, "t_seconds_count", { op: "a" })).toBe(5);
    // A series exists from its creation, at zero.
    expect(sampleValue(e, "t_seconds_count", { op: "idle" })).toBe(0);
    expect(sampleValue(e, "t_seconds_bucket", { op: "idle", le: "+Inf" })).toBe(0);

    registry.resetMetrics();
    expect(sampleValue(parseExposition(await registry.metrics()), "t_seconds_count", { op: "a" })).toBe(0);
  });
});

describe("CircuitSeriesTable (the label cap)", () => {
  it("gives the first maxCircuits circuits their own series and the rest the shared _other", () => {
    const t = new CircuitSeriesTable(2);
    expect(t.labelOf("a")).toBe("a");
    expect(t.labelOf("b")).toBe("b");
    expect(t.labelOf("c")).toBe(OTHER_CIRCUIT);
    expect(t.labelOf("a")).toBe("a"); // keeps its place
    expect(t.seriesOf("c")).toBe(t.other);
    expect(t.seriesOf("d")).toBe(t.other);
    expect(t.size).toBe(2);
    expect([...t.all()].map((s) => s.label)).toEqual(["a", "b", OTHER_CIRCUIT]);
  });

  it("with 0 puts everything under _other", () => {
    const t = new CircuitSeriesTable(0);
    expect(t.labelOf("a")).toBe(OTHER_CIRCUIT);
    expect(t.size).toBe(0);
  });
});

describe("CircuitStateTracker", () => {
  it("takes a snapshot, follows events, and shows a due OPEN circuit as HALF_OPEN", async () => {
    const clock = manualClock();
    const store = memoryStore(clock);
    await store.acquire("s.closed");
    await fail(store, "s.open");
    const tracker = new CircuitStateTracker({ store, clock: clock.now, resyncMs: 0 });
    expect(tracker.synced).toBe(false);
    await tracker.sync();
    expect(tracker.synced).toBe(true);
    expect(Object.fromEntries(tracker.states())).toEqual({ "s.closed": "CLOSED", "s.open": "OPEN" });

    await fail(store, "s.closed"); // an event after the snapshot
    expect(tracker.stateOf("s.closed")).toBe("OPEN");
    clock.advance(10_000);
    expect(tracker.stateOf("s.open")).toBe("HALF_OPEN"); // shown, not applied
    expect((await store.get("s.open"))?.state).toBe("HALF_OPEN"); // the read applies it
    expect(tracker.stateOf("s.open")).toBe("HALF_OPEN");

    await store.force("s.open", "FORCED_OPEN", "test");
    expect(tracker.stateOf("s.open")).toBe("FORCED_OPEN");
    tracker.close();
    await store.force("s.open", "CLOSED", "test");
    expect(tracker.stateOf("s.open")).toBe("FORCED_OPEN"); // closed: no more events
    await store.close();
  });

  it("learns served circuits that have no event yet, and a resync learns config-disabled ones", async () => {
    const clock = manualClock();
    const store = memoryStore(clock);
    const tracker = new CircuitStateTracker({ store, clock: clock.now, resyncMs: 0 });
    await tracker.sync();
    await store.acquire("s.new");
    expect(tracker.stateOf("s.new")).toBeUndefined(); // no event for a new CLOSED circuit
    tracker.noteServed("s.new", "CLOSED");
    expect(tracker.stateOf("s.new")).toBe("CLOSED");
    await fail(store, "s.new");
    tracker.noteServed("s.new", "CLOSED"); // a stale note does not override an event
    expect(tracker.stateOf("s.new")).toBe("OPEN");

    await store.configureCircuit("s.new", { patch: { enabled: false }, replace: false }, "test");
    expect(tracker.stateOf("s.new")).toBe("OPEN"); // a config change sends no event
    await tracker.sync();
    expect(tracker.stateOf("s.new")).toBe("DISABLED");
    tracker.close();
    await store.close();
  });

  it("drops a circuit the store evicted, at once rather than at the next resync", async () => {
    const clock = manualClock();
    const IDLE_TTL_MS = 60_000;
    const store = memoryStore(clock, IDLE_TTL_MS);
    await fail(store, "s.gone");
    await store.acquire("s.kept");
    const tracker = new CircuitStateTracker({ store, clock: clock.now, resyncMs: 0 });
    await tracker.sync();
    clock.advance(20_000); // past open_duration: s.gone reads HALF_OPEN with no probe out
    expect((await store.get("s.gone"))?.state).toBe("HALF_OPEN");
    await store.acquire("s.kept");
    clock.advance(IDLE_TTL_MS - 1000); // s.gone idle for its whole TTL, s.kept not
    store.tick();
    expect(await store.get("s.gone")).toBeUndefined();
    expect(Object.fromEntries(tracker.states())).toEqual({ "s.kept": "CLOSED" });
    tracker.close();
    await store.close();
  });

  it("retries while the store refuses the watch, and reports each failure", async () => {
    const clock = manualClock();
    const store = memoryStore(clock);
    let refusals = 2;
    const flaky: CircuitStore = Object.create(store) as CircuitStore;
    flaky.watch = (filter, token, sink) =>
      refusals-- > 0 ? Promise.reject(new StoreUnavailableError("redis away")) : store.watch(filter, token, sink);
    const errors: string[] = [];
    const tracker = new CircuitStateTracker({ store: flaky, clock: clock.now, resyncMs: 0, retryMs: 10, onError: (e) => errors.push((e as Error).message) });
    await fail(store, "s.x");
    tracker.start();
    await waitFor("the tracker to sync after two refused watches", () => tracker.synced, { timeoutMs: 10_000, intervalMs: 5 });
    expect(errors).toEqual(["redis away", "redis away"]);
    expect(tracker.stateOf("s.x")).toBe("OPEN");
    tracker.close();
    await store.close();
  });
});

describe("instrumentStore", () => {
  it("times each store call under its result and passes answers and errors through unchanged", async () => {
    const metrics = createMetrics({ maxCircuits: 10, processMetrics: false });
    const store = memoryStore();
    let outage = false;
    const flaky: CircuitStore = Object.create(store) as CircuitStore;
    flaky.get = (c) => (outage ? Promise.reject(new StoreUnavailableError("down")) : store.get(c));
    const wrapped = instrumentStore(flaky, metrics);

    const d = await wrapped.acquire("w.a");
    expect(d.allowed).toBe(true);
    await expect(wrapped.report("w.a", { permit: "junk", outcome: "SUCCESS", durationMs: 1, retryAfterMs: 0 })).rejects.toBeInstanceOf(
      PermitRejectedError,
    );
    await wrapped.get("w.a");
    outage = true;
    await expect(wrapped.get("w.a")).rejects.toBeInstanceOf(StoreUnavailableError);

    const e = parseExposition(await metrics.exposition());
    const count = (operation: string, result: string): number | undefined =>
      sampleValue(e, "breakerbox_store_duration_seconds_count", { operation, result });
    expect([count("acquire", "ok"), count("report", "refused"), count("get", "ok"), count("get", "unavailable")]).toEqual([1, 1, 1, 1]);
    expect(count("report", "ok")).toBe(0);
    await store.close();
  });

  it("passes the status rounds' change feed through when the store has one, and adds none when it has not", async () => {
    const metrics = createMetrics({ maxCircuits: 10, processMetrics: false });
    const store = memoryStore();
    const wrapped = instrumentStore(store, metrics);
    await wrapped.acquire("w.a");
    const { cursor } = await wrapped.statusChanges!(undefined);
    await wrapped.acquire("w.b");
    expect((await wrapped.statusChanges!(cursor)).names).toEqual(["w.a", "w.b"]);
    const noFeed: CircuitStore = Object.create(store) as CircuitStore;
    Object.defineProperty(noFeed, "statusChanges", { value: undefined });
    expect(instrumentStore(noFeed, metrics).statusChanges).toBeUndefined();
    await store.close();
  });

  it("maps store errors to results", () => {
    expect(storeResultOf(new StoreUnavailableError("x"))).toBe("unavailable");
    expect(storeResultOf(new PermitRejectedError("expired", "x"))).toBe("refused");
    expect(storeResultOf(new Error("bug"))).toBe("error");
  });
});

describe("the RPC metrics interceptor", () => {
  it("times unary methods by status code, leaves streaming methods and absent methods alone", async () => {
    const metrics = createMetrics({ maxCircuits: 10, processMetrics: false });
    const watch = async function* () {};
    const impl = {
      acquire: async () => ({}),
      getState: async () => {
        throw new ConnectError("no such circuit", Code.NotFound);
      },
      reset: () => {
        throw new Error("sync bug");
      },
      report: () => ({}),
      watch,
    };
    const wrapped = interceptService(CircuitService, impl as never, [createRpcMetricsInterceptor(metrics)]) as Record<string, unknown>;
    const call = (name: string): unknown => (wrapped[name] as (r: unknown, c: unknown) => unknown)({}, {});
    await call("acquire");
    await expect(call("getState")).rejects.toThrow("no such circuit");
    expect(() => call("reset")).toThrow("sync bug");
    expect(call("report")).toEqual({});
    expect(wrapped.watch).toBe(watch);
    expect(wrapped.configure).toBeUndefined();

    const e = parseExposition(await metrics.exposition());
    const count = (method: string, code: string): number | undefined => sampleValue(e, "breakerbox_rpc_duration_seconds_count", { method, code });
    expect([count("Acquire", "OK"), count("GetState", "NOT_FOUND"), count("Reset", "INTERNAL"), count("Report", "OK")]).toEqual([1, 1, 1, 1]);
    expect(samplesOf(e, "breakerbox_rpc_duration_seconds_count", { method: "Watch" })).toEqual([]);
  });
});

describe("configuration", () => {
  it("defaults to 1000 labelled circuits and a resync every 5 minutes", () => {
    const c = loadConfig({});
    expect([c.metricsMaxCircuits, c.metricsResyncMs]).toEqual([1000, 300_000]);
  });

  it("reads BREAKERBOX_METRICS_MAX_CIRCUITS and BREAKERBOX_METRICS_RESYNC_SECONDS", () => {
    const c = loadConfig({ BREAKERBOX_METRICS_MAX_CIRCUITS: "0", BREAKERBOX_METRICS_RESYNC_SECONDS: "2.5" });
    expect([c.metricsMaxCircuits, c.metricsResyncMs]).toEqual([0, 2500]);
  });

  it("names the variable and the accepted range for bad values", () => {
    const problems = (env: Record<string, string>): string[] => {
      try {
        loadConfig(env);
      } catch (err) {
        if (err instanceof ConfigError) return err.problems;
        throw err;
      }
      return [];
    };
    expect(problems({ BREAKERBOX_METRICS_MAX_CIRCUITS: "-1" })).toEqual([
      'BREAKERBOX_METRICS_MAX_CIRCUITS: must be an integer from 0 to 100000, got "-1"',
    ]);
    expect(problems({ BREAKERBOX_METRICS_RESYNC_SECONDS: "soon" })).toEqual([
      'BREAKERBOX_METRICS_RESYNC_SECONDS: must be a number of seconds from 0 to 604800, got "soon"',
    ]);
  });
});

describe("breakerbox_circuits and breakerbox_circuits_max", () => {
  it("export the store's circuit count at each scrape and the cap", async () => {
    const store = memoryStore();
    const metrics = createMetrics({ maxCircuits: 10, processMetrics: false });
    metrics.trackCircuitCount(() => store.countCircuits(), 5);
    for (const name of ["a", "b", "c"]) await store.acquire(name);
    let e = parseExposition(await metrics.exposition());
    expect(e.types.get("breakerbox_circuits")).toBe("gauge");
    expect(sampleValue(e, "breakerbox_circuits", {})).toBe(3);
    expect(sampleValue(e, "breakerbox_circuits_max", {})).toBe(5);
    await store.acquire("d");
    e = parseExposition(await metrics.exposition());
    expect(sampleValue(e, "breakerbox_circuits", {})).toBe(4);
    await store.close();
  });

  it("keep the last count when the store cannot answer", async () => {
    const metrics = createMetrics({ maxCircuits: 10, processMetrics: false });
    let answer: () => Promise<number> = async () => 7;
    metrics.trackCircuitCount(() => answer(), 100);
    expect(sampleValue(parseExposition(await metrics.exposition()), "breakerbox_circuits", {})).toBe(7);
    answer = () => Promise.reject(new StoreUnavailableError("redis is away"));
    const e = parseExposition(await metrics.exposition());
    expect(sampleValue(e, "breakerbox_circuits", {})).toBe(7);
    expect(sampleValue(e, "breakerbox_circuits_max", {})).toBe(100);
  });
});

describe("breakerbox_watch_status_* and breakerbox_status_feed_overflows_total", () => {
  it("export the shared status poller's rounds, full reads and changed names, and the store's overflows, at each scrape", async () => {
    const clock = manualClock();
    const store = memoryStore(clock);
    const metrics = createMetrics({ maxCircuits: 10, processMetrics: false });
    const source = { rounds: 0, feedFallbacks: 0, changedRead: 0, feedOverflows: 0 };
    let e = parseExposition(await metrics.exposition());
    expect(sampleValue(e, "breakerbox_watch_status_rounds_total", {})).toBe(0); // 0 until tracked
    let t = 0;
    const poller = new StatusPoller(store, { maxBacklog: 100, now: () => t });
    const sub = poller.subscribe({ circuits: [], prefix: "" }, 1000, { live: () => true, unread: () => 0, send: () => sub.taken() });
    metrics.trackStatusRounds(() => ({ ...source, rounds: poller.rounds, feedFallbacks: poller.feedFallbacks, changedRead: poller.changedRead }));
    await store.acquire("a");
    t += 1000;
    await poller.round(); // the first: a full read
    await store.acquire("b");
    t += 1000;
    await poller.round(); // "a" and "b", both used within their window
    source.feedOverflows = 2;
    e = parseExposition(await metrics.exposition());
    expect(e.types.get("breakerbox_watch_status_rounds_total")).toBe("counter");
    expect(sampleValue(e, "breakerbox_watch_status_rounds_total", {})).toBe(2);
    expect(sampleValue(e, "breakerbox_watch_status_full_reads_total", {})).toBe(1);
    expect(sampleValue(e, "breakerbox_watch_status_changed_total", {})).toBe(2);
    expect(sampleValue(e, "breakerbox_status_feed_overflows_total", {})).toBe(2);
    poller.unsubscribe(sub);
    await store.close();
  });
});
