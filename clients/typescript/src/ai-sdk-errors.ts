/**
 * How the AI SDK middleware classifies a model call's error: whether it
 * counts against the provider (FAILURE, with the provider's "come back
 * later" hint) or not (IGNORED). Errors are recognized by their attributes,
 * not by `instanceof`: the application's copy of `ai` (or a provider's own
 * error class) need not be the one this package was built against.
 */
import { CircuitOpenError, isAbortError, retryAfterFromHeaders, retryAfterHintOf } from "./index.js";

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

/** The provider's retry hint in ms from response headers: `retryAfterFromHeaders`, the client's one reading of them. */
export function retryHintOfHeaders(headers: Map<string, string>, nowMs: number): number | undefined {
  return retryAfterFromHeaders(headers, nowMs);
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
