/**
 * The Redis store announcing idle expiries as circuit_removed: real
 * redis-servers, real key expiry (a short idle TTL), two stores ("replicas")
 * on one server. Each expiry reaches every replica's watchers exactly once,
 * at one stream position, replayed on resume; an OPEN circuit never expires;
 * the notifications are turned on keeping the flags already set; a server
 * that refuses CONFIG gets a warning and a working store.
 */
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { BUILTIN_DEFAULTS, BUILTIN_PRESETS } from "../../src/engine/index.js";
import { createRedisStore, type RedisStore } from "../../src/store/redis/redis-store.js";
import { publishesExpiredKeyEvents, withExpiredKeyEvents } from "../../src/store/redis/removal-announcer.js";
import type { WatchItem } from "../../src/store/store.js";
import { useFixture } from "../support/fixture.js";
import { useRedis } from "../support/process-fixtures.js";
import { startRedis, startRedisSentinel, type RedisServer } from "../support/redis-servers.js";

const IDLE_TTL_MS = 300;

const redis = useRedis();
const admin = useFixture("an admin connection", async () => new Redis({ host: redis.host, port: redis.port }), (c) => c.disconnect());
let prefixes = 0;

interface Replica {
  store: RedisStore;
  warnings: string[];
  close(): Promise<void>;
}

async function makeReplica(
  server: RedisServer | { connect: () => Redis },
  keyPrefix: string,
  idleTtlMs = IDLE_TTL_MS,
): Promise<Replica> {
  const connect = "connect" in server ? server.connect : (): Redis => new Redis({ host: server.host, port: server.port });
  const client = connect();
  const warnings: string[] = [];
  const store = createRedisStore({
    client,
    duplicate: connect,
    cluster: false,
    layers: { defaults: { ...BUILTIN_DEFAULTS, failureThreshold: 1 }, presets: BUILTIN_PRESETS, rules: [] },
    keyPrefix,
    idleTtlMs,
    onWarning: (message) => warnings.push(message),
  });
  await store.start();
  return {
    store,
    warnings,
    close: async () => {
      await store.close();
      client.disconnect();
    },
  };
}

function recorder(): { items: WatchItem[]; sink: (item: WatchItem) => void } {
  const items: WatchItem[] = [];
  return { items, sink: (item) => items.push(item) };
}

const removals = (items: WatchItem[]): WatchItem[] => items.filter((i) => i.kind === "circuit_removed");

