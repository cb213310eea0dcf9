/**
 * runStream against a live server: a stream is reported when it ends or
 * fails, not when it starts; a consumer that stops early reports IGNORED and
 * stops the producer; a denial gives the fallback's items or throws.
 */
import { describe, expect, it } from "vitest";
import { CallTimeoutError, CircuitOpenError } from "@breakerbox/client";
import { useTestServer } from "../support/use-test-server.js";

const { server, client: admin, sdk: bb } = useTestServer({
  env: { CIRCUIT_BREAKER_FAILURE_THRESHOLD: "3", CIRCUIT_BREAKER_TIMEOUT_SECONDS: "30" },
  sdk: true,
});

async function stats(circuit: string) {
  expect(await bb.flush(5000)).toBe(true);
  const s = (await server.store.get(circuit))?.stats;
  return { successes: s?.totalSuccesses, failures: s?.totalFailures, ignored: s?.totalIgnored, timeouts: s?.totalTimeouts };
}

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream) void _;
}

async function* tokens(n: number, then?: Error): AsyncGenerator<string> {
  for (let i = 0; i < n; i++) yield `t${i}`;
  if (then !== undefined) throw then;
}

describe("runStream", () => {
  it("reports SUCCESS when the stream ends, not when it starts, with the stream's whole duration", async () => {
    const c = "stream.ok";
    const it = bb.runStream(c, async () => tokens(3));
    expect(await it.next()).toEqual({ done: false, value: "t0" });
    server.clock.advance(700); // the stream "takes" 700 ms on the shared clock
    expect(await stats(c)).toEqual({ successes: 0, failures: 0, ignored: 0, timeouts: 0 });
    const rest: string[] = [];
    for await (const t of it) rest.push(t);
    expect(rest).toEqual(["t1", "t2"]);
    expect(await stats(c)).toEqual({ successes: 1, failures: 0, ignored: 0, timeouts: 0 });
  });

  it("reports FAILURE when the stream throws midway and rethrows its error; three open the circuit, then it is denied", async () => {
    const c = "stream.fail";
    for (let i = 0; i < 3; i++) {
      const broke = new Error("connection reset midway");
      const got: string[] = [];
      const err = await (async () => {
        for await (const t of bb.runStream(c, () => tokens(2, broke))) got.push(t);
      })().catch((e: unknown) => e);
      expect(err).toBe(broke);
      expect(got).toEqual(["t0", "t1"]);
    }
    expect(await stats(c)).toEqual({ successes: 0, failures: 3, ignored: 0, timeouts: 0 });
    let ran = false;
    const denied = bb.runStream(c, () => {
      ran = true;
      return tokens(1);
    });
    const err = await denied.next().catch((e: unknown) => e);
    expect(CircuitOpenError.is(err)).toBe(true);
    expect(ran).toBe(false);
    const viaFallback: string[] = [];
    for await (const t of bb.runStream(c, () => tokens(1), { fallback: (e) => [`cached (${e.state})`] })) viaFallback.push(t);
    expect(viaFallback).toEqual(["cached (OPEN)"]);
  });

  it("reports IGNORED when the consumer breaks out early, and aborts the producer's signal", async () => {
    const c = "stream.early";
    let signal: AbortSignal | undefined;
    let finished = false;
    for await (const t of bb.runStream(c, async function* (s) {
      signal = s;
      try {
        yield* ["a", "b", "c"];
      } finally {
        finished = true;
      }
    })) {
      if (t === "a") break;
    }
    expect(signal?.aborted).toBe(true);
    expect(finished).toBe(true);
    expect(await stats(c)).toEqual({ successes: 0, failures: 0, ignored: 1, timeouts: 0 });
  });

  it("classifies a stream's error like run: an HTTP 4xx other than 429 is IGNORED, a 429 FAILURE with its hint", async () => {
    const c = "stream.http-400";
    const bad = Object.assign(new Error("bad request"), { status: 400, headers: {} });
    await expect(drain(bb.runStream(c, () => tokens(1, bad)))).rejects.toBe(bad);
    expect(await stats(c)).toEqual({ successes: 0, failures: 0, ignored: 1, timeouts: 0 });

    const limited = "stream.http-429";
    await admin.call("configure", { target: { case: "circuit", value: limited }, config: { failureThreshold: 1 } });
    const slowDown = Object.assign(new Error("rate limited"), { status: 429, headers: new Headers({ "retry-after-ms": "45000" }) });
    await expect(drain(bb.runStream(limited, () => tokens(1, slowDown)))).rejects.toBe(slowDown);
    expect(await stats(limited)).toEqual({ successes: 0, failures: 1, ignored: 0, timeouts: 0 });
    expect((await server.store.get(limited))!.openUntil! - server.clock.now()).toBe(45_000);
  });

  it("times out a stream that has not ended within timeoutMs: TIMEOUT, CallTimeoutError, the producer's signal aborted", async () => {
    const c = "stream.timeout";
    let signal: AbortSignal | undefined;
    const err = await (async () => {
      for await (const _ of bb.runStream(
        c,
        async function* (s) {
          signal = s;
          yield "first";
          await new Promise<never>(() => {}); // hangs
        },
        { timeoutMs: 30 },
      ))
        void _;
    })().catch((e: unknown) => e);
    expect(CallTimeoutError.is(err)).toBe(true);
    expect(signal?.reason).toBe(err);
    expect(await stats(c)).toEqual({ successes: 0, failures: 1, ignored: 0, timeouts: 1 });
  });
});
