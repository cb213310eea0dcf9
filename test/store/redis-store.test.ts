/**
 * Redis-store properties beyond the shared semantics: one round trip per
 * operation (counted by Redis itself), no round trip for a CLOSED Acquire
 * on a fresh local view, scripts reloaded after SCRIPT FLUSH, a Report
 * retried with the stored settings when this replica's copy is stale, idle
 * CLOSED circuits expiring while OPEN ones do not (only a use postpones it,
 * and no side key outlives its circuit), pattern rules written on
 * one replica listed, moved and deleted on another, a reported permit's
 * outcome kept in its score, reporter lists bounded in the circuit hash.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUILTIN_DEFAULTS, BUILTIN_PRESETS, PermitRejectedError, decodePermit, encodePermit } from "../../src/engine/index.js";
import { createPermitSigner } from "../../src/store/permit-signer.js";
import { createRedisStore, type RedisStore } from "../../src/store/redis/redis-store.js";
import type { HistoryEntry } from "../../src/store/store.js";
import { startRedis, type RedisServer } from "../support/redis-servers.js";
import { waitFor } from "../support/replicas.js";

let redis: RedisServer;
let admin: Redis;
let prefixes = 0;

beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis({ host: redis.host, port: redis.port });
});

afterAll(async () => {
  admin.disconnect();
  await redis.stop();
});

async function makeStore(
  overrides: {
    idleTtlMs?: number;
    failureThreshold?: number;
    keyPrefix?: string;
    testClock?: () => number;
    permitSecret?: Buffer;
    previousPermitSecret?: Buffer;
  } = {},
): Promise<{ store: RedisStore; sent: string[]; keyPrefix: string; close(): Promise<void> }> {
  const connect = (): Redis => new Redis({ host: redis.host, port: redis.port });
  const client = connect();
  // Every command the store sends on its command connection: one per round trip.
  const sent: string[] = [];
  const send = client.sendCommand.bind(client);
  client.sendCommand = ((command: { name: string }, ...rest: unknown[]) => {
    sent.push(command.name);
    return (send as (...a: unknown[]) => unknown)(command, ...rest);
  }) as typeof client.sendCommand;
  const keyPrefix = overrides.keyPrefix ?? `rs${++prefixes}:`;
  const store = createRedisStore({
    client,
    duplicate: connect,
    cluster: false,
    layers: { defaults: { ...BUILTIN_DEFAULTS, failureThreshold: overrides.failureThreshold ?? 5 }, presets: BUILTIN_PRESETS, rules: [] },
    keyPrefix,
    ...(overrides.idleTtlMs === undefined ? {} : { idleTtlMs: overrides.idleTtlMs }),
    ...(overrides.testClock === undefined ? {} : { testClock: overrides.testClock }),
    ...(overrides.permitSecret === undefined ? {} : { permitSecret: overrides.permitSecret }),
    ...(overrides.previousPermitSecret === undefined ? {} : { previousPermitSecret: overrides.previousPermitSecret }),
  });
  await store.start();
  return {
    store,
    sent,
    keyPrefix,
    close: async () => {
      await store.close();
      client.disconnect();
    },
  };
}

/** A permit token without its MAC: what the scripts remember it by. */
function bodyOf(token: string): string {
  return token.slice(0, token.lastIndexOf("."));
}

const SECRET = Buffer.alloc(32, 7);

/** What the previous release issued for `permit`'s circuit, generation, kind and expiry: a 5-field body with nonce `nonce`, signed with SECRET. */
function legacyOf(name: string, permit: string, nonce: string): string {
  const p = decodePermit(bodyOf(permit))!;
  const body = encodePermit({ circuitHash: p.circuitHash, generation: p.generation, kind: p.kind, expiresAt: p.expiresAt, nonce });
  return createPermitSigner(SECRET).sign(name, body);
}

