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
  const keyPrefix = `${cluster ? "c" : "t"}${++harnesses}:`;
  const store = createRedisStore({
    client,
    duplicate: connect,
    cluster,
    layers,
    ...(circuits === undefined ? {} : { circuits }),
    ...(eventLogSize === undefined ? {} : { eventLogSize }),
    ...(permitSecret === undefined ? {} : { permitSecret }),
    keyPrefix,
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
    expireIdle: () => expireIdle(client, cluster, keyPrefix, now),
    close: async () => {
      await store.close();
      client.disconnect();
    },
  };
}

/** The default idle TTL the harness's stores run with. */
const IDLE_TTL_MS = 86_400_000;

/**
 * Does what Redis does to circuits idle for the idle TTL on the test clock:
 * their keys vanish (all but the explicit settings, which never expire), with
 * no script run. The scripts' expiry refresh is recorded in the hash's `ex`
 * field (-1: the circuit does not expire).
 */
async function expireIdle(client: Redis | Cluster, cluster: boolean, keyPrefix: string, now: number): Promise<void> {
  const nodes = cluster ? (client as Cluster).nodes("master") : [client as Redis];
  for (const node of nodes) {
    let cursor = "0";
    do {
      const [next, keys] = await node.scan(cursor, "MATCH", `${keyPrefix}{*}`, "COUNT", 1000);
      cursor = next;
      for (const key of keys) {
        const ex = Number((await client.hget(key, "ex")) ?? "-1");
        if (ex !== -1 && ex + IDLE_TTL_MS <= now) await client.del(key, `${key}:p`, `${key}:r`, `${key}:h`);
      }
    } while (cursor !== "0");
  }
}
