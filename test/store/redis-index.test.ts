/**
 * The Redis store's circuit indexes and cap (lua/includes/indexes.lua,
 * circuit-index.ts), against a real redis-server: the cap refuses the
 * circuit past it in the creating script and writes nothing, counts right
 * after Redis expires idle circuits by TTL, and a listing by state reads
 * only the circuits in the state's index; circuits that predate the indexes
 * are indexed at start.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { BUILTIN_DEFAULTS, BUILTIN_PRESETS } from "../../src/engine/index.js";
import { REPLICA_CACHE_IDLE_MS } from "../../src/store/redis/bounded-map.js";
import { createRedisStore, type RedisStore } from "../../src/store/redis/redis-store.js";
import { CircuitCapError } from "../../src/store/store-errors.js";
import { startRedis, type RedisServer } from "../support/redis-servers.js";

let redis: RedisServer;
let admin: Redis;
let prefixes = 0;

beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis({ host: redis.host, port: redis.port });
});

afterAll(async () => {
  admin.disconnect();
  await redis.stop();
});

async function makeStore(
  overrides: { maxCircuits?: number; idleTtlMs?: number; keyPrefix?: string; testClock?: () => number } = {},
): Promise<{ store: RedisStore; keyPrefix: string; close(): Promise<void> }> {
  const connect = (): Redis => new Redis({ host: redis.host, port: redis.port });
  const client = connect();
  const keyPrefix = overrides.keyPrefix ?? `ix${++prefixes}:`;
  const store = createRedisStore({
    client,
    duplicate: connect,
    cluster: false,
    layers: { defaults: { ...BUILTIN_DEFAULTS, failureThreshold: 1 }, presets: BUILTIN_PRESETS, rules: [] },
    keyPrefix,
    announceRemovals: false,
    ...(overrides.maxCircuits === undefined ? {} : { maxCircuits: overrides.maxCircuits }),
    ...(overrides.idleTtlMs === undefined ? {} : { idleTtlMs: overrides.idleTtlMs }),
    ...(overrides.testClock === undefined ? {} : { testClock: overrides.testClock }),
  });
  await store.start();
  return {
    store,
    keyPrefix,
    close: async () => {
      await store.close();
      client.disconnect();
    },
  };
}

/** The keys under `prefix` that belong to circuit `name`. */
async function keysOf(prefix: string, name: string): Promise<string[]> {
  return (await admin.keys(`${prefix}{${name}}*`)).sort();
}

async function open(store: RedisStore, name: string): Promise<void> {
  const d = await store.acquire(name);
  await store.report(name, { permit: d.permit!, outcome: "FAILURE", durationMs: 1, retryAfterMs: 0 });
}

describe("redis store circuit cap", () => {
  it("refuses the circuit past the cap with CircuitCapError, writing nothing, while existing circuits keep working", async () => {
    const { store, keyPrefix, close } = await makeStore({ maxCircuits: 3 });
    try {
      for (const n of ["a", "b", "c"]) expect((await store.acquire(n)).allowed).toBe(true);
      expect(await store.countCircuits()).toBe(3);
      const refused = await store.acquire("d").catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(CircuitCapError);
      expect(refused).toMatchObject({ circuit: "d", cap: 3 });
      expect((refused as Error).message).toContain("BREAKERBOX_MAX_CIRCUITS");
      await expect(store.force("d", "FORCED_OPEN", "ops")).rejects.toBeInstanceOf(CircuitCapError);
      await expect(store.configureCircuit("d", { patch: { failureThreshold: 2 }, replace: false }, "ops")).rejects.toBeInstanceOf(CircuitCapError);
      expect(await keysOf(keyPrefix, "d")).toEqual([]);
      expect(await admin.zrange(`${keyPrefix}idx:names`, 0, -1)).toEqual(["a", "b", "c"]);
      // Existing circuits: every operation still works.
      await open(store, "a");
      expect((await store.get("a"))?.state).toBe("OPEN");
      expect((await store.force("b", "FORCED_OPEN", "ops")).state).toBe("FORCED_OPEN");
      expect(await store.countCircuits()).toBe(3);
    } finally {
      await close();
    }
  });

  it("counts right when Redis expires idle circuits by TTL, and lets new circuits in again", async () => {
    const { store, keyPrefix, close } = await makeStore({ maxCircuits: 2, idleTtlMs: 200 });
    try {
      await store.acquire("idle");
      await store.force("pinned", "FORCED_OPEN", "ops"); // never expires
      await expect(store.acquire("new")).rejects.toBeInstanceOf(CircuitCapError);
      // Wait (no clock bound asserted) until Redis has expired the idle circuit's keys.
      while ((await admin.exists(`${keyPrefix}{idle}`)) === 1) await new Promise((r) => setTimeout(r, 50));
      expect(await store.countCircuits()).toBe(1);
      expect((await store.acquire("new")).allowed).toBe(true);
      expect(await store.countCircuits()).toBe(2);
      // The expired circuit's index entries are gone: pruned, not left behind.
      expect(await admin.zrange(`${keyPrefix}idx:names`, 0, -1)).toEqual(["new", "pinned"]);
      expect(await admin.zrange(`${keyPrefix}idx:expiry`, 0, -1)).toEqual(["new", "pinned"]);
      await expect(store.acquire("third")).rejects.toBeInstanceOf(CircuitCapError);
    } finally {
      await close();
    }
  });
});

