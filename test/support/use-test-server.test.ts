/**
 * The test-server fixtures themselves: what useTestServer starts and makes
 * (clients on both ports, the SDK, TLS), that it stops everything after its
 * suite, and the pool's per-test servers on the real clock.
 */
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { State } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { lateBound } from "./fixture.js";
import { useTestServer, useTestServers } from "./use-test-server.js";

describe("lateBound", () => {
  it("forwards reads to the current object, methods bound to it, and names what is not started", () => {
    let current: { n: number; twice(): number } | undefined;
    const view = lateBound("the thing", () => current);
    expect(() => view.n).toThrow("the thing is not started yet");
    current = { n: 2, twice() { return this.n * 2; } };
    const { twice } = view;
    expect([view.n, twice()]).toEqual([2, 4]);
    current = { n: 5, twice() { return this.n * 2; } };
    expect(view.twice()).toBe(10);
  });
});

const stopped: { httpUrl?: string; certsDir?: string } = {};

describe("useTestServer with TLS and an SDK client", () => {
  const { server, client, connect, sdk, certs } = useTestServer({ tls: true, sdk: true, env: { CIRCUIT_BREAKER_FAILURE_THRESHOLD: "1" } });

  it("serves both ports over TLS, and its grpc-js, Connect and SDK clients trust the test CA", async () => {
    expect(server.grpcAddress).toMatch(/^localhost:\d+$/);
    expect(server.httpUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(existsSync(certs.dir)).toBe(true);
    expect((await client.call("acquire", { circuit: "fixture.tls" })).allowed).toBe(true);
    await expect(sdk.run("fixture.tls", () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect((await connect.getState({ circuit: "fixture.tls" })).status?.state).toBe(State.OPEN);
    stopped.httpUrl = server.httpUrl;
    stopped.certsDir = certs.dir;
  });
});

describe("after that suite", () => {
  it("the server is stopped and its certificates removed", async () => {
    expect(stopped.certsDir).toBeDefined();
    expect(existsSync(stopped.certsDir!)).toBe(false);
    await expect(fetch(`${stopped.httpUrl!}/healthz`)).rejects.toThrow();
  });
});

describe("useTestServers", () => {
  const servers = useTestServers();
  let left: string | undefined;

  it("starts servers on the real clock (the app's own store)", async () => {
    const { server, client, certs } = await servers.start({ clock: "real" });
    expect("clock" in server).toBe(false);
    expect(() => certs.dir).toThrow("pass the `tls` option");
    expect((await client.call("acquire", { circuit: "fixture.pool" })).allowed).toBe(true);
    expect(await server.app.store.get("fixture.pool")).toMatchObject({ state: "CLOSED" });
    left = server.httpUrl;
  });

  it("stopped the previous test's servers after it; a test may stop one itself", async () => {
    await expect(fetch(`${left!}/healthz`)).rejects.toThrow();
    const { server } = await servers.start();
    expect(await (await fetch(`${server.httpUrl}/healthz`)).text()).toBe("ok");
    await server.stop(); // the pool's own stop after this test finds it stopped
  });
});
