/**
 * The shared status poller over the Redis store, whose change feed is the
 * touched index (status-feed.ts): 20 streams cost one read per round, not
 * 20, and a round after the first reads only the circuits that changed.
 * The store runs on a test clock, moved past the circuits' window so their
 * views change only by new calls.
 */
import { afterEach, describe, expect, it } from "vitest";
import { applyPatch, BUILTIN_DEFAULTS, BUILTIN_PRESETS } from "../../src/engine/index.js";
import { StatusPoller, type StatusStreamHooks, type StatusSubscription } from "../../src/service/status-poller.js";
import type { RedisStore } from "../../src/store/redis/redis-store.js";
import type { CircuitStore, CircuitView, ListQuery, WatchFilter } from "../../src/store/store.js";
import { openRedisStore, useRedisServer } from "../support/redis-store-fixture.js";

const redis = useRedisServer();
const HOUR = 3_600_000;
let now = 1_700_000_000_000;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function makeStore(): Promise<RedisStore> {
  const opened = await openRedisStore(redis(), {
    layers: { defaults: applyPatch(BUILTIN_DEFAULTS, { failureThreshold: 100, failureRateThreshold: 0 }), presets: BUILTIN_PRESETS, rules: [] },
    testClock: () => now,
  });
  cleanups.push(() => opened.close());
  return opened.store;
}

/** Counts the store's reads: list() calls (with their prefix) and get() calls, and the most get()s in flight at once. */
function counted(store: CircuitStore): { store: CircuitStore; lists: string[]; gets: string[]; inFlight: { now: number; max: number } } {
  const lists: string[] = [];
  const gets: string[] = [];
  const inFlight = { now: 0, max: 0 };
  const wrapped: CircuitStore = Object.create(store) as CircuitStore;
  wrapped.list = (query: ListQuery) => {
    lists.push(query.prefix ?? "");
    return store.list(query);
  };
  wrapped.get = async (name: string) => {
    gets.push(name);
    inFlight.max = Math.max(inFlight.max, ++inFlight.now);
    try {
      return await store.get(name);
    } finally {
      inFlight.now -= 1;
    }
  };
  return { store: wrapped, lists, gets, inFlight };
}

async function call(store: CircuitStore, name: string, outcome: "SUCCESS" | "FAILURE"): Promise<void> {
  const d = await store.acquire(name);
  expect(d.allowed).toBe(true);
  await store.report(name, { permit: d.permit!, outcome, durationMs: 1, retryAfterMs: 0 });
}

function poller(store: CircuitStore, maxBacklog = 10_000): { poller: StatusPoller; advance: (ms: number) => void; join: (f: WatchFilter) => Stream } {
  let t = 0;
  const p = new StatusPoller(store, { maxBacklog, now: () => t });
  const join = (f: WatchFilter): Stream => {
    const got: CircuitView[] = [];
    const s: Stream = {
      got,
      live: () => true,
      unread: () => 0,
      send: (view) => {
        got.push(view);
        s.sub!.taken();
      },
    };
    s.sub = p.subscribe(f, HOUR, s);
    cleanups.push(() => p.unsubscribe(s.sub!));
    return s;
  };
  return { poller: p, advance: (ms) => void (t += ms), join };
}

type Stream = StatusStreamHooks & { got: CircuitView[]; sub?: StatusSubscription };

describe("StatusPoller on the Redis store", () => {
  it("reads once per round for 20 streams, the second round only the circuit that changed", async () => {
    const store = await makeStore();
    for (const name of ["dash.a", "dash.b", "dash.c"]) await call(store, name, "SUCCESS");
    now += 10 * 60_000; // past the window of these calls
    const c = counted(store);
    const { poller: p, advance, join } = poller(c.store);
    const streams = Array.from({ length: 20 }, () => join({ circuits: [], prefix: "dash." }));

    advance(HOUR);
    await p.round(); // no feed cursor yet: everything, once
    expect([c.lists, c.gets]).toEqual([["dash."], []]);
    expect(streams.map((s) => s.got.map((v) => v.circuit))).toEqual(streams.map(() => ["dash.a", "dash.b", "dash.c"]));

    await call(store, "dash.b", "SUCCESS");
    advance(HOUR);
    await p.round();
    expect([c.lists, c.gets]).toEqual([["dash."], ["dash.b"]]);
    expect(streams.map((s) => s.got.slice(3).map((v) => `${v.circuit}:${v.stats.totalSuccesses}`))).toEqual(streams.map(() => ["dash.b:2"]));
    expect([p.rounds, p.feedFallbacks, p.changedRead]).toEqual([2, 1, 1]);
  });

  it("reads only the changed circuits: 10,000 circuits, 5 changed, 20 streams → 5 get()s and no listing", { timeout: 120_000 }, async () => {
    const store = await makeStore();
    const names = Array.from({ length: 10_000 }, (_, i) => `c.${String(i).padStart(5, "0")}`);
    // Created in batches (each Acquire is one script; concurrent ones share a write).
    for (let i = 0; i < names.length; i += 500) await Promise.all(names.slice(i, i + 500).map((name) => store.acquire(name)));
    now += 10 * 60_000;
    const c = counted(store);
    // Room for every circuit in the first round (which sends all: these streams sent no snapshot).
    const { poller: p, advance, join } = poller(c.store, 100_000);
    const streams = Array.from({ length: 20 }, (_, i) => join({ circuits: [], prefix: i === 0 ? "" : "c." }));
    advance(HOUR);
    await p.round();
    expect(c.lists).toHaveLength(10);
    expect(streams.map((s) => s.got.length)).toEqual(streams.map(() => 10_000));

    const changed = ["c.00007", "c.01234", "c.05000", "c.09998", "c.09999"];
    for (const name of changed) await call(store, name, "FAILURE");
    advance(HOUR);
    c.inFlight.max = 0;
    await p.round();
    expect(c.lists).toHaveLength(10);
    expect(c.gets).toEqual(changed);
    // Read together (one write to Redis, replies pipelined), not one round trip after another.
    expect(c.inFlight.max).toBe(5);
    expect(streams.map((s) => s.got.slice(10_000).map((v) => `${v.circuit}:${v.stats.totalFailures}`))).toEqual(
      streams.map(() => changed.map((name) => `${name}:1`)),
    );
    expect([p.feedFallbacks, p.changedRead]).toEqual([1, 5]);
  });
});
