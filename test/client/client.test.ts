/**
 * The TypeScript SDK against a real in-process Breakerbox (gRPC, memory store,
 * manual clock). The SDK shares the server's manual clock, so local fail-fast
 * expiry is driven by the same time the service uses.
 */
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { State as PbState } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { classifyResponse, createBreakerbox, CallTimeoutError, CircuitOpenError, type WatchUpdate } from "@breakerbox/client";
import { nextWithin } from "../support/grpc-client.js";
import { useTestServer } from "../support/use-test-server.js";

const { server, client: admin, sdk: bb } = useTestServer({
  env: { CIRCUIT_BREAKER_FAILURE_THRESHOLD: "3", CIRCUIT_BREAKER_TIMEOUT_SECONDS: "30" },
  sdk: true,
});

/** The circuit's stats once every Report `bb` queued was delivered. */
async function stats(circuit: string) {
  expect(await bb.flush(5000)).toBe(true);
  const view = await server.store.get(circuit);
  if (view === undefined) throw new Error(`no circuit ${circuit}`);
  return view.stats;
}

const boom = () => Promise.reject(new Error("boom"));

describe("run", () => {
  it("returns fn's result and reports SUCCESS with the measured duration", async () => {
    await admin.call("configure", { target: { case: "circuit", value: "run.ok" }, config: { slowCallDuration: durationFromMs(100) } });
    const result = await bb.run("run.ok", async (signal) => {
      expect(signal.aborted).toBe(false);
      server.clock.advance(250); // the call "takes" 250 ms on the shared clock
      return 42;
    });
    expect(result).toBe(42);
    const s = await stats("run.ok");
    expect(s.totalSuccesses).toBe(1);
    expect(s.windowSlowCalls).toBe(1); // duration 250 ms > slow_call_duration 100 ms reached the service
    expect(s.totalFailures).toBe(0);
  });

  it("rethrows fn's own error and reports FAILURE", async () => {
    const err = new Error("dependency down");
    await expect(bb.run("run.fail", () => Promise.reject(err))).rejects.toBe(err);
    const s = await stats("run.fail");
    expect(s.totalFailures).toBe(1);
    expect(s.consecutiveFailures).toBe(1);
    expect(s.totalTimeouts).toBe(0);
  });

  it("aborts fn's signal on timeout, reports TIMEOUT and throws CallTimeoutError", async () => {
    let seen: AbortSignal | undefined;
    const p = bb.run(
      "run.timeout",
      (signal) => {
        seen = signal;
        return new Promise<never>(() => {}); // never settles
      },
      { timeoutMs: 20 },
    );
    const err = await p.catch((e: unknown) => e);
    expect(CallTimeoutError.is(err)).toBe(true);
    expect(err).toBeInstanceOf(CallTimeoutError);
    expect((err as CallTimeoutError).circuit).toBe("run.timeout");
    expect((err as CallTimeoutError).timeoutMs).toBe(20);
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBe(err);
    const s = await stats("run.timeout");
    expect(s.totalTimeouts).toBe(1);
    expect(s.totalFailures).toBe(1); // a timeout counts as a failure
  });

  it("uses the client's defaultTimeoutMs when the call gives none", async () => {
    const c = createBreakerbox({ address: server.grpcAddress, clock: server.clock, defaultTimeoutMs: 10 });
    try {
      await expect(c.run("run.default-timeout", () => new Promise<never>(() => {}))).rejects.toBeInstanceOf(CallTimeoutError);
      await c.flush();
      expect((await stats("run.default-timeout")).totalTimeouts).toBe(1);
    } finally {
      c.close();
    }
  });

  it("reports IGNORED for an AbortError, for the caller's abort, and when isFailure says no", async () => {
    const abortErr = new DOMException("aborted", "AbortError");
    await expect(bb.run("run.ignored", () => Promise.reject(abortErr))).rejects.toBe(abortErr);

    const caller = new AbortController();
    const reason = new Error("caller gave up");
    let fnSignal: AbortSignal | undefined;
    const p = bb.run(
      "run.ignored",
      (signal) => {
        fnSignal = signal;
        queueMicrotask(() => caller.abort(reason));
        return new Promise<never>(() => {});
      },
      { signal: caller.signal },
    );
    await expect(p).rejects.toBe(reason);
    expect(fnSignal?.aborted).toBe(true);

    const badRequest = Object.assign(new Error("400"), { status: 400 });
    await expect(bb.run("run.ignored", () => Promise.reject(badRequest), { isFailure: (e) => (e as { status?: number }).status !== 400 })).rejects.toBe(
      badRequest,
    );

    const s = await stats("run.ignored");
    expect(s.totalIgnored).toBe(3);
    expect(s.totalFailures).toBe(0);
    expect(s.totalSuccesses).toBe(0);
  });

  it("makes no Acquire when the caller's signal is already aborted", async () => {
    const caller = new AbortController();
    caller.abort(new Error("already"));
    let called = false;
    await expect(bb.run("run.pre-aborted", async () => (called = true), { signal: caller.signal })).rejects.toThrow("already");
    expect(called).toBe(false);
    expect(await server.store.get("run.pre-aborted")).toBeUndefined();
  });

  it("opens the circuit after 3 failures; a denial throws CircuitOpenError with exact fields or uses the fallback", async () => {
    for (let i = 0; i < 3; i++) await expect(bb.run("run.opens", boom)).rejects.toThrow("boom");
    await bb.flush(); // the Reports are sent in the background
    expect((await server.store.get("run.opens"))?.state).toBe("OPEN");

    let called = false;
    const err = await bb.run("run.opens", async () => (called = true)).catch((e: unknown) => e);
    expect(called).toBe(false);
    expect(CircuitOpenError.is(err)).toBe(true);
    expect(CircuitOpenError.is(new Error("x"))).toBe(false);
    const e = err as CircuitOpenError;
    expect({ circuit: e.circuit, state: e.state, retryAfterMs: e.retryAfterMs, reason: e.reason, local: e.local }).toEqual({
      circuit: "run.opens",
      state: "OPEN",
      retryAfterMs: 30_000,
      reason: "OPEN",
      local: false,
    });

    const viaFallback = await bb.run("run.opens", async () => "live", {
      fallback: (denied) => `cached (${denied.state}, ${denied.retryAfterMs} ms, local=${String(denied.local)})`,
    });
    expect(viaFallback).toBe("cached (OPEN, 30000 ms, local=true)");
  });

  it("wrap() decorates a function with the same contract", async () => {
    const double = bb.wrap("run.wrap", async (_signal, n: number) => n * 2);
    expect(await double(21)).toBe(42);
    expect((await stats("run.wrap")).totalSuccesses).toBe(1);
  });
});

