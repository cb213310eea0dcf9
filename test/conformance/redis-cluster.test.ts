/**
 * The conformance suite on the Redis store in Cluster mode, against a real
 * three-master Redis Cluster: every circuit's keys in one slot, the event
 * stream in another, SCAN across every master.
 */
import { Cluster } from "ioredis";
import { afterAll, beforeAll } from "vitest";
import { createRedisStore } from "../../src/store/redis/redis-store.js";
import { startRedisCluster, type RedisCluster } from "../support/redis-servers.js";
import { describeCircuitStoreConformance } from "./circuit-store-suite.js";
import { mulberry32, seedLabel, TEST_SEED } from "./random.js";

const T0 = 1_700_000_000_000;
let cluster: RedisCluster;
let harnesses = 0;

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
});

afterAll(async () => {
  await cluster.stop();
});

describeCircuitStoreConformance(`redis cluster store (${seedLabel(TEST_SEED)})`, async ({ layers, circuits, random }) => {
  let now = T0;
  const connect = (): Cluster => new Cluster(cluster.nodes);
  const client = connect();
  const store = createRedisStore({
    client,
    duplicate: connect,
    cluster: true,
    layers,
    ...(circuits === undefined ? {} : { circuits }),
    keyPrefix: `c${++harnesses}:`,
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
