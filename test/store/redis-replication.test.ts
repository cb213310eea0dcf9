/**
 * What one Redis-store replica hands another: a watcher resuming after more
 * missed entries than one replay page (500) gets every one of them, in
 * order; a pattern rule written on one replica reaches another's resolved
 * config by pub/sub, without any reload asked for.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { BUILTIN_DEFAULTS, BUILTIN_PRESETS } from "../../src/engine/index.js";
import { createRedisStore, type RedisStore } from "../../src/store/redis/redis-store.js";
import type { CircuitEvent, WatchItem } from "../../src/store/store.js";
import { startRedis, type RedisServer } from "../support/redis-servers.js";

let redis: RedisServer;
const stores: RedisStore[] = [];
const clients: Redis[] = [];

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  for (const store of stores) await store.close();
  for (const client of clients) client.disconnect();
  await redis.stop();
});

async function replica(keyPrefix: string): Promise<RedisStore> {
  const connect = (): Redis => {
    const client = new Redis({ host: redis.host, port: redis.port });
    clients.push(client);
    return client;
  };
  const store = createRedisStore({
    client: connect(),
    duplicate: connect,
    cluster: false,
    layers: { defaults: BUILTIN_DEFAULTS, presets: BUILTIN_PRESETS, rules: [] },
    keyPrefix,
    announceRemovals: false,
  });
  stores.push(store);
  await store.start();
  return store;
}

describe("redis store replication between replicas", () => {
  it("replays all 1,234 entries a watcher missed, in order, across replay pages", async () => {
    const writer = await replica("replay:");
    const reader = await replica("replay:");
    let token: string | undefined;
    const first = await reader.watch({ circuits: ["replay.a"], prefix: "" }, undefined, (item) => {
      if (item.kind === "snapshot_complete") token = item.resumeToken;
    });
    first.close();
    expect(token).toBeDefined();
    // 1,234 transitions while the watcher is away: forced open, reset, forced open, ...
    for (let i = 0; i < 617; i++) {
      await writer.force("replay.a", "FORCED_OPEN", "ops");
      await writer.reset("replay.a", "ops");
    }
    const events: CircuitEvent[] = [];
    const resumed = await reader.watch({ circuits: ["replay.a"], prefix: "" }, token, (item: WatchItem) => {
      if (item.kind === "event") events.push(item.event);
    });
    resumed.close();
    // The replay is done when watch() resolves.
    expect(events.length).toBe(1234);
    expect(events.map((e) => e.generation)).toEqual(Array.from({ length: 1234 }, (_, i) => i + 1));
    expect(events.map((e) => e.to).slice(0, 4)).toEqual(["FORCED_OPEN", "CLOSED", "FORCED_OPEN", "CLOSED"]);
  });

  it("gets a pattern rule another replica wrote by pub/sub: its resolved config changes without a reload", { timeout: 30_000 }, async () => {
    const writer = await replica("pubsub:");
    const other = await replica("pubsub:");
    await other.acquire("pub.x");
    expect((await other.get("pub.x"))?.config.failureThreshold).toBe(BUILTIN_DEFAULTS.failureThreshold);
    await writer.configurePattern("pub.*", { patch: { failureThreshold: 7 }, replace: false }, "ops");
    // Pub/sub takes milliseconds; the 10 s only bound a broken build (nothing else reloads the rules).
    await vi.waitFor(async () => expect((await other.get("pub.x"))?.config.failureThreshold).toBe(7), { timeout: 10_000, interval: 20 });
    expect((await other.get("pub.x"))?.configSources).toEqual(["pattern:pub.*", "defaults"]);
  });
});
