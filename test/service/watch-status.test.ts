/**
 * Watch status messages (WatchRequest.status_interval) at the service layer:
 * the WatchHub over a real memory store with a frozen clock. Status rounds
 * run on a short real interval; the tests count the rounds the hub's status
 * poller ran (or the store reads it made) instead of sleeping, so "nothing
 * was sent" means "nothing was sent in N rounds".
 */
import { afterEach, describe, expect, it } from "vitest";
import { applyPatch, BUILTIN_DEFAULTS, BUILTIN_PRESETS } from "../../src/engine/index.js";
import { Breakerbox, MAX_STATUS_INTERVAL_MS, MIN_STATUS_INTERVAL_MS } from "../../src/service/breakerbox.js";
import { InvalidArgumentError } from "../../src/service/errors.js";
import { WatchHub, type WatchMessage } from "../../src/service/watch-hub.js";
import { encodeWatchToken } from "../../src/service/watch-token.js";
import { createMemoryStore, type MemoryStore } from "../../src/store/memory.js";
import type { CircuitStore, CircuitView, ListPage, ListQuery } from "../../src/store/store.js";

const T0 = 1_700_000_000_000;
const INTERVAL_MS = 20;

let now = T0;
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function makeStore(): MemoryStore {
  now = T0;
  const store = createMemoryStore({
    layers: {
      defaults: applyPatch(BUILTIN_DEFAULTS, {
        failureThreshold: 3,
        failureRateThreshold: 0,
        openDurationMs: 10_000,
        halfOpenMaxCalls: 1,
        successThreshold: 1,
      }),
      presets: BUILTIN_PRESETS,
      rules: [],
    },
    clock: () => now,
    random: () => 0.5,
    tickIntervalMs: 0,
  });
  cleanups.push(() => store.close());
  return store;
}

/** Wraps a store so tests can count (list() and get() calls; break, or rewrite) its status reads. */
function instrument(store: CircuitStore): {
  store: CircuitStore;
  reads: () => number;
  failNextReads: (n: number) => void;
  rewriteList: (f: ((page: ListPage) => ListPage) | undefined) => void;
  gets: string[];
} {
  let reads = 0;
  let failing = 0;
  let rewrite: ((page: ListPage) => ListPage) | undefined;
  const gets: string[] = [];
  const wrapped: CircuitStore = Object.create(store) as CircuitStore;
  wrapped.list = async (query: ListQuery) => {
    reads += 1;
    if (failing > 0) {
      failing -= 1;
      throw new Error("store unreachable");
    }
    const page = await store.list(query);
    return rewrite === undefined ? page : rewrite(page);
  };
  wrapped.get = async (name: string) => {
    reads += 1;
    gets.push(name);
    const view = await store.get(name);
    // A round reads changed circuits one by one: the rewrite applies to them too.
    return view === undefined || rewrite === undefined ? view : rewrite({ circuits: [view], more: false }).circuits[0];
  };
  wrapped.watch = store.watch.bind(store);
  return {
    store: wrapped,
    reads: () => reads,
    failNextReads: (n) => void (failing = n),
    rewriteList: (f) => void (rewrite = f),
    gets,
  };
}

