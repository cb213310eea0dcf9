/**
 * The Redis test infrastructure itself (test/support/redis-servers.ts):
 * each topology starts from real processes, serves ioredis, survives the
 * outage it is meant to simulate, and leaves nothing behind.
 * Run alone with: npx vitest run test/support
 */
import { existsSync } from "node:fs";
import { Cluster, Redis, type RedisOptions } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import {
  getFreePort,
  redisCommand,
  startRedis,
  startRedisCluster,
  startRedisSentinel,
  type RedisServer,
} from "./redis-servers.js";

/** Everything a test opens, closed in afterEach even when the test fails. */
const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function client(options: RedisOptions | string): Redis {
  const c = typeof options === "string" ? new Redis(options) : new Redis(options);
  c.on("error", () => {}); // reconnect noise during outages is expected
  cleanups.push(() => c.disconnect());
  return c;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("redis test infrastructure", () => {
  it("single: serves ioredis, survives kill() + restart() on the same port, stop() leaves nothing", async () => {
    const server = await startRedis(); // bounded by its startTimeoutMs, which names what it waited for
    cleanups.push(() => server.stop());
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
    expect(await server.command("CONFIG", "GET", "appendonly")).toEqual(["appendonly", "no"]);

    const redis = client({ host: server.host, port: server.port });
    await redis.set("k", "v1");
    expect(await redis.get("k")).toBe("v1");

    const { port, dir } = server;
    const pid = server.pid!;
    await server.kill();
    expect(server.running).toBe(false);
    expect(alive(pid)).toBe(false);
    await expect(redisCommand(server, ["PING"])).rejects.toThrow(/ECONNREFUSED/);

    await server.restart();
    expect(server.port).toBe(port);
    expect(server.dir).toBe(dir);
    // The same client reconnects by itself (no persistence by default: empty again).
    await redis.set("k", "v2");
    expect(await redis.get("k")).toBe("v2");

    await server.stop();
    expect(alive(server.pid ?? pid)).toBe(false);
    expect(existsSync(dir)).toBe(false);
    await expect(redisCommand({ host: "127.0.0.1", port }, ["PING"])).rejects.toThrow();
  });

  it("single: user + password via URL, appendonly data survives kill() + restart()", async () => {
    const server = await startRedis({ appendonly: true, user: { name: "agent", password: "p@ss w/rd" } });
    cleanups.push(() => server.stop());
    expect(server.url).toBe(`redis://agent:${encodeURIComponent("p@ss w/rd")}@127.0.0.1:${server.port}`);

    await expect(redisCommand(server, ["PING"])).rejects.toThrow(/NOAUTH/);
    const redis = client(server.url);
    await redis.set("durable", "yes");
    await server.kill();
    await server.restart();
    expect(await redis.get("durable")).toBe("yes");
  });

  it("cluster: three masters serve keys of every slot range through ioredis Cluster", async () => {
    const cluster = await startRedisCluster({ masters: 3 });
    cleanups.push(() => cluster.stop());
    expect(cluster.nodes).toHaveLength(3);

    const rc = new Cluster(cluster.nodes);
    rc.on("error", () => {});
    cleanups.push(() => rc.disconnect());
    const keys = Array.from({ length: 30 }, (_, i) => `{circuit-${i}}:state`);
    for (const k of keys) await rc.set(k, k);
    for (const k of keys) expect(await rc.get(k)).toBe(k);

    // Keys landed on every master, i.e. the slots really are spread over three nodes.
    const sizes = await Promise.all(cluster.servers.map((s: RedisServer) => s.command("DBSIZE")));
    expect(sizes.every((n) => typeof n === "number" && n > 0)).toBe(true);
    expect(sizes.reduce((a, b) => Number(a) + Number(b), 0)).toBe(keys.length);
  });

  it("sentinel: ioredis follows a failover from the killed master to the replica", async () => {
    const setup = await startRedisSentinel();
    cleanups.push(() => setup.stop());
    expect(setup.name).toBe("breakerbox");
    expect(setup.sentinels).toHaveLength(3);

    const redis = client({ sentinels: setup.sentinels, name: setup.name });
    await redis.set("before", "1");
    expect(await redis.get("before")).toBe("1");
    expect(await redis.config("GET", "port")).toEqual(["port", String(setup.master.port)]);

    await setup.killMaster();
    const promoted = await setup.waitForFailover(25_000);
    expect(promoted).toEqual({ host: "127.0.0.1", port: setup.replica.port });

    // The same client finds the new master through the sentinels.
    await redis.set("after", "2");
    expect(await redis.get("after")).toBe("2");
    expect(await redis.get("before")).toBe("1"); // replicated before the kill
    expect(await setup.replica.command("GET", "after")).toBe("2");
    // Measured on a 2-core machine: start ~2.3 s, failover ~2.3 s, first write after it 0-1.6 s; the
    // start (30 s) and the failover (25 s) are bounded by waits that name them, within the 60 s test timeout.
  }, 60_000);

  it("a server that cannot start rejects with its own log output", async () => {
    await expect(startRedis({ args: ["--no-such-directive", "1"] })).rejects.toThrow(
      /exited with 1 before answering PING[\s\S]*--- log ---[\s\S]*no-such-directive/,
    );
  });

  it("getFreePort: distinct ports, and a free cluster bus port (+10000) when asked", async () => {
    const ports = await Promise.all([getFreePort(), getFreePort(), getFreePort({ clusterBus: true })]);
    expect(new Set(ports).size).toBe(3);
    expect(ports[2]! + 10000).toBeLessThanOrEqual(65535);
  });
});
