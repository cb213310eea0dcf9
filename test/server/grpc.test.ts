import { describe, expect, it } from "vitest";
import { CircuitService } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { createGrpcServer } from "../../src/server/grpc.js";
import { createFakeCircuitService } from "./fake-circuit-service.js";
import { connect, grpc, serverStream, statusOf, take, unary } from "../support/grpc-call.js";

const { acquire, watch } = CircuitService.method;

describe("gRPC listener", () => {
  it("binds port 0 to a free port and refuses a port in use", async () => {
    const first = createGrpcServer({ circuitService: {} });
    const second = createGrpcServer({ circuitService: {} });
    try {
      const port = await first.listen("127.0.0.1", 0);
      expect(port).toBeGreaterThan(0);
      await expect(second.listen("127.0.0.1", port)).rejects.toThrow();
    } finally {
      await Promise.all([first.shutdown(100), second.shutdown(100)]);
    }
  });

  it("answers UNIMPLEMENTED for a stream the implementation lacks", async () => {
    const server = createGrpcServer({ circuitService: {} });
    const client = connect(await server.listen("127.0.0.1", 0));
    try {
      const call = serverStream(client, watch, {});
      call.on("error", () => {});
      call.on("data", () => {});
      expect(await statusOf(call)).toMatchObject({
        code: grpc.status.UNIMPLEMENTED,
        details: "breakerbox.v1.CircuitService.Watch is not implemented",
      });
    } finally {
      client.close();
      await server.shutdown(100);
    }
  });

  it("lets an in-flight unary call finish during shutdown, then refuses new calls", async () => {
    const fake = createFakeCircuitService();
    const server = createGrpcServer({ circuitService: fake.impl });
    const client = connect(await server.listen("127.0.0.1", 0));
    try {
      const slowStarted = fake.seen.slowStarted;
      const slow = unary(client, acquire, { circuit: "slow" });
      await slowStarted;
      const stopped = server.shutdown(5000);
      await expect(slow).resolves.toMatchObject({ message: { permit: "permit-slow" } });
      await stopped;
      const err = await unary(client, acquire, { circuit: "late" }, { deadlineMs: 2000 }).catch((e: grpc.ServiceError) => e);
      expect(err).toMatchObject({ code: grpc.status.UNAVAILABLE });
    } finally {
      client.close();
    }
  });

  it("cancels streams still open when the grace period ends", async () => {
    const fake = createFakeCircuitService();
    const server = createGrpcServer({ circuitService: fake.impl });
    const client = connect(await server.listen("127.0.0.1", 0));
    try {
      const call = serverStream(client, watch, {});
      call.on("error", () => {});
      const status = statusOf(call);
      await take(call[Symbol.asyncIterator](), 3);
      const finished = fake.seen.watchFinished;
      const started = Date.now();
      await server.shutdown(300);
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      await expect(finished).resolves.toBe("");
      expect((await status).code).not.toBe(grpc.status.OK);
    } finally {
      client.close();
    }
  });
});
