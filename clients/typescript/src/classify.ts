/** Default outcome classification and Retry-After hint extraction. */

/** A value that can tell the time in epoch milliseconds. */
export interface Clock {
  now(): number;
}

function headerOf(headers: unknown, name: string): string | undefined {
  if (headers === null || typeof headers !== "object") return undefined;
  const h = headers as { get?: unknown } & Record<string, unknown>;
  if (typeof h.get === "function") {
    const v = (h.get as (n: string) => unknown).call(headers, name);
    if (typeof v === "string") return v;
  }
  for (const [k, v] of Object.entries(h)) {
    if (k.toLowerCase() !== name) continue;
    if (typeof v === "string") return v;
    if (typeof v === "number") return String(v);
    if (Array.isArray(v) && typeof v[0] === "string") return v[0];
  }
  return undefined;
}

/**
 * Parses an HTTP Retry-After value (delta-seconds or an HTTP-date) into
 * milliseconds from `nowMs`; undefined when absent, malformed or not in the
 * future.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) {
    const ms = Math.round(Number(v) * 1000);
    return ms > 0 ? ms : undefined;
  }
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  const ms = at - nowMs;
  return ms > 0 ? ms : undefined;
}

function statusOf(e: Record<string, unknown>): number | undefined {
  for (const v of [e.status, e.statusCode, (e.response as Record<string, unknown> | undefined)?.status]) {
    if (typeof v === "number") return v;
  }
  return undefined;
}

/**
 * The dependency's own "come back later" hint carried by an error, in ms, or
 * undefined. Recognized: a numeric `err.retryAfterMs` (any error), or an HTTP
 * status 429 or 503 (`err.status`, `err.statusCode` or `err.response.status`)
 * with a `Retry-After` header (`err.headers` or `err.response.headers`, either
 * a Fetch `Headers` or a plain object), in delta-seconds or HTTP-date form.
 */
export function retryAfterHintOf(err: unknown, nowMs: number): number | undefined {
  if (err === null || typeof err !== "object") return undefined;
  const e = err as Record<string, unknown>;
  if (typeof e.retryAfterMs === "number" && Number.isFinite(e.retryAfterMs) && e.retryAfterMs > 0) return Math.ceil(e.retryAfterMs);
  const status = statusOf(e);
  if (status !== 429 && status !== 503) return undefined;
  const response = e.response as Record<string, unknown> | undefined;
  const value = headerOf(e.headers, "retry-after") ?? headerOf(response?.headers, "retry-after");
  return parseRetryAfter(value, nowMs);
}

/** True for an abort (DOMException or any error named "AbortError"). */
export function isAbortError(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { name?: unknown }).name === "AbortError";
}