describe("redis store round trips", () => {
  it("costs exactly one EVALSHA per Report and per Acquire that Redis decides, and none for a CLOSED Acquire on a fresh view", async () => {
    const { store, sent, close } = await makeStore();
    try {
      const first = await store.acquire("rt.a"); // no view yet: Redis decides and creates the circuit
      expect(first.allowed).toBe(true);
      // The first use of a script on a Redis loads it (NOSCRIPT, then EVAL); count from after that.
      await store.report("rt.a", { permit: first.permit!, outcome: "SUCCESS", durationMs: 3, retryAfterMs: 0 });
      const permits: string[] = [];
      sent.length = 0;
      for (let i = 0; i < 50; i++) permits.push((await store.acquire("rt.a")).permit!);
      // The 50 Acquires ran on the local view: nothing sent.
      expect(sent).toEqual([]);
      for (const permit of permits) {
        const ack = await store.report("rt.a", { permit, outcome: "SUCCESS", durationMs: 3, retryAfterMs: 0 });
        expect(ack).toEqual({ state: "CLOSED", disposition: "RECORDED", recordedOutcome: "SUCCESS", duplicate: false, stale: false });
      }
      expect(sent).toEqual(new Array(50).fill("evalsha"));
      // An Acquire that Redis must decide (not CLOSED: FORCED_OPEN here) is one round trip too.
      await store.force("rt.b", "FORCED_OPEN", "t");
      sent.length = 0;
      expect((await store.acquire("rt.b")).allowed).toBe(false);
      expect(sent).toEqual(["evalsha"]);
    } finally {
      await close();
    }
  });

  it("reloads its scripts after SCRIPT FLUSH (as after a failover to a node that never saw them)", async () => {
    const { store, close } = await makeStore();
    try {
      const a = await store.acquire("flush.a");
      await admin.script("FLUSH");
      const ack = await store.report("flush.a", { permit: a.permit!, outcome: "FAILURE", durationMs: 1, retryAfterMs: 0 });
      expect(ack).toEqual({ state: "CLOSED", disposition: "RECORDED", recordedOutcome: "FAILURE", duplicate: false, stale: false });
      expect((await store.get("flush.a"))?.stats.totalFailures).toBe(1);
    } finally {
      await close();
    }
  });
});

describe("redis store settings", () => {
  it("retries a Report made with a stale copy of the circuit's settings under the stored ones, and counts it once", async () => {
    const a = await makeStore({ failureThreshold: 5 });
    const b = await makeStore({ failureThreshold: 5, keyPrefix: a.keyPrefix });
    try {
      const p = await b.store.acquire("stale.r"); // B resolves the circuit with the defaults (settings version 0)
      await a.store.configureCircuit("stale.r", { patch: { failureThreshold: 1 }, replace: false }, "t"); // version 1
      b.sent.length = 0;
      // B sends version 0, the script answers staleConfig, B takes version 1 and sends the Report again:
      // under failure_threshold 1 this one failure opens the circuit (under 5 it would not).
      const ack = await b.store.report("stale.r", { permit: p.permit!, outcome: "FAILURE", durationMs: 1, retryAfterMs: 0 });
      expect(ack).toEqual({ state: "OPEN", disposition: "RECORDED", recordedOutcome: "FAILURE", duplicate: false, stale: false });
      expect(b.sent).toEqual(["evalsha", "evalsha"]);
      expect((await a.store.get("stale.r"))?.stats).toMatchObject({ totalFailures: 1, consecutiveFailures: 1 });
    } finally {
      await b.close();
      await a.close();
    }
  });
});

describe("redis store pattern rules across replicas", () => {
  it("lists, reorders and deletes rules another replica wrote, and reads a list stored before rules had a precedence", async () => {
    const a = await makeStore();
    const b = await makeStore({ keyPrefix: a.keyPrefix });
    try {
      // A list as stored before v1: no precedence, order = consulted order.
      await admin.hset(`${a.keyPrefix}rules`, "v", 1, "s", JSON.stringify([{ pattern: "old.b*", patch: { failureThreshold: 2 } }, { pattern: "old.*", patch: { failureThreshold: 3 } }]));
      expect((await a.store.listPatternRules()).map((r) => [r.pattern, r.precedence, r.updateTime])).toEqual([
        ["old.b*", 1, undefined],
        ["old.*", 2, undefined],
      ]);
      const written = await a.store.configurePattern("new.*", { patch: { jitter: 0.2 }, replace: false }, "alice");
      expect(written.rule).toMatchObject({ pattern: "new.*", precedence: 3, origin: "runtime", updatedBy: "alice" });
      // B lists from Redis, moves A's rule first and deletes a legacy one; A sees both at once.
      expect((await b.store.listPatternRules()).map((r) => r.pattern)).toEqual(["old.b*", "old.*", "new.*"]);
      await b.store.configurePattern("old.*", { patch: {}, replace: false, precedence: 0 }, "bob");
      await b.store.deletePatternRule("old.b*", "bob");
      expect((await a.store.listPatternRules()).map((r) => [r.pattern, r.precedence, r.updatedBy])).toEqual([
        ["old.*", 0, "bob"],
        ["new.*", 3, "alice"],
      ]);
      await a.store.acquire("old.bx");
      expect((await a.store.get("old.bx"))?.configSources).toEqual(["pattern:old.*", "defaults"]);
    } finally {
      await b.close();
      await a.close();
    }
  });
});

