/**
 * /metrics with several real Breakerbox processes (node dist/src/main.js) on
 * one real redis-server: a circuit's state gauge is right on every replica,
 * whichever replica made the transition, while the counters count what each
 * replica served (Prometheus sums them). Real time, short durations set per
 * circuit with Configure; every wait polls until the scrape shows it.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Outcome, State } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import type { CircuitClient } from "../support/grpc-client.js";
import { useRedis, useReplicas } from "../support/process-fixtures.js";
import { startReplica, stopReplicas, waitFor, type Replica } from "../support/replicas.js";
import { circuitStates, sampleValue, samplesOf, scrape, type Exposition } from "../metrics/exposition.js";

const redis = useRedis();
// No periodic resync: what B shows here it learned from the event stream.
const [A, B] = useReplicas(2, () => ({ REDIS_URL: redis.url, BREAKERBOX_METRICS_RESYNC_SECONDS: "0" })) as [Replica, Replica];

beforeAll(async () => {
  await Promise.all([ready(A), ready(B)]);
  // Both replicas follow the event stream once a transition made through one
  // shows on both (the state feed starts once Redis answers).
  await A.client.call("forceState", { circuit: "mr.warmup", state: State.FORCED_OPEN });
  await Promise.all([waitForGauge(A, "mr.warmup", "FORCED_OPEN"), waitForGauge(B, "mr.warmup", "FORCED_OPEN")]);
});

/** Waits until the replica reaches Redis (it listens before it has connected). */
async function ready(replica: Replica): Promise<void> {
  await waitFor("the replica to be ready", async () => (await replica.readyz()).status === 200, { timeoutMs: 15_000 });
}

// The replica a test starts itself (the fixtures stop A, B and Redis).
afterAll(async () => {
  await stopReplicas();
});

async function configure(via: CircuitClient, circuit: string, config: Record<string, unknown>): Promise<void> {
  await via.call("configure", { target: { case: "circuit", value: circuit }, config });
}

async function acquireAndReport(via: CircuitClient, circuit: string, outcome: Outcome): Promise<void> {
  const a = await via.call("acquire", { circuit });
  expect(a.allowed, `Acquire of ${circuit} allowed`).toBe(true);
  await via.call("report", { circuit, permit: a.permit, outcome, duration: durationFromMs(2) });
}

/** Scrapes `replica` until `circuit` shows `state` (value 1, every other state 0); returns that scrape. */
async function waitForGauge(replica: Replica, circuit: string, state: string, timeoutMs = 15_000): Promise<Exposition> {
  let last: Exposition | undefined;
  return waitFor(
    `${circuit} to show ${state} in ${replica.http}/metrics`,
    async () => {
      last = await scrape(replica.http);
      return circuitStates(last)[circuit] === state ? last : undefined;
    },
    {
      timeoutMs,
      intervalMs: 50,
      describe: () =>
        last === undefined
          ? "no scrape"
          : `${String(circuitStates(last)[circuit])}; ${replica === A ? "A" : replica === B ? "B" : "C"} at ${new Date().toISOString()}, log: ${replica.lines.slice(-5).join(" | ")}`,
    },
  );
}

function transitions(e: Exposition, circuit: string): string[] {
  return samplesOf(e, "breakerbox_transitions_total", { circuit }).map((s) => `${s.labels.from}->${s.labels.to}=${s.value}`);
}

