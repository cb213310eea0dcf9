/**
 * The interceptor chain on both listeners: the same list of interceptors,
 * given to the gRPC server (grpc-js adapter) and the HTTP server (Connect
 * router), runs in the same order, composed once per method at registration;
 * a refusal stops the call before inner layers and the handler; Watch's
 * response stream goes through it; and values set by an interceptor reach
 * the handler through the call context.
 */
import { Code, ConnectError, createClient, createContextKey, type Client, type HandlerContext } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import pino from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CircuitService, State } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { Health } from "../../gen/ts/grpc/health/v1/health_pb.js";
import { createErrorInterceptor } from "../../src/server/error-interceptor.js";
import { contextValueOf, requestHeaderOf, setContextValue } from "../../src/server/grpc-adapter.js";
import { createGrpcServer, type GrpcServer } from "../../src/server/grpc.js";
import { createHttpServer, type HttpServer } from "../../src/server/http.js";
import { forService, isThenable, type Interceptor } from "../../src/server/interceptor.js";
import { connect, grpc, serverStream, unary } from "../support/grpc-call.js";

const { getState, watch } = CircuitService.method;

/** What the layers did, in order, across one test. */
let trace: string[] = [];
/** How many times each interceptor was asked to wrap a method. */
const composed = new Map<string, number>();
const labelKey = createContextKey<string>("unset", { description: "test label" });
let handlerFinished: () => void = () => {};

/**
 * Records "<name>>" before the inner layers and "<<name>" after their answer
 * ("<<name>!<code>" on failure). A stream is recorded per message.
 */
function tracer(name: string): Interceptor {
  return (next, method) => {
    composed.set(name, (composed.get(name) ?? 0) + 1);
    if (method.methodKind === "server_streaming") {
      return async function* traced(request, ctx) {
        trace.push(`${name}>`);
        for await (const message of next(request, ctx) as AsyncIterable<unknown>) {
          trace.push(`${name}:message`);
          yield message;
        }
      };
    }
    return (request, ctx) => {
      trace.push(`${name}>`);
      const failed = (err: unknown): never => {
        trace.push(`<${name}!${ConnectError.from(err).code}`);
        throw err;
      };
      let result: unknown;
      try {
        result = next(request, ctx);
      } catch (err) {
        failed(err);
      }
      if (!isThenable(result)) {
        trace.push(`<${name}`);
        return result;
      }
      return result.then((value) => {
        trace.push(`<${name}`);
        return value;
      }, failed);
    };
  };
}

/** Refuses calls that carry `x-deny`; labels the others with the header `x-label` for the handler. */
const gate: Interceptor = (next) => (request, ctx) => {
  if (requestHeaderOf(ctx, "x-deny") !== undefined) throw new ConnectError("denied by the gate", Code.PermissionDenied);
  setContextValue(ctx, labelKey, requestHeaderOf(ctx, "x-label") ?? "none");
  return next(request, ctx);
};

const impl = {
  getState(request: { circuit: string }, ctx: HandlerContext) {
    trace.push("handler");
    // The gRPC context keeps its lazily built ContextValues in a private field.
    const builtValues = (ctx as unknown as { contextValues?: unknown }).contextValues !== undefined;
    const label = contextValueOf(ctx, labelKey);
    return { status: { circuit: `${request.circuit}/${label}/${builtValues ? "built" : "lazy"}`, configSources: [ctx.values.get(labelKey)] } };
  },
  async *watch(request: { prefix: string }, ctx: HandlerContext) {
    trace.push("handler");
    try {
      if (request.prefix === "fail") throw new ConnectError("stream refused by the handler", Code.OutOfRange);
      for (const circuit of ["a", "b"]) yield { kind: { case: "snapshot" as const, value: { circuit, state: State.CLOSED } } };
      await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
    } finally {
      handlerFinished();
    }
  },
};

const interceptors: Interceptor[] = [
  tracer("outer"),
  forService(CircuitService, createErrorInterceptor({ logger: pino({ level: "silent" }) })),
  forService(CircuitService, gate),
  tracer("inner"),
];

/** One call of each kind, on either port: the answer or the error's code and message. */
interface Port {
  label: string;
  getState(circuit: string, headers?: Record<string, string>): Promise<string | { code: number; message: string }>;
  /** Reads `count` messages of Watch(prefix) (all when undefined), then cancels. */
  watch(prefix: string, count?: number, headers?: Record<string, string>): Promise<string[] | { code: number; message: string }>;
}

