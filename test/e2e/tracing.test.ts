/**
 * OpenTelemetry tracing of a real server process (issue 14, item 3): the
 * caller's W3C trace context is taken from gRPC metadata and HTTP headers,
 * every RPC gets a SERVER span under it and every store call a child span,
 * exported over real OTLP/HTTP to a receiver in this test.
 */
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "../support/otlp-receiver.js";
import { startRedis, type RedisServer } from "../support/redis-servers.js";
import { startReplica, stopReplicas, type Replica } from "../support/replicas.js";

const SERVER = 2;
const CLIENT = 3;
const INTERNAL = 1;

/** A fresh caller context: trace id, parent span id and the traceparent header carrying them. */
function callerContext(): { traceId: string; parentId: string; traceparent: string } {
  const traceId = randomBytes(16).toString("hex");
  const parentId = randomBytes(8).toString("hex");
  return { traceId, parentId, traceparent: `00-${traceId}-${parentId}-01` };
}

/** The spans of `traceId` once there are at least `n`. */
function spansOf(otlp: OtlpReceiver, traceId: string, n: number): Promise<ReceivedSpan[]> {
  return otlp.waitFor((all) => {
    const mine = all.filter((s) => s.traceId === traceId);
    return mine.length >= n ? mine : undefined;
  }, `${n} spans of trace ${traceId}`);
}

function one(spans: ReceivedSpan[], name: string): ReceivedSpan {
  const found = spans.filter((s) => s.name === name);
  expect(found.map((s) => s.name)).toEqual([name]);
  return found[0]!;
}

function tracingEnv(otlp: OtlpReceiver): Record<string, string> {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_BSP_SCHEDULE_DELAY: "20",
    OTEL_SERVICE_NAME: "breakerbox-under-test",
  };
}

describe("tracing over OTLP, memory store", () => {
  let otlp: OtlpReceiver;
  let replica: Replica;

  beforeAll(async () => {
    otlp = await startOtlpReceiver();
    replica = await startReplica(tracingEnv(otlp));
  });
  afterAll(async () => {
    await stopReplicas();
    await otlp.close();
  });

  it("says at start that tracing is on, and where spans go", () => {
    const line = replica.logs().find((l) => l.msg?.startsWith("tracing on"));
    expect(line).toMatchObject({ level: "info", endpoint: otlp.url, sampler: "parentbased_always_on" });
  });

  it("gRPC port: the RPC span continues the caller's trace, the store span is its child", async () => {
    const caller = callerContext();
    const acquired = await replica.client.call("acquire", { circuit: "traced-grpc" }, { traceparent: caller.traceparent });
    expect(acquired.allowed).toBe(true);
    const spans = await spansOf(otlp, caller.traceId, 2);

    const rpc = one(spans, "breakerbox.v1.CircuitService/Acquire");
    expect(rpc.parentSpanId).toBe(caller.parentId);
    expect(rpc.kind).toBe(SERVER);
    expect(rpc.service).toBe("breakerbox-under-test");
    expect(rpc.attributes).toMatchObject({
      "rpc.system": "grpc",
      "rpc.service": "breakerbox.v1.CircuitService",
      "rpc.method": "Acquire",
      "rpc.grpc.status_code": 0,
      "breakerbox.circuit": "traced-grpc",
    });

    const store = one(spans, "store.acquire");
    expect(store.parentSpanId).toBe(rpc.spanId);
    expect(store.kind).toBe(INTERNAL);
    expect(store.attributes).toEqual({
      "breakerbox.store": "memory",
      "breakerbox.circuit": "traced-grpc",
      "breakerbox.decision": "allowed",
      "breakerbox.state": "CLOSED",
      "breakerbox.permit.kind": "closed",
    });
  });

  it("Report: the store span carries the outcome and the permit's kind", async () => {
    const acquired = await replica.client.call("acquire", { circuit: "traced-report" });
    const caller = callerContext();
    await replica.client.call(
      "report",
      { circuit: "traced-report", permit: acquired.permit, outcome: 2 /* FAILURE */ },
      { traceparent: caller.traceparent },
    );
    const spans = await spansOf(otlp, caller.traceId, 2);
    const rpc = one(spans, "breakerbox.v1.CircuitService/Report");
    expect(rpc.parentSpanId).toBe(caller.parentId);
    const store = one(spans, "store.report");
    expect(store.parentSpanId).toBe(rpc.spanId);
    expect(store.attributes).toEqual({
      "breakerbox.store": "memory",
      "breakerbox.circuit": "traced-report",
      "breakerbox.outcome": "FAILURE",
      "breakerbox.permit.kind": "closed",
      "breakerbox.report.disposition": "RECORDED",
      "breakerbox.state": "CLOSED",
    });
  });

  it("a refused call: the span carries the code, without ERROR status (the caller's fault, not the server's)", async () => {
    const caller = callerContext();
    await expect(
      replica.client.call("report", { circuit: "traced-bad", permit: "not-a-permit", outcome: 1 }, { traceparent: caller.traceparent }),
    ).rejects.toMatchObject({ code: 9 });
    const spans = await spansOf(otlp, caller.traceId, 1);
    const rpc = one(spans, "breakerbox.v1.CircuitService/Report");
    expect(rpc.attributes).toMatchObject({ "rpc.grpc.status_code": 9, "error.type": "FAILED_PRECONDITION" });
    expect(rpc.status.code ?? 0).toBe(0);
  });

  it("Connect port: the trace context comes from the HTTP headers", async () => {
    const caller = callerContext();
    const res = await fetch(`${replica.http}/breakerbox.v1.CircuitService/Acquire`, {
      method: "POST",
      headers: { "content-type": "application/json", traceparent: caller.traceparent, tracestate: "vendor=x" },
      body: JSON.stringify({ circuit: "traced-connect" }),
    });
    expect(res.status).toBe(200);
    const spans = await spansOf(otlp, caller.traceId, 2);
    const rpc = one(spans, "breakerbox.v1.CircuitService/Acquire");
    expect(rpc.parentSpanId).toBe(caller.parentId);
    expect(rpc.attributes).toMatchObject({ "rpc.system": "connect_rpc", "rpc.method": "Acquire", "rpc.grpc.status_code": 0 });
    const store = one(spans, "store.acquire");
    expect(store.parentSpanId).toBe(rpc.spanId);
    expect(store.attributes["breakerbox.decision"]).toBe("allowed");
  });

  it("without a caller context each call starts a trace of its own", async () => {
    await replica.client.call("getState", { circuit: "traced-grpc" });
    const [rpc, store] = await otlp.waitFor((all) => {
      const rpcSpan = all.find((s) => s.name === "breakerbox.v1.CircuitService/GetState");
      const storeSpan = rpcSpan && all.find((s) => s.name === "store.get" && s.parentSpanId === rpcSpan.spanId);
      return rpcSpan && storeSpan ? [rpcSpan, storeSpan] : undefined;
    }, "a Get span and its store span");
    expect(rpc.parentSpanId).toBe("");
    expect(store.traceId).toBe(rpc.traceId);
    expect(otlp.contentTypes().every((t) => t === "application/json")).toBe(true);
    expect(replica.problems()).toEqual([]);
  });

  it("a Watch stream is one SERVER span, ended when the stream ends (CANCELLED: the client went away)", async () => {
    const watch = replica.client.stream("watch", {});
    const it = watch.messages[Symbol.asyncIterator]();
    await it.next(); // the snapshot: the stream is open
    expect(otlp.spans().some((s) => s.name === "breakerbox.v1.CircuitService/Watch")).toBe(false);
    watch.cancel();
    const span = await otlp.waitFor((all) => all.find((s) => s.name === "breakerbox.v1.CircuitService/Watch"), "the Watch span");
    expect(span.kind).toBe(SERVER);
    expect(span.attributes).toMatchObject({ "rpc.system": "grpc", "rpc.method": "Watch", "rpc.grpc.status_code": 1, "error.type": "CANCELLED" });
    expect(span.status.code ?? 0).toBe(0);
  });
});