describe("redis store expiry", () => {
  it("lets an idle CLOSED circuit expire, and an OPEN one no sooner than its open_until", async () => {
    const { store, close } = await makeStore({ idleTtlMs: 300, failureThreshold: 1 });
    try {
      await store.acquire("idle.closed");
      const p = await store.acquire("idle.open");
      await store.report("idle.open", { permit: p.permit!, outcome: "FAILURE", durationMs: 1, retryAfterMs: 0 });
      expect((await store.get("idle.open"))?.state).toBe("OPEN");
      const keyOf = (name: string): string => `rs${prefixes}:{${name}}`;
      // Open for the default 60 s (± jitter): it turns HALF_OPEN (then idle, it goes) no sooner.
      expect(await admin.pttl(keyOf("idle.open"))).toBeGreaterThan(30_000);
      const ttl = await admin.pttl(keyOf("idle.closed"));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(300);
      await new Promise((r) => setTimeout(r, 400));
      expect(await store.get("idle.closed")).toBeUndefined();
      expect((await store.get("idle.open"))?.state).toBe("OPEN");
    } finally {
      await close();
    }
  });
});

/**
 * What postpones an idle CLOSED circuit's expiry. Redis expires keys in real
 * time, so these read each key's expiry instant (PEXPIRETIME, exact) rather
 * than wait for it; the scripts' clock (a test clock) moves past the tenth of
 * the idle TTL after which a use refreshes the expiry. A few real ms pass
 * before each step, so a refresh would move the instant.
 */
