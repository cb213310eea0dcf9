/**
 * The AI SDK middleware's default error classification (ai-sdk-errors.ts):
 * which errors of a model call count against the provider, and the retry
 * hint read off the provider's rate-limit headers. Pure: no server.
 */
import { APICallError } from "ai";
import { describe, expect, it } from "vitest";
import { CircuitOpenError } from "@breakerbox/client";
import { classifyModelError, parseResetIn } from "@breakerbox/client/ai-sdk";

const NOW = Date.UTC(2026, 0, 1);

function apiError(statusCode: number | undefined, responseHeaders?: Record<string, string>): APICallError {
  return new APICallError({ message: "x", url: "https://llm.example", requestBodyValues: {}, ...(statusCode !== undefined && { statusCode }), ...(responseHeaders && { responseHeaders }) });
}

describe("classifyModelError", () => {
  it.each([
    ["429 without headers", apiError(429), { failure: true }],
    ["500", apiError(500), { failure: true }],
    ["529 (overloaded)", apiError(529), { failure: true }],
    ["400", apiError(400), { failure: false }],
    ["401", apiError(401), { failure: false }],
    ["404", apiError(404), { failure: false }],
    ["no response at all (network error)", apiError(undefined), { failure: true }],
    ["a plain Error", new Error("socket hang up"), { failure: true }],
    ["an abort", new DOMException("aborted", "AbortError"), { failure: false }],
    ["an inner circuit's denial", new CircuitOpenError({ circuit: "c", state: "OPEN", retryAfterMs: 5, reason: "OPEN", local: false }), { failure: false }],
    ["a 503 in the cause", Object.assign(new Error("gateway"), { cause: apiError(503, { "retry-after": "7" }) }), { failure: true, retryAfterMs: 7000 }],
  ])("%s", (_name, err, verdict) => {
    expect(classifyModelError(err, NOW)).toEqual(verdict);
  });

  it.each([
    ["retry-after-ms", { "retry-after-ms": "1500.5", "retry-after": "60" }, 1501],
    ["retry-after in seconds", { "retry-after": "20" }, 20_000],
    ["retry-after as an HTTP-date", { "retry-after": new Date(NOW + 90_000).toUTCString() }, 90_000],
    ["the exhausted limit's x-ratelimit-reset", { "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "6m0s", "x-ratelimit-remaining-tokens": "900", "x-ratelimit-reset-tokens": "20m" }, 360_000],
    ["the longest x-ratelimit-reset when none says which was hit", { "x-ratelimit-reset-requests": "1s", "x-ratelimit-reset-tokens": "1m30s" }, 90_000],
    ["header names in any case", { "Retry-After": "3" }, 3000],
  ])("429 with %s", (_name, headers, ms) => {
    expect(classifyModelError(apiError(429, headers), NOW)).toEqual({ failure: true, retryAfterMs: ms });
  });

  it("takes no hint from a 4xx that is IGNORED", () => {
    expect(classifyModelError(apiError(400, { "retry-after": "20" }), NOW)).toEqual({ failure: false });
  });
});

describe("parseResetIn", () => {
  it.each([
    ["20ms", 20],
    ["1.5s", 1500],
    ["1h2m3s", 3_723_000],
    ["12", 12_000],
    [String((NOW + 45_000) / 1000), 45_000],
    ["0s", undefined],
    ["soon", undefined],
  ])("%s", (value, ms) => {
    expect(parseResetIn(value, NOW)).toBe(ms);
  });
});
