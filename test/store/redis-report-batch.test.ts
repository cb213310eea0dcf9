/**
 * Report batching on the Redis store (report-coalescer.ts, report-batch.lua,
 * and report-page.lua for the batches of several circuits).
 *
 * Differential: one seeded random sequence of Acquires and bursts of Reports
 * (every outcome, duplicates and conflicting duplicates within a burst,
 * expired permits, probes in HALF_OPEN, stale generations, several circuits,
 * trips and recoveries, config changes by another replica) applied to two
 * Redis stores on the same clock, each on its own redis-server: "one" awaits
 * each report before sending the next; "batch" sends a burst at once, so a
 * circuit's reports after the first go together in one script call, and the
 * batches of several circuits in one report-page.lua call. Every
 * report's answer, every circuit's view, stored fields, side keys, history
 * and event stream must be the same. Prints its seed; rerun a failure with
 * TEST_SEED=<seed>.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PermitRejectedError, type Principal } from "../../src/engine/index.js";
import { createRedisStore, type RedisStore } from "../../src/store/redis/redis-store.js";
import type { ConfigureCommand, ReportCommand } from "../../src/store/store.js";
import { CIRCUITS, layers, OUTCOMES, REPORTERS } from "../conformance/differential-setup.js";
import { mulberry32, seedLabel, TEST_SEED } from "../conformance/random.js";
import { startRedis, type RedisServer } from "../support/redis-servers.js";

const ROUNDS = Number(process.env.REPORT_BATCH_ROUNDS ?? 250);
const T0 = 1_700_000_000_000;

let servers: RedisServer[] = [];
beforeAll(async () => {
  servers = [await startRedis(), await startRedis()];
});
afterAll(async () => {
  for (const s of servers) await s.stop();
});

interface Side {
  store: RedisStore;
  /** Another replica on the same keys: its config changes leave `store`'s settings stale. */
  other: RedisStore;
  raw: Redis;
  prefix: string;
  /** Report script calls: report.lua, report-batch.lua, report-page.lua. */
  calls: { single: number; batch: number; page: number };
  close(): Promise<void>;
}

async function side(server: RedisServer, prefix: string, clock: () => number, random: () => number, permitWindowSlots?: number): Promise<Side> {
  const connect = () => new Redis({ host: server.host, port: server.port });
  const client = connect();
  const otherClient = connect();
  // Two report calls in flight before batches wait for a page, so pages form in bursts of a few circuits.
  const make = (c: Redis) =>
    createRedisStore({ client: c, duplicate: connect, cluster: false, layers, keyPrefix: prefix, testClock: clock, random, reportPageCalls: 2, ...(permitWindowSlots === undefined ? {} : { permitWindowSlots }) });
  const store = make(client);
  const other = make(otherClient);
  await store.start();
  await other.start();
  // Counts the report scripts this store runs (defineCommand put them on the client).
  const calls = { single: 0, batch: 0, page: 0 };
  const commands = client as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const [name, kind] of [["bbReport", "single"], ["bbReportBatch", "batch"], ["bbReportPage", "page"]] as const) {
    const original = commands[name]!;
    commands[name] = function (this: unknown, ...args: unknown[]) {
      calls[kind]++;
      return original.apply(this, args);
    };
  }
  const raw = connect();
  return {
    store, other, raw, prefix, calls,
    close: async () => {
      await store.close();
      await other.close();
      for (const c of [client, otherClient, raw]) c.disconnect();
    },
  };
}

/** A report's answer, comparable across stores: the ack or what the refusal says. */
function answerOf(r: PromiseSettledResult<unknown>): unknown {
  if (r.status === "fulfilled") return { ok: r.value };
  const e: unknown = r.reason;
  if (e instanceof PermitRejectedError) return { error: `permit:${e.problem}`, message: e.message };
  return { error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
}

/** Fields at their default are as good as absent (includes/engine.lua load_circuit). */
function storedFields(hash: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [f, v] of Object.entries(hash)) {
    const dflt = f === "ex" || f === "xe" || /^ws\d$/.test(f) ? "-1" : f === "rf" || f === "rs" || f === "s" ? "" : "0";
    if (v !== dflt) out[f] = v;
  }
  return out;
}