describe("the state gauge on every replica", () => {
  it("shows a circuit opened through A as OPEN on B, then HALF_OPEN after open_duration with no call", async () => {
    const c = "mr.opens";
    // Long enough to see OPEN on both replicas on a loaded machine, short enough to wait out.
    await configure(A.client, c, { failureThreshold: 2, openDuration: durationFromMs(6000), successThreshold: 1 });
    await acquireAndReport(A.client, c, Outcome.FAILURE);
    await acquireAndReport(A.client, c, Outcome.FAILURE); // opens, on A

    const [onA, onB] = await Promise.all([waitForGauge(A, c, "OPEN"), waitForGauge(B, c, "OPEN")]);
    for (const e of [onA, onB]) {
      expect(samplesOf(e, "breakerbox_circuit_state", { circuit: c }).map((s) => `${s.labels.state}=${s.value}`)).toEqual([
        "CLOSED=0",
        "OPEN=1",
        "HALF_OPEN=0",
        "FORCED_OPEN=0",
        "DISABLED=0",
      ]);
    }
    // Counters are per replica: A served both reports and made the transition.
    expect(sampleValue(onA, "breakerbox_calls_total", { circuit: c, outcome: "FAILURE" })).toBe(2);
    expect(transitions(onA, c)).toEqual(["CLOSED->OPEN=1"]);
    expect(samplesOf(onB, "breakerbox_calls_total", { circuit: c })).toEqual([]);
    expect(transitions(onB, c)).toEqual([]);

    // Nobody calls: OPEN -> HALF_OPEN is lazy in the store, yet both replicas show it.
    await Promise.all([waitForGauge(A, c, "HALF_OPEN"), waitForGauge(B, c, "HALF_OPEN")]);

    // A probe through B applies OPEN -> HALF_OPEN and closes the circuit (success_threshold 1): B's transitions.
    await acquireAndReport(B.client, c, Outcome.SUCCESS);
    const [closedOnA, closedOnB] = await Promise.all([waitForGauge(A, c, "CLOSED"), waitForGauge(B, c, "CLOSED")]);
    expect(transitions(closedOnB, c)).toEqual(["OPEN->HALF_OPEN=1", "HALF_OPEN->CLOSED=1"]);
    expect(transitions(closedOnA, c)).toEqual(["CLOSED->OPEN=1"]);
    expect(sampleValue(closedOnB, "breakerbox_calls_total", { circuit: c, outcome: "SUCCESS" })).toBe(1);
  }, 60_000); // longer than its three gauge waits (15 s each) together

  it("shows admin states set through one replica on the other, with B's rejections counted on B", async () => {
    const c = "mr.admin";
    await B.client.call("forceState", { circuit: c, state: State.FORCED_OPEN });
    await waitForGauge(A, c, "FORCED_OPEN");
    for (let i = 0; i < 2; i++) expect((await B.client.call("acquire", { circuit: c })).allowed).toBe(false);
    expect((await A.client.call("acquire", { circuit: c })).allowed).toBe(false);
    const [a, b] = await Promise.all([scrape(A.http), scrape(B.http)]);
    expect(sampleValue(b, "breakerbox_rejections_total", { circuit: c, reason: "FORCED_OPEN" })).toBe(2);
    expect(sampleValue(a, "breakerbox_rejections_total", { circuit: c, reason: "FORCED_OPEN" })).toBe(1);
    expect(circuitStates(b)[c]).toBe("FORCED_OPEN");

    await A.client.call("forceState", { circuit: c, state: State.DISABLED });
    await waitForGauge(B, c, "DISABLED");
    await B.client.call("forceState", { circuit: c, state: State.CLOSED });
    await waitForGauge(A, c, "CLOSED");
  }, 60_000); // longer than its three gauge waits (15 s each) together

  it("a replica started later takes every circuit from its snapshot, and its resync picks up config changes", async () => {
    await acquireAndReport(A.client, "mr.quiet", Outcome.SUCCESS); // exists, never transitioned
    await configure(A.client, "mr.late-open", { failureThreshold: 1, openDuration: durationFromMs(60_000) });
    await acquireAndReport(A.client, "mr.late-open", Outcome.FAILURE);

    const C = await startReplica({ REDIS_URL: redis.url, BREAKERBOX_METRICS_RESYNC_SECONDS: "0.5" });
    await ready(C);
    const e = await waitForGauge(C, "mr.late-open", "OPEN");
    const states = circuitStates(e);
    expect(states["mr.quiet"]).toBe("CLOSED");
    expect(states["mr.opens"]).toBe("CLOSED");
    expect(states["mr.admin"]).toBe("CLOSED");
    expect(states["mr.warmup"]).toBe("FORCED_OPEN");
    // C served nothing: no counters of its own for these circuits.
    expect(samplesOf(e, "breakerbox_calls_total")).toEqual([]);

    // A config change sends no transition; C's periodic resync shows it.
    await configure(A.client, "mr.quiet", { enabled: false });
    await waitForGauge(C, "mr.quiet", "DISABLED");
    expect(C.problems()).toEqual([]);
  }, 90_000); // longer than its waits together: the replica's start (30 s) and two gauge waits (15 s each)

  it("names the same build on both replicas: a hash of the sources dist/ was built from", async () => {
    const stamp = JSON.parse(readFileSync(new URL("../../dist/build-stamp.json", import.meta.url), "utf8")) as { server: unknown };
    const build = createHash("sha256").update(JSON.stringify(stamp.server)).digest("hex").slice(0, 12);
    for (const replica of [A, B]) {
      const [info] = samplesOf(await scrape(replica.http), "breakerbox_build_info", {});
      expect(info?.labels.build, replica.http).toBe(build);
    }
  });

  it("leaves no error in either replica's log", () => {
    expect(A.problems()).toEqual([]);
    expect(B.problems()).toEqual([]);
  });
});