describe("local fail-fast", () => {
  it("denies locally while the circuit is known OPEN, without an RPC, then asks again after retry_after", async () => {
    const c = "ff.denial";
    for (let i = 0; i < 3; i++) await expect(bb.run(c, boom)).rejects.toThrow("boom");
    await bb.flush(); // the Reports are sent in the background
    // First denial comes from the service (one rejection counted there).
    const first = (await bb.run(c, async () => 1).catch((e: unknown) => e)) as CircuitOpenError;
    expect(first.local).toBe(false);
    expect(first.retryAfterMs).toBe(30_000);
    expect((await stats(c)).totalRejections).toBe(1);
    expect(bb.knownOpenUntil(c)).toBe(server.clock.now() + 30_000);

    server.clock.advance(10_000);
    for (let i = 0; i < 5; i++) {
      const local = (await bb.run(c, async () => 1).catch((e: unknown) => e)) as CircuitOpenError;
      expect(CircuitOpenError.is(local)).toBe(true);
      expect({ state: local.state, reason: local.reason, local: local.local, retryAfterMs: local.retryAfterMs }).toEqual({
        state: "OPEN",
        reason: "OPEN",
        local: true,
        retryAfterMs: 20_000,
      });
    }
    const manual = await bb.acquire(c);
    expect(manual).toEqual({ allowed: false, circuit: c, state: "OPEN", reason: "OPEN", retryAfterMs: 20_000, local: true });
    expect((await stats(c)).totalRejections).toBe(1); // no Acquire reached the service

    server.clock.advance(19_999);
    await expect(bb.run(c, async () => 1)).rejects.toMatchObject({ local: true, retryAfterMs: 1 });
    expect((await stats(c)).totalRejections).toBe(1);

    server.clock.advance(1); // open duration over: the SDK asks again and gets a HALF_OPEN probe
    expect(bb.knownOpenUntil(c)).toBeUndefined();
    expect(await bb.run(c, async () => "probe ok")).toBe("probe ok");
    const s = await stats(c);
    expect(s.totalRejections).toBe(1);
    expect(s.halfOpenSuccesses).toBe(1);
    expect((await server.store.get(c))?.state).toBe("HALF_OPEN");
  });

  it("does not cache denials without retry_after (FORCED_OPEN)", async () => {
    const c = "ff.forced";
    await admin.call("forceState", { circuit: c, state: PbState.FORCED_OPEN });
    for (let i = 0; i < 2; i++) {
      await expect(bb.run(c, async () => 1)).rejects.toMatchObject({ circuit: c, state: "FORCED_OPEN", reason: "FORCED_OPEN", retryAfterMs: 0, local: false });
    }
    expect((await stats(c)).totalRejections).toBe(2);
    expect(bb.knownOpenUntil(c)).toBeUndefined();
  });

  it("can be turned off with failFast: false", async () => {
    const c = "ff.off";
    const c2 = createBreakerbox({ address: server.grpcAddress, clock: server.clock, failFast: false });
    try {
      for (let i = 0; i < 3; i++) await expect(c2.run(c, boom)).rejects.toThrow("boom");
      await c2.flush(); // the Reports are sent in the background
      for (let i = 0; i < 2; i++) await expect(c2.run(c, async () => 1)).rejects.toMatchObject({ local: false, retryAfterMs: 30_000 });
      expect((await stats(c)).totalRejections).toBe(2);
    } finally {
      c2.close();
    }
  });
});

