/**
 * Real Breakerbox processes on a redis-server restarted without persistence
 * (issue 11, finding 6): the replicas that lived through the loss notice it,
 * warn, count it in /metrics, drop the lost circuits from the state gauge
 * (no periodic resync here), agree with a replica started afterwards on the
 * config a circuit resolves to, write pattern rules again, and open that
 * replica's permits (it stored a new permit secret). Every wait polls.
 */
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Outcome, State } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import type { CircuitClient } from "../support/grpc-client.js";
import { useRedis, useReplicas } from "../support/process-fixtures.js";
import { startReplica, stopReplicas, waitFor, type Replica } from "../support/replicas.js";
import { circuitStates, sampleValue, scrape } from "../metrics/exposition.js";

const redis = useRedis();
const env = () => ({ REDIS_URL: redis.url, BREAKERBOX_METRICS_RESYNC_SECONDS: "0" });
const [A, B] = useReplicas(2, env) as [Replica, Replica];

afterAll(async () => {
  await stopReplicas();
});

beforeAll(async () => {
  for (const r of [A, B]) await waitFor("the replica to be ready", async () => (await r.readyz()).status === 200, { timeoutMs: 15_000 });
});

const pattern = (value: string) => ({ case: "pattern" as const, value });

async function thresholdOf(via: CircuitClient, circuit: string): Promise<number> {
  return (await via.call("getState", { circuit })).status!.config!.failureThreshold!;
}

async function losses(replica: Replica): Promise<number | undefined> {
  return sampleValue(await scrape(replica.http), "breakerbox_redis_data_losses_total");
}

describe("replicas after Redis loses its data", () => {
  it("notice it and converge with a replica started afterwards", { timeout: 120_000 }, async () => {
    for (const threshold of [4, 3, 2]) await A.client.call("configure", { target: pattern("dl.*"), config: { failureThreshold: threshold } });
    await A.client.call("acquire", { circuit: "dl.x" });
    expect(await thresholdOf(B.client, "dl.x")).toBe(2);
    await A.client.call("forceState", { circuit: "dl.gone", state: State.FORCED_OPEN });
    for (const r of [A, B]) {
      await waitFor(`dl.gone FORCED_OPEN in ${r.http}/metrics`, async () => circuitStates(await scrape(r.http))["dl.gone"] === "FORCED_OPEN", { timeoutMs: 15_000 });
      expect(await losses(r)).toBe(0);
    }

    await redis.restart();
    for (const r of [A, B]) {
      await waitFor(`${r.http}/metrics to count the data loss`, async () => (await losses(r)) === 1, { timeoutMs: 30_000 });
      // The state gauge took a fresh snapshot: the circuit Redis lost is gone from it.
      await waitFor(`dl.gone to leave ${r.http}/metrics`, async () => !("dl.gone" in circuitStates(await scrape(r.http))), { timeoutMs: 15_000 });
      expect(r.logs().filter((l) => l.level === "warn" && String(l.msg).startsWith("Redis lost its data"))).toHaveLength(1);
    }

    const C = await startReplica(env());
    await waitFor("the new replica to be ready", async () => (await C.readyz()).status === 200, { timeoutMs: 15_000 });
    await C.client.call("configure", { target: pattern("dl.*"), config: { failureThreshold: 5 } });
    await C.client.call("acquire", { circuit: "dl.y" });
    // A and B dropped their old rules (threshold 2): all three resolve C's.
    for (const via of [A, B, C]) await waitFor("the new rule on every replica", async () => (await thresholdOf(via.client, "dl.y")) === 5, { timeoutMs: 15_000 });
    // A writes rules again, and the others see them.
    await A.client.call("configure", { target: pattern("dl.*"), config: { failureThreshold: 6 } });
    for (const via of [A, B, C]) await waitFor("A's rule on every replica", async () => (await thresholdOf(via.client, "dl.y")) === 6, { timeoutMs: 15_000 });
    // One permit secret again: each opens the others' permits.
    for (const [from, to] of [[C, A], [A, C], [B, C]] as const) {
      const acquired = await from.client.call("acquire", { circuit: "dl.z" });
      const ack = await to.client.call("report", { circuit: "dl.z", permit: acquired.permit, outcome: Outcome.SUCCESS, duration: durationFromMs(1) });
      expect(ack.duplicate).toBe(false);
    }
    for (const r of [A, B, C]) expect(r.problems()).toEqual([]);
  });
});
