import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CircuitService, State } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../gen/ts/grpc/health/v1/health_pb.js";
import { createHttpServer } from "../../src/server/http.js";
import type { HttpServer, Readiness } from "../../src/server/http.js";
import { within } from "../support/within.js";
import { createFakeCircuitService } from "./fake-circuit-service.js";

function post(base: string, path: string, body: unknown): Promise<Response> {
  return fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

describe("HTTP listener", () => {
  const fake = createFakeCircuitService();
  const internalErrors: unknown[] = [];
  let readiness: Readiness = { ready: false, reason: "store not connected" };
  let server: HttpServer;
  let base: string;

  beforeAll(async () => {
    server = createHttpServer({
      circuitService: fake.impl,
      readiness: () => readiness,
      onInternalError: (err) => internalErrors.push(err),
    });
    base = `http://127.0.0.1:${await server.listen("127.0.0.1", 0)}`;
  });

  afterAll(async () => {
    await server.shutdown(1000);
  });

  it("serves Acquire as Connect JSON, curl-style", async () => {
    const res = await post(base, "/breakerbox.v1.CircuitService/Acquire", { circuit: "x" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(await res.json()).toEqual({ allowed: true, permit: "permit-x", state: "STATE_CLOSED" });
    expect(fake.seen.peer).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it("answers a ConnectError with its HTTP status and Connect JSON error", async () => {
    const res = await post(base, "/breakerbox.v1.CircuitService/Acquire", { circuit: "" });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ code: "invalid_argument", message: "circuit must not be empty" });
  });

  it("hides other errors behind internal and reports them", async () => {
    const res = await post(base, "/breakerbox.v1.CircuitService/Acquire", { circuit: "boom" });
    expect(res.status).toBe(500);
    // The ErrorInfo says INTERNAL and nothing of the original error.
    expect(await res.json()).toEqual({
      code: "internal",
      message: "internal error",
      details: [
        {
          type: "google.rpc.ErrorInfo",
          value: "CghJTlRFUk5BTBINYnJlYWtlcmJveC52MQ",
          debug: { domain: "breakerbox.v1", reason: "INTERNAL" },
        },
      ],
    });
    expect(String(internalErrors.at(-1))).toContain("hunter2");
  });

  it("answers unimplemented for a method the implementation lacks", async () => {
    const res = await post(base, "/breakerbox.v1.CircuitService/GetState", { circuit: "x" });
    expect(res.status).toBe(501);
    expect(await res.json()).toMatchObject({ code: "unimplemented" });
  });

  it("serves gRPC-Web to a Connect client", async () => {
    const client = createClient(CircuitService, createGrpcWebTransport({ baseUrl: base, httpVersion: "1.1" }));
    const res = await client.acquire({ circuit: "web" });
    expect(res.permit).toBe("permit-web");
    expect(res.state).toBe(State.CLOSED);
    const err = await client.acquire({ circuit: "" }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.InvalidArgument);
    expect(err?.rawMessage).toBe("circuit must not be empty");
  });

  it("streams Watch over Connect and ends the handler when the client aborts", async () => {
    const client = createClient(CircuitService, createConnectTransport({ baseUrl: base, httpVersion: "1.1" }));
    const finished = fake.seen.watchFinished;
    const abort = new AbortController();
    const names: string[] = [];
    await expect(
      (async () => {
        for await (const m of client.watch({}, { signal: abort.signal })) {
          if (m.kind.case === "snapshot") names.push(m.kind.value.circuit);
          if (names.length === 3) abort.abort();
        }
      })(),
    ).rejects.toMatchObject({ code: Code.Canceled });
    expect(names).toEqual(["a", "b", "c"]);
    await expect(finished).resolves.toBe("");
  });

  it("serves Health over Connect", async () => {
    const client = createClient(Health, createConnectTransport({ baseUrl: base, httpVersion: "1.1" }));
    expect((await client.check({ service: "" })).status).toBe(Status.SERVING);
    await expect(client.check({ service: "nope" })).rejects.toMatchObject({ code: Code.NotFound });
  });

  it("answers /healthz with 200 ok", async () => {
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("ok");
    expect((await fetch(`${base}/healthz`, { method: "POST" })).status).toBe(405);
  });

  it("answers /readyz from the readiness callback", async () => {
    readiness = { ready: false, reason: "store not connected" };
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.text()).toBe("store not connected");
    readiness = { ready: true };
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.text()).toBe("ready");
  });

  it("answers 404 for unknown paths", async () => {
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await post(base, "/breakerbox.v1.CircuitService/Nope", {})).status).toBe(404);
  });
});

describe("HTTP listener shutdown", () => {
  it("lets an in-flight call finish, ends open streams, then refuses new connections", async () => {
    const fake = createFakeCircuitService();
    const server = createHttpServer({ circuitService: fake.impl });
    const base = `http://127.0.0.1:${await server.listen("127.0.0.1", 0)}`;
    const client = createClient(CircuitService, createConnectTransport({ baseUrl: base, httpVersion: "1.1" }));

    // An open Watch that only ends when its signal aborts.
    const watch = client.watch({})[Symbol.asyncIterator]();
    expect((await watch.next()).done).toBe(false);
    const slowStarted = fake.seen.slowStarted;
    const slow = post(base, "/breakerbox.v1.CircuitService/Acquire", { circuit: "slow" });
    await slowStarted;

    const finished = fake.seen.watchFinished;
    const started = Date.now();
    // The Watch never ends by itself: shutdown returning at all means the grace ended it.
    await within(server.shutdown(1000), 20_000, "end of shutdown once its 1 s grace ended the open Watch");
    const res = await slow;
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ permit: "permit-slow" });
    // The Watch held the server for the grace period (a lower bound: a slow machine only adds to it).
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    await expect(finished).resolves.toBe("");
    // The client sees the stream end (cleanly or with an error), not hang.
    await (async () => {
      while (!(await watch.next()).done) {
        // drain what was buffered
      }
    })().catch(() => {});

    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });
});
