/**
 * Reports off the caller's critical path. The queue itself on a fake
 * transport (exact BatchReport calls, retries, drops), then the client
 * against a live server behind a forwarder that can blackhole it: `run`
 * returns while its Report cannot be sent, the Report is delivered exactly
 * once when the service answers again, and `close()` sends what is queued.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { BreakerboxRpcError, createBreakerbox, type Breakerbox } from "@breakerbox/client";
import { Backoff, ReportQueue, type QueuedReport } from "../../clients/typescript/src/report-queue.js";
import type { Transport } from "../../clients/typescript/src/grpc-transport.js";
import { useTestServer } from "../support/use-test-server.js";
import { startBlackhole, type Blackhole } from "./blackhole.js";

const report = (i: number): QueuedReport => ({ circuit: `q.${i}`, permit: `p${i}`, outcome: 1 });
const unavailable = () => new BreakerboxRpcError(14, "UNAVAILABLE", "down");

/** A transport whose BatchReport answers as `answer` says, recording each call's reports. */
function fakeTransport(answer: (reports: QueuedReport[], call: number) => Promise<unknown>) {
  const calls: string[][] = [];
  const transport = {
    unary(method: string, request: { reports: QueuedReport[] }) {
      if (method !== "batchReport") throw new Error(`unexpected ${method}`);
      calls.push(request.reports.map((r) => r.permit as string));
      return answer(request.reports, calls.length);
    },
    watch() {
      throw new Error("unexpected watch");
    },
    close() {},
  } as unknown as Transport;
  return { transport, calls };
}

const ok = (reports: QueuedReport[]) => Promise.resolve({ results: reports.map(() => ({ result: { case: "response" } })) });

function queue(transport: Transport, overrides: { maxSize?: number; lingerMs?: number } = {}) {
  const events = { unreachable: 0, delivered: 0, dropped: [] as string[], errors: [] as unknown[] };
  const q = new ReportQueue({
    transport,
    maxSize: overrides.maxSize ?? 10_000,
    backoff: new Backoff(1, 4, () => 0.5),
    lingerMs: overrides.lingerMs ?? 0,
    onUnreachable: () => events.unreachable++,
    onDelivered: () => events.delivered++,
    onDropped: (circuit) => events.dropped.push(circuit),
    onReportError: (err) => events.errors.push(err),
  });
  return { q, events };
}

describe("ReportQueue", () => {
  it("sends what is queued with BatchReport, at most 100 reports per call, in order", async () => {
    const { transport, calls } = fakeTransport(ok);
    const { q, events } = queue(transport);
    for (let i = 0; i < 250; i++) q.put(report(i));
    expect(await q.flush(5000)).toBe(true);
    // The first report leaves at once; the rest queued meanwhile go in full batches.
    expect(calls.map((c) => c.length)).toEqual([1, 100, 100, 49]);
    expect(calls.flat()).toEqual(Array.from({ length: 250 }, (_, i) => `p${i}`));
    expect({ size: q.size, dropped: q.dropped, delivered: events.delivered, unreachable: events.unreachable }).toEqual({ size: 0, dropped: 0, delivered: 4, unreachable: 0 });
  });

  it("lingers before a batch smaller than 100, so reports put back to back share one BatchReport; a full batch, flush() and close() do not wait", async () => {
    const { transport, calls } = fakeTransport(ok);
    const { q } = queue(transport, { lingerMs: 20 });
    q.put(report(0));
    await new Promise((r) => setTimeout(r, 5));
    for (let i = 1; i < 5; i++) q.put(report(i));
    await vi.waitFor(() => expect(calls.length).toBe(1), { timeout: 5000 });
    expect(calls).toEqual([["p0", "p1", "p2", "p3", "p4"]]);

    // A linger of a minute: only a full batch, flush() or close() sends.
    const slow = fakeTransport(ok);
    const { q: patient } = queue(slow.transport, { lingerMs: 60_000 });
    for (let i = 0; i < 100; i++) patient.put(report(i));
    await vi.waitFor(() => expect(slow.calls.map((c) => c.length)).toEqual([100]), { timeout: 5000 });
    patient.put(report(100));
    expect(await patient.flush(5000)).toBe(true);
    expect(slow.calls.map((c) => c.length)).toEqual([100, 1]);
    patient.put(report(101));
    expect(await patient.close(5000)).toBe(0);
    expect(slow.calls.map((c) => c.length)).toEqual([100, 1, 1]);
  });

  it("retries a batch the service could not take (unreachable, or its store) with backoff until delivered; refusals are not retried", async () => {
    const { transport, calls } = fakeTransport((reports, n) => {
      if (n <= 2) return Promise.reject(unavailable());
      if (n === 3)
        return Promise.resolve({
          results: [
            { result: { case: "error", value: { code: 14, message: "store down", details: [] } } },
            { result: { case: "error", value: { code: 9, message: "expired", details: [] } } },
          ],
        });
      return ok(reports);
    });
    const { q, events } = queue(transport);
    q.put(report(1));
    q.put(report(2));
    expect(await q.flush(5000)).toBe(true);
    expect(calls).toEqual([["p1"], ["p1", "p2"], ["p1", "p2"], ["p1"]]);
    expect(events.unreachable).toBe(1 + 1);
    expect(events.errors.map((e) => (e as BreakerboxRpcError).codeName)).toEqual(["FAILED_PRECONDITION"]);
    expect(q.dropped).toBe(0);
  });

  it("is bounded: when full the oldest report is dropped and counted; close() drops what it could not send within its bound", async () => {
    const { transport, calls } = fakeTransport(() => new Promise(() => {})); // never answers
    const { q, events } = queue(transport, { maxSize: 3 });
    for (let i = 1; i <= 6; i++) q.put(report(i));
    expect(calls).toEqual([["p1"]]); // in flight
    expect(events.dropped).toEqual(["q.2", "q.3"]);
    expect({ size: q.size, dropped: q.dropped }).toEqual({ size: 4, dropped: 2 });
    expect(await q.flush(20)).toBe(false);
    expect(await q.close(20)).toBe(4); // the batch in flight, then the queued ones
    expect(events.dropped).toEqual(["q.2", "q.3", "q.1", "q.4", "q.5", "q.6"]);
    q.put(report(7)); // after close
    expect(q.dropped).toBe(7);
    expect(q.size).toBe(0);
  });
});