describe("Retry-After hint", () => {
  it("a 429 with Retry-After opens the circuit for that long", async () => {
    const c = "hint.429";
    await admin.call("configure", { target: { case: "circuit", value: c }, config: { failureThreshold: 1 } });
    const rateLimited = Object.assign(new Error("Too Many Requests"), { status: 429, headers: new Headers({ "Retry-After": "120" }) });
    await expect(bb.run(c, () => Promise.reject(rateLimited))).rejects.toBe(rateLimited);
    await bb.flush();
    const view = await server.store.get(c);
    expect(view?.state).toBe("OPEN");
    expect(view!.openUntil! - server.clock.now()).toBe(120_000); // not the 30 s open duration
    // The SDK learns it from the next (service) denial.
    await expect(bb.run(c, async () => 1)).rejects.toMatchObject({ state: "OPEN", retryAfterMs: 120_000, local: false });
    await expect(bb.run(c, async () => 1)).rejects.toMatchObject({ retryAfterMs: 120_000, local: true });
    expect((await stats(c)).totalRejections).toBe(1);
  });

  it("reads err.response.status with plain-object headers, and err.retryAfterMs", async () => {
    const c1 = "hint.response-503";
    await admin.call("configure", { target: { case: "circuit", value: c1 }, config: { failureThreshold: 1 } });
    const unavailable = Object.assign(new Error("503"), { response: { status: 503, headers: { "retry-after": "45" } } });
    await expect(bb.run(c1, () => Promise.reject(unavailable))).rejects.toBe(unavailable);
    await bb.flush();
    expect((await server.store.get(c1))!.openUntil! - server.clock.now()).toBe(45_000);

    const c2 = "hint.ms";
    await admin.call("configure", { target: { case: "circuit", value: c2 }, config: { failureThreshold: 1 } });
    await expect(bb.run(c2, () => Promise.reject(Object.assign(new Error("quota"), { retryAfterMs: 90_000 })))).rejects.toThrow("quota");
    await bb.flush();
    expect((await server.store.get(c2))!.openUntil! - server.clock.now()).toBe(90_000);
  });

  it("no hint without a rate-limit header, or for a thrown 2xx: the configured open duration applies", async () => {
    const c = "hint.none";
    await admin.call("configure", { target: { case: "circuit", value: c }, config: { failureThreshold: 1 } });
    const serverError = Object.assign(new Error("500"), { status: 500, headers: new Headers({ "x-request-id": "r1" }) });
    await expect(bb.run(c, () => Promise.reject(serverError))).rejects.toBe(serverError);
    await bb.flush();
    expect((await server.store.get(c))!.openUntil! - server.clock.now()).toBe(30_000);
    const c2 = "hint.none-2xx";
    await admin.call("configure", { target: { case: "circuit", value: c2 }, config: { failureThreshold: 1 } });
    const odd = Object.assign(new Error("thrown with 200"), { status: 200, headers: { "retry-after": "120" } });
    await expect(bb.run(c2, () => Promise.reject(odd))).rejects.toBe(odd);
    await bb.flush();
    expect((await server.store.get(c2))!.openUntil! - server.clock.now()).toBe(30_000);
  });
});

