/**
 * The error boundary of a service's handlers, as an interceptor: whatever a
 * handler (or an inner interceptor) throws, or a response stream fails with,
 * leaves as the ConnectError src/server/status.ts maps it to, and is logged
 * once per kind per interval. Handlers throw the service's own errors and
 * need no try/catch of their own.
 */
import { Code, type ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import { isThenable, type Interceptor } from "./interceptor.js";
import { LogThrottle } from "./log-throttle.js";
import { isClientError, toConnectError } from "./status.js";

const REPEAT_LOG_INTERVAL_MS = 5000;

/** Options of {@link createErrorInterceptor}. */
export interface ErrorInterceptorOptions {
  logger: Logger;
  /** Repeats of one kind of line are held back this long. Default 5 s. */
  repeatLogIntervalMs?: number;
}

/**
 * Maps and logs failures of the methods it wraps (all of them, unary and
 * streaming):
 * - UNAVAILABLE (the store is down): one warning "store unavailable; calls
 *   answered UNAVAILABLE" per interval, whatever the method;
 * - client errors (status.ts `isClientError`, access refusals included): a
 *   warning "request rejected" with method, code and reason, one per method,
 *   code and message per interval, with how many were held back;
 * - anything else: an error "request failed" with the original error, every
 *   time (the client sees INTERNAL "internal error").
 * A synchronous throw stays synchronous; a stream's error is raised where the
 * stream fails (for Watch: at its first pull when the call is refused).
 */
export function createErrorInterceptor(options: ErrorInterceptorOptions): Interceptor {
  const { logger } = options;
  // A store outage fails every call alike, and a misconfigured agent repeats
  // the same bad request: one line per kind per interval, with how many were
  // held back, instead of one per call.
  const throttle = new LogThrottle({ intervalMs: options.repeatLogIntervalMs ?? REPEAT_LOG_INTERVAL_MS });
  const mapped = (method: string, err: unknown): ConnectError => {
    const ce = toConnectError(err);
    if (ce.code === Code.Unavailable) {
      const heldBack = throttle.admit("unavailable");
      if (heldBack !== undefined) {
        logger.warn({ method, heldBack, reason: ce.rawMessage }, "store unavailable; calls answered UNAVAILABLE");
      }
    } else if (isClientError(ce.code)) {
      const heldBack = throttle.admit(`${method}\n${ce.code}\n${ce.rawMessage}`);
      if (heldBack !== undefined) logger.warn({ method, code: ce.code, reason: ce.rawMessage, heldBack }, "request rejected");
    } else {
      logger.error({ method, code: ce.code, err: ce.cause ?? err }, "request failed");
    }
    return ce;
  };

  return (next, method) => {
    const name = method.name;
    if (method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming") {
      return async function* guarded(request, ctx) {
        try {
          yield* next(request, ctx) as AsyncIterable<unknown>;
        } catch (err) {
          throw mapped(name, err);
        }
      };
    }
    const rejected = (err: unknown): never => {
      throw mapped(name, err);
    };
    return (request, ctx) => {
      let result: unknown;
      try {
        result = next(request, ctx);
      } catch (err) {
        throw mapped(name, err);
      }
      return isThenable(result) ? result.then(undefined, rejected) : result;
    };
  };
}
