/**
 * The conformance suite on the Redis store, against a real redis-server this
 * file starts. Time is a test clock passed into the scripts in place of
 * Redis TIME (a hook only tests can set), so the suite's exact-millisecond
 * assertions hold; each harness gets its own key prefix.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll } from "vitest";
import { createRedisStore } from "../../src/store/redis/redis-store.js";
import { startRedis, type RedisServer } from "../support/redis-servers.js";
import { describeCircuitStoreConformance } from "./circuit-store-suite.js";
import { mulberry32, seedLabel, TEST_SEED } from "./random.js";

const T0 = 1_700_000_000_000;
let redis: RedisServer;
let harnesses = 0;

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  await redis.stop();
});

describeCircuitStoreConformance(`redis store (${seedLabel(TEST_SEED)})`, async ({ layers, circuits, random }) => {
  let now = T0;
  const connect = (): Redis => new Redis({ host: redis.host, port: redis.port, maxRetriesPerRequest: 1, lazyConnect: false });
  const client = connect();
  const store = createRedisStore({
    client,
    duplicate: connect,
    cluster: false,
    layers,
    ...(circuits === undefined ? {} : { circuits }),
    keyPrefix: `t${++harnesses}:`,
    random: random ?? mulberry32(TEST_SEED),
    testClock: () => now,
  });
  await store.start();
  return {
    store,
    now: () => now,
    advance: async (ms) => {
      if (!(ms >= 0)) throw new Error(`advance(${ms}): time only moves forward`);
      now += ms;
    },
    settle: () => store.settle(),
    close: async () => {
      await store.close();
      client.disconnect();
    },
  };
});