/** Everything Redis holds of a circuit that a permit's own name does not tell apart. */
async function storedCircuit(s: Side, name: string) {
  const k = `${s.prefix}{${name}}`;
  const ttl = async (key: string) => {
    const ms = await s.raw.pttl(key);
    return ms < 0 ? ms : "set";
  };
  const scores = async (key: string) => (await s.raw.zrange(key, 0, -1, "WITHSCORES")).filter((_, i) => i % 2 === 1);
  return {
    hash: storedFields(await s.raw.hgetall(k)),
    probes: await scores(`${k}:p`),
    reported: await scores(`${k}:r`),
    history: (await s.raw.lrange(`${k}:h`, 0, -1)).map((e) => e.replace(/"eventId":"[^"]*"/, '"eventId":""')),
    // The permit windows, by content (each store names its streams itself).
    windows: (await Promise.all((await s.raw.keys(`${k}:w:*`)).map(async (w) => [(await s.raw.getBuffer(w))!.toString("hex"), await ttl(w)]))).sort(),
    ttls: [await ttl(k), await ttl(`${k}:p`), await ttl(`${k}:r`), await ttl(`${k}:h`)],
  };
}

/** The event stream, per circuit, ids dropped (the stores interleave circuits differently). */
async function streamByCircuit(s: Side): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const [, fields] of await s.raw.xrange(`${s.prefix}events`, "-", "+")) {
    const entry: Record<string, string> = {};
    for (let i = 0; i < fields.length; i += 2) entry[fields[i]!] = fields[i + 1]!;
    const event = entry["e"] === undefined ? entry : { ...(JSON.parse(entry["e"]) as Record<string, unknown>), eventId: "" };
    const circuit = String((event as Record<string, unknown>)["circuit"] ?? entry["cc"] ?? entry["c"] ?? entry["rm"]);
    (out[circuit] ??= []).push(event);
  }
  return out;
}

/** Which refusal a report met, from its message (they share a problem code). */
function refusalKind(a: { message?: string }): string {
  const m = a.message ?? "";
  for (const kind of ["does not exist", "not issued", "not outstanding", "told apart", "expired"]) if (m.includes(kind)) return kind;
  return m;
}

const PATCHES: ConfigureCommand[] = [
  { patch: { failureThreshold: 1 }, replace: false },
  { patch: { failureThreshold: 4 }, replace: false },
  { patch: { successThreshold: 1 }, replace: false },
  { patch: { halfOpenMaxCalls: 3 }, replace: false },
  { patch: { minDistinctReporters: 2 }, replace: false },
  { patch: {}, replace: true },
];

