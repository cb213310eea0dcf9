/**
 * The call wrapper behind `run`, `runAny` and `wrap`: once a call is
 * admitted, run it under its timeout and the caller's signal, classify how it
 * settled, and report that exactly once.
 */
import type { Outcome } from "./vocabulary.js";
import { classifyError, isAbortError, type Classification, type Clock } from "./classify.js";
import { CallTimeoutError, type CircuitOpenError } from "./errors.js";
import type { RunOptions } from "./types.js";

/**
 * Takes the outcome of one admitted call and returns at once: a service
 * permit's goes to the report queue (sent in the background), a local
 * breaker's is applied there. Never throws to the caller of `run`.
 */
export type Reporter = (outcome: Outcome, durationMs: number, retryAfterMs: number | undefined) => void;

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
  let c: Classification;
  let thrown: unknown;
  switch (settled.kind) {
    case "ok":
      c = classifyValue(settled.value, options, clock);
      break;
    case "timeout":
      c = { outcome: "TIMEOUT" };
      thrown = new CallTimeoutError(circuit, timeoutMs);
      controller.abort(thrown);
      break;
    case "aborted":
      c = { outcome: "IGNORED" };
      thrown = settled.reason;
      controller.abort(settled.reason);
      break;
    case "error":
      thrown = settled.err;
      c = classifyThrown(settled.err, options, clock);
      break;
  }
  reporter(c.outcome, durationMs, c.outcome === "SUCCESS" ? undefined : c.retryAfterMs);
  if (settled.kind === "ok") return settled.value;
  throw thrown;
}

/** How a value `fn` resolved to counts: SUCCESS, or what `classifyResult` says (FAILURE if it throws). */
export function classifyValue<T>(value: T, options: Pick<RunOptions<T>, "classifyResult">, clock: Clock): Classification {
  if (options.classifyResult === undefined) return { outcome: "SUCCESS" };
  try {
    return options.classifyResult(value, clock.now());
  } catch {
    return { outcome: "FAILURE" };
  }
}

/**
 * How an error `fn` threw counts: the caller's abort or an AbortError is
 * IGNORED; with `isFailure`, false is IGNORED and true FAILURE; else
 * `classifyError` (HTTP 429/5xx FAILURE with the headers' hint, other 4xx
 * IGNORED, anything else FAILURE).
 */
export function classifyThrown(err: unknown, options: Pick<RunOptions<unknown>, "isFailure" | "signal">, clock: Clock): Classification {
  if (options.signal?.aborted === true || isAbortError(err)) return { outcome: "IGNORED" };
  const byDefault = classifyError(err, clock.now());
  if (options.isFailure === undefined) return byDefault;
  let failure: boolean;
  try {
    failure = options.isFailure(err);
  } catch {
    failure = true;
  }
  return failure ? { outcome: "FAILURE", retryAfterMs: byDefault.retryAfterMs } : { outcome: "IGNORED" };
}