describe("tracing over OTLP, Redis store", () => {
  let otlp: OtlpReceiver;
  let redis: RedisServer;
  let replica: Replica;

  beforeAll(async () => {
    otlp = await startOtlpReceiver();
    redis = await startRedis();
    replica = await startReplica({ ...tracingEnv(otlp), REDIS_URL: redis.url });
  });
  afterAll(async () => {
    await stopReplicas();
    await redis?.stop();
    await otlp.close();
  });

  it("a store call is one Redis round trip: a CLIENT span under the RPC's", async () => {
    const caller = callerContext();
    await replica.client.call("acquire", { circuit: "traced-redis" }, { traceparent: caller.traceparent });
    const spans = await spansOf(otlp, caller.traceId, 2);
    const rpc = one(spans, "breakerbox.v1.CircuitService/Acquire");
    const store = one(spans, "store.acquire");
    expect(store.parentSpanId).toBe(rpc.spanId);
    expect(store.kind).toBe(CLIENT);
    expect(store.attributes).toMatchObject({ "breakerbox.store": "redis", "db.system.name": "redis", "breakerbox.decision": "allowed" });
    expect(replica.problems()).toEqual([]);
  });
});

describe("tracing off", () => {
  // Prints a stderr line for every OpenTelemetry module and src/tracing module the server loads.
  const probe = { NODE_OPTIONS: `--import=${fileURLToPath(new URL("../support/otel-load-probe.mjs", import.meta.url))}` };
  afterAll(() => stopReplicas());
  /**
   * What the probe saw load beyond what a server loads without tracing:
   * @opentelemetry/api (prom-client loads it, for exemplars, tracing or
   * not) and src/tracing/env.js (main.ts reads the OTEL_* variables with it).
   */
  const tracingModules = (replica: Replica): string[] =>
    replica
      .stderr()
      .split("\n")
      .filter((line) => line !== "" && !line.includes("/@opentelemetry/api/") && !line.endsWith("/dist/src/tracing/env.js"));

  it("without OTEL_* no OpenTelemetry module is even loaded, and the server says nothing of tracing", async () => {
    const replica = await startReplica(probe);
    await replica.client.call("acquire", { circuit: "untraced" });
    await replica.client.call("getState", { circuit: "untraced" });
    expect(tracingModules(replica)).toEqual([]);
    expect(replica.logs().some((l) => l.msg?.includes("tracing"))).toBe(false);
  });

  it.each([
    ["OTEL_SDK_DISABLED=true", { OTEL_SDK_DISABLED: "true" }],
    ["OTEL_TRACES_EXPORTER=none", { OTEL_TRACES_EXPORTER: "none" }],
  ])("an endpoint with %s loads none either", async (_what, env) => {
    const replica = await startReplica({ ...probe, OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9", ...env });
    await replica.client.call("acquire", { circuit: "untraced" });
    expect(tracingModules(replica)).toEqual([]);
  });

  it("the probe does see the SDK when tracing is on (so the checks above can fail)", async () => {
    const replica = await startReplica({ ...probe, OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9" });
    const loaded = tracingModules(replica);
    expect(loaded.some((line) => line.includes("/@opentelemetry/sdk-trace/"))).toBe(true);
    expect(loaded.some((line) => line.endsWith("/dist/src/tracing/sdk.js"))).toBe(true);
  });
});
