/**
 * `watch()`: one Watch stream that outlives its connections. It reconnects
 * after transient errors with the last WatchResponse.resume_token received
 * (heartbeats and kinds it does not know included, so a quiet watch keeps a
 * fresh position), so no transition is missed, and starts over when the
 * service no longer has the events.
 */
import { watchUpdateOf, watchRequestOf } from "./convert.js";
import { BreakerboxRpcError } from "./errors.js";
import type { Transport } from "./grpc-transport.js";
import type { WatchOptions, WatchTransition, WatchUpdate } from "./types.js";

/** gRPC codes after which the stream reconnects: CANCELLED (not by us), UNKNOWN, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL, UNAVAILABLE. */
const TRANSIENT = new Set([1, 2, 4, 8, 13, 14]);
const OUT_OF_RANGE = 11;

/** The service no longer has the events after the token: start over with a snapshot. */
function isResumeTokenExpired(e: BreakerboxRpcError): boolean {
  // By reason from a Breakerbox server; by code from anything in between.
  return e.reason === "RESUME_TOKEN_EXPIRED" || (e.reason === undefined && e.code === OUT_OF_RANGE);
}

/** What a watch needs besides its options. */
export interface WatchContext {
  transport: Transport;
  /** Reconnect backoff: the first delay doubles per failed attempt up to the cap; reset by any message. */
  backoff: { initialMs: number; maxMs: number };
  /** Ends the watch when aborted (the client closing). */
  closing: AbortSignal;
  /** Sees every transition before it is yielded. */
  onTransition(e: WatchTransition): void;
}

/**
 * The updates of the circuits `options` selects, as `Breakerbox.watch`
 * documents. Ends (done) when `options.signal` or `context.closing` aborts or
 * the caller returns early; throws the first non-transient error.
 */
export function watchUpdates(options: WatchOptions, context: WatchContext): AsyncIterableIterator<WatchUpdate> {
  const stop = new AbortController();
  const ended = AbortSignal.any([context.closing, stop.signal, ...(options.signal !== undefined ? [options.signal] : [])]);
  async function* run(): AsyncGenerator<WatchUpdate> {
    try {
      let resumeToken = options.resumeToken ?? "";
      let attempt = 0;
      let serverDelayMs = 0;
      while (!ended.aborted) {
        try {
          for await (const m of context.transport.watch(watchRequestOf(options, resumeToken), ended)) {
            attempt = 0;
            // Every positional message carries the stream's position, the
            // ones this SDK skips too; snapshot and status carry none.
            if (m.resumeToken !== "") resumeToken = m.resumeToken;
            const u = watchUpdateOf(m);
            if (u === undefined) continue;
            if (u.type === "transition") context.onTransition(u);
            yield u;
          }
          // A Watch never ends by itself: the service went away. Reconnect.
        } catch (e) {
          if (ended.aborted) return;
          if (!BreakerboxRpcError.is(e)) throw e;
          if (isResumeTokenExpired(e) && resumeToken !== "") resumeToken = "";
          else if (e.reason === "WATCHER_TOO_SLOW") {
            // Cut to bound the server's memory, not because it is busy: resume
            // at once with the last token; nothing is lost.
            continue;
          } else if (!TRANSIENT.has(e.code)) throw e;
          serverDelayMs = e.retryDelayMs ?? 0;
        }
        if (ended.aborted) return;
        // The server's RetryInfo (e.g. STORE_UNAVAILABLE 1 s, TOO_MANY_WATCHERS 5 s) is a floor under the backoff.
        const delay = Math.max(serverDelayMs, Math.min(context.backoff.maxMs, context.backoff.initialMs * 2 ** attempt));
        serverDelayMs = 0;
        attempt++;
        await sleep(delay, ended);
      }
    } finally {
      stop.abort(); // detaches `ended` from the client's and the caller's signals
    }
  }
  const gen = run();
  // return() on a generator waiting inside the stream would queue behind that
  // wait; aborting first cancels the stream so the return takes effect now.
  const origReturn = gen.return.bind(gen);
  gen.return = (value?: unknown) => {
    stop.abort();
    return origReturn(value as never);
  };
  return gen;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(() => {
      signal.removeEventListener("abort", done);
      resolve();
    }, ms);
    const done = (): void => {
      clearTimeout(t);
      resolve();
    };
    signal.addEventListener("abort", done, { once: true });
  });
}