describe("HTTP results", () => {
  it("an SDK error with a 4xx other than 429 is IGNORED (rethrown, never opens); 429 and 5xx are failures", async () => {
    const c = "http.classified";
    const notFound = Object.assign(new Error("404 status code"), { status: 404, headers: new Headers() });
    for (let i = 0; i < 4; i++) await expect(bb.run(c, () => Promise.reject(notFound))).rejects.toBe(notFound);
    expect(await stats(c)).toMatchObject({ totalIgnored: 4, totalFailures: 0 });
    expect((await server.store.get(c))?.state).toBe("CLOSED");
    const overloaded = Object.assign(new Error("529"), { status: 529, headers: {} });
    for (let i = 0; i < 3; i++) await expect(bb.run(c, () => Promise.reject(overloaded))).rejects.toBe(overloaded);
    expect(await stats(c)).toMatchObject({ totalIgnored: 4, totalFailures: 3 });
    expect((await server.store.get(c))?.state).toBe("OPEN");
  });

  it("classifyResult: classifyResponse counts a returned fetch Response by its status, with its rate-limit hint; run returns it", async () => {
    const c = "http.response";
    await admin.call("configure", { target: { case: "circuit", value: c }, config: { failureThreshold: 1 } });
    const missing = new Response(null, { status: 404 });
    expect(await bb.run(c, async () => missing, { classifyResult: classifyResponse })).toBe(missing);
    expect(await stats(c)).toMatchObject({ totalIgnored: 1, totalFailures: 0, totalSuccesses: 0 });
    const limited = new Response("slow down", { status: 429, headers: { "x-ratelimit-reset-requests": "1m30s" } });
    expect(await bb.run(c, async () => limited, { classifyResult: classifyResponse })).toBe(limited);
    expect(await stats(c)).toMatchObject({ totalIgnored: 1, totalFailures: 1 });
    expect((await server.store.get(c))!.openUntil! - server.clock.now()).toBe(90_000);
  });
});

