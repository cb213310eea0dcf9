/**
 * A Redis outage seen from a real Breakerbox process: the redis-server is
 * killed (then restarted on the same port) or frozen with SIGSTOP (then
 * resumed). Calls must answer UNAVAILABLE in bounded time, the process must
 * stay up and say it is not ready, and everything must come back by itself
 * when Redis does, without restarting Breakerbox.
 *
 * Latencies are printed, not asserted: machines are noisy. "Without
 * hanging" is asserted by the code: a call that hung would end on the
 * client's 10 s deadline with DEADLINE_EXCEEDED, not the server's UNAVAILABLE.
 */
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { status as Status } from "@grpc/grpc-js";
import { afterAll, describe, expect, it } from "vitest";
import { Outcome, State, type WatchResponse } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { CallError, nextWithin } from "../support/grpc-client.js";
import { VIEW_TTL_MS } from "../../src/store/redis/redis-store.js";
import { useRedis, useReplica } from "../support/process-fixtures.js";
import { ServingStatus, waitFor } from "../support/replicas.js";

const REDIS_TIMEOUT_MS = 500;

const redis = useRedis();
const replica = useReplica(() => ({
  REDIS_URL: redis.url,
  BREAKERBOX_REDIS_TIMEOUT_SECONDS: String(REDIS_TIMEOUT_MS / 1000),
  CIRCUIT_BREAKER_FAILURE_THRESHOLD: "1",
  CIRCUIT_BREAKER_TIMEOUT_SECONDS: "60",
}));

// Runs before the fixtures stop (afterAll hooks run last-registered first): a test that failed mid-pause leaves Redis frozen.
afterAll(() => {
  redis.resume();
});

interface Timed {
  ms: number;
  code: number | "OK";
  details: string;
}

/** Runs one call and times it; a failed call is a result here, not an exception. */
async function timed(fn: () => Promise<unknown>): Promise<Timed> {
  const t0 = performance.now();
  try {
    await fn();
    return { ms: performance.now() - t0, code: "OK", details: "" };
  } catch (err) {
    const ms = performance.now() - t0;
    if (err instanceof CallError) return { ms, code: err.code, details: err.details };
    throw err;
  }
}

/**
 * Acquires and Reports while Redis is away: each must answer UNAVAILABLE
 * (before the client's deadline). Acquires go to circuits this replica has never
 * seen: a circuit it saw CLOSED moments ago may still be granted from its
 * local view, for at most VIEW_TTL_MS (see outageOfSeenCircuit). Reports
 * always need Redis.
 */
async function callsDuringOutage(permit: string, label: string, sequential: number): Promise<Timed[]> {
  const c = replica.client;
  const results: Timed[] = [];
  // One at a time, then a burst at once.
  for (let i = 0; i < sequential; i++) {
    results.push(await timed(() => c.call("acquire", { circuit: `outage.${label}.unseen${i}` })));
    results.push(await timed(() => c.call("report", { circuit: "outage.dep", permit, outcome: Outcome.FAILURE, duration: durationFromMs(1) })));
  }
  results.push(
    ...(await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        timed(() =>
          i % 2 === 0
            ? c.call("acquire", { circuit: `outage.${label}.burst${i}` })
            : c.call("report", { circuit: "outage.dep", permit, outcome: Outcome.SUCCESS }),
        ),
      ),
    )),
  );
  const max = Math.max(...results.map((r) => r.ms));
  const mean = results.reduce((s, r) => s + r.ms, 0) / results.length;
  console.log(`${label} redis: ${results.length} calls answered UNAVAILABLE; latency max ${max.toFixed(0)} ms, mean ${mean.toFixed(0)} ms`);
  for (const r of results) {
    expect({ code: r.code, details: r.details }).toMatchObject({ code: Status.UNAVAILABLE, details: expect.stringMatching(/Redis/) });
  }
  return results;
}

/**
 * Once the local view of a circuit Redis last confirmed at `confirmedAt`
 * (performance.now of the reply) is past its bound, Acquire of that circuit
 * answers UNAVAILABLE too.
 */
async function outageOfSeenCircuit(confirmedAt: number): Promise<Timed> {
  const wait = confirmedAt + VIEW_TTL_MS + 50 - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const r = await timed(() => replica.client.call("acquire", { circuit: "outage.dep" }));
  expect({ code: r.code, details: r.details }).toMatchObject({ code: Status.UNAVAILABLE, details: expect.stringMatching(/Redis/) });
  return r;
}

async function waitForHealth(want: ServingStatus, timeoutMs = 10_000): Promise<void> {
  let last: string = "";
  await waitFor(
    `gRPC health to be ${ServingStatus[want]}`,
    async () => {
      const [overall, service] = await Promise.all([replica.health(""), replica.health("breakerbox.v1.CircuitService")]);
      last = `"": ${ServingStatus[overall]}, breakerbox.v1.CircuitService: ${ServingStatus[service]}`;
      return overall === want && service === want;
    },
    { timeoutMs, intervalMs: 100, describe: () => last },
  );
}

async function waitForAcquire(label: string, circuit: string, timeoutMs = 20_000): Promise<number> {
  const t0 = performance.now();
  let last = "";
  await waitFor(
    `${label}: Acquire to succeed again`,
    async () => {
      const r = await timed(() => replica.client.call("acquire", { circuit }));
      last = `${r.code} ${r.details}`;
      return r.code === "OK";
    },
    { timeoutMs, intervalMs: 50, describe: () => last },
  );
  return performance.now() - t0;
}

