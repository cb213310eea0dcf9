/**
 * A conformance harness on the Redis store: a fresh key prefix per harness,
 * and a test clock passed into the scripts in place of Redis TIME (a hook
 * only tests can set), so the suite's exact-millisecond assertions hold.
 */
import type { Cluster, Redis } from "ioredis";
import { createRedisStore } from "../../src/store/redis/redis-store.js";
import type { Harness, HarnessOptions } from "./circuit-store-suite.js";
import { mulberry32, TEST_SEED } from "./random.js";

const T0 = 1_700_000_000_000;
let harnesses = 0;

export async function redisHarness(
  connect: () => Redis | Cluster,
  cluster: boolean,
  { layers, circuits, random, eventLogSize, permitSecret }: HarnessOptions,
): Promise<Harness> {
  let now = T0;
  const client = connect();
  const store = createRedisStore({
    client,
    duplicate: connect,
    cluster,
    layers,
    ...(circuits === undefined ? {} : { circuits }),
    ...(eventLogSize === undefined ? {} : { eventLogSize }),
    ...(permitSecret === undefined ? {} : { permitSecret }),
    keyPrefix: `${cluster ? "c" : "t"}${++harnesses}:`,
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
}