describe("the client's Reports", () => {
  const { server } = useTestServer({ env: { CIRCUIT_BREAKER_FAILURE_THRESHOLD: "3" } });
  const clients: Breakerbox[] = [];
  const holes: Blackhole[] = [];
  afterEach(async () => {
    for (const h of holes.splice(0)) h.restore();
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(holes.splice(0).map((h) => h.close()));
  });
  const successes = async (c: string) => Number((await server.store.get(c))?.stats.totalSuccesses ?? -1);

  it("run returns as soon as fn does, while its Report cannot be sent; the Report is delivered exactly once when the service answers again", async () => {
    const hole = await startBlackhole(server.app.grpcPort);
    holes.push(hole);
    // A Report awaited inside run would hold it for this minute (the test's own timeout is shorter).
    const bb = createBreakerbox({ address: hole.address, clock: server.clock, rpcTimeoutMs: 60_000 });
    clients.push(bb);
    const c = "queue.off-path";
    expect(
      await bb.run(c, async () => {
        hole.blackhole();
        return "done";
      }),
    ).toBe("done");
    expect(bb.status()).toMatchObject({ queuedReports: 1, droppedReports: 0 });
    await vi.waitFor(() => expect(hole.held.some((h) => h.bytes > 0)).toBe(true), { timeout: 10_000, interval: 10 }); // the Report is out, held
    expect(await successes(c)).toBe(0);
    hole.restore();
    expect(await bb.flush(20_000)).toBe(true);
    expect(await successes(c)).toBe(1);
    expect(bb.status()).toEqual({ degraded: false, pendingReports: 0, queuedReports: 0, droppedReports: 0 });
  });

  it("close() sends the queued Reports before closing the channel, waiting for the service within closeTimeoutMs", async () => {
    const hole = await startBlackhole(server.app.grpcPort);
    holes.push(hole);
    const bb = createBreakerbox({ address: hole.address, clock: server.clock, closeTimeoutMs: 30_000 });
    const c = "queue.close";
    for (let i = 0; i < 19; i++) await bb.run(c, async () => i);
    // The last call cuts the path: at least its Report is still queued when close() starts.
    await bb.run(c, async () => hole.blackhole());
    const closing = bb.close();
    await vi.waitFor(() => expect(bb.status().pendingReports).toBeGreaterThan(0), { timeout: 10_000, interval: 10 });
    hole.restore();
    await closing;
    expect(bb.status()).toMatchObject({ queuedReports: 0, droppedReports: 0 });
    expect(await successes(c)).toBe(20);
  });

  it("close() gives up after closeTimeoutMs when the service does not answer, dropping and counting what is left", async () => {
    const hole = await startBlackhole(server.app.grpcPort);
    holes.push(hole);
    const dropped: unknown[] = [];
    const bb = createBreakerbox({
      address: hole.address,
      clock: server.clock,
      rpcTimeoutMs: 60_000,
      closeTimeoutMs: 200,
      onReportError: (err) => dropped.push(err),
    });
    const c = "queue.close-bounded";
    await bb.run(c, async () => hole.blackhole());
    await vi.waitFor(() => expect(hole.held.some((h) => h.bytes > 0)).toBe(true), { timeout: 10_000, interval: 10 }); // the Report is out, held
    await bb.close();
    expect(bb.status().droppedReports).toBe(1);
    expect(dropped).toMatchObject([{ name: "ReportDroppedError", reason: "REPORT_DROPPED" }]);
    hole.restore();
    expect(await successes(c)).toBe(0);
  });
});
