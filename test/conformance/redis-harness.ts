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
  { layers, circuits, random, eventLogSize, permitSecret, idleTtlMs, maxCircuits, permitWindowSlots }: HarnessOptions,
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
    ...(idleTtlMs === undefined ? {} : { idleTtlMs }),
    ...(maxCircuits === undefined ? {} : { maxCircuits }),
    ...(permitWindowSlots === undefined ? {} : { permitWindowSlots }),
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
      if (idleTtlMs !== undefined) await moveExpiries(client, cluster, keyPrefix, ms);
    },
    settle: () => store.settle(),
    expireIdle: () => expireIdle(client, cluster, keyPrefix, now),
    close: async () => {
      await store.close();
      client.disconnect();
    },
  };
}

/**
 * Redis expires keys by its own clock, not the test clock: brings every key
 * of this harness `ms` closer to its expiry (PEXPIREAT its expiry instant
 * less `ms`; one already due is deleted at once), so the idle TTL runs on the
 * test clock while Redis's own expiry still does the forgetting. Real time
 * passing meanwhile only brings expiries closer by a few ms; the idle tests
 * keep margins of a minute.
 */
async function moveExpiries(client: Redis | Cluster, cluster: boolean, keyPrefix: string, ms: number): Promise<void> {
  const nodes: Redis[] = cluster ? (client as Cluster).nodes("master") : [client as Redis];
  for (const node of nodes) {
    let cursor = "0";
    do {
      const [next, keys] = await node.scan(cursor, "MATCH", `${keyPrefix}*`, "COUNT", 1000);
      cursor = next;
      for (const key of keys) {
        const at = Number(await node.call("PEXPIRETIME", key));
        if (at > 0) await node.pexpireat(key, at - ms);
      }
    } while (cursor !== "0");
  }
}

/**
 * Does what Redis does to circuits idle as of `now` on the test clock: their
 * keys vanish (all but the explicit settings, which never expire), with no
 * script run. The scripts record when a circuit's keys expire in the hash's
 * `xe` field (test clock ms; -1: it does not expire; includes/engine.lua
 * commit).
 */
async function expireIdle(client: Redis | Cluster, cluster: boolean, keyPrefix: string, now: number): Promise<void> {
  const nodes = cluster ? (client as Cluster).nodes("master") : [client as Redis];
  for (const node of nodes) {
    let cursor = "0";
    do {
      const [next, keys] = await node.scan(cursor, "MATCH", `${keyPrefix}{*}`, "COUNT", 1000);
      cursor = next;
      for (const key of keys) {
        const xe = Number((await client.hget(key, "xe")) ?? "-1");
        if (xe !== -1 && xe <= now) await client.del(key, `${key}:p`, `${key}:r`, `${key}:h`);
      }
    } while (cursor !== "0");
  }
}
