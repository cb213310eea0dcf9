/**
 * Differential test of the permit dedupe window (engine permit-window.ts and
 * lua/includes/permit-window.lua): seeded random Acquires and Reports on
 * circuits that never trip, with a window of 8 slots, so Reports land inside
 * the window, on its edge and past it, retried with the same or another
 * outcome, out of order, with time passing over permit_ttl now and then (a
 * new stream). The memory store and the Redis store must answer every step
 * alike and keep the same totals. Rerun a failure with TEST_SEED=<seed>.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUILTIN_DEFAULTS, BUILTIN_PRESETS, PermitRejectedError, type ConfigLayers, type Outcome } from "../../src/engine/index.js";
import { createMemoryStore } from "../../src/store/memory.js";
import { createRedisStore } from "../../src/store/redis/redis-store.js";
import { startRedis, type RedisServer } from "../support/redis-servers.js";
import { mulberry32, seedLabel, TEST_SEED } from "./random.js";

const STEPS = Number(process.env.DIFF_STEPS ?? 3000);
const SLOTS = 8;
const OUTCOMES: Outcome[] = ["SUCCESS", "FAILURE", "TIMEOUT", "IGNORED"];
const CIRCUITS = ["win.a", "win.b"];

const layers: ConfigLayers = {
  // Nothing trips: every permit stays current, so only the window decides the answers.
  defaults: { ...BUILTIN_DEFAULTS, failureThreshold: 0, failureRateThreshold: 0, slowCallDurationMs: 0, permitTtlMs: 5_000 },
  presets: BUILTIN_PRESETS,
  rules: [],
};

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

async function answer(p: Promise<unknown>): Promise<unknown> {
  try {
    return { ok: await p };
  } catch (e) {
    if (e instanceof PermitRejectedError) return { error: e.problem };
    throw e;
  }
}

describe(`permit window differential: memory store vs Redis store (${seedLabel(TEST_SEED)}, ${STEPS} steps, ${SLOTS} slots)`, () => {
  it("answers every Report the same way and keeps the same totals", async () => {
    const rng = mulberry32(TEST_SEED);
    let now = 1_700_000_000_000;
    const memory = createMemoryStore({ layers, clock: () => now, tickIntervalMs: 0, permitWindowSlots: SLOTS });
    const client = new Redis({ host: redis.host, port: redis.port });
    const red = createRedisStore({
      client,
      duplicate: () => new Redis({ host: redis.host, port: redis.port }),
      cluster: false,
      layers,
      keyPrefix: `win${TEST_SEED}:`,
      testClock: () => now,
      permitWindowSlots: SLOTS,
    });
    await red.start();
    // Permits handed out per circuit, oldest first, as [memory's, redis's] pairs.
    const issued = new Map<string, [string, string][]>(CIRCUITS.map((c) => [c, []]));
    const answers = new Map<string, number>();
    try {
      for (let step = 0; step < STEPS; step++) {
        const circuit = CIRCUITS[Math.floor(rng() * CIRCUITS.length)]!;
        const list = issued.get(circuit)!;
        const r = rng();
        if (r < 0.35 || list.length === 0) {
          const [a, b] = [await memory.acquire(circuit), await red.acquire(circuit)];
          expect(a.allowed && b.allowed, `step ${step}`).toBe(true);
          // The same position in each store's numbering: <stream>.<seq> differ only in the stream.
          expect(a.permit!.split(".")[5], `step ${step}`).toBe(b.permit!.split(".")[5]);
          list.push([a.permit!, b.permit!]);
        } else if (r < 0.97) {
          // Mostly recent permits, sometimes ones far back (past the window).
          const back = rng() < 0.8 ? Math.floor(rng() * Math.min(list.length, SLOTS + 2)) : Math.floor(rng() * list.length);
          const pair = list[list.length - 1 - back]!;
          const command = { outcome: OUTCOMES[Math.floor(rng() * OUTCOMES.length)]!, durationMs: 1, retryAfterMs: 0 };
          const got = [await answer(memory.report(circuit, { ...command, permit: pair[0] })), await answer(red.report(circuit, { ...command, permit: pair[1] }))];
          expect(got[1], `step ${step}: report ${back} back on ${circuit}`).toEqual(got[0]);
          const key = JSON.stringify(got[0]).replace(/"(state|recordedOutcome)":"\w+",?/g, "");
          answers.set(key, (answers.get(key) ?? 0) + 1);
        } else {
          now += Math.floor(rng() * 4_000);
        }
        // Permits long expired are no use: keep the lists short.
        if (list.length > 200) list.splice(0, 100);
      }
      for (const circuit of CIRCUITS) {
        const [a, b] = [await memory.get(circuit), await red.get(circuit)];
        expect(b?.stats).toEqual(a?.stats);
      }
      // Every kind of answer came up, the window's edge included.
      const kinds = [...answers.keys()].map((k) => (k.includes("expired") ? "expired" : /RECORDED|DUPLICATE|CONFLICT/.exec(k)?.[0]));
      expect(new Set(kinds)).toEqual(new Set(["RECORDED", "DUPLICATE", "CONFLICT", "expired"]));
    } finally {
      await memory.close();
      await red.close();
      client.disconnect();
    }
  }, 120_000);
});