describe("redis store idle expiry: what counts as use", () => {
  const IDLE = 60_000;
  const pause = (): Promise<void> => new Promise((r) => setTimeout(r, 3));
  async function clocked(): Promise<{ store: RedisStore; expiry(name: string, key?: string): Promise<number>; later(ms?: number): Promise<void>; close(): Promise<void> }> {
    let now = 1_700_000_000_000;
    const made = await makeStore({ idleTtlMs: IDLE, failureThreshold: 1, testClock: () => now });
    return {
      store: made.store,
      expiry: async (name, key = "") => Number(await admin.call("PEXPIRETIME", `${made.keyPrefix}{${name}}${key}`)),
      // By default the tenth of the idle TTL after which a use refreshes the expiry.
      later: async (ms = IDLE / 10) => {
        await pause();
        now += ms;
      },
      close: made.close,
    };
  }

  it("does not postpone it for reads: get, list, history, a Watch snapshot", async () => {
    const { store, expiry, later, close } = await clocked();
    try {
      await store.force("use.read", "DISABLED", "ops");
      await store.force("use.read", "CLOSED", "ops"); // CLOSED, with history
      const at = await expiry("use.read");
      const historyAt = await expiry("use.read", ":h");
      expect(at).toBeGreaterThan(0);
      expect(historyAt).toBeGreaterThan(0);
      expect(historyAt).toBeLessThanOrEqual(at);
      await later();
      expect((await store.get("use.read"))?.state).toBe("CLOSED");
      expect((await store.list({ prefix: "use.", limit: 10 })).circuits).toHaveLength(1);
      expect((await store.history("use.read", 10))?.entries).toHaveLength(2);
      (await store.watch({ circuits: [], prefix: "use." }, undefined, () => {})).close();
      expect(await expiry("use.read")).toBe(at);
      expect(await expiry("use.read", ":h")).toBe(historyAt);
    } finally {
      await close();
    }
  });

  it("postpones it for Acquire, Report and admin writes, and the side keys with it", async () => {
    const { store, expiry, later, close } = await clocked();
    try {
      const p = await store.acquire("use.busy");
      let at = await expiry("use.busy");
      const uses: [string, () => Promise<unknown>][] = [
        ["acquire", () => store.acquire("use.busy")],
        ["report", () => store.report("use.busy", { permit: p.permit!, outcome: "SUCCESS", durationMs: 1, retryAfterMs: 0 })],
        ["reset", () => store.reset("use.busy", "ops")],
        ["force", () => store.force("use.busy", "CLOSED", "ops")],
        ["configure", () => store.configureCircuit("use.busy", { patch: { failureThreshold: 2 }, replace: false }, "ops")],
      ];
      for (const [what, use] of uses) {
        await later();
        await use();
        const next = await expiry("use.busy");
        expect({ what, later: next > at }).toEqual({ what, later: true });
        // The history expires with the circuit, not after it (a permit window expires with its permits: see "no key outlives").
        for (const key of what === "report" || what === "acquire" ? [] : [":h"]) {
          const sideAt = await expiry("use.busy", key);
          expect({ what, key, expires: sideAt > 0, notAfterCircuit: sideAt <= next }).toEqual({ what, key, expires: true, notAfterCircuit: true });
        }
        at = next;
      }
    } finally {
      await close();
    }
  });

  it("gives the history a pattern rule's change creates the circuit's remaining time, not more", async () => {
    const { store, expiry, later, close } = await clocked();
    try {
      await store.acquire("use.pat");
      const at = await expiry("use.pat");
      await later();
      await store.configurePattern("use.*", { patch: { failureThreshold: 2 }, replace: false }, "ops");
      expect((await store.history("use.pat", 10))?.entries.map((e) => e.kind)).toEqual(["config"]);
      expect(await expiry("use.pat")).toBe(at);
      const historyAt = await expiry("use.pat", ":h");
      expect(historyAt).toBeGreaterThan(0);
      expect(historyAt).toBeLessThanOrEqual(at);
    } finally {
      await close();
    }
  });

  it("expires an OPEN circuit one idle TTL after its last use once it is HALF_OPEN; reads (and the move they apply) never postpone it", async () => {
    const { store, expiry, later, close } = await clocked();
    try {
      await store.configureCircuit("use.open", { patch: { openDurationMs: 10_000, jitter: 0 }, replace: false }, "ops");
      const p = await store.acquire("use.open");
      await store.report("use.open", { permit: p.permit!, outcome: "FAILURE", durationMs: 1, retryAfterMs: 0 });
      expect((await store.get("use.open"))?.state).toBe("OPEN");
      const at = await expiry("use.open");
      expect(at).toBeGreaterThan(0);
      await later(20_000); // past the open duration: the first read moves it to HALF_OPEN
      for (let i = 0; i < 3; i++) {
        await store.get("use.open");
        await store.list({ prefix: "use.", limit: 10 });
        await store.history("use.open", 10);
        await later(1_000);
      }
      expect((await store.get("use.open"))?.state).toBe("HALF_OPEN");
      expect(await expiry("use.open")).toBe(at);
      const historyAt = await expiry("use.open", ":h");
      expect(historyAt).toBeGreaterThan(0);
      expect(historyAt).toBeLessThanOrEqual(at);
    } finally {
      await close();
    }
  });
});

describe("redis store idle expiry: no key outlives its circuit", () => {
  it("leaves only the explicit settings once CLOSED circuits with pattern-rule history expire", async () => {
    const { store, keyPrefix, close } = await makeStore({ idleTtlMs: 300 });
    try {
      await store.configureCircuit("gone.set", { patch: { failureThreshold: 2 }, replace: false }, "ops");
      await store.acquire("gone.plain");
      const p = await store.acquire("gone.plain");
      await store.report("gone.plain", { permit: p.permit!, outcome: "SUCCESS", durationMs: 1, retryAfterMs: 0 });
      await store.configurePattern("gone.*", { patch: { minimumCalls: 7 }, replace: false }, "ops");
      for (const name of ["gone.set", "gone.plain"]) expect((await store.history(name, 10))?.entries[0]?.kind).toBe("config");
      // Wait for Redis to expire both circuits (read with EXISTS, which is no store read).
      await waitFor("Redis to expire gone.set and gone.plain", async () => (await admin.exists(`${keyPrefix}{gone.set}`, `${keyPrefix}{gone.plain}`)) === 0, {
        timeoutMs: 20_000,
      });
      const left = (await admin.keys(`${keyPrefix}{gone.*`)).sort();
      // Besides the settings, only the removal markers of the announced expiries and the window of
      // the reported permit, which go by themselves (the window once its permit expires, within permit_ttl).
      const transient = left.filter((k) => k.endsWith(":rm") || k.includes(":w:"));
      for (const k of transient) expect(await admin.pttl(k)).toBeGreaterThan(0);
      for (const k of transient.filter((k) => k.includes(":w:"))) expect(await admin.pttl(k)).toBeLessThanOrEqual(BUILTIN_DEFAULTS.permitTtlMs);
      expect(transient.filter((k) => k.includes(":w:"))).toHaveLength(1);
      expect(left.filter((k) => !transient.includes(k))).toEqual([`${keyPrefix}{gone.set}:x`]);
    } finally {
      await close();
    }
  });
});

