/**
 * `runStream`: a guarded streaming call (an LLM's token stream, a paged
 * listing), reported when the stream ends or fails, not when it starts: a
 * stream that breaks midway is a failure of the dependency, one the consumer
 * abandons says nothing about it. The same rule as the Python
 * (`run_stream`) and Go (`RunStream`) clients.
 */
import type { Classification, Clock } from "./classify.js";
import { CallTimeoutError } from "./errors.js";
import { classifyThrown, type Admission } from "./run.js";
import type { StreamOptions } from "./types.js";

/** What ended the wait for the next item other than the stream itself. */
class Stopped {
  constructor(
    readonly kind: "timeout" | "aborted",
    readonly reason: unknown,
  ) {}
}

type Source<T> = AsyncIterable<T> | Iterable<T>;

function iteratorOf<T>(source: Source<T>): AsyncIterator<T> | Iterator<T> {
  if (source !== null && typeof source === "object" && Symbol.asyncIterator in source) return source[Symbol.asyncIterator]();
  if (source !== null && typeof source === "object" && Symbol.iterator in source) return source[Symbol.iterator]();
  throw new TypeError("runStream: fn must return an AsyncIterable (or a promise of one)");
}

/**
 * The items of `fn(signal)`'s stream under a permit from `admit` (asked on
 * the first `next()`), reported once: SUCCESS when it ends, FAILURE (or what
 * the classification says) when it throws, TIMEOUT when `timeoutMs` passes
 * before it ends (the signal is aborted, `CallTimeoutError` thrown), IGNORED
 * when the consumer stops early (breaks out, `return()`) or the caller's
 * signal aborts. Denied: the fallback's items, or `CircuitOpenError` thrown.
 */
export async function* guardedStream<T>(
  circuit: string,
  admit: () => Promise<Admission>,
  fn: (signal: AbortSignal) => Source<T> | Promise<Source<T>>,
  options: StreamOptions<T>,
  context: { clock: Clock; defaultTimeoutMs: number | undefined },
): AsyncGenerator<T, void, undefined> {
  const { clock } = context;
  options.signal?.throwIfAborted();
  const a = await admit();
  if (!a.allowed) {
    if (options.fallback === undefined) throw a.error;
    yield* fallbackItems(await options.fallback(a.error));
    return;
  }
  const timeoutMs = options.timeoutMs ?? context.defaultTimeoutMs ?? 0;
  const controller = new AbortController();
  const started = clock.now();
  let timer: NodeJS.Timeout | undefined;
  let onCallerAbort: (() => void) | undefined;
  const callerSignal = options.signal;
  // Rejects (with Stopped) when the stream's time is up or the caller aborts.
  const stopped = new Promise<never>((_, reject) => {
    if (timeoutMs > 0) timer = setTimeout(() => reject(new Stopped("timeout", new CallTimeoutError(circuit, timeoutMs))), timeoutMs);
    if (callerSignal !== undefined) {
      onCallerAbort = () => reject(new Stopped("aborted", callerSignal.reason));
      if (callerSignal.aborted) onCallerAbort();
      else callerSignal.addEventListener("abort", onCallerAbort, { once: true });
    }
  });
  stopped.catch(() => undefined);
  const race = <R>(p: R | Promise<R>): Promise<R> => Promise.race([Promise.resolve(p), stopped]);
  let c: Classification | undefined;
  let iterator: AsyncIterator<T> | Iterator<T> | undefined;
  try {
    iterator = iteratorOf(await race(Promise.resolve().then(() => fn(controller.signal))));
    for (;;) {
      const r = await race(iterator.next());
      if (r.done === true) break;
      yield r.value;
    }
    c = { outcome: "SUCCESS" };
  } catch (e) {
    if (e instanceof Stopped) {
      c = { outcome: e.kind === "timeout" ? "TIMEOUT" : "IGNORED" };
      controller.abort(e.reason);
      throw e.reason;
    }
    c = classifyThrown(e, options, clock);
    throw e;
  } finally {
    clearTimeout(timer);
    if (onCallerAbort !== undefined) callerSignal?.removeEventListener("abort", onCallerAbort);
    // No outcome yet: the consumer stopped early (the producer is parked at a yield).
    const consumerStopped = c === undefined;
    c ??= { outcome: "IGNORED" };
    a.reporter(c.outcome, clock.now() - started, c.outcome === "SUCCESS" ? undefined : c.retryAfterMs);
    if (c.outcome !== "SUCCESS" && !controller.signal.aborted) controller.abort(new DOMException("the stream's consumer stopped", "AbortError"));
    if (consumerStopped) {
      // Let the producer run its own cleanup (its finally blocks) before the consumer goes on.
      try {
        await iterator?.return?.();
      } catch {
        // Its cleanup failing is not the consumer's concern.
      }
    } else if (c.outcome === "IGNORED" || c.outcome === "TIMEOUT") {
      // Still waiting in its own next(): not awaited, a stuck producer must not hold the consumer.
      void Promise.resolve()
        .then(() => iterator?.return?.())
        .catch(() => undefined);
    }
  }
}

async function* fallbackItems<T>(items: Source<T>): AsyncGenerator<T, void, undefined> {
  yield* items as AsyncIterable<T>;
}
