/**
 * The memory a circuit's dedupe costs in Redis is bounded by the permits
 * reported, not by their bodies: N Reports on one circuit leave a window of
 * N / 2 bytes (4 bits a permit) after its 8-byte header, and nothing in the
 * legacy reported zset. Redis allocates a growing string below 1 MB at up to
 * twice its length (sds greedy growth), so every key of the circuit together
 * takes at most N bytes plus a small fixed overhead (the old zset took about
 * 130 bytes a Report).
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUILTIN_DEFAULTS, BUILTIN_PRESETS } from "../../src/engine/index.js";
import { createRedisStore } from "../../src/store/redis/redis-store.js";
import { startRedis, type RedisServer } from "../support/redis-servers.js";

const N = Number(process.env.WINDOW_MEMORY_REPORTS ?? 200_000);
/** The circuit hash, its history and each key's own overhead (the 8-byte window header included). */
const OVERHEAD_BYTES = 8_192;

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

describe("redis store permit window memory", () => {
  it(`keeps ${N} Reports of one circuit in a window of N / 2 bytes, all its keys in at most N bytes plus ${OVERHEAD_BYTES}, with no reported zset`, async () => {
    const admin = new Redis({ host: redis.host, port: redis.port });
    const client = new Redis({ host: redis.host, port: redis.port });
    let now = 1_700_000_000_000;
    const store = createRedisStore({
      client,
      duplicate: () => new Redis({ host: redis.host, port: redis.port }),
      cluster: false,
      layers: {
        defaults: { ...BUILTIN_DEFAULTS, failureThreshold: 0, failureRateThreshold: 0, slowCallDurationMs: 0, permitTtlMs: 30_000 },
        presets: BUILTIN_PRESETS,
        rules: [],
      },
      keyPrefix: "mem:",
      testClock: () => now,
    });
    try {
      await store.start();
      const name = "hot.circuit";
      for (let done = 0; done < N; ) {
        const batch = Math.min(1_000, N - done);
        const permits = await Promise.all(Array.from({ length: batch }, () => store.acquire(name)));
        await Promise.all(permits.map((p) => store.report(name, { permit: p.permit!, outcome: "SUCCESS", durationMs: 1, retryAfterMs: 0 })));
        done += batch;
        now += 1; // all within one permit_ttl: one stream
      }
      expect((await store.get(name))?.stats.totalSuccesses).toBe(N);
      const keys = await admin.keys(`mem:{${name}}*`);
      let bytes = 0;
      for (const key of keys) bytes += Number(await admin.call("MEMORY", "USAGE", key, "SAMPLES", "0"));
      const windows = keys.filter((k) => k.includes(":w:"));
      expect(windows).toHaveLength(1);
      expect(await admin.strlen(windows[0]!)).toBe(8 + N / 2);
      expect(await admin.exists(`mem:{${name}}:r`)).toBe(0);
      expect({ bytes, bound: bytes <= N + OVERHEAD_BYTES }).toEqual({ bytes, bound: true });
    } finally {
      await store.close();
      client.disconnect();
      admin.disconnect();
    }
  }, 300_000);
});
