/**
 * How a guarded call's result counts for its circuit, and the dependency's
 * own "come back later" hint, read from HTTP statuses and headers.
 *
 * Errors of HTTP clients and LLM SDKs (the OpenAI and Anthropic JS SDKs'
 * `APIError`, fetch wrappers, axios) are recognized by their attributes,
 * without importing them: a status in `status`, `statusCode` or
 * `response.status`, headers in `headers` or `response.headers` (a Fetch
 * `Headers` or a plain object). The same rules as the Python
 * (`classify.py`) and Go (`httphint.go`) clients.
 */
import type { Outcome } from "./vocabulary.js";

/** A value that can tell the time in epoch milliseconds. */
export interface Clock {
  now(): number;
}

/** How a call counts, and the wait the dependency asked for (ms), if any. */
export interface Classification {
  outcome: Outcome;
  retryAfterMs?: number | undefined;
}

/** Header `name` (lower case) of a Fetch `Headers`, a Map or a plain object; undefined if absent. */
function headerOf(headers: unknown, name: string): string | undefined {
  if (headers === null || typeof headers !== "object") return undefined;
  const h = headers as { get?: unknown } & Record<string, unknown>;
  if (typeof h.get === "function") {
    const v = (h.get as (n: string) => unknown).call(headers, name);
    if (typeof v === "string") return v;
    if (typeof Headers !== "undefined" && headers instanceof Headers) return undefined;
  }
  for (const [k, v] of Object.entries(h)) {
    if (k.toLowerCase() !== name) continue;
    if (typeof v === "string") return v;
    if (typeof v === "number") return String(v);
    if (Array.isArray(v) && typeof v[0] === "string") return v[0];
  }
  return undefined;
}

/** Every header as [lower-case name, value]. */
function entriesOf(headers: unknown): [string, string][] {
  if (headers === null || typeof headers !== "object") return [];
  const h = headers as { forEach?: unknown };
  const out: [string, string][] = [];
  if ((typeof Headers !== "undefined" && headers instanceof Headers) || headers instanceof Map) {
    (h.forEach as (cb: (v: unknown, k: unknown) => void) => void).call(headers, (v, k) => {
      if (typeof k === "string" && typeof v === "string") out.push([k.toLowerCase(), v]);
    });
    return out;
  }
  for (const [k, v] of Object.entries(headers)) {
    if (typeof v === "string" || typeof v === "number") out.push([k.toLowerCase(), String(v)]);
  }
  return out;
}

const nonNegative = (v: string | undefined): number | undefined => {
  if (v === undefined || !/^\s*\d+(\.\d+)?\s*$/.test(v)) return undefined;
  return Number(v);
};

/**
 * Parses an HTTP Retry-After value (delta-seconds or an HTTP-date) into
 * milliseconds from `nowMs`; undefined when absent, malformed or not in the
 * future.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const seconds = nonNegative(value);
  if (seconds !== undefined) {
    const ms = Math.round(seconds * 1000);
    return ms > 0 ? ms : undefined;
  }
  const at = Date.parse(value.trim());
  if (Number.isNaN(at)) return undefined;
  const ms = at - nowMs;
  return ms > 0 ? ms : undefined;
}

const DURATION_PART = /(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/g;
const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, "µs": 0.001, ns: 0.000001 };

/**
 * A rate-limit reset value (`x-ratelimit-reset-*`) in ms from `nowMs`: a
 * Go-style duration ("1s", "6m0s", "20ms", as OpenAI sends), plain seconds
 * ("12"), epoch seconds (past 1e9) or an HTTP-date. Undefined when malformed
 * or not in the future.
 */
export function parseResetIn(value: string, nowMs: number): number | undefined {
  const seconds = nonNegative(value);
  if (seconds !== undefined) {
    const ms = seconds > 1e9 ? seconds * 1000 - nowMs : seconds * 1000;
    return ms > 0 ? Math.ceil(ms) : undefined;
  }
  const text = value.trim();
  const parts = [...text.matchAll(DURATION_PART)];
  if (parts.length > 0 && parts.map((p) => p[0]).join("") === text) {
    const ms = parts.reduce((sum, p) => sum + Number(p[1]) * UNIT_MS[p[2]!]!, 0);
    return ms > 0 ? Math.ceil(ms) : undefined;
  }
  return parseRetryAfter(text, nowMs);
}

/**
 * The wait a response's headers ask for, in ms: `retry-after-ms` (OpenAI,
 * Anthropic), else `Retry-After` (seconds or an HTTP-date), else the longest
 * `x-ratelimit-reset-<limit>` among the limits whose
 * `x-ratelimit-remaining-<limit>` is "0" (the ones that were hit), or among
 * all of them when none says; undefined when none is present and valid (or it is 0).
 */
