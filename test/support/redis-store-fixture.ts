/**
 * A redis-server for one test file, and Redis stores on it with a fresh key
 * prefix each: `const redis = useRedisServer()` at the top of the file
 * (starts it before the file's tests, stops it after), then
 * `await openRedisStore(redis(), { … })` in a test.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll } from "vitest";
import { BUILTIN_DEFAULTS, BUILTIN_PRESETS } from "../../src/engine/index.js";
import { createRedisStore, type RedisStore, type RedisStoreOptions } from "../../src/store/redis/redis-store.js";
import { startRedis, type RedisServer } from "./redis-servers.js";

/** The file's server and an admin connection to it, once started. */
export interface RedisFixture {
  server: RedisServer;
  admin: Redis;
  connect(): Redis;
}

/** Starts a redis-server before the file's tests and stops it after; the returned function gives it to a test. */
export function useRedisServer(): () => RedisFixture {
  let fixture: RedisFixture | undefined;
  beforeAll(async () => {
    const server = await startRedis();
    const connect = (): Redis => new Redis({ host: server.host, port: server.port });
    fixture = { server, admin: connect(), connect };
  });
  afterAll(async () => {
    fixture?.admin.disconnect();
    await fixture?.server.stop();
  });
  return () => fixture!;
}

let prefixes = 0;

/** A started one-server store on `redis` (failure_threshold 1 unless `options.layers` says otherwise), with a fresh key prefix unless given. */
export async function openRedisStore(
  redis: RedisFixture,
  options: Partial<Omit<RedisStoreOptions, "client" | "duplicate" | "cluster">> = {},
): Promise<{ store: RedisStore; keyPrefix: string; close(): Promise<void> }> {
  const client = redis.connect();
  const keyPrefix = options.keyPrefix ?? `fx${++prefixes}.${process.pid}:`;
  const layers = { defaults: { ...BUILTIN_DEFAULTS, failureThreshold: 1 }, presets: BUILTIN_PRESETS, rules: [] };
  const store = createRedisStore({ layers, ...options, keyPrefix, client, duplicate: () => redis.connect(), cluster: false });
  await store.start();
  const close = async (): Promise<void> => {
    await store.close();
    client.disconnect();
  };
  return { store, keyPrefix, close };
}
