/**
 * The call wrapper behind `run`, `runAny` and `wrap`: once a call is
 * admitted, run it under its timeout and the caller's signal, classify how it
 * settled, and report that exactly once.
 */
import type { Outcome } from "./vocabulary.js";
import { isAbortError, retryAfterHintOf, type Clock } from "./classify.js";
import { CallTimeoutError, type CircuitOpenError } from "./errors.js";
import type { RunOptions } from "./types.js";

/**
 * Reports the outcome of one admitted call (to the service, or to a local
 * breaker). A report that fails does not reject: it goes to `onReportError`
 * or to the queue of unsent reports, never to the caller of `run`.
 */
export type Reporter = (outcome: Outcome, durationMs: number, retryAfterMs: number | undefined) => Promise<void>;

/** How a call was admitted: on which circuit and where its outcome goes, or why not. */
export type Admission = { allowed: true; circuit: string; reporter: Reporter } | { allowed: false; error: CircuitOpenError };

type Settled<T> = { kind: "ok"; value: T } | { kind: "error"; err: unknown } | { kind: "timeout" } | { kind: "aborted"; reason: unknown };

/** A denied call: `fallback(err)`'s result, or `err` thrown. */
export async function denied<T>(err: CircuitOpenError, options: RunOptions<T>): Promise<T> {
  if (options.fallback !== undefined) return options.fallback(err);
  throw err;
}

/**
 * Runs `fn` under an allowed permit and reports exactly once, then returns
 * what `fn` resolved to or throws what it threw (`CallTimeoutError` on
 * timeout, the signal's reason when the caller aborted). The classification
 * is the one `Breakerbox.run` documents; the duration is measured on `clock`.
 * `defaultTimeoutMs` applies when `options.timeoutMs` is undefined (0 = none).
 */
export async function guarded<T>(
  circuit: string,
  reporter: Reporter,
  fn: (signal: AbortSignal) => Promise<T>,
  options: RunOptions<T>,
  context: { clock: Clock; defaultTimeoutMs: number | undefined },
): Promise<T> {
  const { clock } = context;
  const timeoutMs = options.timeoutMs ?? context.defaultTimeoutMs ?? 0;
  const controller = new AbortController();
  const started = clock.now();
  let timer: NodeJS.Timeout | undefined;
  let onCallerAbort: (() => void) | undefined;
  const racers: Promise<Settled<T>>[] = [
    // Through a then(), so a synchronous throw in fn settles like a rejection.
    Promise.resolve()
      .then(() => fn(controller.signal))
      .then(
        (value): Settled<T> => ({ kind: "ok", value }),
        (err: unknown): Settled<T> => ({ kind: "error", err }),
      ),
  ];
  if (timeoutMs > 0) racers.push(new Promise((resolve) => (timer = setTimeout(() => resolve({ kind: "timeout" }), timeoutMs))));
  const callerSignal = options.signal;
  if (callerSignal !== undefined) {
    racers.push(
      new Promise((resolve) => {
        onCallerAbort = () => resolve({ kind: "aborted", reason: callerSignal.reason });
        if (callerSignal.aborted) onCallerAbort();
        else callerSignal.addEventListener("abort", onCallerAbort, { once: true });
      }),
    );
  }
  let settled: Settled<T>;
  try {
    settled = await Promise.race(racers);
  } finally {
    clearTimeout(timer);
    if (onCallerAbort !== undefined) callerSignal?.removeEventListener("abort", onCallerAbort);
  }
  const durationMs = clock.now() - started;
  let outcome: Outcome;
  let retryAfterMs: number | undefined;
  let thrown: unknown;
  switch (settled.kind) {
    case "ok":
      outcome = "SUCCESS";
      break;
    case "timeout":
      outcome = "TIMEOUT";
      thrown = new CallTimeoutError(circuit, timeoutMs);
      controller.abort(thrown);
      break;
    case "aborted":
      outcome = "IGNORED";
      thrown = settled.reason;
      controller.abort(settled.reason);
      break;
    case "error":
      thrown = settled.err;
      if (callerSignal?.aborted === true || isAbortError(settled.err)) outcome = "IGNORED";
      else if (options.isFailure !== undefined && !options.isFailure(settled.err)) outcome = "IGNORED";
      else {
        outcome = "FAILURE";
        retryAfterMs = retryAfterHintOf(settled.err, clock.now());
      }
      break;
  }
  await reporter(outcome, durationMs, retryAfterMs);
  if (settled.kind === "ok") return settled.value;
  throw thrown;
}
