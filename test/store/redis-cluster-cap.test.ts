/**
 * The circuit cap in Redis Cluster mode, against a real three-master
 * cluster: no script can count the store, so the replica counts it by SCAN
 * (at most every CLUSTER_COUNT_MS, in the background) and refuses new
 * circuits while its last count is at the cap (docs/design.md §Stores).
 */
import { Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUILTIN_DEFAULTS, BUILTIN_PRESETS } from "../../src/engine/index.js";
import { createRedisStore } from "../../src/store/redis/redis-store.js";
import { CircuitCapError } from "../../src/store/store-errors.js";
import { startRedisCluster, type RedisCluster } from "../support/redis-servers.js";

let cluster: RedisCluster;

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
});

afterAll(async () => {
  await cluster.stop();
});

describe("redis cluster circuit cap", () => {
  it("refuses new circuits once the replica's count reaches the cap; existing circuits keep working", async () => {
    const connect = (): Cluster => new Cluster(cluster.nodes);
    const clients: Cluster[] = [];
    const open = (maxCircuits?: number) =>
      createRedisStore({
        client: clients[clients.push(connect()) - 1]!,
        duplicate: connect,
        cluster: true,
        layers: { defaults: BUILTIN_DEFAULTS, presets: BUILTIN_PRESETS, rules: [] },
        keyPrefix: "cap:",
        ...(maxCircuits === undefined ? {} : { maxCircuits }),
      });
    // Three circuits made by a replica without a cap; then a replica with cap 3 starts.
    const other = open();
    for (const n of ["a", "b", "c"]) expect((await other.acquire(n)).allowed).toBe(true);
    await other.close();
    const store = open(3);
    try {
      await store.start();
      // Its first count (SCAN of every master) finds the store at its cap.
      expect(await store.countCircuits()).toBe(3);
      await expect(store.acquire("d")).rejects.toBeInstanceOf(CircuitCapError);
      await expect(store.force("d", "FORCED_OPEN", "ops")).rejects.toMatchObject({ circuit: "d", cap: 3 });
      expect(await clients[1]!.exists("cap:{d}")).toBe(0);
      expect((await store.acquire("a")).allowed).toBe(true);
      expect((await store.force("b", "FORCED_OPEN", "ops")).state).toBe("FORCED_OPEN");
    } finally {
      await store.close();
      for (const c of clients) c.disconnect();
    }
  });
});