async function untilAsync(what: string, done: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function until(what: string, done: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The "rm" entries of a prefix's event stream, as [circuit, cause]. */
async function removalEntries(server: Redis, keyPrefix: string): Promise<[string, string][]> {
  const entries = (await server.xrange(`${keyPrefix}events`, "-", "+")) as [string, string[]][];
  return entries.filter(([, f]) => f[0] === "rm").map(([, f]) => [f[1]!, f[3]!]);
}

describe("notify-keyspace-events flags", () => {
  it("counts E with x or A as publishing expired-key events, and adds Ex to anything else", () => {
    expect(["Ex", "xE", "EA", "KEA", "AE"].map(publishesExpiredKeyEvents)).toEqual([true, true, true, true, true]);
    expect(["", "x", "E", "Kx", "KA", "Eg"].map(publishesExpiredKeyEvents)).toEqual([false, false, false, false, false, false]);
    expect(withExpiredKeyEvents("")).toBe("Ex");
    expect(withExpiredKeyEvents("Kg")).toBe("KgEx");
    expect(withExpiredKeyEvents("KEA")).toBe("KEA");
  });
});

describe("redis store idle removals", () => {
  it("turns on expired-key events at start, keeping the flags already set", async () => {
    await admin.config("SET", "notify-keyspace-events", "Kg");
    const replica = await makeReplica(redis, `rm${++prefixes}:`);
    try {
      const [, flags] = (await admin.config("GET", "notify-keyspace-events")) as [string, string];
      expect([...flags].sort().join("")).toBe("EKgx");
      expect(replica.warnings).toEqual([]);
    } finally {
      await replica.close();
    }
  });

  it("announces a CLOSED circuit's expiry once to every replica's watchers, at one position, replayed on resume; never an OPEN circuit's", async () => {
    const keyPrefix = `rm${++prefixes}:`;
    const a = await makeReplica(redis, keyPrefix);
    const b = await makeReplica(redis, keyPrefix);
    try {
      await a.store.acquire("exp.closed");
      const p = await a.store.acquire("exp.open");
      await a.store.report("exp.open", { permit: p.permit!, outcome: "FAILURE", durationMs: 1, retryAfterMs: 0 });
      expect((await b.store.get("exp.open"))?.state).toBe("OPEN");
      const onA = recorder();
      const onB = recorder();
      await a.store.watch({ circuits: [], prefix: "exp." }, undefined, onA.sink);
      await b.store.watch({ circuits: ["exp.closed"], prefix: "" }, undefined, onB.sink);
      const start = onA.items.find((i) => i.kind === "snapshot_complete") as { resumeToken: string };
      expect(onA.items.filter((i) => i.kind === "snapshot").length).toBe(2);
      const before = Date.now();

      await until("both watchers' removal", () => removals(onA.items).length > 0 && removals(onB.items).length > 0);
      // Both replicas heard the notification; give a second announcement time to show up.
      await new Promise((r) => setTimeout(r, 2 * IDLE_TTL_MS));
      const [removed] = removals(onA.items);
      expect(removed).toEqual({ kind: "circuit_removed", circuit: "exp.closed", cause: "idle_evicted", at: expect.any(Number), position: expect.any(String) });
      const at = (removed as { at: number }).at;
      expect(at).toBeGreaterThanOrEqual(before - 1_000);
      expect(at).toBeLessThanOrEqual(Date.now() + 1_000);
      expect(removals(onA.items)).toEqual([removed]);
      expect(removals(onB.items)).toEqual([removed]);
      expect(await removalEntries(admin, keyPrefix)).toEqual([["exp.closed", "idle_evicted"]]);
      expect(await a.store.get("exp.closed")).toBeUndefined();
      expect((await a.store.get("exp.open"))?.state).toBe("OPEN");

      // A watcher resuming from before the removal gets it replayed, at the same position; one resuming from it gets nothing.
      const replay = recorder();
      await b.store.watch({ circuits: [], prefix: "exp." }, start.resumeToken, replay.sink);
      expect(replay.items).toEqual([removed]);
      const after = recorder();
      await a.store.watch({ circuits: [], prefix: "exp." }, (removed as { position: string }).position, after.sink);
      await a.store.settle();
      expect(after.items).toEqual([]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("writes no removal for a circuit that exists again, and one for an expiry heard by several replicas", async () => {
    const keyPrefix = `rm${++prefixes}:`;
    // An idle TTL long enough that the circuit stays while the test publishes notifications by hand.
    const a = await makeReplica(redis, keyPrefix, 60_000);
    const b = await makeReplica(redis, keyPrefix, 60_000);
    try {
      await a.store.acquire("back.a");
      const key = `${keyPrefix}{back.a}`;
      const watched = recorder();
      await b.store.watch({ circuits: [], prefix: "back." }, undefined, watched.sink);
      // The circuit is there: a late notification of an earlier expiry announces nothing.
      expect(await admin.publish("__keyevent@0__:expired", key)).toBe(2);
      await new Promise((r) => setTimeout(r, 100));
      expect(await removalEntries(admin, keyPrefix)).toEqual([]);
      // Gone: every replica handles the notification, one entry is written.
      await admin.del(key);
      expect(await admin.publish("__keyevent@0__:expired", key)).toBe(2);
      // Keys that are not a circuit's hash are passed over.
      await admin.publish("__keyevent@0__:expired", `${key}:h`);
      await admin.publish("__keyevent@0__:expired", `other:{back.b}`);
      await until("the removal", () => removals(watched.items).length > 0);
      await new Promise((r) => setTimeout(r, 100));
      await b.store.settle();
      expect(await removalEntries(admin, keyPrefix)).toEqual([["back.a", "idle_evicted"]]);
      expect(removals(watched.items).map((i) => (i as { circuit: string }).circuit)).toEqual(["back.a"]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("warns once when Redis refuses CONFIG and still works, announcing removals when the server publishes expired-key events itself", async () => {
    const locked = await startRedis({ args: ["--rename-command", "CONFIG", "", "--notify-keyspace-events", "Ex"] });
    const lockedAdmin = new Redis({ host: locked.host, port: locked.port });
    const replica = await makeReplica(locked, "locked:");
    try {
      expect(replica.warnings).toHaveLength(1);
      expect(replica.warnings[0]).toContain("idle circuit removals are announced to watchers only if");
      expect(replica.warnings[0]).toContain("notify-keyspace-events Ex");
      const watched = recorder();
      await replica.store.watch({ circuits: [], prefix: "" }, undefined, watched.sink);
      const d = await replica.store.acquire("locked.a");
      expect(d.allowed).toBe(true);
      await until("the removal", () => removals(watched.items).length > 0);
      expect(removals(watched.items)).toEqual([
        { kind: "circuit_removed", circuit: "locked.a", cause: "idle_evicted", at: expect.any(Number), position: expect.any(String) },
      ]);
      expect(await removalEntries(lockedAdmin, "locked:")).toEqual([["locked.a", "idle_evicted"]]);
    } finally {
      await replica.close();
      lockedAdmin.disconnect();
      await locked.stop();
    }
  });

  it("behind Sentinel, turns the notifications on again on the new master after a failover", async () => {
    const setup = await startRedisSentinel();
    const connect = (): Redis => new Redis({ sentinels: setup.sentinels, name: setup.name }).on("error", () => undefined);
    const onReplica = new Redis({ host: setup.replica.host, port: setup.replica.port });
    const replica = await makeReplica({ connect }, "sent:");
    try {
      // CONFIG SET is not replicated: the replica does not publish expired-key events yet.
      expect(((await onReplica.config("GET", "notify-keyspace-events")) as string[])[1]).toBe("");
      await setup.killMaster();
      await setup.waitForFailover();
      await until("the store on the new master", () => replica.store.health().ready);
      // The store turns the notifications on at the new master once it reaches it: wait for that
      // (what this test is about) before making a circuit that will expire.
      await untilAsync("expired-key events on the new master", async () =>
        publishesExpiredKeyEvents(((await onReplica.config("GET", "notify-keyspace-events")) as string[])[1] ?? ""),
      );
      // Pub/sub keeps nothing for a subscriber that is not connected (at most once, as documented):
      // wait for the store's subscription to reach the new master too.
      await untilAsync("the store's subscription on the new master", async () => {
        const [, count] = (await onReplica.pubsub("NUMSUB", "__keyevent@0__:expired")) as [string, number];
        return count >= 1;
      });
      let watched = recorder();
      for (const deadline = Date.now() + 10_000; ; ) {
        // The store's connections come back one by one: retry until a watch and an Acquire go through.
        try {
          watched = recorder();
          await replica.store.watch({ circuits: [], prefix: "" }, undefined, watched.sink);
          await replica.store.acquire("sent.a");
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      await until("the removal", () => removals(watched.items).length > 0);
      expect(publishesExpiredKeyEvents(((await onReplica.config("GET", "notify-keyspace-events")) as string[])[1]!)).toBe(true);
      expect(removals(watched.items).map((i) => (i as { circuit: string }).circuit)).toEqual(["sent.a"]);
    } finally {
      await replica.close();
      onReplica.disconnect();
      await setup.stop();
    }
  }, 60_000);
});
