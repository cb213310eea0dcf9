/**
 * Differential test of BatchReport: one seeded random sequence of Acquires
 * and Reports (outcomes, retries with the same or another outcome, wrong
 * circuits, malformed permits, bad fields, several agent instances) applied
 * to two fresh services on the same clock, once report by report through
 * Report and once in chunks through BatchReport. Every report's answer, and
 * every circuit's state, stats and history (principals included), must be
 * the same. Runs on the memory store and on the Redis store (where a batch
 * overlaps the reports of different circuits). Prints its seed; rerun a
 * failure with TEST_SEED=<seed>.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PermitRejectedError } from "../../src/engine/index.js";
import { Breakerbox, type Caller, type ReportRequest } from "../../src/service/breakerbox.js";
import { InvalidArgumentError } from "../../src/service/errors.js";
import { createMemoryStore } from "../../src/store/memory.js";
import { createRedisStore } from "../../src/store/redis/redis-store.js";
import type { CircuitStore } from "../../src/store/store.js";
import { startRedis, type RedisServer } from "../support/redis-servers.js";
import { CIRCUITS, layers, OUTCOMES } from "./differential-setup.js";
import { mulberry32, seedLabel, TEST_SEED } from "./random.js";

const ROUNDS = Number(process.env.BATCH_DIFF_ROUNDS ?? 300);
const INSTANCES = ["", "pod-1", "pod-2", "worker/7"];

/** A store on the test's clock and random source; `done` releases it. */
type StoreFactory = (clock: () => number, random: () => number, tag: string) => Promise<{ store: CircuitStore; done: () => Promise<void> }>;

let redis: RedisServer | undefined;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const factories: [string, StoreFactory][] = [
  ["memory", async (clock, random) => {
    const store = createMemoryStore({ layers, clock, random, tickIntervalMs: 0 });
    return { store, done: () => store.close() };
  }],
  ["redis", async (clock, random, tag) => {
    const client = new Redis({ host: redis!.host, port: redis!.port });
    const store = createRedisStore({
      client,
      duplicate: () => new Redis({ host: redis!.host, port: redis!.port }),
      cluster: false,
      layers,
      keyPrefix: `bdiff${TEST_SEED}${tag}:`,
      testClock: clock,
      random,
    });
    await store.start();
    return {
      store,
      done: async () => {
        await store.close();
        client.disconnect();
      },
    };
  }],
];

/** One report's answer, comparable across stores: the ack, or what the error says. */
function answerOf(r: { ack: unknown } | { error: unknown }): unknown {
  if ("ack" in r) return { ok: r.ack };
  const e = r.error;
  if (e instanceof PermitRejectedError) return { error: `permit:${e.problem}`, message: e.message };
  if (e instanceof InvalidArgumentError) return { error: "invalid", message: e.message };
  return { error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
}

describe.each(factories)(`BatchReport vs Report, differential (%s store, ${seedLabel(TEST_SEED)}, ${ROUNDS} rounds)`, (_, factory) => {
  it("answers every report alike and leaves every circuit with the same state, stats and history", async () => {
    const rng = mulberry32(TEST_SEED);
    let now = 1_700_000_000_000;
    let rand = 0.5;
    const one = await factory(() => now, () => rand, "one");
    const batch = await factory(() => now, () => rand, "batch");
    const services = [new Breakerbox({ store: one.store }), new Breakerbox({ store: batch.store })] as const;
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
    // Permits handed out, as [one's, batch's] pairs; kept after a report, for retries.
    const permits: { circuit: string; pair: [string, string] }[] = [];
    let reportsSent = 0;
    try {
      for (let round = 0; round < ROUNDS; round++) {
        rand = rng();
        const where = `round ${round} (${seedLabel(TEST_SEED)})`;
        for (let n = Math.floor(rng() * 4); n > 0; n--) {
          const circuit = pick(CIRCUITS);
          const caller: Caller = { actor: "agents", agentInstanceId: pick(INSTANCES) };
          const [a, b] = [await services[0].acquire(circuit, caller), await services[1].acquire(circuit, caller)];
          expect({ ...b, permit: b.permit?.split(".").slice(0, 4).join(".") }, where).toEqual({ ...a, permit: a.permit?.split(".").slice(0, 4).join(".") });
          if (a.permit !== undefined && b.permit !== undefined) permits.push({ circuit, pair: [a.permit, b.permit] });
        }
        // A chunk of 1 to 12 reports: [the request for one, for batch, its caller].
        const chunk: [ReportRequest, ReportRequest, Caller][] = [];
        for (let n = 1 + Math.floor(rng() * 12); n > 0 && permits.length > 0; n--) {
          const p = permits[Math.floor(rng() * permits.length)]!;
          const r = rng();
          const circuit = r < 0.05 ? pick(CIRCUITS) : r < 0.07 ? "" : p.circuit; // sometimes a wrong or invalid circuit
          const malformed = rng() < 0.03;
          const base = {
            circuit,
            outcome: rng() < 0.02 ? undefined : pick(OUTCOMES),
            durationMs: Math.floor(rng() * 1000),
            retryAfterMs: rng() < 0.1 ? Math.floor(rng() * 12_000) : 0,
          };
          const caller: Caller = { actor: "agents", agentInstanceId: rng() < 0.02 ? "bad id" : pick(INSTANCES) };
          chunk.push([
            { ...base, permit: malformed ? "zz" : p.pair[0] },
            { ...base, permit: malformed ? "zz" : p.pair[1] },
            caller,
          ]);
        }
        if (chunk.length > 0) {
          reportsSent += chunk.length;
          const alone: unknown[] = [];
          for (const [i, [request, , caller]] of chunk.entries()) {
            try {
              alone.push(answerOf({ ack: await services[0].report(request, caller, `reports[${i}].`) }));
            } catch (error) {
              alone.push(answerOf({ error }));
            }
          }
          const batched = (await services[1].batchReport(chunk, ([, request, caller]) => ({ request, caller }))).map(answerOf);
          expect(batched, `${where}: ${JSON.stringify(chunk.map(([r, , c]) => [r.circuit, r.outcome, c.agentInstanceId]))}`).toEqual(alone);
        }
        now += pick([0, 1, 10, 100, 499, 500, 1000, 2000, 3000]);
        for (const c of CIRCUITS) {
          const [a, b] = [await one.store.get(c), await batch.store.get(c)];
          expect(b, `${where}: ${c}`).toEqual(a);
        }
      }
      expect(reportsSent, "reports sent").toBeGreaterThan(ROUNDS);
      for (const c of CIRCUITS) {
        const anyId = (h: Awaited<ReturnType<CircuitStore["history"]>>) =>
          h?.entries.map((x) => (x.kind === "transition" ? { ...x, event: { ...x.event, eventId: "" } } : x));
        const [a, b] = [anyId(await one.store.history(c, 1000)), anyId(await batch.store.history(c, 1000))];
        expect(a?.length ?? 0, `history of ${c} is not empty`).toBeGreaterThan(0);
        expect(b, `history of ${c}`).toEqual(a);
      }
    } finally {
      await one.done();
      await batch.done();
    }
  });
});