describe(`Report batching vs one by one, differential (redis store, ${seedLabel(TEST_SEED)}, ${ROUNDS} rounds)`, () => {
  it("answers every report alike and leaves the same circuits, side keys, history and event stream", async () => {
    const rng = mulberry32(TEST_SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
    let now = T0;
    let rand = 0.5;
    // A small permit window, so some reports arrive past it (refused as forgotten).
    const one = await side(servers[0]!, "rb1:", () => now, () => rand, 4);
    const batch = await side(servers[1]!, "rb2:", () => now, () => rand, 4);
    // Permits handed out, as [one's, batch's] pairs, kept after reports for duplicates and stale ones.
    const permits: { circuit: string; pair: [string, string] }[] = [];
    const counted = { reports: 0, largestBurst: 0, refusals: new Set<string>(), dispositions: new Set<string>(), states: new Set<string>() };
    try {
      for (let round = 0; round < ROUNDS; round++) {
        rand = rng();
        const where = `round ${round} (${seedLabel(TEST_SEED)})`;
        for (let n = Math.floor(rng() * 6); n > 0; n--) {
          // One hot circuit takes half the traffic.
          const circuit = rng() < 0.5 ? CIRCUITS[0]! : pick(CIRCUITS);
          const [a, b] = [await one.store.acquire(circuit), await batch.store.acquire(circuit)];
          expect({ ...b, permit: b.permit !== undefined }, where).toEqual({ ...a, permit: a.permit !== undefined });
          if (a.permit !== undefined && b.permit !== undefined) permits.push({ circuit, pair: [a.permit, b.permit] });
        }
        if (rng() < 0.05) {
          // Another replica changes a circuit's settings: the stores' cached versions go stale.
          const circuit = pick(CIRCUITS);
          const command = pick(PATCHES);
          await one.other.configureCircuit(circuit, command, "admin");
          await batch.other.configureCircuit(circuit, command, "admin");
        }
        const chaos = rng();
        if (chaos < 0.03) {
          // The circuit's keys vanish as if Redis expired them: its permits' reports find no circuit, and
          // once it is back, those of a later generation were not issued by it. The read drops the views.
          const circuit = pick(CIRCUITS);
          for (const s of [one, batch]) {
            const k = `${s.prefix}{${circuit}}`;
            await s.raw.del(k, `${k}:p`, `${k}:r`, `${k}:h`);
            expect(await s.store.get(circuit)).toBeUndefined();
          }
        } else if (chaos < 0.15) {
          // A half-open circuit's outstanding probes forgotten: reporting one of them is refused.
          for (const circuit of CIRCUITS) {
            if ((await one.store.get(circuit))?.state !== "HALF_OPEN") continue;
            for (const s of [one, batch]) await s.raw.del(`${s.prefix}{${circuit}}:p`);
            break;
          }
        }
        // A burst of 1 to 24 reports, often all of one circuit.
        const burst: { circuit: string; commands: [ReportCommand, ReportCommand] }[] = [];
        const only = rng() < 0.5 ? pick(CIRCUITS) : undefined;
        const pool = only === undefined ? permits : permits.filter((p) => p.circuit === only);
        for (let n = 1 + Math.floor(rng() * 24); n > 0 && pool.length > 0; n--) {
          const earlier = burst.length > 0 && rng() < 0.15 ? pick(burst) : undefined;
          // Mostly recent permits; sometimes an old one (stale generation, expired).
          const p = rng() < 0.8 ? pool[Math.max(0, pool.length - 1 - Math.floor(rng() * 8))]! : pick(pool);
          const base = {
            outcome: pick(OUTCOMES),
            durationMs: Math.floor(rng() * 1000),
            retryAfterMs: rng() < 0.1 ? Math.floor(rng() * 12_000) : 0,
          };
          const principal: Principal | undefined = pick(REPORTERS);
          const withPrincipal = principal === undefined ? base : { ...base, principal };
          if (earlier !== undefined) {
            // The same permit again in the same burst: the same outcome (DUPLICATE) or another (CONFLICT).
            const outcome = rng() < 0.5 ? earlier.commands[0].outcome : base.outcome;
            burst.push({ circuit: earlier.circuit, commands: [{ ...earlier.commands[0], outcome }, { ...earlier.commands[1], outcome }] });
          } else {
            burst.push({ circuit: p.circuit, commands: [{ ...withPrincipal, permit: p.pair[0] }, { ...withPrincipal, permit: p.pair[1] }] });
          }
        }
        if (burst.length > 0) {
          counted.reports += burst.length;
          counted.largestBurst = Math.max(counted.largestBurst, burst.length);
          const alone: unknown[] = [];
          for (const r of burst) {
            alone.push(answerOf((await Promise.allSettled([one.store.report(r.circuit, r.commands[0])]))[0]!));
          }
          const together = (await Promise.allSettled(burst.map((r) => batch.store.report(r.circuit, r.commands[1])))).map(answerOf);
          expect(together, `${where}: ${JSON.stringify(burst.map((r) => [r.circuit, r.commands[0].outcome]))}`).toEqual(alone);
          for (const a of alone as { ok?: { disposition: string; state: string }; error?: string }[]) {
            if (a.ok !== undefined) {
              counted.dispositions.add(a.ok.disposition);
              counted.states.add(a.ok.state);
            } else counted.refusals.add(refusalKind(a as { message?: string }));
          }
        }
        now += pick([0, 0, 1, 10, 100, 499, 500, 1000, 2000, 3000]);
        for (const c of CIRCUITS) expect(await batch.store.get(c), `${where}: ${c}`).toEqual(await one.store.get(c));
      }
      for (const c of CIRCUITS) expect(await storedCircuit(batch, c), `stored ${c}`).toEqual(await storedCircuit(one, c));
      const [streamOne, streamBatch] = [await streamByCircuit(one), await streamByCircuit(batch)];
      expect(Object.values(streamOne).flat().length, "events in the stream").toBeGreaterThan(10);
      expect(streamBatch).toEqual(streamOne);

      // The sequence reached what it is meant to test.
      expect([...counted.dispositions].sort()).toEqual(["CONFLICT", "DUPLICATE", "RECORDED", "STALE"]);
      expect([...counted.refusals].sort()).toEqual(["does not exist", "expired", "not issued", "not outstanding", "told apart"]);
      expect([...counted.states]).toEqual(expect.arrayContaining(["CLOSED", "OPEN", "HALF_OPEN"]));
      // "one" ran one report.lua per report that reached Redis; "batch" fewer calls, some of them batches.
      expect([one.calls.batch, one.calls.page]).toEqual([0, 0]);
      expect(batch.calls.batch).toBeGreaterThan(0);
      expect(batch.calls.page).toBeGreaterThan(0);
      expect(batch.calls.single + batch.calls.batch + batch.calls.page).toBeLessThan(one.calls.single);
      console.log(`report batching differential (${seedLabel(TEST_SEED)}): ${counted.reports} reports; one by one ${one.calls.single} script calls, batched ${batch.calls.single} lone + ${batch.calls.batch} batch + ${batch.calls.page} page calls; largest burst ${counted.largestBurst}; refusals ${[...counted.refusals].join(", ")}`);
    } finally {
      await one.close();
      await batch.close();
    }
  });
});

describe("Report batching on one circuit", () => {
  it("takes fewer script calls than reports, counts every permit once and answers a permit's second report as a duplicate", async () => {
    let now = T0;
    const s = await side(servers[1]!, "rbn:", () => now, () => 0.5);
    try {
      const circuit = "hot.one";
      const outcomes: ("SUCCESS" | "TIMEOUT" | "IGNORED")[] = Array.from({ length: 100 }, (_, i) => (i % 10 === 9 ? "TIMEOUT" : i % 10 === 4 ? "IGNORED" : "SUCCESS"));
      const permits: string[] = [];
      for (const _ of outcomes) permits.push((await s.store.acquire(circuit)).permit!);
      const reportAll = (outcome?: "FAILURE") =>
        Promise.all(permits.map((permit, i) => s.store.report(circuit, { permit, outcome: outcome ?? outcomes[i]!, durationMs: 5, retryAfterMs: 0 })));

      const first = await reportAll();
      expect(first.map((a) => a.disposition)).toEqual(permits.map(() => "RECORDED"));
      expect(first.every((a) => a.state === "CLOSED")).toBe(true);
      // The first report goes alone; the 99 that arrived meanwhile go in batches of at most 64.
      expect(s.calls).toEqual({ single: 1, batch: 2, page: 0 });
      const stats = (await s.store.get(circuit))!.stats;
      expect([stats.totalSuccesses, stats.totalFailures, stats.totalTimeouts, stats.totalIgnored, stats.windowCalls]).toEqual([80, 10, 10, 10, 90]);

      // Every permit again, as a failure (no first outcome was one): each answers CONFLICT with its first outcome, and nothing counts.
      const again = await reportAll("FAILURE");
      expect(again.map((a) => [a.disposition, a.recordedOutcome])).toEqual(outcomes.map((o) => ["CONFLICT", o]));
      expect(s.calls).toEqual({ single: 2, batch: 4, page: 0 });
      expect((await s.store.get(circuit))!.stats).toEqual(stats);
    } finally {
      await s.close();
    }
  });

  it("answers every report of a batch whose circuit is gone with no such circuit", async () => {
    const s = await side(servers[1]!, "rbm:", () => T0, () => 0.5);
    try {
      const permits: string[] = [];
      for (let i = 0; i < 5; i++) permits.push((await s.store.acquire("gone.one")).permit!);
      const k = `${s.prefix}{gone.one}`;
      await s.raw.del(k, `${k}:p`, `${k}:r`, `${k}:h`);
      const answers = await Promise.allSettled(permits.map((permit) => s.store.report("gone.one", { permit, outcome: "SUCCESS", durationMs: 1, retryAfterMs: 0 })));
      expect(answers.map((a) => (a.status === "rejected" ? (a.reason as Error).message : "ok"))).toEqual(
        permits.map(() => 'circuit "gone.one" does not exist (it was never acquired, or was evicted while idle); the permit cannot be reported'),
      );
      expect(s.calls).toEqual({ single: 1, batch: 1, page: 0 });
      expect(await s.raw.exists(k)).toBe(0);
    } finally {
      await s.close();
    }
  });
});

describe("Report batching when the circuit's settings changed meanwhile", () => {
  it("runs the whole batch again with the stored settings after a staleConfig answer", async () => {
    const s = await side(servers[1]!, "rbs:", () => T0, () => 0.5);
    try {
      const circuit = "stale.one";
      const permits: string[] = [];
      for (let i = 0; i < 5; i++) permits.push((await s.store.acquire(circuit)).permit!);
      // Once the lone first report has answered, another replica's settings land (written directly:
      // no announcement reaches this store), so the batch that follows runs with a stale version.
      const commands = (s.store as unknown as { client: Record<string, (...args: unknown[]) => Promise<unknown>> }).client;
      const counted = commands["bbReport"]!;
      commands["bbReport"] = async function (this: unknown, ...args: unknown[]) {
        const reply = await counted.apply(this, args);
        await s.raw.hset(`${s.prefix}{${circuit}}:x`, "v", "1", "s", JSON.stringify({ patch: { failureThreshold: 1 } }));
        return reply;
      };
      const outcomes = ["SUCCESS", "FAILURE", "SUCCESS", "FAILURE", "SUCCESS"] as const;
      const acks = await Promise.all(permits.map((permit, i) => s.store.report(circuit, { permit, outcome: outcomes[i]!, durationMs: 1, retryAfterMs: 0 })));
      // With failureThreshold 1 the batch's first failure opens the circuit; the reports after it are stale.
      expect(acks.map((a) => [a.disposition, a.state])).toEqual([
        ["RECORDED", "CLOSED"],
        ["RECORDED", "OPEN"],
        ["STALE", "OPEN"],
        ["STALE", "OPEN"],
        ["STALE", "OPEN"],
      ]);
      // The lone report, then the batch twice: refused as stale (nothing applied), then applied.
      expect(s.calls).toEqual({ single: 1, batch: 2, page: 0 });
      const view = (await s.store.get(circuit))!;
      expect([view.stats.totalSuccesses, view.stats.totalFailures, view.config.failureThreshold]).toEqual([3, 2, 1]);
    } finally {
      await s.close();
    }
  });
});

describe("Report pages: the batches of several circuits in one call", () => {
  it("takes a few script calls for Reports spread over circuits and counts every permit once", async () => {
    const s = await side(servers[1]!, "rbp:", () => T0, () => 0.5);
    try {
      const circuits = Array.from({ length: 10 }, (_, i) => `spread.${i}`);
      const permits: [string, string][] = [];
      for (let i = 0; i < 100; i++) {
        const circuit = circuits[i % 10]!;
        permits.push([circuit, (await s.store.acquire(circuit)).permit!]);
      }
      const acks = await Promise.all(permits.map(([circuit, permit], i) => s.store.report(circuit, { permit, outcome: Math.floor(i / 10) % 5 === 0 ? "FAILURE" : "SUCCESS", durationMs: 1, retryAfterMs: 0 })));
      expect(acks.map((a) => a.disposition)).toEqual(permits.map(() => "RECORDED"));
      for (const circuit of circuits) {
        const stats = (await s.store.get(circuit))!.stats;
        expect([stats.totalSuccesses, stats.totalFailures, stats.windowCalls], circuit).toEqual([8, 2, 10]);
      }
      const calls = s.calls.single + s.calls.batch + s.calls.page;
      expect(s.calls.page).toBeGreaterThan(0);
      expect(calls).toBeLessThanOrEqual(10);
      console.log(`report pages: 100 Reports over 10 circuits took ${s.calls.single} report.lua, ${s.calls.batch} report-batch.lua and ${s.calls.page} report-page.lua calls`);

      // Every permit again: each a duplicate, nothing counted twice.
      const again = await Promise.all(permits.map(([circuit, permit], i) => s.store.report(circuit, { permit, outcome: Math.floor(i / 10) % 5 === 0 ? "FAILURE" : "SUCCESS", durationMs: 1, retryAfterMs: 0 })));
      expect(again.map((a) => a.disposition)).toEqual(permits.map(() => "DUPLICATE"));
      expect((await s.store.get("spread.0"))!.stats.windowCalls).toBe(10);
    } finally {
      await s.close();
    }
  });

  it("runs again only the circuit whose settings changed meanwhile, and applies the others once", async () => {
    const s = await side(servers[1]!, "rbq:", () => T0, () => 0.5);
    try {
      const permits: [string, string][] = [];
      for (const circuit of ["first.one", "first.two", "page.a", "page.b", "page.a", "page.b"]) permits.push([circuit, (await s.store.acquire(circuit)).permit!]);
      // The first two reports go alone (two calls may be in flight). Once one has answered,
      // another replica's settings for page.a land (written directly: no announcement
      // reaches this store), so the page that follows carries a stale version for page.a only.
      const commands = (s.store as unknown as { client: Record<string, (...args: unknown[]) => Promise<unknown>> }).client;
      const counted = commands["bbReport"]!;
      commands["bbReport"] = async function (this: unknown, ...args: unknown[]) {
        const reply = await counted.apply(this, args);
        await s.raw.hset(`${s.prefix}{page.a}:x`, "v", "1", "s", JSON.stringify({ patch: { failureThreshold: 1 } }));
        return reply;
      };
      const acks = await Promise.all(permits.map(([circuit, permit]) => s.store.report(circuit, { permit, outcome: "FAILURE", durationMs: 1, retryAfterMs: 0 })));
      // page.a ran with the stored failureThreshold 1: its first failure opened it; page.b kept the default.
      expect(acks.map((a) => [a.disposition, a.state])).toEqual([
        ["RECORDED", "CLOSED"],
        ["RECORDED", "CLOSED"],
        ["RECORDED", "OPEN"],
        ["RECORDED", "CLOSED"],
        ["STALE", "OPEN"],
        ["RECORDED", "CLOSED"],
      ]);
      const [a, b] = [(await s.store.get("page.a"))!, (await s.store.get("page.b"))!];
      expect([a.stats.totalFailures, a.config.failureThreshold, b.stats.totalFailures, b.stats.consecutiveFailures]).toEqual([2, 1, 2, 2]);
      expect(s.calls.page).toBeGreaterThan(0);
    } finally {
      await s.close();
    }
  });
});