export function retryAfterFromHeaders(headers: unknown, nowMs: number): number | undefined {
  const ms = nonNegative(headerOf(headers, "retry-after-ms"));
  if (ms !== undefined) return ms > 0 ? Math.ceil(ms) : undefined;
  const after = parseRetryAfter(headerOf(headers, "retry-after"), nowMs);
  if (after !== undefined) return after;
  const entries = entriesOf(headers);
  const remaining = new Map(entries.filter(([k]) => k.startsWith("x-ratelimit-remaining")));
  const resets: { ms: number; hit: boolean }[] = [];
  for (const [name, value] of entries) {
    if (!name.startsWith("x-ratelimit-reset")) continue;
    const resetMs = parseResetIn(value, nowMs);
    const left = remaining.get(name.replace("x-ratelimit-reset", "x-ratelimit-remaining"));
    if (resetMs !== undefined) resets.push({ ms: resetMs, hit: left !== undefined && Number(left) === 0 });
  }
  const counted = resets.some((r) => r.hit) ? resets.filter((r) => r.hit) : resets;
  return counted.length === 0 ? undefined : Math.max(...counted.map((r) => r.ms));
}

/**
 * An HTTP status: 429 and 5xx are FAILURE, with the hint of `headers`;
 * other 4xx are IGNORED (the request was wrong, not the dependency); anything
 * else SUCCESS.
 */
export function classifyHttpStatus(status: number, headers: unknown, nowMs: number): Classification {
  if (status === 429 || status >= 500) return { outcome: "FAILURE", retryAfterMs: retryAfterFromHeaders(headers, nowMs) };
  if (status >= 400) return { outcome: "IGNORED" };
  return { outcome: "SUCCESS" };
}

/**
 * A fetch `Response` a guarded call resolved to (pass it as
 * `RunOptions.classifyResult`): by its status, as `classifyHttpStatus`.
 * Anything that is not a response object counts SUCCESS.
 */
export function classifyResponse(response: unknown, nowMs: number = Date.now()): Classification {
  if (response === null || typeof response !== "object") return { outcome: "SUCCESS" };
  const r = response as { status?: unknown; headers?: unknown };
  if (typeof r.status !== "number") return { outcome: "SUCCESS" };
  return classifyHttpStatus(r.status, r.headers, nowMs);
}

/** The HTTP status an error carries (`status`, `statusCode`, or `response.status`), or undefined. */
export function httpStatusOf(err: unknown): number | undefined {
  if (err === null || typeof err !== "object") return undefined;
  const e = err as Record<string, unknown>;
  const response = e.response as Record<string, unknown> | null | undefined;
  for (const v of [e.status, e.statusCode, response?.status, response?.statusCode]) {
    if (typeof v === "number" && Number.isInteger(v) && v >= 100 && v <= 599) return v;
  }
  return undefined;
}

/**
 * How a thrown error counts by default: an abort (an error named
 * "AbortError") is IGNORED; a timeout of the call's own client (see
 * `isTimeoutError`) is TIMEOUT; an error with an HTTP status follows
 * `classifyHttpStatus` (a thrown 2xx/3xx still FAILURE); anything else
 * FAILURE. A numeric `err.retryAfterMs` is the hint whatever the status.
 */
export function classifyError(err: unknown, nowMs: number): Classification {
  if (isAbortError(err)) return { outcome: "IGNORED" };
  if (isTimeoutError(err)) return { outcome: "TIMEOUT" };
  const own = ownHint(err);
  const status = httpStatusOf(err);
  if (status === undefined) return { outcome: "FAILURE", retryAfterMs: own };
  const e = err as Record<string, unknown>;
  const response = e.response as Record<string, unknown> | null | undefined;
  const c = classifyHttpStatus(status, e.headers ?? response?.headers, nowMs);
  if (c.outcome === "SUCCESS") return { outcome: "FAILURE", retryAfterMs: own };
  if (c.outcome === "IGNORED") return c;
  return { outcome: "FAILURE", retryAfterMs: own ?? c.retryAfterMs };
}

function ownHint(err: unknown): number | undefined {
  if (err === null || typeof err !== "object") return undefined;
  const v = (err as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof v === "number" && Number.isFinite(v) && v > 0 ? Math.ceil(v) : undefined;
}

/**
 * The dependency's own "come back later" hint carried by an error, in ms, or
 * undefined: a numeric `err.retryAfterMs`, or for an HTTP status 429 or 5xx
 * the headers' hint (`retryAfterFromHeaders`).
 */
export function retryAfterHintOf(err: unknown, nowMs: number): number | undefined {
  const c = classifyError(err, nowMs);
  return c.outcome === "FAILURE" ? c.retryAfterMs : undefined;
}

/** True for an abort (DOMException or any error named "AbortError"). */
export function isAbortError(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { name?: unknown }).name === "AbortError";
}

/** Names of the timeout errors of fetch (`AbortSignal.timeout`) and the OpenAI / Anthropic JS SDKs. */
const TIMEOUT_NAMES = new Set(["TimeoutError", "APIConnectionTimeoutError", "APITimeoutError"]);

/** True for a timeout the call's own client raised: an error (or its class) named as in TIMEOUT_NAMES, or code ETIMEDOUT. */
export function isTimeoutError(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  const e = err as { name?: unknown; code?: unknown; constructor?: { name?: unknown } };
  return TIMEOUT_NAMES.has(String(e.name)) || TIMEOUT_NAMES.has(String(e.constructor?.name)) || e.code === "ETIMEDOUT";
}
