import { describe, expect, it } from "vitest";
import {
  classifyError,
  classifyHttpStatus,
  classifyResponse,
  isAbortError,
  parseRetryAfter,
  retryAfterFromHeaders,
  retryAfterHintOf,
} from "@breakerbox/client";

const now = Date.UTC(2026, 0, 1);

/** Shaped like the OpenAI / Anthropic JS SDKs' APIError: `status` and `headers`, no SDK needed. */
class APIError extends Error {
  constructor(
    readonly status: number,
    readonly headers: Headers | Record<string, string>,
  ) {
    super(`${status} status code`);
  }
}

describe("retryAfterHintOf", () => {
  it("parses delta-seconds and HTTP-date Retry-After on 429 and 5xx only", () => {
    expect(parseRetryAfter("120", now)).toBe(120_000);
    expect(parseRetryAfter("1.5", now)).toBe(1_500);
    expect(parseRetryAfter(new Date(now + 30_000).toUTCString(), now)).toBe(30_000);
    expect(parseRetryAfter(new Date(now - 30_000).toUTCString(), now)).toBeUndefined();
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter("0", now)).toBeUndefined();

    expect(retryAfterHintOf({ status: 429, headers: new Headers({ "retry-after": "7" }) }, now)).toBe(7_000);
    expect(retryAfterHintOf({ statusCode: 503, headers: { "Retry-After": "8" } }, now)).toBe(8_000);
    expect(retryAfterHintOf({ response: { status: 429, headers: new Headers({ "retry-after": "9" }) } }, now)).toBe(9_000);
    expect(retryAfterHintOf({ status: 500, headers: { "retry-after": "9" } }, now)).toBe(9_000);
    expect(retryAfterHintOf({ status: 404, headers: { "retry-after": "9" } }, now)).toBeUndefined();
    expect(retryAfterHintOf({ status: 429 }, now)).toBeUndefined();
    expect(retryAfterHintOf({ retryAfterMs: 2_500 }, now)).toBe(2_500);
    expect(retryAfterHintOf(new Error("plain"), now)).toBeUndefined();
    expect(retryAfterHintOf("string", now)).toBeUndefined();
  });

  it("recognizes AbortError by name", () => {
    expect(isAbortError(new DOMException("x", "AbortError"))).toBe(true);
    expect(isAbortError(Object.assign(new Error("x"), { name: "AbortError" }))).toBe(true);
    expect(isAbortError(new Error("x"))).toBe(false);
  });
});

describe("rate-limit headers", () => {
  it("prefers retry-after-ms, then Retry-After, then the longest x-ratelimit-reset-*", () => {
    expect(retryAfterFromHeaders(new Headers({ "retry-after-ms": "1500", "retry-after": "9" }), now)).toBe(1_500);
    expect(retryAfterFromHeaders({ "Retry-After-Ms": "250.5" }, now)).toBe(251);
    expect(retryAfterFromHeaders({ "retry-after": "4", "x-ratelimit-reset-requests": "20s" }, now)).toBe(4_000);
    expect(retryAfterFromHeaders(new Headers({ "x-ratelimit-reset-requests": "1s", "x-ratelimit-reset-tokens": "6m0s" }), now)).toBe(360_000);
    expect(retryAfterFromHeaders({ "x-ratelimit-reset-tokens": "20ms" }, now)).toBe(20);
    expect(retryAfterFromHeaders({ "x-ratelimit-reset-requests": "1h2m3.5s" }, now)).toBe(3_723_500);
    expect(retryAfterFromHeaders({ "x-ratelimit-reset": "12" }, now)).toBe(12_000);
    expect(retryAfterFromHeaders({ "x-ratelimit-reset-tokens": "soon", "retry-after-ms": "x" }, now)).toBeUndefined();
    expect(retryAfterFromHeaders(new Headers(), now)).toBeUndefined();
    expect(retryAfterFromHeaders(undefined, now)).toBeUndefined();
  });
});

describe("classification", () => {
  it("by HTTP status: 429 and 5xx FAILURE with the hint, other 4xx IGNORED, the rest SUCCESS", () => {
    expect(classifyHttpStatus(429, { "retry-after-ms": "3000" }, now)).toEqual({ outcome: "FAILURE", retryAfterMs: 3_000 });
    expect(classifyHttpStatus(503, {}, now)).toEqual({ outcome: "FAILURE", retryAfterMs: undefined });
    expect(classifyHttpStatus(529, { "retry-after": "2" }, now)).toEqual({ outcome: "FAILURE", retryAfterMs: 2_000 });
    expect(classifyHttpStatus(404, { "retry-after": "2" }, now)).toEqual({ outcome: "IGNORED" });
    expect(classifyHttpStatus(400, {}, now)).toEqual({ outcome: "IGNORED" });
    expect(classifyHttpStatus(200, {}, now)).toEqual({ outcome: "SUCCESS" });
  });

  it("an LLM SDK's error by its status and headers; an abort IGNORED, a client timeout TIMEOUT; a thrown 2xx or a plain error FAILURE", () => {
    expect(classifyError(new APIError(429, new Headers({ "retry-after-ms": "800" })), now)).toEqual({ outcome: "FAILURE", retryAfterMs: 800 });
    expect(classifyError(new APIError(401, {}), now)).toEqual({ outcome: "IGNORED" });
    expect(classifyError(new APIError(500, { "x-ratelimit-reset-requests": "2s" }), now)).toEqual({ outcome: "FAILURE", retryAfterMs: 2_000 });
    expect(classifyError({ response: { status: 422, headers: {} } }, now)).toEqual({ outcome: "IGNORED" });
    expect(classifyError(Object.assign(new Error("odd"), { status: 200 }), now)).toEqual({ outcome: "FAILURE", retryAfterMs: undefined });
    expect(classifyError(new DOMException("gave up", "AbortError"), now)).toEqual({ outcome: "IGNORED" });
    expect(classifyError(new DOMException("signal timed out", "TimeoutError"), now)).toEqual({ outcome: "TIMEOUT" });
    class APIConnectionTimeoutError extends Error {}
    expect(classifyError(new APIConnectionTimeoutError("Request timed out."), now)).toEqual({ outcome: "TIMEOUT" });
    expect(classifyError(Object.assign(new Error("connect ETIMEDOUT"), { code: "ETIMEDOUT" }), now)).toEqual({ outcome: "TIMEOUT" });
    expect(classifyError(new Error("plain"), now)).toEqual({ outcome: "FAILURE", retryAfterMs: undefined });
    expect(classifyError(Object.assign(new APIError(503, {}), { retryAfterMs: 42 }), now)).toEqual({ outcome: "FAILURE", retryAfterMs: 42 });
  });

  it("a fetch Response by its status", () => {
    expect(classifyResponse(new Response("slow down", { status: 429, headers: { "retry-after": "5" } }), now)).toEqual({ outcome: "FAILURE", retryAfterMs: 5_000 });
    expect(classifyResponse(new Response(null, { status: 404 }), now)).toEqual({ outcome: "IGNORED" });
    expect(classifyResponse(new Response("ok"), now)).toEqual({ outcome: "SUCCESS" });
    expect(classifyResponse("not a response", now)).toEqual({ outcome: "SUCCESS" });
  });
});