describe("redis store listing indexes", () => {
  it("a listing by state reads only the circuits in that state's index", async () => {
    const { store, close } = await makeStore();
    try {
      for (let i = 0; i < 300; i++) await store.acquire(`svc.${String(i).padStart(3, "0")}`);
      await open(store, "svc.100");
      await open(store, "svc.250");
      const reads = vi.spyOn(store, "get");
      const page = await store.list({ prefix: "svc.", state: "OPEN", limit: 10 });
      expect(page.circuits.map((c) => c.circuit)).toEqual(["svc.100", "svc.250"]);
      expect(page.more).toBe(false);
      // main ran one read script per circuit under the prefix (302); the index reads the two OPEN ones.
      expect(reads).toHaveBeenCalledTimes(2);
      reads.mockClear();
      const first = await store.list({ prefix: "svc.", limit: 5 });
      expect(first.circuits.map((c) => c.circuit)).toEqual(["svc.000", "svc.001", "svc.002", "svc.003", "svc.004"]);
      expect(first.more).toBe(true);
      // A page of 5 reads one index batch (at least 16 names), not the 300 names.
      expect(reads).toHaveBeenCalledTimes(16);
    } finally {
      await close();
    }
  });

  it("indexes at start the circuits that predate the indexes", async () => {
    const { store, keyPrefix, close } = await makeStore();
    await store.acquire("old.a");
    await open(store, "old.b");
    await close();
    // As a Redis written by a version without indexes: the circuits, no index keys.
    await admin.del(...(await admin.keys(`${keyPrefix}idx:*`)));
    const again = await makeStore({ keyPrefix });
    try {
      expect((await again.store.list({ prefix: "old.", limit: 10 })).circuits.map((c) => `${c.circuit}=${c.state}`)).toEqual(["old.a=CLOSED", "old.b=OPEN"]);
      expect((await again.store.list({ prefix: "", state: "OPEN", limit: 10 })).circuits.map((c) => c.circuit)).toEqual(["old.b"]);
      expect(await again.store.countCircuits()).toBe(2);
      expect(await admin.get(`${keyPrefix}idx:built`)).toBe("1");
    } finally {
      await again.close();
    }
  });
});

describe("redis store replica caches", () => {
  it("hold at most their bound, and nothing of circuits Redis expired", async () => {
    // A store of its own: a small cache bound, removals announced.
    const connect = (): Redis => new Redis({ host: redis.host, port: redis.port });
    const client = connect();
    const keyPrefix = `ix${++prefixes}:`;
    const bounded = createRedisStore({
      client,
      duplicate: connect,
      cluster: false,
      layers: { defaults: BUILTIN_DEFAULTS, presets: BUILTIN_PRESETS, rules: [] },
      keyPrefix,
      cacheEntries: 1000,
    });
    try {
      await bounded.start();
      for (let i = 0; i < 20_000; i += 500) {
        await Promise.all(Array.from({ length: 500 }, (_, j) => bounded.acquire(`many.${i + j}`)));
      }
      expect(bounded.cacheSizes()).toEqual({ views: 1000, explicit: 0, resolved: 1000 });
      // Redis expires them all (keys vanish, no script runs). Announcements of
      // 20,000 removals may outrun the event stream's length, so the sweep of
      // entries idle for REPLICA_CACHE_IDLE_MS is what is sure to clear them.
      const expire = admin.pipeline();
      for (let i = 0; i < 20_000; i++) for (const suffix of ["", ":r", ":h", ":p"]) expire.pexpire(`${keyPrefix}{many.${i}}${suffix}`, 1);
      await expire.exec();
      while ((await admin.keys(`${keyPrefix}{many.*}`)).length > 0) await new Promise((r) => setTimeout(r, 100));
      bounded.sweepCaches(Date.now() + REPLICA_CACHE_IDLE_MS);
      expect(bounded.cacheSizes()).toEqual({ views: 0, explicit: 0, resolved: 0 });
    } finally {
      await bounded.close();
      client.disconnect();
    }
  }, 120_000);

  it("drop what they hold of a circuit a read finds gone", async () => {
    const { store, keyPrefix, close } = await makeStore();
    try {
      for (let i = 0; i < 50; i++) await store.acquire(`few.${i}`);
      expect(store.cacheSizes()).toEqual({ views: 50, explicit: 0, resolved: 50 });
      await admin.del(...Array.from({ length: 25 }, (_, i) => `${keyPrefix}{few.${i}}`));
      for (let i = 0; i < 25; i++) expect(await store.get(`few.${i}`)).toBeUndefined();
      expect(store.cacheSizes()).toEqual({ views: 25, explicit: 0, resolved: 25 });
    } finally {
      await close();
    }
  });
});
