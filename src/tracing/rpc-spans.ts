/**
 * A SERVER span per CircuitService call, on both ports (both run the same
 * interceptors, src/server/interceptor.ts): named after the RPC
 * ("breakerbox.v1.CircuitService/Acquire"), parented on the caller's W3C
 * `traceparent`/`tracestate` (gRPC metadata or HTTP headers), ended with the
 * call's status code. The handler runs inside the span's context, so the
 * store spans (store-spans.ts) become its children.
 *
 * Installed only when tracing is on: with tracing off this module is not
 * even loaded.
 */
import { context as otelContext, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { Attributes, Context, Span, TextMapGetter, TextMapPropagator, Tracer } from "@opentelemetry/api";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { requestHeaderOf } from "../server/grpc-adapter.js";
import { isThenable, type Interceptor, type MethodHandler } from "../server/interceptor.js";
import { MAX_CIRCUIT_NAME_LENGTH } from "../engine/index.js";
import { GRPC_CODE_NAMES } from "../metrics/instrument.js";
import { codeOf } from "../metrics/rpc-interceptor.js";

/** Reads the propagation headers from the call (on the gRPC port without building ctx.requestHeader). */
const HEADER_GETTER: TextMapGetter<HandlerContext> = {
  get: (ctx, key) => requestHeaderOf(ctx, key),
  keys: () => ["traceparent", "tracestate"],
};

/**
 * The codes a server span counts as failed (the OpenTelemetry RPC
 * conventions): the server's fault, not the caller's. A refused permit or a
 * denied key is an answer, not an error of the server.
 */
const SERVER_ERROR_CODES: ReadonlySet<number> = new Set([2, 4, 12, 13, 14, 15]);

/** rpc.system: "connect_rpc" for the Connect protocol, "grpc" for gRPC and gRPC-Web. */
function rpcSystem(ctx: HandlerContext): string {
  return ctx.protocolName === "connect" ? "connect_rpc" : "grpc";
}

/** Ends `span` with the call's answer: OK, or the status code `err` answers with. */
function end(span: Span, err: unknown): void {
  const code = err === undefined ? 0 : codeOf(err);
  span.setAttribute("rpc.grpc.status_code", code);
  if (code !== 0) {
    span.setAttribute("error.type", GRPC_CODE_NAMES[code] ?? String(code));
    if (SERVER_ERROR_CODES.has(code)) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
    }
  }
  span.end();
}

/**
 * Wraps a Watch stream: every pull runs in the span's context; the span ends
 * with the stream: OK when it completed, its error's code when it failed,
 * CANCELLED when the caller went away (the adapters then call return()).
 */
async function* traced(messages: AsyncIterable<unknown>, ctx: HandlerContext, span: Span, spanContext: Context): AsyncGenerator<unknown> {
  const iterator = messages[Symbol.asyncIterator]();
  let failure: unknown;
  let completed = false;
  try {
    for (;;) {
      const next = await otelContext.with(spanContext, () => iterator.next());
      if (next.done === true) {
        completed = true;
        return;
      }
      yield next.value;
    }
  } catch (err) {
    failure = err;
    throw err;
  } finally {
    if (failure === undefined && !completed) await iterator.return?.(); // the inner stream cleans up too
    // A stream that ended because the call was aborted (the client cancelled,
    // the deadline passed) ended with that code, not OK.
    if (failure === undefined && (!completed || ctx.signal.aborted)) {
      const reason: unknown = ctx.signal.aborted ? ctx.signal.reason : undefined;
      failure = reason instanceof ConnectError ? reason : new ConnectError("the client cancelled the call", Code.Canceled);
    }
    end(span, failure);
  }
}

/** The tracing interceptor; `propagator` reads the W3C headers. */
export function createTracingInterceptor(tracer: Tracer, propagator: TextMapPropagator): Interceptor {
  return (next: MethodHandler, method) => {
    const name = `${method.parent.typeName}/${method.name}`;
    const fixed: Attributes = { "rpc.service": method.parent.typeName, "rpc.method": method.name };
    const streaming = method.methodKind === "server_streaming";
    if (method.methodKind !== "unary" && !streaming) return next;
    return (request, ctx) => {
      const parent = propagator.extract(ROOT_CONTEXT, ctx, HEADER_GETTER);
      const circuit = (request as { circuit?: unknown }).circuit;
      const span = tracer.startSpan(
        name,
        {
          kind: SpanKind.SERVER,
          attributes: {
            ...fixed,
            "rpc.system": rpcSystem(ctx),
            // Read before the request is validated (or access checked): a name past the
            // longest valid one is left out, so no caller can make spans hold megabytes.
            ...(typeof circuit === "string" && circuit !== "" && circuit.length <= MAX_CIRCUIT_NAME_LENGTH ? { "breakerbox.circuit": circuit } : {}),
          },
        },
        parent,
      );
      const spanContext = trace.setSpan(parent, span);
      let result: unknown;
      try {
        result = otelContext.with(spanContext, () => next(request, ctx));
      } catch (err) {
        end(span, err);
        throw err;
      }
      if (streaming) return traced(result as AsyncIterable<unknown>, ctx, span, spanContext);
      if (isThenable(result)) {
        result.then(
          () => end(span, undefined),
          (err: unknown) => end(span, err),
        );
      } else {
        end(span, undefined);
      }
      return result;
    };
  };
}
