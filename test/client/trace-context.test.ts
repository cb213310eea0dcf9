/**
 * The TypeScript SDK propagates the agent's OpenTelemetry context (issue 14,
 * item 3): with @opentelemetry/api present and a span active, every call's
 * metadata carries its traceparent. Against a stub CircuitService that
 * records what it receives (the real server's side is test/e2e/tracing.test.ts).
 */
import { context, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { TracerProvider } from "@opentelemetry/sdk-trace";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBreakerbox } from "@breakerbox/client";
import { createGrpcTransport } from "../../clients/typescript/src/grpc-transport.js";
import { CircuitService } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { addService } from "../../src/server/grpc-adapter.js";

/** traceparent of every call the stub received, by method ("" when absent). */
const received: { method: string; traceparent: string }[] = [];
let server: Server;
let address: string;

beforeAll(async () => {
  server = new Server();
  const record = (method: string, header: Headers): void => void received.push({ method, traceparent: header.get("traceparent") ?? "" });
  addService(server, CircuitService, {
    acquire(_req, ctx) {
      record("Acquire", ctx.requestHeader);
      return { allowed: true, permit: "stub-permit", state: 1 };
    },
    batchReport(req, ctx) {
      record("BatchReport", ctx.requestHeader);
      return { results: req.reports.map(() => ({ result: { case: "response", value: { state: 1 } } })) };
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err === null ? resolve(p) : reject(err))),
  );
  address = `127.0.0.1:${port}`;

  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(new TracerProvider());
});

afterAll(() => {
  server.forceShutdown();
  trace.disable();
  propagation.disable();
  context.disable();
});

describe("trace context from @opentelemetry/api", () => {
  it("a call made under an active span carries its trace id and span id", async () => {
    const transport = createGrpcTransport({ address });
    const span = trace.getTracer("test").startSpan("agent step");
    const { traceId, spanId } = span.spanContext();
    received.length = 0;
    await context.with(trace.setSpan(context.active(), span), () => transport.unary("acquire", { circuit: "c" }));
    span.end();
    transport.close();
    expect(received).toEqual([{ method: "Acquire", traceparent: `00-${traceId}-${spanId}-01` }]);
  });

  it("run(): the Acquire carries the agent's trace (Reports go later, in batches)", async () => {
    const bb = createBreakerbox({ address });
    const span = trace.getTracer("test").startSpan("tool call");
    const { traceId } = span.spanContext();
    received.length = 0;
    await context.with(trace.setSpan(context.active(), span), () => bb.run("c", async () => "ok"));
    expect(await bb.flush(5000)).toBe(true);
    span.end();
    await bb.close();
    expect(received[0]?.method).toBe("Acquire");
    expect(received[0]?.traceparent).toMatch(new RegExp(`^00-${traceId}-${span.spanContext().spanId}-01$`));
  });

  it("without an active span nothing is added", async () => {
    const transport = createGrpcTransport({ address });
    received.length = 0;
    await transport.unary("acquire", { circuit: "c" });
    transport.close();
    expect(received).toEqual([{ method: "Acquire", traceparent: "" }]);
  });
});