describe("the interceptor chain on both listeners", () => {
  let grpcServer: GrpcServer;
  let httpServer: HttpServer;
  let grpcClient: grpc.Client;
  let connectClient: Client<typeof CircuitService>;
  let httpPort: number;
  let ports: Port[];

  beforeAll(async () => {
    composed.clear();
    grpcServer = createGrpcServer({ circuitService: impl, interceptors, reflection: false });
    httpServer = createHttpServer({ circuitService: impl, interceptors });
    grpcClient = connect(await grpcServer.listen("127.0.0.1", 0));
    httpPort = await httpServer.listen("127.0.0.1", 0);
    connectClient = createClient(CircuitService, createConnectTransport({ baseUrl: `http://127.0.0.1:${httpPort}`, httpVersion: "1.1" }));
    ports = [
      {
        label: "gRPC",
        async getState(circuit, headers) {
          try {
            return (await unary(grpcClient, getState, { circuit }, { headers: headers ?? {} })).message.status?.circuit ?? "";
          } catch (e) {
            const err = e as grpc.ServiceError;
            return { code: err.code, message: err.details };
          }
        },
        async watch(prefix, count, headers) {
          const call = serverStream(grpcClient, watch, { prefix }, { headers: headers ?? {} });
          const names: string[] = [];
          try {
            for await (const m of call) {
              names.push(m.kind.case === "snapshot" ? m.kind.value.circuit : "?");
              if (names.length === count) break;
            }
            return names;
          } catch (e) {
            const err = e as grpc.ServiceError;
            return { code: err.code, message: err.details };
          } finally {
            call.cancel();
          }
        },
      },
      {
        label: "Connect",
        async getState(circuit, headers) {
          try {
            return (await connectClient.getState({ circuit }, { headers: headers ?? {} })).status?.circuit ?? "";
          } catch (e) {
            const err = ConnectError.from(e);
            return { code: err.code, message: err.rawMessage };
          }
        },
        async watch(prefix, count, headers) {
          const abort = new AbortController();
          const names: string[] = [];
          try {
            for await (const m of connectClient.watch({ prefix }, { headers: headers ?? {}, signal: abort.signal })) {
              names.push(m.kind.case === "snapshot" ? m.kind.value.circuit : "?");
              if (names.length === count) break;
            }
            return names;
          } catch (e) {
            const err = ConnectError.from(e);
            return { code: err.code, message: err.rawMessage };
          } finally {
            abort.abort();
          }
        },
      },
    ];
  });

  afterAll(async () => {
    grpcClient.close();
    await Promise.all([grpcServer.shutdown(1000), httpServer.shutdown(1000)]);
  });

  beforeEach(() => {
    trace = [];
  });

  it("composes each interceptor once per implemented method, when the servers are built, not per call", async () => {
    // Per server: getState and watch of CircuitService, and every method of Health.
    const methods = 2 * (2 + Health.methods.length);
    expect(Object.fromEntries(composed)).toEqual({ outer: methods, inner: methods });
    for (const port of ports) await port.getState("x");
    expect(Object.fromEntries(composed)).toEqual({ outer: methods, inner: methods });
  });

  it("runs the layers first-outermost around the handler, the same on both ports", async () => {
    for (const port of ports) {
      trace = [];
      expect(await port.getState("x", { "x-label": "l1" }), port.label).toBe(`x/l1/${port.label === "gRPC" ? "lazy" : "built"}`);
      expect(trace, port.label).toEqual(["outer>", "inner>", "handler", "<inner", "<outer"]);
    }
  });

  it("hands a value set by an interceptor to the handler, through contextValueOf and ctx.values alike", async () => {
    const circuit = await ports[0]!.getState("x", { "x-label": "seen" });
    expect(circuit).toBe("x/seen/lazy");
    const { message } = await unary(grpcClient, getState, { circuit: "y" }, { headers: { "x-label": "both" } });
    expect(message.status?.configSources).toEqual(["both"]);
    const res = await connectClient.getState({ circuit: "y" }, { headers: { "x-label": "both" } });
    expect(res.status?.configSources).toEqual(["both"]);
  });

  it("stops a refused call before the inner layers and the handler; the outer layers see the refusal", async () => {
    for (const port of ports) {
      trace = [];
      expect(await port.getState("x", { "x-deny": "1" }), port.label).toEqual({ code: Code.PermissionDenied, message: "denied by the gate" });
      expect(trace, port.label).toEqual(["outer>", `<outer!${Code.PermissionDenied}`]);
    }
  });

  it("leaves the methods of other services to the interceptors not scoped by forService", async () => {
    const health = createClient(Health, createConnectTransport({ baseUrl: `http://127.0.0.1:${httpPort}`, httpVersion: "1.1" }));
    await health.check({ service: "" }, { headers: { "x-deny": "1" } });
    await unary(grpcClient, Health.method.check, { service: "" }, { headers: { "x-deny": "1" } });
    expect(trace).toEqual(["outer>", "inner>", "<inner", "<outer", "outer>", "inner>", "<inner", "<outer"]);
  });

  it("passes Watch's messages through every layer, on both ports", async () => {
    for (const port of ports) {
      trace = [];
      const finished = new Promise<void>((resolve) => (handlerFinished = resolve));
      expect(await port.watch("", 2), port.label).toEqual(["a", "b"]);
      // Cancelled while the handler waits: its iterator is returned through the layers.
      await finished;
      expect(trace, port.label).toEqual(["outer>", "inner>", "handler", "inner:message", "outer:message", "inner:message", "outer:message"]);
    }
  });

  it("ends a refused Watch with the refusal's code before the handler runs, on both ports", async () => {
    for (const port of ports) {
      trace = [];
      expect(await port.watch("", undefined, { "x-deny": "1" }), port.label).toEqual({
        code: Code.PermissionDenied,
        message: "denied by the gate",
      });
      expect(trace, port.label).toEqual(["outer>"]);
    }
  });

  it("ends Watch with the handler's error, mapped by the error interceptor, on both ports", async () => {
    for (const port of ports) {
      const finished = new Promise<void>((resolve) => (handlerFinished = resolve));
      expect(await port.watch("fail"), port.label).toEqual({ code: Code.OutOfRange, message: "stream refused by the handler" });
      await finished;
    }
  });
});
