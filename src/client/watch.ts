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
          if (BreakerboxRpcError.is(e) && e.code === OUT_OF_RANGE && resumeToken !== "") resumeToken = "";
          else if (!(BreakerboxRpcError.is(e) && TRANSIENT.has(e.code))) throw e;
        }
        if (ended.aborted) return;
        const delay = Math.min(context.backoff.maxMs, context.backoff.initialMs * 2 ** attempt);
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
