/**
 * How the AI SDK middleware classifies a model call's error: whether it
 * counts against the provider (FAILURE, with the provider's "come back
 * later" hint) or not (IGNORED). Errors are recognized by their attributes,
 * not by `instanceof`: the application's copy of `ai` (or a provider's own
 * error class) need not be the one this package was built against.
 */
import { CircuitOpenError, isAbortError, parseRetryAfter, retryAfterHintOf } from "./index.js";

/** What one error of a model call means for its circuit. */
export interface ModelErrorVerdict {
  /** True: FAILURE (counts toward opening the circuit). False: IGNORED. */
  failure: boolean;
  /** The provider's retry hint in ms (only with `failure`), or undefined. */
  retryAfterMs?: number;
}

type Fields = Record<string, unknown>;

function fieldsOf(v: unknown): Fields | undefined {
  return v !== null && typeof v === "object" ? (v as Fields) : undefined;
}

/** The HTTP status an APICallError-like error carries (itself, or the error in its `cause`). */
function statusCodeOf(e: Fields): number | undefined {
  for (const x of [e, fieldsOf(e.cause)]) {
    const code = x?.statusCode ?? x?.status;
    if (typeof code === "number") return code;
  }
  return undefined;
}

/** Response headers, lower-cased, from `responseHeaders` (a plain record or a Fetch `Headers`), of the error or its `cause`. */
function headersOf(e: Fields): Map<string, string> {
  const out = new Map<string, string>();
  for (const x of [e, fieldsOf(e.cause)]) {
    const h = fieldsOf(x?.responseHeaders);
    if (h === undefined) continue;
    const entries: Iterable<[string, unknown]> = typeof h.entries === "function" ? (h as unknown as Headers).entries() : Object.entries(h);
    for (const [k, v] of entries) if (typeof v === "string") out.set(k.toLowerCase(), v);
    return out;
  }
  return out;
}

const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, "µs": 0.001, ns: 0.000001 };

/**
 * A rate-limit reset value in ms from `nowMs`: a Go-style duration ("1s",
 * "6m0s", "20ms", as OpenAI sends), plain seconds ("12"), epoch seconds
 * (past 1e9) or a date. Undefined when malformed or not in the future.
 */
export function parseResetIn(value: string, nowMs: number): number | undefined {
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) {
    const n = Number(v);
    const ms = n > 1e9 ? n * 1000 - nowMs : n * 1000;
    return ms > 0 ? Math.ceil(ms) : undefined;
  }
  if (/^(\d+(\.\d+)?(h|ms|m|s|us|µs|ns))+$/.test(v)) {
    let ms = 0;
    for (const [, n, unit] of v.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g)) ms += Number(n) * UNIT_MS[unit!]!;
    return ms > 0 ? Math.ceil(ms) : undefined;
  }
  return parseRetryAfter(v, nowMs);
}

/**
 * The provider's retry hint in ms from response headers, in this order:
 * `retry-after-ms`, `retry-after` (seconds or HTTP-date), then the
 * `x-ratelimit-reset-<limit>` headers: of the limits whose
 * `x-ratelimit-remaining-<limit>` is "0" (the ones that were hit), else of
 * all of them, the longest.
 */
export function retryHintOfHeaders(headers: Map<string, string>, nowMs: number): number | undefined {
  const ms = headers.get("retry-after-ms");
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms.trim()) && Number(ms) > 0) return Math.ceil(Number(ms));
  const after = parseRetryAfter(headers.get("retry-after"), nowMs);
  if (after !== undefined) return after;
  const resets: { ms: number; exhausted: boolean }[] = [];
  for (const [name, value] of headers) {
    if (!name.startsWith("x-ratelimit-reset")) continue;
    const resetMs = parseResetIn(value, nowMs);
    if (resetMs === undefined) continue;
    const remaining = headers.get(name.replace("x-ratelimit-reset", "x-ratelimit-remaining"));
    resets.push({ ms: resetMs, exhausted: remaining !== undefined && Number(remaining) === 0 });
  }
  const hit = resets.some((r) => r.exhausted) ? resets.filter((r) => r.exhausted) : resets;
  return hit.length === 0 ? undefined : Math.max(...hit.map((r) => r.ms));
}

/**
 * The default classification of a model call's error:
 * - an abort (an error named "AbortError"), or a `CircuitOpenError` of an
 *   inner guard (the provider was not called): IGNORED;
 * - an HTTP status (`statusCode`, as APICallError has it) of 429 or 5xx:
 *   FAILURE, with the retry hint of its `responseHeaders`;
 * - any other 4xx: IGNORED (the request was wrong, not the provider);
 * - anything else (no response at all, a malformed one, a stream that
 *   broke): FAILURE, with `err.retryAfterMs` as the hint when it has one.
 */
export function classifyModelError(err: unknown, nowMs: number): ModelErrorVerdict {
  if (isAbortError(err) || CircuitOpenError.is(err)) return { failure: false };
  const e = fieldsOf(err);
  const status = e === undefined ? undefined : statusCodeOf(e);
  if (e !== undefined && status !== undefined && (status === 429 || status >= 500)) {
    const hint = retryHintOfHeaders(headersOf(e), nowMs) ?? retryAfterHintOf(err, nowMs);
    return hint === undefined ? { failure: true } : { failure: true, retryAfterMs: hint };
  }
  if (status !== undefined && status >= 400 && status < 500) return { failure: false };
  const hint = retryAfterHintOf(err, nowMs);
  return hint === undefined ? { failure: true } : { failure: true, retryAfterMs: hint };
}
