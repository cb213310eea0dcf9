/**
 * RPC latency as an interceptor: breakerbox_rpc_duration_seconds{method, code}
 * for every call of the unary methods it wraps, on whichever port the call
 * came in (both listeners run the same interceptors, src/server/interceptor.ts).
 *
 * On the Acquire/Report hot path: the series of each method are resolved at
 * registration (OK at once, each other code on its first use), and a call
 * costs two clock reads, one derived promise and a few additions; the
 * handler's promise is handed back as is (no extra hop before the caller
 * sees the answer).
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { performance } from "node:perf_hooks";
import { isThenable, type Interceptor } from "../server/interceptor.js";
import { GRPC_CODE_NAMES, seconds } from "./instrument.js";
import type { HistogramSeries } from "./latency-histogram.js";
import type { BreakerboxMetrics } from "./metrics.js";

/** The status code a handler's failure answers with (what both transports send). */
export function codeOf(err: unknown): number {
  // Inside the error interceptor every error is a ConnectError; anything
  // else becomes INTERNAL at the transport.
  return err instanceof ConnectError ? err.code : Code.Internal;
}

/**
 * Times each call of a unary method into breakerbox_rpc_duration_seconds,
 * labelled with the method's proto name and the status code's name: from the
 * decoded request to the answer of the layers inside it (placed outermost,
 * refusals by access control are timed too). A synchronous throw is timed
 * and rethrown as is. Streaming methods (Watch) are left alone: their
 * duration is the watcher's, not ours.
 */
export function createRpcMetricsInterceptor(metrics: BreakerboxMetrics): Interceptor {
  const histogram = metrics.rpcDuration;
  return (next, method) => {
    if (method.methodKind !== "unary") return next;
    const byCode: (HistogramSeries | undefined)[] = [];
    const seriesOf = (code: number): HistogramSeries =>
      (byCode[code] ??= histogram.seriesFor({ method: method.name, code: GRPC_CODE_NAMES[code] ?? String(code) }));
    const ok = seriesOf(0); // OK
    const failed = (err: unknown, start: number): void => seriesOf(codeOf(err)).observe(seconds(start));
    return (request, ctx) => {
      const start = performance.now();
      let result: unknown;
      try {
        result = next(request, ctx);
      } catch (err) {
        failed(err, start);
        throw err;
      }
      if (isThenable(result)) {
        result.then(
          () => ok.observe(seconds(start)),
          (err: unknown) => failed(err, start),
        );
      } else {
        ok.observe(seconds(start));
      }
      return result;
    };
  };
}