describe("redis store history positions", () => {
  /** Records `count` ForceState toggles of `name` (DISABLED, CLOSED, ...), ending CLOSED when `count` is even. */
  async function toggle(store: RedisStore, name: string, count: number): Promise<void> {
    for (let i = 0; i < count; i++) await store.force(name, i % 2 === 0 ? "DISABLED" : "CLOSED", "ops");
  }

  it("ends a listing when the circuit expired and came back: its new history is not older than the old position", async () => {
    const { store, close } = await makeStore({ idleTtlMs: 300 });
    try {
      await toggle(store, "life.a", 4);
      const first = await store.history("life.a", 2);
      expect(first?.entries).toHaveLength(2);
      await new Promise((r) => setTimeout(r, 400));
      expect(await store.history("life.a", 2, first!.next)).toBeUndefined();
      await toggle(store, "life.a", 6);
      expect(await store.history("life.a", 2, first!.next)).toEqual({ entries: [] });
      const fresh = await store.history("life.a", 10);
      expect(fresh?.entries).toHaveLength(6);
      expect(fresh?.next).toBeUndefined();
    } finally {
      await close();
    }
  });

  it("pages through entries written before positions existed, numbered below the first positioned one", async () => {
    const { store, keyPrefix, close } = await makeStore();
    try {
      await store.acquire("legacy.a");
      // What the previous version wrote: entries without life and seq, newest first.
      for (const actor of ["old-1", "old-2", "old-3"]) {
        const change = { target: "legacy.a", actor, at: 1, oldConfig: {}, newConfig: {} };
        await admin.lpush(`${keyPrefix}{legacy.a}:h`, JSON.stringify({ kind: "config", change }));
      }
      await toggle(store, "legacy.a", 2);
      const who = (p: { entries: HistoryEntry[] } | undefined) => p!.entries.map((e) => (e.kind === "config" ? e.change.actor : `${e.event.from}>${e.event.to}`));
      const p1 = await store.history("legacy.a", 3);
      expect(who(p1)).toEqual(["DISABLED>CLOSED", "CLOSED>DISABLED", "old-3"]);
      await toggle(store, "legacy.a", 2); // recorded meanwhile: the next page does not move
      const p2 = await store.history("legacy.a", 3, p1!.next);
      expect(who(p2)).toEqual(["old-2", "old-1"]);
      expect(p2!.next).toBeUndefined();
    } finally {
      await close();
    }
  });
});

describe("redis store event stream", () => {
  it("passes over a stream entry it cannot decode and keeps delivering the transitions after it", async () => {
    const { store, keyPrefix, close } = await makeStore({ failureThreshold: 1 });
    try {
      const seen: string[] = [];
      const sub = await store.watch({ circuits: [], prefix: "poison." }, undefined, (item) => {
        if (item.kind === "event") seen.push(`${item.event.circuit} ${item.event.from}->${item.event.to}`);
      });
      // What a newer replica might write during a rolling upgrade: an event this version cannot read.
      await admin.xadd(`${keyPrefix}events`, "*", "e", JSON.stringify({ circuit: "poison.x", reason: "from_the_future" }));
      const p = await store.acquire("poison.a");
      await store.report("poison.a", { permit: p.permit!, outcome: "FAILURE", durationMs: 1, retryAfterMs: 0 });
      await store.settle();
      expect(seen).toEqual(["poison.a CLOSED->OPEN"]);
      expect(store.health()).toEqual({ ready: true });
      sub.close();
    } finally {
      await close();
    }
  });
});

