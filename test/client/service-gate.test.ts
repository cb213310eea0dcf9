/**
 * The client around an unreachable or refusing Breakerbox: a blackholed
 * service costs the calls in flight one finding, not one deadline each, and
 * the calls after it none (the service-down memo); a store at its circuit cap
 * is told by its ErrorInfo reason and applies the policy to that call only;
 * the reporter identity defaults to host:pid.
 */
import { hostname } from "node:os";
import { afterEach, describe, expect, it, vi } from "vitest";
import { BreakerboxRpcError, CircuitOpenError, createBreakerbox, type Breakerbox } from "@breakerbox/client";
import { useTestServer } from "../support/use-test-server.js";
import { startBlackhole, type Blackhole } from "./blackhole.js";

const clients: Breakerbox[] = [];
const holes: Blackhole[] = [];
afterEach(async () => {
  for (const h of holes) h.restore();
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(holes.splice(0).map((h) => h.close()));
});

const settled = <T>(p: Promise<T>) => {
  const s: { done: boolean; value?: T; error?: unknown } = { done: false };
  p.then(
    (value) => Object.assign(s, { done: true, value }),
    (error: unknown) => Object.assign(s, { done: true, error }),
  );
  return s;
};
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe("a blackholed service", () => {
  const { server } = useTestServer();

  it("ends every Acquire in flight with the first one's finding, then answers from the memo without asking", async () => {
    const hole = await startBlackhole(server.app.grpcPort);
    holes.push(hole);
    const bb = createBreakerbox({ address: hole.address, whenUnavailable: "failClosed", rpcTimeoutMs: 1500, serviceRetryMs: 60_000 });
    clients.push(bb);
    const c = "gate.blackholed";
    // Before the client's first connection: Acquires wait on one that is never answered.
    hole.blackhole();

    let ran = 0;
    const started = performance.now();
    const a = settled(bb.run(c, async () => ran++));
    // B starts well after A, so its own deadline would come well after A's.
    await vi.waitFor(() => expect(performance.now() - started).toBeGreaterThanOrEqual(400), { timeout: 1000, interval: 50 });
    expect(a.done).toBe(false);
    const b = settled(bb.run(c, async () => ran++));
    await vi.waitFor(() => expect(a.done).toBe(true), { timeout: 10_000, interval: 5 });
    await turn();
    expect(b.done).toBe(true);
    for (const s of [a, b]) {
      expect(CircuitOpenError.is(s.error)).toBe(true);
      expect((s.error as CircuitOpenError).reason).toBe("SERVICE_UNAVAILABLE");
    }

    // The memo: five more calls, and not one byte more reaches the blackhole.
    const bytes = hole.held.reduce((n, h) => n + h.bytes, 0);
    const connections = hole.held.length;
    for (let i = 0; i < 5; i++) await expect(bb.run(c, async () => ran++)).rejects.toMatchObject({ reason: "SERVICE_UNAVAILABLE", local: true });
    expect(hole.held.reduce((n, h) => n + h.bytes, 0)).toBe(bytes);
    expect(hole.held.length).toBe(connections);
    expect(ran).toBe(0);
    expect(bb.status().degraded).toBe(true);
  });
});

describe("a store at its circuit cap", () => {
  // The cap is enforced by the configured store (the manual-clock fixture's store has none).
  const { server, client: admin } = useTestServer({ clock: "real", env: { BREAKERBOX_MAX_CIRCUITS: "1" } });

  it("applies the policy to the call on a new circuit only (by reason CIRCUIT_CAP_REACHED): the service stays in use", async () => {
    const open = createBreakerbox({ address: server.grpcAddress });
    const closed = createBreakerbox({ address: server.grpcAddress, whenUnavailable: "failClosed" });
    const off = createBreakerbox({ address: server.grpcAddress, whenUnavailable: "off" });
    clients.push(open, closed, off);
    expect(await open.run("cap.first", async () => 1)).toBe(1);

    expect(await open.run("cap.second", async () => "ran under a local breaker")).toBe("ran under a local breaker");
    await expect(closed.run("cap.second", async () => "never")).rejects.toMatchObject({ reason: "SERVICE_UNAVAILABLE", local: true });
    const err = await off.run("cap.second", async () => "never").catch((e: unknown) => e);
    expect(BreakerboxRpcError.is(err)).toBe(true);
    expect(err).toMatchObject({ codeName: "RESOURCE_EXHAUSTED", reason: "CIRCUIT_CAP_REACHED" });

    for (const c of [open, closed]) expect(c.status().degraded).toBe(false);
    expect(await open.run("cap.first", async () => 2)).toBe(2);
    expect(await open.flush(5000)).toBe(true);
    expect(Number((await admin.call("getState", { circuit: "cap.first" })).status?.stats?.totalSuccesses)).toBe(2);
    await expect(admin.call("getState", { circuit: "cap.second" })).rejects.toMatchObject({ details: expect.stringContaining("does not exist") });
  });
});

describe("reporter identity", () => {
  const { server } = useTestServer({ env: { CIRCUIT_BREAKER_FAILURE_THRESHOLD: "2" } });

  it("is host:pid by default, sent with Acquire and the queued Reports", async () => {
    const bb = createBreakerbox({ address: server.grpcAddress, clock: server.clock });
    clients.push(bb);
    const c = "identity.default";
    for (let i = 0; i < 2; i++) await expect(bb.run(c, () => Promise.reject(new Error("down")))).rejects.toThrow("down");
    expect(await bb.flush(5000)).toBe(true);
    const history = await server.store.history(c, 10);
    expect(history!.entries.map((h) => (h.kind === "transition" ? [h.event.reason, h.event.principal] : h.kind))).toEqual([
      ["consecutive_failures", { keyName: "anonymous", agentInstanceId: `${hostname()}:${process.pid}` }],
    ]);
  });
});