describe("a Redis outage", () => {
  it("killed Redis: UNAVAILABLE without hanging, NOT_SERVING and /readyz 503, then recovery by itself after restart", async () => {
    const c = replica.client;
    expect(await replica.health()).toBe(ServingStatus.SERVING);
    expect(await replica.readyz()).toEqual({ status: 200, body: "ready" });
    const held = await c.call("acquire", { circuit: "outage.dep" });
    const confirmedAt = performance.now();
    expect(held.allowed).toBe(true);

    // A watcher that stays connected through the outage.
    const watch = c.stream("watch", { circuits: ["outage.after"] });
    const it = watch.messages[Symbol.asyncIterator]();
    expect((await nextWithin(it, 5000, "snapshot_complete")).kind.case).toBe("snapshotComplete");

    await redis.kill();
    await callsDuringOutage(held.permit, "killed", 5);
    await waitForHealth(ServingStatus.NOT_SERVING);
    const ready = await replica.readyz();
    expect(ready.status).toBe(503);
    expect(ready.body).toMatch(/redis/i);
    // The liveness probe's service stays SERVING: restarting the replica would not bring Redis back.
    expect(await replica.health("liveness")).toBe(ServingStatus.SERVING);
    await outageOfSeenCircuit(confirmedAt);
    expect(replica.problems()).toEqual([]);

    const t0 = performance.now();
    await redis.restart();
    const recoveredMs = await waitForAcquire("after restart", "outage.after");
    await waitForHealth(ServingStatus.SERVING);
    expect(await replica.readyz()).toEqual({ status: 200, body: "ready" });
    console.log(`killed redis: Acquire OK ${recoveredMs.toFixed(0)} ms after restart() resolved (${(performance.now() - t0).toFixed(0)} ms to SERVING)`);

    // Writes work again (Redis came back empty: no appendonly), and the watcher hears of them.
    const a = await c.call("acquire", { circuit: "outage.after" });
    expect((await c.call("report", { circuit: "outage.after", permit: a.permit, outcome: Outcome.FAILURE })).state).toBe(State.OPEN);
    let event: WatchResponse;
    do event = await nextWithin(it, 10_000, "the OPEN event after the outage");
    while (event.kind.case === "heartbeat");
    expect(event.kind.case === "event" && [event.kind.value.circuit, State[event.kind.value.toState]]).toEqual(["outage.after", "OPEN"]);
    watch.cancel();

    expect(replica.problems()).toEqual([]);
    expect(replica.child.exitCode).toBe(null);
  }, 120_000); // longer than its waits together: Watch 5 s, NOT_SERVING 10 s, Redis restart 20 s, Acquire 20 s, SERVING 10 s, event 10 s, and calls under the client's 10 s deadline

  it("hung Redis (SIGSTOP): UNAVAILABLE after BREAKERBOX_REDIS_TIMEOUT_SECONDS instead of hanging, NOT_SERVING, then recovery on SIGCONT", async () => {
    const c = replica.client;
    await waitForAcquire("before the pause", "outage.hung");
    const held = await c.call("acquire", { circuit: "outage.dep" });
    const confirmedAt = performance.now();
    expect(held.allowed).toBe(true);

    redis.pause();
    let results: Timed[];
    try {
      results = await callsDuringOutage(held.permit, "paused", 3);
      results.push(await outageOfSeenCircuit(confirmedAt));
      // The connection stays open to a hung Redis; readiness must still go.
      await waitForHealth(ServingStatus.NOT_SERVING);
      const ready = await replica.readyz();
      expect(ready.status).toBe(503);
      expect(ready.body).toMatch(/redis/i);
      expect(replica.problems()).toEqual([]);
    } finally {
      redis.resume();
    }
    for (const r of results) {
      expect(r.details).toMatch(/did not answer in time/);
      // It waited for the command timeout rather than failing on something else.
      expect(r.ms).toBeGreaterThanOrEqual(REDIS_TIMEOUT_MS - 50);
    }

    const recoveredMs = await waitForAcquire("after SIGCONT", "outage.hung");
    console.log(`paused redis: Acquire OK ${recoveredMs.toFixed(0)} ms after SIGCONT`);
    await waitForHealth(ServingStatus.SERVING);
    expect(await replica.readyz()).toEqual({ status: 200, body: "ready" });
    const a = await c.call("acquire", { circuit: "outage.hung" });
    expect((await c.call("report", { circuit: "outage.hung", permit: a.permit, outcome: Outcome.SUCCESS })).duplicate).toBe(false);

    // UNAVAILABLE after a timeout is an unknown outcome, not a refusal: the
    // Reports that timed out were already on their way to the hung Redis and
    // ran when it resumed. The first (FAILURE) counted, the rest were
    // duplicates, and the agent's retry is safe.
    const retried = await c.call("report", { circuit: "outage.dep", permit: held.permit, outcome: Outcome.FAILURE });
    expect(retried.duplicate).toBe(true);
    const dep = (await c.call("getState", { circuit: "outage.dep" })).status!;
    expect(dep.state).toBe(State.OPEN);
    expect(dep.stats).toMatchObject({ totalFailures: 1n, totalSuccesses: 0n, consecutiveFailures: 1 });
    expect(replica.problems()).toEqual([]);
  }, 120_000); // longer than its waits together: Acquire 20 s twice, NOT_SERVING and SERVING 10 s each, and calls under the client's 10 s deadline
});
