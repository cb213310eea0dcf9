/**
 * Differential test: thousands of seeded random steps (Acquire, Report,
 * Reset, Configure, ForceState, time passing) applied to the memory store and
 * the Redis store side by side, comparing every answer and the circuits'
 * states step by step. Configure steps set random fields of every kind in
 * CONFIG_FIELD_LIST (random-config.ts). Prints its seed; rerun a failure with
 * TEST_SEED=<seed>.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONFIG_KEYS, PermitRejectedError, type Principal } from "../../src/engine/index.js";
import { createMemoryStore } from "../../src/store/memory.js";
import { createRedisStore } from "../../src/store/redis/redis-store.js";
import type { CircuitStore, CircuitView } from "../../src/store/store.js";
import { startRedis, type RedisServer } from "../support/redis-servers.js";
import { CIRCUITS, layers, OUTCOMES, REPORTERS } from "./differential-setup.js";
import { randomPatch } from "./random-config.js";
import { mulberry32, seedLabel, TEST_SEED } from "./random.js";

const STEPS = Number(process.env.DIFF_STEPS ?? 3000);

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

type Answer = { ok: unknown } | { error: string };

async function answer(p: Promise<unknown>): Promise<Answer> {
  try {
    return { ok: await p };
  } catch (e) {
    if (e instanceof PermitRejectedError) return { error: `permit:${e.problem}` };
    return { error: e instanceof Error ? e.name : String(e) };
  }
}

/** A permit without its stream and seq (each store numbers its own permits). */
function shape(permit: string | undefined): string | undefined {
  return permit?.split(".").slice(0, 4).join(".");
}

/** `{ principal }`, or nothing for an unattributed report. */
function withPrincipal(principal: Principal | undefined): { principal?: Principal } {
  return principal === undefined ? {} : { principal };
}

function comparable(v: CircuitView | undefined): unknown {
  return v;
}

describe(`differential: memory store vs Redis store (${seedLabel(TEST_SEED)}, ${STEPS} steps)`, () => {
  it("answers every step the same way and keeps the same state", async () => {
    const rng = mulberry32(TEST_SEED);
    let now = 1_700_000_000_000;
    let rand = 0.5;
    const memory = createMemoryStore({ layers, clock: () => now, random: () => rand, tickIntervalMs: 0 });
    const client = new Redis({ host: redis.host, port: redis.port });
    const red = createRedisStore({
      client,
      duplicate: () => new Redis({ host: redis.host, port: redis.port }),
      cluster: false,
      layers,
      keyPrefix: `diff${TEST_SEED}:`,
      testClock: () => now,
      random: () => rand,
    });
    await red.start();
    const stores: [CircuitStore, CircuitStore] = [memory, red];
    // Permits handed out, as [memory's, redis's] pairs.
    const permits: { circuit: string; pair: [string, string] }[] = [];
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
    const log: string[] = [];
    // Config fields some Configure step set: every field of CONFIG_FIELD_LIST in a full run.
    const configured = new Set<string>();

    try {
      for (let step = 0; step < STEPS; step++) {
        rand = rng();
        const circuit = pick(CIRCUITS);
        const r = rng();
        let what: string;
        let answers: [Answer, Answer];
        if (r < 0.35) {
          what = `acquire ${circuit}`;
          answers = [await answer(memory.acquire(circuit)), await answer(red.acquire(circuit))];
          const [a, b] = answers as [{ ok: { permit?: string } }, { ok: { permit?: string } }];
          if ("ok" in answers[0] && a.ok.permit !== undefined && "ok" in answers[1] && b.ok.permit !== undefined) {
            permits.push({ circuit, pair: [a.ok.permit, b.ok.permit] });
          }
          // Nonces differ by store; compare the rest of the permit.
          for (const x of answers) if ("ok" in x) (x.ok as { permit?: string }).permit = shape((x.ok as { permit?: string }).permit);
        } else if (r < 0.75 && permits.length > 0) {
          const i = Math.floor(rng() * permits.length);
          const p = permits[i]!;
          // Mostly the right circuit; sometimes a wrong one. Keep the permit for a possible retry.
          const target = rng() < 0.9 ? p.circuit : pick(CIRCUITS);
          const command = {
            outcome: pick(OUTCOMES),
            durationMs: Math.floor(rng() * 1000),
            retryAfterMs: rng() < 0.1 ? Math.floor(rng() * 12_000) : 0,
            ...withPrincipal(pick(REPORTERS)),
          };
          const by = command.principal === undefined ? "-" : `${command.principal.keyName}/${command.principal.agentInstanceId}`;
          what = `report ${target} ${command.outcome} ${command.durationMs}ms hint ${command.retryAfterMs} by ${by}`;
          answers = [
            await answer(memory.report(target, { ...command, permit: p.pair[0] })),
            await answer(red.report(target, { ...command, permit: p.pair[1] })),
          ];
          if (rng() < 0.7) permits.splice(i, 1);
        } else if (r < 0.8) {
          what = `reset ${circuit}`;
          answers = [await answer(memory.reset(circuit, "t")), await answer(red.reset(circuit, "t"))];
        } else if (r < 0.84) {
          const target = pick(["FORCED_OPEN", "DISABLED", "CLOSED"] as const);
          what = `force ${circuit} ${target}`;
          answers = [await answer(memory.force(circuit, target, "t")), await answer(red.force(circuit, target, "t"))];
        } else if (r < 0.88) {
          const patch = randomPatch(rng);
          for (const key of Object.keys(patch)) configured.add(key);
          const command = { patch, replace: rng() < 0.2, ...(rng() < 0.2 ? { preset: "fast" } : {}) };
          what = `configure ${circuit} ${JSON.stringify(command)}`;
          answers = [await answer(memory.configureCircuit(circuit, command, "t")), await answer(red.configureCircuit(circuit, command, "t"))];
        } else {
          const ms = pick([1, 10, 100, 499, 500, 1000, 2000, 3000, 5000]);
          what = `advance ${ms}`;
          now += ms;
          answers = [{ ok: null }, { ok: null }];
        }
        log.push(`#${step} ${what}`);
        const where = `step ${step} (${seedLabel(TEST_SEED)}): ${what}\nlast steps:\n${log.slice(-8).join("\n")}`;
        expect(answers[1], where).toEqual(answers[0]);
        const c = pick(CIRCUITS);
        const views = [comparable(await stores[0].get(c)), comparable(await stores[1].get(c))];
        expect(views[1], `${where}\nview of ${c}`).toEqual(views[0]);
      }
      if (STEPS >= 1000) expect([...configured].sort(), "fields configured in the run").toEqual([...CONFIG_KEYS].sort());
      for (const c of CIRCUITS) {
        expect((await red.history(c, 100))?.entries, `history of ${c}`).toEqual(
          (await memory.history(c, 100))?.entries.map((h) =>
            h.kind === "transition" ? { ...h, event: { ...h.event, eventId: expect.any(String) } } : h,
          ),
        );
      }
    } finally {
      await memory.close();
      await red.close();
      client.disconnect();
    }
  });
});