describe("manual flow", () => {
  it("sends agentInstanceId with Acquire, AcquireAny and Report: the transitions it causes name it", async () => {
    const pod = createBreakerbox({ address: server.grpcAddress, clock: server.clock, agentInstanceId: "pod-7" });
    const refused = createBreakerbox({ address: server.grpcAddress, clock: server.clock, agentInstanceId: "pod 7" });
    try {
      const c = "manual.instance";
      for (let i = 0; i < 3; i++) {
        const a = i === 0 ? await pod.acquireAny([c]) : await pod.acquire(c);
        if (!a.allowed) throw new Error("denied");
        await pod.report(c, a.permit, "FAILURE");
      }
      const history = await server.store.history(c, 10);
      expect(history!.entries.map((h) => (h.kind === "transition" ? [h.event.reason, h.event.principal] : h.kind))).toEqual([
        ["consecutive_failures", { keyName: "anonymous", agentInstanceId: "pod-7" }],
      ]);
      await expect(refused.acquire(c)).rejects.toMatchObject({ message: expect.stringContaining("agent_instance_id may hold only") });
    } finally {
      pod.close();
      refused.close();
    }
  });

  it("acquire() then report(); a repeated report is a duplicate", async () => {
    const a = await bb.acquire("manual.ok");
    expect(a.allowed).toBe(true);
    if (!a.allowed) throw new Error("unreachable");
    expect(a.state).toBe("CLOSED");
    expect(a.permit).not.toBe("");
    expect(await bb.report("manual.ok", a.permit, "FAILURE", { durationMs: 12 })).toEqual({
      state: "CLOSED",
      disposition: "RECORDED",
      recordedOutcome: "FAILURE",
      duplicate: false,
      stale: false,
    });
    expect(await bb.report("manual.ok", a.permit, "FAILURE")).toEqual({
      state: "CLOSED",
      disposition: "DUPLICATE",
      recordedOutcome: "FAILURE",
      duplicate: true,
      stale: false,
    });
    expect((await stats("manual.ok")).totalFailures).toBe(1);
  });

  it("report() with a foreign permit throws BreakerboxRpcError FAILED_PRECONDITION", async () => {
    await expect(bb.report("manual.bad", "not-a-permit", "SUCCESS")).rejects.toMatchObject({ name: "BreakerboxRpcError", codeName: "FAILED_PRECONDITION" });
  });
});

describe("runAny", () => {
  it("runs on the first admissible candidate and reports to it", async () => {
    await admin.call("forceState", { circuit: "any.a", state: PbState.FORCED_OPEN });
    const seen: string[] = [];
    const r = await bb.runAny(["any.a", "any.b", "any.c"], async (circuit) => {
      seen.push(circuit);
      return `via ${circuit}`;
    });
    expect(r).toBe("via any.b");
    expect(seen).toEqual(["any.b"]);
    expect((await stats("any.b")).totalSuccesses).toBe(1);
    expect((await stats("any.a")).totalRejections).toBe(1);
    expect(await server.store.get("any.c")).toBeUndefined();

    const err = new Error("b failed");
    await expect(bb.runAny(["any.a", "any.b"], () => Promise.reject(err))).rejects.toBe(err);
    expect((await stats("any.b")).totalFailures).toBe(1);
  });

  it("skips locally-known-OPEN candidates without asking, and throws CircuitOpenError with every denial when none admits", async () => {
    for (let i = 0; i < 3; i++) await expect(bb.run("any.open", boom)).rejects.toThrow("boom");
    await bb.flush(); // the Reports are sent in the background
    await expect(bb.run("any.open", async () => 1)).rejects.toMatchObject({ local: false }); // learn it
    await admin.call("forceState", { circuit: "any.forced", state: PbState.FORCED_OPEN });
    server.clock.advance(5_000);

    const err = (await bb.runAny(["any.forced", "any.open"], async () => 1).catch((e: unknown) => e)) as CircuitOpenError;
    expect(CircuitOpenError.is(err)).toBe(true);
    expect({ circuit: err.circuit, state: err.state, retryAfterMs: err.retryAfterMs, local: err.local }).toEqual({
      circuit: "any.open",
      state: "OPEN",
      retryAfterMs: 25_000,
      local: true,
    });
    expect(err.denials).toEqual([
      { circuit: "any.forced", state: "FORCED_OPEN", reason: "FORCED_OPEN", retryAfterMs: 0, local: false },
      { circuit: "any.open", state: "OPEN", reason: "OPEN", retryAfterMs: 25_000, local: true },
    ]);
    expect((await stats("any.open")).totalRejections).toBe(1); // never asked again

    expect(await bb.runAny(["any.forced", "any.open"], async () => 1, { fallback: (e) => e.denials.length * 100 })).toBe(200);
  });
});