describe("redis store reported permits", () => {
  it("keeps a legacy permit's outcome in its score (expiry + code / 8) until the permit expires", async () => {
    const { store, keyPrefix, close } = await makeStore({ permitSecret: SECRET });
    try {
      const p = legacyOf("kept.a", (await store.acquire("kept.a")).permit!, "old1");
      const expiresAt = parseInt(p.split(".")[3]!, 36);
      await store.report("kept.a", { permit: p, outcome: "TIMEOUT", durationMs: 1, retryAfterMs: 0 });
      // Remembered by its body (the token without its MAC): the permit's one identity.
      expect(await admin.zscore(`${keyPrefix}{kept.a}:r`, bodyOf(p))).toBe(`${expiresAt}.375`);
      expect(await store.report("kept.a", { permit: p, outcome: "SUCCESS", durationMs: 1, retryAfterMs: 0 })).toEqual({
        state: "CLOSED",
        disposition: "CONFLICT",
        recordedOutcome: "TIMEOUT",
        duplicate: true,
        stale: false,
      });
      expect(await admin.keys(`${keyPrefix}{kept.a}:w:*`)).toEqual([]);
    } finally {
      await close();
    }
  });

  it("answers a legacy permit an older replica recorded without its outcome (a whole score) as a DUPLICATE of this report", async () => {
    const { store, keyPrefix, close } = await makeStore({ permitSecret: SECRET });
    try {
      const p = legacyOf("legacy.a", (await store.acquire("legacy.a")).permit!, "old2");
      await admin.zadd(`${keyPrefix}{legacy.a}:r`, parseInt(p.split(".")[3]!, 36), bodyOf(p));
      expect(await store.report("legacy.a", { permit: p, outcome: "FAILURE", durationMs: 1, retryAfterMs: 0 })).toEqual({
        state: "CLOSED",
        disposition: "DUPLICATE",
        recordedOutcome: "FAILURE",
        duplicate: true,
        stale: false,
      });
      expect((await store.get("legacy.a"))?.stats).toMatchObject({ totalFailures: 0, totalSuccesses: 0 });
    } finally {
      await close();
    }
  });

  it("keeps a permit's outcome in its stream's window key (highest seq + 1, then 4-bit slots), expiring with the permit, and no :r entry", async () => {
    const { store, keyPrefix, close } = await makeStore();
    try {
      const permits = [];
      for (let i = 0; i < 3; i++) permits.push((await store.acquire("win.a")).permit!);
      const [stream, seq] = permits[2]!.split(".").slice(4, 6);
      expect(permits.map((p) => p.split(".").slice(4, 6).join("."))).toEqual([`${stream}.0`, `${stream}.1`, `${stream}.2`]);
      expect(seq).toBe("2");
      await store.report("win.a", { permit: permits[2]!, outcome: "TIMEOUT", durationMs: 1, retryAfterMs: 0 });
      await store.report("win.a", { permit: permits[0]!, outcome: "SUCCESS", durationMs: 1, retryAfterMs: 0 });
      const key = `${keyPrefix}{win.a}:w:${stream}`;
      // top = 3 (i64, big-endian), then slots 0 1 2 = SUCCESS (1), none (0), TIMEOUT (3).
      expect(await admin.getBuffer(key)).toEqual(Buffer.from([0, 0, 0, 0, 0, 0, 0, 3, 0x10, 0x30]));
      // PEXPIRE is relative (so a test clock works): Redis adds it to its own clock, which may have
      // moved a millisecond past the script's TIME by then.
      const expiresAt = parseInt(permits[2]!.split(".")[3]!, 36);
      expect(Number(await admin.call("PEXPIRETIME", key)) - expiresAt).toBeOneOf([0, 1, 2]);
      expect(await admin.exists(`${keyPrefix}{win.a}:r`)).toBe(0);
      expect(await store.report("win.a", { permit: permits[2]!, outcome: "FAILURE", durationMs: 1, retryAfterMs: 0 })).toMatchObject({
        disposition: "CONFLICT",
        recordedOutcome: "TIMEOUT",
      });
    } finally {
      await close();
    }
  });
});

describe("redis store reporter lists", () => {
  it("keep at most 16 reporters by name in the circuit hash, however many report failures", async () => {
    const { store, keyPrefix, close } = await makeStore();
    try {
      const name = "quorum.bound";
      await store.configureCircuit(name, { patch: { failureThreshold: 0, failureRateThreshold: 0 }, replace: false }, "ops");
      for (let i = 0; i < 100; i++) {
        const p = (await store.acquire(name)).permit!;
        await store.report(name, { permit: p, outcome: "FAILURE", durationMs: 1, retryAfterMs: 0, principal: { keyName: "agents", agentInstanceId: `pod-${i}` } });
      }
      const key = `${keyPrefix}{${name}}`;
      const rf = JSON.parse((await admin.hget(key, "rf"))!) as [number, string, string][];
      expect(rf.map(([, keyName, id]) => `${keyName}/${id}`)).toEqual(Array.from({ length: 16 }, (_, i) => `agents/pod-${99 - i}`));
      expect(await admin.hmget(key, "rn", "rs")).toEqual(["16", null]);
      const p = (await store.acquire(name)).permit!;
      await store.report(name, { permit: p, outcome: "SUCCESS", durationMs: 1, retryAfterMs: 0 });
      expect(await admin.hget(key, "rn")).toBe("0"); // a success ends the run; who failed stays listed
      expect(JSON.parse((await admin.hget(key, "rf"))!)).toHaveLength(16);
    } finally {
      await close();
    }
  });
});

