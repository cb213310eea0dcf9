/**
 * Redis credentials apart from REDIS_URL (REDIS_USERNAME, REDIS_PASSWORD, as a
 * Kubernetes Secret gives them): used for one server as for Sentinel and
 * Cluster, against a real redis-server that requires them; and refused when
 * the URL carries credentials too (which would win is not obvious).
 */
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/index.js";
import { connectRedis } from "../../src/store/redis/connection.js";
import { startRedis, type RedisServer } from "../support/redis-servers.js";
import { startReplica, stopReplicas, waitFor } from "../support/replicas.js";

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis({ user: { name: "breakerbox", password: "pw-for-the-auth-test" } });
});
afterAll(async () => {
  await stopReplicas();
  await redis.stop();
});

const bareUrl = () => `redis://127.0.0.1:${redis.port}`;

describe("REDIS_USERNAME and REDIS_PASSWORD with REDIS_URL", () => {
  it("reach a Redis that requires them, given apart from the URL", async () => {
    const { store } = loadConfig({ REDIS_URL: bareUrl(), REDIS_USERNAME: "breakerbox", REDIS_PASSWORD: "pw-for-the-auth-test" });
    expect(store).toMatchObject({ kind: "redis", connection: { mode: "single", username: "breakerbox", password: "pw-for-the-auth-test" } });
    const ok = connectRedis(store.kind === "redis" ? store.connection : (undefined as never), { commandTimeoutMs: 2000 });
    try {
      await once(ok.client, "ready");
      expect(await ok.client.ping()).toBe("PONG");
    } finally {
      ok.client.disconnect();
    }
    // Without them the same server refuses: the test above is not passing by accident.
    const refused = connectRedis({ mode: "single", url: bareUrl() }, { commandTimeoutMs: 2000 });
    try {
      const [err] = (await once(refused.client, "error")) as [Error];
      expect(err.message).toMatch(/NOAUTH|WRONGPASS|Authentication required/i);
    } finally {
      refused.client.disconnect();
    }
  });

  it("serve a real replica (ready once it reaches Redis)", async () => {
    const replica = await startReplica({ REDIS_URL: bareUrl(), REDIS_USERNAME: "breakerbox", REDIS_PASSWORD: "pw-for-the-auth-test" });
    await waitFor("the replica to be ready", async () => (await replica.readyz()).status === 200, { timeoutMs: 15_000 });
    expect((await replica.client.call("acquire", { circuit: "auth.check" })).allowed).toBe(true);
  });

  it("are refused beside credentials in the URL, without quoting either", () => {
    let err: unknown;
    try {
      loadConfig({ REDIS_URL: `redis://breakerbox:other@127.0.0.1:${redis.port}`, REDIS_PASSWORD: "pw-for-the-auth-test" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message).toMatch(/REDIS_URL carries credentials and REDIS_USERNAME or REDIS_PASSWORD is set too/);
    expect(message).not.toMatch(/pw-for-the-auth-test|other@/);
  });
});