/** A stream reader that records everything and can wait for a condition. */
function reader(messages: AsyncIterable<WatchMessage>): {
  seen: WatchMessage[];
  statuses: () => CircuitView[];
  until: (what: string, ok: () => boolean) => Promise<void>;
} {
  const seen: WatchMessage[] = [];
  let ended: unknown;
  void (async () => {
    try {
      for await (const m of messages) if (m.kind !== "heartbeat") seen.push(m);
    } catch (err) {
      ended = err;
    }
  })();
  return {
    seen,
    statuses: () => seen.flatMap((m) => (m.kind === "status" ? [m.status] : [])),
    async until(what, ok) {
      const deadline = Date.now() + 5000;
      while (!ok()) {
        if (ended !== undefined) throw new Error(`stream failed while waiting for ${what}: ${String(ended)}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; seen ${JSON.stringify(seen.map((m) => m.kind))}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
  };
}

async function call(store: CircuitStore, name: string, outcome: "SUCCESS" | "FAILURE"): Promise<void> {
  const d = await store.acquire(name);
  expect(d.allowed).toBe(true);
  await store.report(name, { permit: d.permit!, outcome, durationMs: 1, retryAfterMs: 0 });
}

function open(hub: WatchHub, filter: { circuits?: string[]; prefix?: string }, resumeToken?: string) {
  const controller = new AbortController();
  cleanups.push(() => controller.abort());
  return hub.open({ circuits: filter.circuits ?? [], prefix: filter.prefix ?? "" }, resumeToken, controller.signal, {
    statusIntervalMs: INTERVAL_MS,
  });
}

describe("Watch status messages", () => {
  it("follow snapshot_complete, carry the changed circuit's exact counters, and are not repeated while nothing changes", async () => {
    const memory = makeStore();
    await call(memory, "dash.a", "SUCCESS");
    await call(memory, "dash.b", "SUCCESS");
    const s = instrument(memory);
    const hub = new WatchHub(s.store, {});
    const r = reader(open(hub, { prefix: "dash." }));

    await r.until("snapshot_complete", () => r.seen.some((m) => m.kind === "snapshot_complete"));
    const rounds = hub.poller.rounds;
    await r.until("three status rounds", () => hub.poller.rounds >= rounds + 3);
    expect(r.statuses()).toEqual([]);

    await call(memory, "dash.a", "FAILURE");
    await call(memory, "dash.a", "FAILURE");
    await r.until("a status of dash.a", () => r.statuses().some((v) => v.stats.windowFailures === 2));
    const after = hub.poller.rounds;
    await r.until("three more rounds", () => hub.poller.rounds >= after + 3);

    expect(r.seen.map((m) => (m.kind === "snapshot" || m.kind === "status" ? `${m.kind}:${m.status.circuit}` : m.kind))).toEqual([
      "snapshot:dash.a",
      "snapshot:dash.b",
      "snapshot_complete",
      "status:dash.a",
    ]);
    const status = r.statuses()[0]!;
    expect(status.state).toBe("CLOSED");
    expect(status.stats).toMatchObject({ windowCalls: 3, windowFailures: 2, consecutiveFailures: 2, totalSuccesses: 1, totalFailures: 2 });
    expect(status.stats.failureRate).toBeCloseTo(2 / 3, 10);
  });

  it("make an OPEN circuit whose open duration passed turn HALF_OPEN: the event first, then its status", async () => {
    const memory = makeStore();
    for (let i = 0; i < 3; i++) await call(memory, "dash.trip", "FAILURE");
    const r = reader(open(new WatchHub(memory, {}), { circuits: ["dash.trip"] }));
    await r.until("snapshot_complete", () => r.seen.some((m) => m.kind === "snapshot_complete"));
    expect(r.seen[0]).toMatchObject({ kind: "snapshot", status: { state: "OPEN", openUntil: T0 + 10_000 } });

    now += 10_000;
    await r.until("a HALF_OPEN status", () => r.statuses().some((v) => v.state === "HALF_OPEN"));
    const tail = r.seen.slice(2).map((m) =>
      m.kind === "event" ? `event:${m.event.from}->${m.event.to}:${m.event.reason}` : m.kind === "status" ? `status:${m.status.state}` : m.kind,
    );
    expect(tail).toEqual(["event:OPEN->HALF_OPEN:open_duration_elapsed", "status:HALF_OPEN"]);
  });

  it("read the prefix with the list API and each listed name outside it with one get, skipping names that do not exist", async () => {
    const memory = makeStore();
    await call(memory, "llm.a", "SUCCESS");
    await call(memory, "tool.x", "SUCCESS");
    await call(memory, "other", "SUCCESS");
    const s = instrument(memory);
    const hub = new WatchHub(s.store, {});
    const r = reader(open(hub, { circuits: ["tool.x", "llm.a", "missing"], prefix: "llm." }));
    await r.until("snapshot_complete", () => r.seen.some((m) => m.kind === "snapshot_complete"));
    const reads = s.reads();
    await r.until("a status round", () => s.reads() >= reads + 1 && s.gets.includes("missing"));
    // llm.a comes from the prefix listing; only the names outside it are read one by one.
    expect(new Set(s.gets)).toEqual(new Set(["tool.x", "missing"]));

    await call(memory, "llm.a", "FAILURE");
    await call(memory, "tool.x", "FAILURE");
    await call(memory, "other", "FAILURE");
    await r.until("statuses of llm.a and tool.x", () => r.statuses().length >= 2);
    const more = hub.poller.rounds;
    await r.until("two more rounds", () => hub.poller.rounds >= more + 2);
    expect(r.statuses().map((v) => v.circuit).sort()).toEqual(["llm.a", "tool.x"]);
  });

  it("after a resume, the first round sends every matching circuit", async () => {
    const memory = makeStore();
    await call(memory, "dash.a", "SUCCESS");
    await call(memory, "dash.b", "FAILURE");
    const token = await new Promise<string>((resolve) => {
      void memory.watch({ circuits: [], prefix: "" }, undefined, (item) => {
        // The hub takes its own filter-bound tokens, not raw store positions.
        if (item.kind === "snapshot_complete") resolve(encodeWatchToken({ circuits: [], prefix: "dash." }, item.resumeToken));
      });
    });
    const r = reader(open(new WatchHub(memory, {}), { prefix: "dash." }, token));
    await r.until("two statuses", () => r.statuses().length === 2);
    expect(r.seen.map((m) => (m.kind === "status" ? `${m.status.circuit}:${m.status.stats.totalFailures}` : m.kind))).toEqual([
      "dash.a:0",
      "dash.b:1",
    ]);
  });

  it("do not pile up for a reader that does not read: one status per changed circuit waits, then fresher ones", async () => {
    const memory = makeStore();
    await call(memory, "dash.a", "SUCCESS");
    const s = instrument(memory);
    const controller = new AbortController();
    cleanups.push(() => controller.abort());
    const it = new WatchHub(s.store, {})
      .open({ circuits: [], prefix: "dash." }, undefined, controller.signal, { statusIntervalMs: INTERVAL_MS })
      [Symbol.asyncIterator]();
    expect((await it.next()).value).toMatchObject({ kind: "snapshot" });
    expect((await it.next()).value).toMatchObject({ kind: "snapshot_complete" });
    // Not reading: the first change is read and queued...
    await call(memory, "dash.a", "FAILURE");
    const deadline = Date.now() + 5000;
    while (s.reads() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, INTERVAL_MS));
    const readsWhileQueued = s.reads();
    // ...and while it waits unread, no further reads happen however much changes.
    await call(memory, "dash.a", "SUCCESS");
    await call(memory, "dash.a", "FAILURE");
    await new Promise((r) => setTimeout(r, 10 * INTERVAL_MS));
    expect(s.reads()).toBe(readsWhileQueued);

    const first = (await it.next()).value as WatchMessage;
    expect(first).toMatchObject({ kind: "status", status: { circuit: "dash.a", stats: { totalFailures: 1, totalSuccesses: 1 } } });
    // The next one is read after the first was taken, so it is current.
    const second = (await it.next()).value as WatchMessage;
    expect(second).toMatchObject({ kind: "status", status: { circuit: "dash.a", stats: { totalFailures: 2, totalSuccesses: 2 } } });
  });

  it("survive a failing store read: the stream stays open and the next round sends", async () => {
    const memory = makeStore();
    await call(memory, "dash.a", "SUCCESS");
    const s = instrument(memory);
    const r = reader(open(new WatchHub(s.store, {}), { prefix: "dash." }));
    await r.until("snapshot_complete", () => r.seen.some((m) => m.kind === "snapshot_complete"));
    s.failNextReads(2);
    await call(memory, "dash.a", "FAILURE");
    await r.until("a status after two failed reads", () => r.statuses().length === 1);
    expect(s.reads()).toBeGreaterThanOrEqual(3);
    expect(r.statuses()[0]!.stats.totalFailures).toBe(1);
  });

  it("never send a status older than an event already sent for that circuit", async () => {
    const memory = makeStore();
    await call(memory, "dash.a", "SUCCESS");
    const s = instrument(memory);
    const stale = (await memory.get("dash.a"))!;
    const hub = new WatchHub(s.store, {});
    const r = reader(open(hub, { prefix: "dash." }));
    await r.until("snapshot_complete", () => r.seen.some((m) => m.kind === "snapshot_complete"));
    // A read that raced the transition below: it answers the view from before it.
    s.rewriteList((page) => ({ ...page, circuits: page.circuits.map((v) => (v.circuit === "dash.a" ? { ...stale, stats: { ...stale.stats, totalIgnored: 7 } } : v)) }));
    for (let i = 0; i < 3; i++) await call(memory, "dash.a", "FAILURE");
    await r.until("the OPEN event", () => r.seen.some((m) => m.kind === "event"));
    const rounds = hub.poller.rounds;
    await r.until("three rounds", () => hub.poller.rounds >= rounds + 3);
    expect(r.statuses()).toEqual([]);
    s.rewriteList(undefined);
    await r.until("the current status", () => r.statuses().length === 1);
    expect(r.statuses()[0]).toMatchObject({ state: "OPEN", generation: stale.generation + 1 });
  });
});

describe("Breakerbox.watch status_interval", () => {
  it.each([
    [1, "status_interval is 1 ms; use 0 (no status messages) or 1s to 3600s"],
    [999, "status_interval is 999 ms; use 0 (no status messages) or 1s to 3600s"],
    [-1000, "status_interval is -1000 ms; use 0 (no status messages) or 1s to 3600s"],
    [MAX_STATUS_INTERVAL_MS + 1, "status_interval is 3600001 ms; use 0 (no status messages) or 1s to 3600s"],
    // Above 2^31-1 ms setInterval fires every 1 ms: these once made a tight poll of the store.
    [2 ** 31, "status_interval is 2147483648 ms; use 0 (no status messages) or 1s to 3600s"],
    [315_576_000_000_000, "status_interval is 315576000000000 ms; use 0 (no status messages) or 1s to 3600s"],
  ])("refuses %i ms naming the field", (ms, message) => {
    const service = new Breakerbox({ store: makeStore() });
    const signal = new AbortController().signal;
    let error: unknown;
    try {
      service.watch({ circuits: [], prefix: "", resumeToken: "", statusIntervalMs: ms }, signal);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).field).toBe("status_interval");
    expect((error as Error).message).toBe(message);
  });

  it("accepts 0 (off), the minimum and the maximum", () => {
    const service = new Breakerbox({ store: makeStore() });
    const signal = new AbortController().signal;
    expect(() => service.watch({ circuits: [], prefix: "", resumeToken: "", statusIntervalMs: 0 }, signal)).not.toThrow();
    expect(() =>
      service.watch({ circuits: [], prefix: "", resumeToken: "", statusIntervalMs: MIN_STATUS_INTERVAL_MS }, signal),
    ).not.toThrow();
    expect(() =>
      service.watch({ circuits: [], prefix: "", resumeToken: "", statusIntervalMs: MAX_STATUS_INTERVAL_MS }, signal),
    ).not.toThrow();
    expect(MAX_STATUS_INTERVAL_MS).toBe(3_600_000);
  });
});
