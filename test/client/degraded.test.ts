/**
 * Degraded mode: the Breakerbox service is killed and restarted under a
 * running agent. Under failOpen every call still runs (guarded by a local
 * consecutive-failures breaker), the outcome of a call whose Report failed is re-sent once
 * the service answers, and each service-admitted call is counted exactly once.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { BreakerboxRpcError, CircuitOpenError, createBreakerbox, type Breakerbox } from "@breakerbox/client";
import { startForwarder, type Forwarder } from "../support/tcp-forwarder.js";
import { manualClock, type TestServer } from "../support/test-server.js";
import { useTestServers } from "../support/use-test-server.js";

const SECRET = "degraded-test-permit-secret-0123456789";

const FAST_RECONNECT = {
  "grpc.initial_reconnect_backoff_ms": 20,
  "grpc.min_reconnect_backoff_ms": 20,
  "grpc.max_reconnect_backoff_ms": 100,
};

const servers = useTestServers();
const clients: Breakerbox[] = [];
const forwarders: Forwarder[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(forwarders.splice(0).map((f) => f.close()));
});

async function successesOn(server: TestServer, circuit: string): Promise<number> {
  return (await server.store.get(circuit))?.stats.totalSuccesses ?? 0;
}

describe("degraded mode", () => {
  it("failOpen: a local breaker guards the dependency while the service is down; the SDK returns by itself; nothing lost or double-counted", async () => {
    const c = "degraded.llm";
    // One permit secret for both processes, so the Report re-sent to the restarted service is one it
    // signed (without it, each memory-store process draws its own and refuses the other's permits).
    const { server: a } = await servers.start({ env: { BREAKERBOX_PERMIT_SECRET: SECRET } });
    // The SDK's one address, kept by the test across the restart (no port freed and taken again).
    const front = await startForwarder();
    forwarders.push(front);
    front.forwardTo(a.app.grpcPort);
    const clock = manualClock();
    const reportErrors: unknown[] = [];
    const bb = createBreakerbox({
      address: front.address,
      clock,
      serviceRetryMs: 1000,
      localConfig: { failureThreshold: 2, openDurationMs: 5000 },
      channelOptions: FAST_RECONNECT,
      onReportError: (e) => reportErrors.push(e),
    });
    clients.push(bb);
    let calls = 0;
    const ok = async () => ++calls;

    // 1. Service up: 3 calls, counted by the service.
    for (let i = 0; i < 3; i++) await bb.run(c, ok);
    expect(await bb.flush(5000)).toBe(true);
    expect(await successesOn(a, c)).toBe(3);
    expect(bb.status()).toEqual({ degraded: false, pendingReports: 0, queuedReports: 0, droppedReports: 0 });

    // 2. The service dies while a call is in flight: run returns at once; its
    // Report finds the service down and is kept for the next try.
    expect(await bb.run(c, async () => {
      await a.stop();
      front.forwardTo(undefined);
      return ++calls;
    })).toBe(4);
    await vi.waitFor(() => expect(bb.status().pendingReports).toBe(1), { timeout: 10_000, interval: 20 });
    expect(bb.status()).toEqual({ degraded: true, pendingReports: 1, queuedReports: 1, droppedReports: 0 });
    expect(await successesOn(a, c)).toBe(3);

    // 3. Service down: calls still run, without asking it, under a local breaker.
    for (let i = 0; i < 2; i++) expect(await bb.run(c, ok)).toBe(5 + i);
    clock.advance(1000); // time to ask the service again: it is still down
    expect(await bb.run(c, ok)).toBe(7);
    expect(bb.status().degraded).toBe(true);
    // The local breaker opens after 2 failures (localConfig) and denies locally.
    for (let i = 0; i < 2; i++) await expect(bb.run(c, () => Promise.reject(new Error("dependency down")))).rejects.toThrow("dependency down");
    const denied = (await bb.run(c, ok).catch((e: unknown) => e)) as CircuitOpenError;
    expect(CircuitOpenError.is(denied)).toBe(true);
    expect({ state: denied.state, reason: denied.reason, retryAfterMs: denied.retryAfterMs, local: denied.local }).toEqual({
      state: "OPEN",
      reason: "OPEN",
      retryAfterMs: 5000,
      local: true,
    });
    expect(calls).toBe(7);

    // 4. The service comes back (a fresh process, at the same address): the
    // queued Report's next try reaches it, which ends degraded mode by itself.
    const { server: b, client: adminB } = await servers.start({ env: { BREAKERBOX_PERMIT_SECRET: SECRET } });
    // A fresh store knows no circuit, and refuses a permit of a circuit it does not have (PERMIT_UNKNOWN).
    await adminB.call("configure", { target: { case: "circuit", value: c }, config: { failureThreshold: 5 } });
    front.forwardTo(b.app.grpcPort);
    expect(await bb.flush(30_000)).toBe(true);
    expect(bb.status()).toEqual({ degraded: false, pendingReports: 0, queuedReports: 0, droppedReports: 0 });
    // The new service counted the re-sent Report of the call in flight at the kill.
    expect(await successesOn(b, c)).toBe(1);
    // The local breaker is gone (it was OPEN): the service decides again.
    for (let i = 0; i < 4; i++) await bb.run(c, ok);
    expect(await bb.flush(5000)).toBe(true);
    expect(await successesOn(b, c)).toBe(5);
    // Every call ran exactly once: 3 on A, 1 across the kill, 3 local, 4 on B.
    expect(calls).toBe(3 + 1 + 3 + 4);
    expect(reportErrors).toEqual([]);
    // The local breaker is gone: the service decides again (CLOSED on B).
    expect((await b.store.get(c))?.state).toBe("CLOSED");
  });

  it("failClosed: denies with reason SERVICE_UNAVAILABLE (fallback gets it), without calling fn", async () => {
    const bb = createBreakerbox({ address: "127.0.0.1:1", whenUnavailable: "failClosed", serviceRetryMs: 750, clock: manualClock() });
    clients.push(bb);
    let called = false;
    const err = (await bb.run("down.closed", async () => (called = true)).catch((e: unknown) => e)) as CircuitOpenError;
    expect(CircuitOpenError.is(err)).toBe(true);
    expect({ circuit: err.circuit, state: err.state, reason: err.reason, retryAfterMs: err.retryAfterMs, local: err.local }).toEqual({
      circuit: "down.closed",
      state: "OPEN",
      reason: "SERVICE_UNAVAILABLE",
      retryAfterMs: 750,
      local: true,
    });
    expect(await bb.run("down.closed", async () => "live", { fallback: (e) => `fallback: ${e.reason}` })).toBe("fallback: SERVICE_UNAVAILABLE");
    expect(called).toBe(false);
    expect(bb.status().degraded).toBe(true);
  });

  it("off: the Acquire error is thrown as BreakerboxRpcError UNAVAILABLE", async () => {
    const bb = createBreakerbox({ address: "127.0.0.1:1", whenUnavailable: "off" });
    clients.push(bb);
    const err = await bb.run("down.off", async () => 1).catch((e: unknown) => e);
    expect(BreakerboxRpcError.is(err)).toBe(true);
    expect((err as BreakerboxRpcError).codeName).toBe("UNAVAILABLE");
    expect(bb.status().degraded).toBe(false);
  });

  it("failOpen runAny falls over across local breakers too", async () => {
    const bb = createBreakerbox({ address: "127.0.0.1:1", localConfig: { failureThreshold: 1, openDurationMs: 5000 }, clock: manualClock() });
    clients.push(bb);
    await expect(bb.runAny(["p", "q"], () => Promise.reject(new Error("p down")))).rejects.toThrow("p down"); // opens p locally
    expect(await bb.runAny(["p", "q"], async (circuit) => circuit)).toBe("q");
  });
});
