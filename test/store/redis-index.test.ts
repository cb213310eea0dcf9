/**
 * The Redis store's circuit indexes and cap (lua/includes/indexes.lua,
 * circuit-index.ts), against a real redis-server: the cap refuses the
 * circuit past it in the creating script and writes nothing, counts right
 * after Redis expires idle circuits by TTL, and a listing by state reads
 * only the circuits in the state's index; circuits that predate the indexes
 * are indexed at start.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it, vi } from "vitest";
import { REPLICA_CACHE_IDLE_MS } from "../../src/store/redis/bounded-map.js";
import type { RedisStore } from "../../src/store/redis/redis-store.js";
import { CircuitCapError } from "../../src/store/store-errors.js";
import { openRedisStore, useRedisServer } from "../support/redis-store-fixture.js";

const redis = useRedisServer();
let opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const s of opened) await s.close();
  opened = [];
});

/** A store on the file's server, removals not announced unless asked, closed after the test. */
async function makeStore(options: Parameters<typeof openRedisStore>[1] = {}): Promise<{ store: RedisStore; keyPrefix: string; close(): Promise<void> }> {
  const s = await openRedisStore(redis(), { announceRemovals: false, ...options });
  opened.push(s);
  return s;
}

/** The keys under `prefix` that belong to circuit `name`. */
async function keysOf(prefix: string, name: string): Promise<string[]> {
  return (await redis().admin.keys(`${prefix}{${name}}*`)).sort();
}

async function open(store: RedisStore, name: string): Promise<void> {
  const d = await store.acquire(name);
  await store.report(name, { permit: d.permit!, outcome: "FAILURE", durationMs: 1, retryAfterMs: 0 });
}

describe("redis store circuit cap", () => {
  it("refuses the circuit past the cap with CircuitCapError, writing nothing, while existing circuits keep working", async () => {
    const { store, keyPrefix } = await makeStore({ maxCircuits: 3 });
    for (const n of ["a", "b", "c"]) expect((await store.acquire(n)).allowed).toBe(true);
    expect(await store.countCircuits()).toBe(3);
    const refused = await store.acquire("d").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CircuitCapError);
    expect(refused).toMatchObject({ circuit: "d", cap: 3 });
    expect((refused as Error).message).toContain("BREAKERBOX_MAX_CIRCUITS");
    await expect(store.force("d", "FORCED_OPEN", "ops")).rejects.toBeInstanceOf(CircuitCapError);
    await expect(store.configureCircuit("d", { patch: { failureThreshold: 2 }, replace: false }, "ops")).rejects.toBeInstanceOf(CircuitCapError);
    expect(await keysOf(keyPrefix, "d")).toEqual([]);
    expect(await redis().admin.zrange(`${keyPrefix}idx:names`, 0, -1)).toEqual(["a", "b", "c"]);
    // Existing circuits: every operation still works.
    await open(store, "a");
    expect((await store.get("a"))?.state).toBe("OPEN");
    expect((await store.force("b", "FORCED_OPEN", "ops")).state).toBe("FORCED_OPEN");
    expect(await store.countCircuits()).toBe(3);
  });

  it("counts right when Redis expires idle circuits by TTL, and lets new circuits in again", async () => {
    const { store, keyPrefix } = await makeStore({ maxCircuits: 2, idleTtlMs: 200 });
    await store.acquire("idle");
    await store.force("pinned", "FORCED_OPEN", "ops"); // never expires
    await expect(store.acquire("new")).rejects.toBeInstanceOf(CircuitCapError);
    // Waits (the test's timeout bounds it) until Redis has expired the idle circuit's keys.
    while ((await redis().admin.exists(`${keyPrefix}{idle}`)) === 1) await sleep(50);
    expect(await store.countCircuits()).toBe(1);
    expect((await store.acquire("new")).allowed).toBe(true);
    expect(await store.countCircuits()).toBe(2);
    // The expired circuit's index entries are gone: pruned, not left behind.
    expect(await redis().admin.zrange(`${keyPrefix}idx:names`, 0, -1)).toEqual(["new", "pinned"]);
    expect(await redis().admin.zrange(`${keyPrefix}idx:expiry`, 0, -1)).toEqual(["new", "pinned"]);
    // And from the status rounds' change feed (the seventh index key, before the state zsets).
    expect((await redis().admin.zrange(`${keyPrefix}idx:touched`, 0, -1)).sort()).toEqual(["new", "pinned"]);
    await expect(store.acquire("third")).rejects.toBeInstanceOf(CircuitCapError);
  });
});

