import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../gen/ts/grpc/health/v1/health_pb.js";
import { createGrpcServer } from "../../src/server/grpc.js";
import type { GrpcServer } from "../../src/server/grpc.js";
import { HealthRegistry } from "../../src/server/health.js";
import { within } from "../support/within.js";
import { createFakeCircuitService } from "./fake-circuit-service.js";
import { connect, grpc, serverStream, statusOf, take, unary } from "../support/grpc-call.js";

const { check, watch, list } = Health.method;
const CIRCUIT = "breakerbox.v1.CircuitService";

describe("HealthRegistry", () => {
  it("starts with the server SERVING and knows no other service", () => {
    const registry = new HealthRegistry();
    expect(registry.getStatus("")).toBe(Status.SERVING);
    expect(registry.getStatus(CIRCUIT)).toBeUndefined();
  });

  it("coalesces changes a slow watcher has not read yet", async () => {
    const registry = new HealthRegistry({ [CIRCUIT]: Status.SERVING });
    const controller = new AbortController();
    const watcher = registry.watch(CIRCUIT, controller.signal);
    expect((await watcher.next()).value).toBe(Status.SERVING);
    registry.setStatus(CIRCUIT, Status.NOT_SERVING);
    registry.setStatus(CIRCUIT, Status.SERVING);
    registry.setStatus(CIRCUIT, Status.NOT_SERVING);
    expect((await watcher.next()).value).toBe(Status.NOT_SERVING);
    controller.abort();
    expect((await watcher.next()).done).toBe(true);
  });

  it("shutdown marks everything NOT_SERVING, ends watchers after telling them, and freezes", async () => {
    const registry = new HealthRegistry({ "": Status.SERVING, [CIRCUIT]: Status.SERVING });
    const watcher = registry.watch(CIRCUIT, new AbortController().signal);
    expect((await watcher.next()).value).toBe(Status.SERVING);
    registry.shutdown();
    expect((await watcher.next()).value).toBe(Status.NOT_SERVING);
    expect((await watcher.next()).done).toBe(true);
    registry.setStatus("", Status.SERVING);
    expect(registry.getStatus("")).toBe(Status.NOT_SERVING);
    expect(registry.isShutdown).toBe(true);
  });
});

describe("grpc.health.v1.Health over gRPC", () => {
  const health = new HealthRegistry({ "": Status.SERVING, [CIRCUIT]: Status.SERVING });
  let server: GrpcServer;
  let client: grpc.Client;

  beforeAll(async () => {
    server = createGrpcServer({ circuitService: createFakeCircuitService().impl, health });
    client = connect(await server.listen("127.0.0.1", 0));
  });

  afterAll(async () => {
    client.close();
    await server.shutdown(1000);
  });

  it("Check answers SERVING for the server and a known service", async () => {
    expect((await unary(client, check, { service: "" })).message.status).toBe(Status.SERVING);
    expect((await unary(client, check, { service: CIRCUIT })).message.status).toBe(Status.SERVING);
  });

  it("Check answers NOT_FOUND for an unknown service", async () => {
    const err = await unary(client, check, { service: "nope.v1.Nope" }).catch((e: grpc.ServiceError) => e);
    expect(err).toMatchObject({ code: grpc.status.NOT_FOUND });
  });

  it("List answers every known service", async () => {
    const { message } = await unary(client, list, {});
    expect(Object.fromEntries(Object.entries(message.statuses).map(([k, v]) => [k, v.status]))).toEqual({
      "": Status.SERVING,
      [CIRCUIT]: Status.SERVING,
    });
  });

  it("Watch sends the current status, then the change", async () => {
    const call = serverStream(client, watch, { service: CIRCUIT });
    call.on("error", () => {});
    const messages = call[Symbol.asyncIterator]();
    expect((await take(messages, 1)).map((m) => m.status)).toEqual([Status.SERVING]);
    health.setStatus(CIRCUIT, Status.NOT_SERVING);
    expect((await take(messages, 1)).map((m) => m.status)).toEqual([Status.NOT_SERVING]);
    health.setStatus(CIRCUIT, Status.SERVING);
    expect((await take(messages, 1)).map((m) => m.status)).toEqual([Status.SERVING]);
    call.cancel();
  });

  it("Watch of an unknown service sends SERVICE_UNKNOWN and stays open until it is known", async () => {
    const call = serverStream(client, watch, { service: "later.v1.Later" });
    call.on("error", () => {});
    const messages = call[Symbol.asyncIterator]();
    expect((await take(messages, 1)).map((m) => m.status)).toEqual([Status.SERVICE_UNKNOWN]);
    health.setStatus("later.v1.Later", Status.SERVING);
    expect((await take(messages, 1)).map((m) => m.status)).toEqual([Status.SERVING]);
    call.cancel();
  });
});

describe("health at gRPC server shutdown", () => {
  it("Watch streams get NOT_SERVING and end with OK, so shutdown does not wait for them", async () => {
    const server = createGrpcServer({ circuitService: {} });
    const client = connect(await server.listen("127.0.0.1", 0));
    try {
      const call = serverStream(client, watch, { service: "" });
      const status = statusOf(call);
      const messages = call[Symbol.asyncIterator]();
      expect((await take(messages, 1)).map((m) => m.status)).toEqual([Status.SERVING]);
      // A grace far longer than the test: shutdown ends only because the health Watch streams end with OK.
      const stopped = server.shutdown(600_000);
      expect((await take(messages, 5)).map((m) => m.status)).toEqual([Status.NOT_SERVING]);
      expect((await status).code).toBe(grpc.status.OK);
      await within(stopped, 20_000, "end of shutdown without waiting out its 10 min grace for the health Watch");
    } finally {
      client.close();
    }
  });
});