describe("redis store permit secret", () => {
  const report = (store: RedisStore, name: string, permit: string) => store.report(name, { permit, outcome: "SUCCESS", durationMs: 1, retryAfterMs: 0 });
  const problemOf = (p: Promise<unknown>) =>
    p.then(
      () => "accepted",
      (e: unknown) => (e instanceof PermitRejectedError ? e.problem : String(e)),
    );

  it("without a configured secret, generates one in Redis (SET NX) that every replica shares", async () => {
    const one = await makeStore({ keyPrefix: "ps1:" });
    const two = await makeStore({ keyPrefix: "ps1:" });
    try {
      const stored = await admin.get("ps1:permit-secret");
      // 32 random bytes as base64url text, used as its UTF-8 bytes like the variable's value.
      expect(stored).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const p = (await one.store.acquire("shared.a")).permit!;
      expect(await report(two.store, "shared.a", p)).toMatchObject({ disposition: "RECORDED" });
      // A restart reads the same secret back rather than drawing a new one.
      const three = await makeStore({ keyPrefix: "ps1:" });
      await three.close();
      expect(await admin.get("ps1:permit-secret")).toBe(stored);
      // Rotating away from it: the stored text, passed as the previous secret, still opens its permits.
      const rotated = await makeStore({ keyPrefix: "ps1:", permitSecret: Buffer.alloc(32, 9), previousPermitSecret: Buffer.from(stored!, "utf8") });
      try {
        const q = (await one.store.acquire("shared.a")).permit!;
        expect(await report(rotated.store, "shared.a", q)).toMatchObject({ disposition: "RECORDED" });
      } finally {
        await rotated.close();
      }
    } finally {
      await one.close();
      await two.close();
    }
  });

  it("with a configured secret, stores nothing in Redis", async () => {
    const { store, close } = await makeStore({ keyPrefix: "ps2:", permitSecret: Buffer.alloc(32, 1) });
    try {
      const p = (await store.acquire("configured.a")).permit!;
      expect(await report(store, "configured.a", p)).toMatchObject({ disposition: "RECORDED" });
      expect(await admin.exists("ps2:permit-secret")).toBe(0);
    } finally {
      await close();
    }
  });

  it("after a rotation, accepts permits signed with the previous secret and refuses those of an unknown one", async () => {
    const [older, newer] = [Buffer.alloc(32, 1), Buffer.alloc(32, 2)];
    const before = await makeStore({ keyPrefix: "ps3:", permitSecret: older });
    const rotated = await makeStore({ keyPrefix: "ps3:", permitSecret: newer, previousPermitSecret: older });
    const after = await makeStore({ keyPrefix: "ps3:", permitSecret: newer });
    try {
      const [p1, p2] = [(await before.store.acquire("rot.a")).permit!, (await before.store.acquire("rot.a")).permit!];
      expect(await report(rotated.store, "rot.a", p1)).toMatchObject({ disposition: "RECORDED" });
      expect(await problemOf(report(after.store, "rot.a", p2))).toBe("bad-signature");
      expect(await report(after.store, "rot.a", (await rotated.store.acquire("rot.a")).permit!)).toMatchObject({ disposition: "RECORDED" });
    } finally {
      await before.close();
      await rotated.close();
      await after.close();
    }
  });

  it("refuses a configured secret shorter than 32 bytes when built", () => {
    expect(() =>
      createRedisStore({
        client: admin,
        duplicate: () => admin,
        cluster: false,
        layers: { defaults: BUILTIN_DEFAULTS, presets: BUILTIN_PRESETS, rules: [] },
        permitSecret: Buffer.alloc(31),
      }),
    ).toThrow(/at least 32 bytes, got 31/);
  });
});
