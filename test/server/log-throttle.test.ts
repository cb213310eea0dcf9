import { describe, expect, it } from "vitest";
import { LogThrottle } from "../../src/server/log-throttle.js";

describe("LogThrottle", () => {
  it("logs the first occurrence, holds back repeats within the interval, then logs with their count", () => {
    let now = 1_000;
    const throttle = new LogThrottle({ intervalMs: 5_000, now: () => now });
    expect(throttle.admit("a")).toBe(0);
    expect(throttle.admit("a")).toBeUndefined();
    now += 4_999;
    expect(throttle.admit("a")).toBeUndefined();
    expect(throttle.admit("b")).toBe(0); // keys are independent
    now += 1;
    expect(throttle.admit("a")).toBe(2);
    expect(throttle.admit("a")).toBeUndefined();
    now += 5_000;
    expect(throttle.admit("a")).toBe(1);
    expect(throttle.admit("b")).toBe(0);
  });

  it("forgets every key once more than maxKeys distinct keys were seen, so memory stays bounded", () => {
    const now = 0;
    const throttle = new LogThrottle({ intervalMs: 5_000, maxKeys: 2, now: () => now });
    expect(throttle.admit("a")).toBe(0);
    expect(throttle.admit("b")).toBe(0);
    expect(throttle.admit("a")).toBeUndefined();
    expect(throttle.admit("c")).toBe(0); // the memory starts over here
    expect(throttle.admit("a")).toBe(0);
    expect(throttle.admit("c")).toBeUndefined();
  });
});
