import { describe, expect, it } from "vitest";
import { isAbortError, parseRetryAfter, retryAfterHintOf } from "@breakerbox/client";

const now = Date.UTC(2026, 0, 1);

describe("retryAfterHintOf", () => {
  it("parses delta-seconds and HTTP-date Retry-After on 429/503 only", () => {
    expect(parseRetryAfter("120", now)).toBe(120_000);
    expect(parseRetryAfter("1.5", now)).toBe(1_500);
    expect(parseRetryAfter(new Date(now + 30_000).toUTCString(), now)).toBe(30_000);
    expect(parseRetryAfter(new Date(now - 30_000).toUTCString(), now)).toBeUndefined();
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter("0", now)).toBeUndefined();

    expect(retryAfterHintOf({ status: 429, headers: new Headers({ "retry-after": "7" }) }, now)).toBe(7_000);
    expect(retryAfterHintOf({ statusCode: 503, headers: { "Retry-After": "8" } }, now)).toBe(8_000);
    expect(retryAfterHintOf({ response: { status: 429, headers: new Headers({ "retry-after": "9" }) } }, now)).toBe(9_000);
    expect(retryAfterHintOf({ status: 500, headers: { "retry-after": "9" } }, now)).toBeUndefined();
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