describe("watch", () => {
  it("yields the snapshot then a transition, and feeds local fail-fast", async () => {
    const c = "watch.one";
    await bb.acquire(c).then((a) => (a.allowed ? bb.report(c, a.permit, "SUCCESS") : undefined));
    const watcher = createBreakerbox({ address: server.grpcAddress, clock: server.clock });
    try {
      const it = watcher.watch({ circuits: [c] });
      const snap = await nextWithin<WatchUpdate>(it, 5000, "snapshot");
      expect(snap).toMatchObject({ type: "snapshot", circuit: c, state: "CLOSED" });
      expect((await nextWithin<WatchUpdate>(it, 5000, "snapshot_complete")).type).toBe("snapshot_complete");

      for (let i = 0; i < 3; i++) await expect(bb.run(c, boom)).rejects.toThrow("boom");
      await bb.flush(); // the Reports are sent in the background
      const t = await nextWithin<WatchUpdate>(it, 5000, "transition");
      expect(t).toMatchObject({ type: "transition", circuit: c, from: "CLOSED", to: "OPEN", reason: "consecutive_failures" });
      if (t.type !== "transition") throw new Error("unreachable");
      expect(t.openUntil! - t.at).toBe(30_000);
      expect(t.eventId).not.toBe("");

      // The watching client never asked, yet denies locally.
      const err = (await watcher.run(c, async () => 1).catch((e: unknown) => e)) as CircuitOpenError;
      expect({ local: err.local, state: err.state, retryAfterMs: err.retryAfterMs }).toEqual({ local: true, state: "OPEN", retryAfterMs: 30_000 });
      expect((await stats(c)).totalRejections).toBe(0);

      // Reset → CLOSED event clears the local denial.
      await admin.call("reset", { circuit: c });
      expect(await nextWithin<WatchUpdate>(it, 5000, "reset transition")).toMatchObject({ type: "transition", from: "OPEN", to: "CLOSED", reason: "reset" });
      expect(watcher.knownOpenUntil(c)).toBeUndefined();
      expect(await watcher.run(c, async () => "ok")).toBe("ok");

      // Breaking out ends the iteration.
      expect(await it.return!(undefined)).toEqual({ done: true, value: undefined });
    } finally {
      watcher.close();
    }
  });

  it("resumes from a resume token with exactly the missed events", async () => {
    const c = "watch.resume";
    const it1 = bb.watch({ circuits: [c] });
    let token = "";
    for (;;) {
      const u = await nextWithin<WatchUpdate>(it1, 5000, "snapshot_complete");
      if (u.type === "snapshot_complete") {
        token = u.resumeToken;
        break;
      }
    }
    await it1.return!(undefined);
    await admin.call("forceState", { circuit: c, state: PbState.FORCED_OPEN });
    await admin.call("forceState", { circuit: c, state: PbState.CLOSED });
    const it2 = bb.watch({ circuits: [c], resumeToken: token });
    expect(await nextWithin<WatchUpdate>(it2, 5000, "first")).toMatchObject({ type: "transition", to: "FORCED_OPEN" });
    expect(await nextWithin<WatchUpdate>(it2, 5000, "second")).toMatchObject({ type: "transition", from: "FORCED_OPEN", to: "CLOSED" });
    await it2.return!(undefined);
  });
});