describe("redis store listing indexes", () => {
  it("a listing by state reads only the circuits in that state's index", async () => {
    const { store } = await makeStore();
    for (let i = 0; i < 300; i++) await store.acquire(`svc.${String(i).padStart(3, "0")}`);
    await open(store, "svc.100");
    await open(store, "svc.250");
    // The circuits read: list() reads its candidates in batches (read-page.ts).
    const batches = vi.spyOn(store as unknown as { getMany(names: readonly string[]): Promise<unknown> }, "getMany");
    const reads = { count: (): number => batches.mock.calls.reduce((n, [names]) => n + names.length, 0) };
    const page = await store.list({ prefix: "svc.", state: "OPEN", limit: 10 });
    expect(page.circuits.map((c) => c.circuit)).toEqual(["svc.100", "svc.250"]);
    expect(page.more).toBe(false);
    // main ran one read script per circuit under the prefix (302); the index reads the two OPEN ones.
    expect(reads.count()).toBe(2);
    batches.mockClear();
    const first = await store.list({ prefix: "svc.", limit: 5 });
    expect(first.circuits.map((c) => c.circuit)).toEqual(["svc.000", "svc.001", "svc.002", "svc.003", "svc.004"]);
    expect(first.more).toBe(true);
    // A page of 5 reads one index batch (at least 16 names), not the 300 names.
    expect(reads.count()).toBe(16);
  });

  it("a circuit created again under its name loses the state entry its expired life left behind", async () => {
    const { store, keyPrefix } = await makeStore();
    await store.acquire("again");
    // As if it had expired by TTL while HALF_OPEN, before any prune: the keys are gone, the entry not.
    await redis().admin.zadd(`${keyPrefix}idx:HALF_OPEN`, 0, "again");
    await redis().admin.del(`${keyPrefix}{again}`);
    await store.force("again", "CLOSED", "ops"); // creates it (an Acquire might be granted from the local view)
    expect((await store.list({ prefix: "", state: "CLOSED", limit: 10 })).circuits.map((c) => c.circuit)).toEqual(["again"]);
    expect(await redis().admin.zscore(`${keyPrefix}idx:HALF_OPEN`, "again")).toBeNull();
  });

  it("indexes at start the circuits that predate the indexes", async () => {
    const first = await makeStore();
    await first.store.acquire("old.a");
    await open(first.store, "old.b");
    await first.close();
    // As a Redis written by a version without indexes: the circuits, no index keys
    // but a stale entry (an old replica's change the indexes missed).
    await redis().admin.del(...(await redis().admin.keys(`${first.keyPrefix}idx:*`)));
    await redis().admin.zadd(`${first.keyPrefix}idx:OPEN`, 0, "old.a");
    const { store } = await makeStore({ keyPrefix: first.keyPrefix });
    expect((await store.list({ prefix: "old.", limit: 10 })).circuits.map((c) => `${c.circuit}=${c.state}`)).toEqual(["old.a=CLOSED", "old.b=OPEN"]);
    expect((await store.list({ prefix: "", state: "OPEN", limit: 10 })).circuits.map((c) => c.circuit)).toEqual(["old.b"]);
    expect(await store.countCircuits()).toBe(2);
    expect(await redis().admin.get(`${first.keyPrefix}idx:built`)).toBe("1");
  });
});

describe("redis store replica caches", () => {
  it("hold at most their bound, and nothing of circuits Redis expired", async () => {
    const { store, keyPrefix } = await makeStore({ cacheEntries: 1000, announceRemovals: true });
    for (let i = 0; i < 20_000; i += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, j) => store.acquire(`many.${i + j}`)));
    }
    expect(store.cacheSizes()).toEqual({ views: 1000, explicit: 0, resolved: 1000 });
    // Redis expires them all (keys vanish, no script runs). Announcements of
    // 20,000 removals may outrun the event stream's length, so the sweep of
    // entries idle for REPLICA_CACHE_IDLE_MS is what is sure to clear them.
    const expire = redis().admin.pipeline();
    for (let i = 0; i < 20_000; i++) for (const suffix of ["", ":r", ":h", ":p"]) expire.pexpire(`${keyPrefix}{many.${i}}${suffix}`, 1);
    await expire.exec();
    while ((await redis().admin.keys(`${keyPrefix}{many.*}`)).length > 0) await sleep(100);
    store.sweepCaches(Date.now() + REPLICA_CACHE_IDLE_MS);
    expect(store.cacheSizes()).toEqual({ views: 0, explicit: 0, resolved: 0 });
  }, 120_000);

  it("drop what they hold of a circuit a read finds gone", async () => {
    const { store, keyPrefix } = await makeStore();
    for (let i = 0; i < 50; i++) await store.acquire(`few.${i}`);
    expect(store.cacheSizes()).toEqual({ views: 50, explicit: 0, resolved: 50 });
    await redis().admin.del(...Array.from({ length: 25 }, (_, i) => `${keyPrefix}{few.${i}}`));
    for (let i = 0; i < 25; i++) expect(await store.get(`few.${i}`)).toBeUndefined();
    expect(store.cacheSizes()).toEqual({ views: 25, explicit: 0, resolved: 25 });
  });
});
