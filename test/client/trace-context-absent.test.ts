/**
 * The TypeScript SDK without @opentelemetry/api (an optional peer
 * dependency): its import fails, calls go out as before, without traceparent.
 * A file of its own: the module mock applies to the whole file.
 */
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { createGrpcTransport } from "../../clients/typescript/src/grpc-transport.js";
import { traceInjector } from "../../clients/typescript/src/trace-context.js";
import { CircuitService } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { addService } from "../../src/server/grpc-adapter.js";

vi.mock("@opentelemetry/api", () => {
  throw new Error("Cannot find package '@opentelemetry/api'");
});

const headers: Headers[] = [];
let server: Server;
let address: string;

beforeAll(async () => {
  server = new Server();
  addService(server, CircuitService, {
    acquire(_req, ctx) {
      headers.push(ctx.requestHeader);
      return { allowed: true, permit: "stub-permit", state: 1 };
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err === null ? resolve(p) : reject(err))),
  );
  address = `127.0.0.1:${port}`;
});
afterAll(() => server.forceShutdown());

it("calls work and carry no trace context", async () => {
  const transport = createGrpcTransport({ address, metadata: { "x-agent": "a1" } });
  const answer = await transport.unary("acquire", { circuit: "c" });
  transport.close();
  expect(answer.allowed).toBe(true);
  expect(traceInjector()).toBeNull();
  expect(headers.map((h) => [h.get("x-agent"), h.get("traceparent")])).toEqual([["a1", null]]);
});
