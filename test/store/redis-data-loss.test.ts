/**
 * After Redis loses its data (a restart without persistence), a replica that
 * lived through it converges with one started afterwards (issue 11, finding
 * 6): it drops its pattern rules and their version (and resolves what Redis
 * holds now), can write pattern rules again, shares the permit secret Redis
 * now keeps, and serves a recreated circuit from its local view again.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { BUILTIN_DEFAULTS, BUILTIN_PRESETS } from "../../src/engine/index.js";
import { createRedisStore, type RedisStore } from "../../src/store/redis/redis-store.js";
import { startRedis, type RedisServer } from "../support/redis-servers.js";

let redis: RedisServer;
let prefixes = 0;

beforeAll(async () => {
  redis = await startRedis(); // no persistence: a restart loses everything
});

afterAll(async () => {
  await redis.stop();
});

interface Replica {
  store: RedisStore;
  /** Commands sent on the store's command connection (name and arguments) since the last reset of the list. */
  sent: string[];
  warnings: string[];
  close(): Promise<void>;
}

/** The store's clock (scripts and local views): moved by hand, so view ages never depend on the machine's speed. */
let clock = 1_700_000_000_000;

async function replica(keyPrefix: string): Promise<Replica> {
  const connect = (): Redis => new Redis({ host: redis.host, port: redis.port, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
  const client = connect();
  const sent: string[] = [];
  const send = client.sendCommand.bind(client);
  client.sendCommand = ((command: { name: string; args: unknown[] }, ...rest: unknown[]) => {
    sent.push([command.name, ...command.args].join(" "));
    return (send as (...a: unknown[]) => unknown)(command, ...rest);
  }) as typeof client.sendCommand;
  const warnings: string[] = [];
  const store = createRedisStore({
    client,
    duplicate: connect,
    cluster: false,
    layers: { defaults: { ...BUILTIN_DEFAULTS, failureThreshold: 9 }, presets: BUILTIN_PRESETS, rules: [] },
    keyPrefix,
    announceRemovals: false,
    testClock: () => clock,
    onWarning: (message) => warnings.push(message),
  });
  await store.start();
  return {
    store,
    sent,
    warnings,
    close: async () => {
      await store.close();
      client.disconnect();
    },
  };
}

const pattern = (store: RedisStore, failureThreshold: number) => store.configurePattern("loss.*", { patch: { failureThreshold }, replace: false }, "ops");

/** Until `probe` passes or 20 s went by (the replica checks every second; this only bounds a broken build). */
const eventually = (probe: () => Promise<void>) => vi.waitFor(probe, { timeout: 20_000, interval: 50 });

describe("redis store after Redis loses its data", () => {
  it("drops the old pattern rules, writes new ones, shares the new permit secret and serves a recreated circuit locally", { timeout: 60_000 }, async () => {
    const keyPrefix = `loss${++prefixes}:`;
    const old = await replica(keyPrefix);
    let fresh: Replica | undefined;
    try {
      // Rules version 3, and a circuit whose view is at generation 2.
      for (const threshold of [4, 3, 2]) await pattern(old.store, threshold);
      await old.store.force("loss.a", "FORCED_OPEN", "ops");
      await old.store.reset("loss.a", "ops");
      expect((await old.store.get("loss.a"))?.generation).toBe(2);
      expect((await old.store.acquire("loss.a")).allowed).toBe(true);

      await redis.restart();
      clock += 10;
      // A replica started afterwards writes rules version 1 and a new permit secret.
      fresh = await replica(keyPrefix);
      await pattern(fresh.store, 5);

      // The old replica notices (at its reader's first read once Redis is back) and resolves what Redis holds now, not its threshold of 2.
      await eventually(async () => expect(old.store.dataLosses).toBe(1));
      await old.store.acquire("loss.b");
      expect((await old.store.get("loss.b"))?.config.failureThreshold).toBe(5);
      expect(old.warnings.filter((w) => w.startsWith("Redis lost its data"))).toHaveLength(1);
      expect(fresh.store.dataLosses).toBe(0);

      // It can write pattern rules again, and the fresh replica sees them.
      expect((await pattern(old.store, 6)).rule.patch).toEqual({ failureThreshold: 6 });
      await eventually(async () => expect((await fresh!.store.get("loss.b"))?.config.failureThreshold).toBe(6));

      // Each opens the other's permits.
      const fromFresh = (await fresh.store.acquire("loss.c")).permit!;
      const fromOld = (await old.store.acquire("loss.c")).permit!;
      const ok = { disposition: "RECORDED" };
      expect(await old.store.report("loss.c", { permit: fromFresh, outcome: "SUCCESS", durationMs: 1, retryAfterMs: 0 })).toMatchObject(ok);
      expect(await fresh.store.report("loss.c", { permit: fromOld, outcome: "SUCCESS", durationMs: 1, retryAfterMs: 0 })).toMatchObject(ok);

      // The recreated circuit (generation 0 now) is served from the old replica's view again.
      expect((await old.store.acquire("loss.a")).allowed).toBe(true);
      old.sent.length = 0;
      for (let i = 0; i < 20; i++) expect((await old.store.acquire("loss.a")).allowed).toBe(true);
      expect(old.sent.filter((c) => c.includes("{loss.a}"))).toEqual([]);
    } finally {
      await fresh?.close();
      await old.close();
    }
  });

  it("serves a recreated circuit from its view though the data loss was not noticed yet (a later answer with a lower generation)", async () => {
    const keyPrefix = `loss${++prefixes}:`;
    const old = await replica(keyPrefix);
    const admin = new Redis({ host: redis.host, port: redis.port });
    try {
      await old.store.force("gone.a", "FORCED_OPEN", "ops");
      await old.store.reset("gone.a", "ops");
      expect((await old.store.acquire("gone.a")).allowed).toBe(true);
      // The circuit alone goes (as an idle expiry does): the data epoch stays, so only the view can tell.
      await admin.del(`${keyPrefix}{gone.a}`, `${keyPrefix}{gone.a}:h`);
      clock += 1_000; // the view, confirmed at generation 2, expires
      expect((await old.store.acquire("gone.a")).allowed).toBe(true); // Redis recreates it at generation 0
      old.sent.length = 0;
      for (let i = 0; i < 20; i++) expect((await old.store.acquire("gone.a")).allowed).toBe(true);
      expect(old.sent.filter((c) => c.includes("{gone.a}"))).toEqual([]);
      expect(old.store.dataLosses).toBe(0);
    } finally {
      admin.disconnect();
      await old.close();
    }
  });

  it("notices a FLUSHALL, which drops no connection, from the event reader's periodic check, and tells its listeners once", { timeout: 60_000 }, async () => {
    const keyPrefix = `loss${++prefixes}:`;
    const old = await replica(keyPrefix);
    const admin = new Redis({ host: redis.host, port: redis.port });
    let told = 0;
    old.store.onDataLoss(() => (told += 1));
    try {
      await pattern(old.store, 2);
      await admin.flushall();
      await eventually(async () => expect(old.store.dataLosses).toBe(1));
      expect(told).toBe(1);
      await old.store.acquire("loss.f");
      expect((await old.store.get("loss.f"))?.config.failureThreshold).toBe(9);
      expect((await old.store.listPatternRules()).filter((r) => r.origin === "runtime")).toEqual([]);
      // Checked again and again from now on: the same epoch, no further loss.
      expect(await old.store.checkDataEpoch()).toBe(false);
      expect(old.store.dataLosses).toBe(1);
      expect(told).toBe(1);
    } finally {
      admin.disconnect();
      await old.close();
    }
  });

  it("writes a pattern rule at once after the loss: the rules version it finds below its own makes it check, not fail", async () => {
    const keyPrefix = `loss${++prefixes}:`;
    const old = await replica(keyPrefix);
    const admin = new Redis({ host: redis.host, port: redis.port });
    let fresh: Replica | undefined;
    try {
      for (const threshold of [4, 3, 2]) await pattern(old.store, threshold);
      await admin.flushall();
      fresh = await replica(keyPrefix);
      await pattern(fresh.store, 5); // rules version 1 now, below the old replica's 3
      expect((await pattern(old.store, 6)).rule.patch).toEqual({ failureThreshold: 6 });
      // Its periodic check may have seen the loss first: then the write went
      // through on dropped versions while the reload still ran, and the loss
      // is counted when that ends.
      await eventually(async () => expect(old.store.dataLosses).toBe(1));
      expect((await fresh.store.listPatternRules()).filter((r) => r.origin === "runtime").map((r) => r.patch)).toEqual([{ failureThreshold: 6 }]);
    } finally {
      admin.disconnect();
      await fresh?.close();
      await old.close();
    }
  });
});
