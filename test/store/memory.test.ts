/**
 * Behaviour only the embedded store has: idle eviction, the background tick,
 * the bounded event log and history ring. The shared semantics are proven by
 * test/conformance/memory.test.ts.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  applyPatch,
  BUILTIN_DEFAULTS,
  BUILTIN_PRESETS,
  PermitRejectedError,
  type ConfigPatch,
  type State,
} from "../../src/engine/index.js";
import { createMemoryStore, type MemoryStore, type MemoryStoreOptions } from "../../src/store/memory.js";
import { ResumeTokenError, positionOf, type CircuitEvent, type WatchItem } from "../../src/store/store.js";
import { mulberry32, seedLabel, TEST_SEED } from "../conformance/random.js";

const T0 = 1_700_000_000_000;
const DEFAULTS = applyPatch(BUILTIN_DEFAULTS, {
  failureThreshold: 3,
  failureRateThreshold: 0,
  windowMs: 10_000,
  openDurationMs: 10_000,
  maxOpenDurationMs: 60_000,
  halfOpenMaxCalls: 1,
  successThreshold: 1,
  permitTtlMs: 5_000,
});

let now = T0;
let stores: MemoryStore[] = [];

afterEach(async () => {
  for (const s of stores) await s.close();
  stores = [];
});

function makeStore(options: Partial<MemoryStoreOptions> = {}, config: ConfigPatch = {}): MemoryStore {
  now = T0;
  const store = createMemoryStore({
    layers: { defaults: applyPatch(DEFAULTS, config), presets: BUILTIN_PRESETS, rules: [] },
    clock: () => now,
    random: mulberry32(TEST_SEED),
    tickIntervalMs: 0,
    ...options,
  });
  stores.push(store);
  return store;
}

async function call(store: MemoryStore, name: string, outcome: "SUCCESS" | "FAILURE"): Promise<void> {
  const d = await store.acquire(name);
  expect(d.allowed).toBe(true);
  await store.report(name, { permit: d.permit!, outcome, durationMs: 1, retryAfterMs: 0 });
}

async function trip(store: MemoryStore, name: string): Promise<void> {
  for (let i = 0; i < 3; i++) await call(store, name, "FAILURE");
}

function recorder(): { items: WatchItem[]; sink: (i: WatchItem) => void; events: () => string[]; ids: () => string[] } {
  const items: WatchItem[] = [];
  const events = (): CircuitEvent[] => items.flatMap((i) => (i.kind === "event" ? [i.event] : []));
  return {
    items,
    sink: (i) => void items.push(i),
    events: () => events().map((e) => `${e.circuit} ${e.from}>${e.to} ${e.reason} @${e.at - T0}`),
    ids: () => events().map((e) => e.eventId),
  };
}

describe(`memory store (${seedLabel(TEST_SEED)})`, () => {
  describe("idle eviction", () => {
    it("forgets a CLOSED circuit unused for idleTtlMs, not 1 ms sooner", async () => {
      const store = makeStore({ idleTtlMs: 60_000 });
      await call(store, "idle.a", "FAILURE");
      expect(store.evictIdle(T0 + 59_999)).toBe(0);
      expect(store.size).toBe(1);
      expect(store.evictIdle(T0 + 60_000)).toBe(1);
      expect(store.size).toBe(0);
      expect(await store.get("idle.a")).toBeUndefined();
      expect(await store.history("idle.a", 10)).toBeUndefined();
    });

    it("ends a history listing across an eviction: the re-created circuit's entries are not returned as older", async () => {
      const store = makeStore({ idleTtlMs: 1_000 });
      for (let i = 0; i < 4; i++) await store.force("idle.h", i % 2 === 0 ? "DISABLED" : "CLOSED", "ops");
      const first = await store.history("idle.h", 2);
      expect(first?.next).toEqual({ life: T0, seq: 3 });
      now = T0 + 1_000;
      expect(store.evictIdle(now)).toBe(1);
      expect(await store.history("idle.h", 2, first!.next)).toBeUndefined();
      for (let i = 0; i < 6; i++) await store.force("idle.h", i % 2 === 0 ? "DISABLED" : "CLOSED", "ops");
      expect(await store.history("idle.h", 2, first!.next)).toEqual({ entries: [] });
      const fresh = await store.history("idle.h", 10);
      expect(fresh?.entries).toHaveLength(6);
      expect(fresh?.next).toBeUndefined();
      expect((await store.history("idle.h", 1))?.next).toEqual({ life: T0 + 1_000, seq: 6 });
    });

    it("announces each eviction to matching watchers as circuit_removed (idle_evicted), at its own log position, replayed on resume", async () => {
      const store = makeStore({ idleTtlMs: 60_000 });
      await call(store, "idle.a", "SUCCESS");
      await call(store, "idle.b", "SUCCESS");
      await call(store, "other.c", "SUCCESS");
      const rec = recorder();
      const sub = await store.watch({ circuits: ["idle.b"], prefix: "idle." }, undefined, rec.sink);
      const start = (rec.items[2] as { resumeToken: string }).resumeToken;
      expect(store.evictIdle(T0 + 60_000)).toBe(3);
      const removed = rec.items.slice(3);
      expect(removed).toEqual([
        { kind: "circuit_removed", circuit: "idle.a", cause: "idle_evicted", at: T0 + 60_000, position: expect.any(String) },
        { kind: "circuit_removed", circuit: "idle.b", cause: "idle_evicted", at: T0 + 60_000, position: expect.any(String) },
      ]);
      // other.c's removal is in the log too: the watcher's position is past it.
      expect(sub.position()).not.toBe(positionOf(removed[1]!));
      const replay = recorder();
      await store.watch({ circuits: [], prefix: "idle." }, start, replay.sink);
      expect(replay.items).toEqual(removed);
      const after = recorder();
      await store.watch({ circuits: [], prefix: "idle." }, sub.position(), after.sink);
      expect(after.items).toEqual([]);
    });

    it("counts a report as use", async () => {
      const store = makeStore({ idleTtlMs: 60_000 });
      const d = await store.acquire("idle.a");
      now = T0 + 4_000;
      await store.report("idle.a", { permit: d.permit!, outcome: "SUCCESS", durationMs: 1, retryAfterMs: 0 });
      expect(store.evictIdle(T0 + 63_999)).toBe(0);
      expect(store.evictIdle(T0 + 64_000)).toBe(1);
    });

    it("does not count reads as use: a CLOSED circuit read constantly goes one idle TTL after its last Acquire", async () => {
      const store = makeStore({ idleTtlMs: 60_000 });
      await store.acquire("idle.a");
      for (now = T0 + 10_000; now < T0 + 60_000; now += 10_000) {
        await store.get("idle.a");
        await store.list({ prefix: "idle.", limit: 10 });
        await store.history("idle.a", 10);
        (await store.watch({ circuits: [], prefix: "idle." }, undefined, () => {})).close();
      }
      expect(store.evictIdle(T0 + 60_000)).toBe(1);
    });

    const acquired = async (store: MemoryStore): Promise<unknown> => store.acquire("idle.a");
    it.each([
      ["reset", acquired, (store: MemoryStore) => store.reset("idle.a", "ops")],
      ["a release", (store: MemoryStore) => store.force("idle.a", "DISABLED", "ops"), (store: MemoryStore) => store.force("idle.a", "CLOSED", "ops")],
      ["a force to where it is", acquired, (store: MemoryStore) => store.force("idle.a", "CLOSED", "ops")],
      ["a Configure of the circuit", acquired, (store: MemoryStore) => store.configureCircuit("idle.a", { patch: { failureThreshold: 2 }, replace: false }, "ops")],
    ])("counts %s as use", async (_what, setup, write) => {
      const store = makeStore({ idleTtlMs: 60_000 });
      await setup(store);
      now = T0 + 50_000;
      await write(store);
      expect(store.evictIdle(T0 + 109_999)).toBe(0);
      expect(store.evictIdle(T0 + 110_000)).toBe(1);
    });

    it("gives a circuit reset after a long OPEN spell a whole idle TTL", async () => {
      const store = makeStore({ idleTtlMs: 60_000 });
      await trip(store, "idle.a");
      now = T0 + 3_600_000;
      expect((await store.reset("idle.a", "ops"))!.state).toBe("CLOSED");
      expect(store.evictIdle(now + 59_999)).toBe(0);
      expect(store.evictIdle(now + 60_000)).toBe(1);
    });

    it("does not count a pattern rule's config change of a circuit as use", async () => {
      const store = makeStore({ idleTtlMs: 60_000 });
      await store.acquire("idle.a");
      now = T0 + 50_000;
      await store.configurePattern("idle.*", { patch: { failureThreshold: 2 }, replace: false }, "ops");
      expect((await store.history("idle.a", 10))!.entries.map((e) => e.kind)).toEqual(["config"]);
      expect(store.evictIdle(T0 + 60_000)).toBe(1);
    });

    it("starts an evicted circuit afresh: clean counters, generation 0; its old permits are unknown", async () => {
      const store = makeStore({ idleTtlMs: 1_000 });
      await call(store, "idle.a", "FAILURE");
      const old = (await store.acquire("idle.a")).permit!;
      expect(store.evictIdle(T0 + 1_000)).toBe(1);
      await expect(store.report("idle.a", { permit: old, outcome: "FAILURE", durationMs: 1, retryAfterMs: 0 })).rejects.toMatchObject({
        name: "PermitRejectedError",
        problem: "unknown",
      });
      now = T0 + 1_000;
      await store.acquire("idle.a");
      expect(await store.get("idle.a")).toMatchObject({ state: "CLOSED", generation: 0, since: T0 + 1_000, stats: { totalFailures: 0, consecutiveFailures: 0 } });
    });

    const pinned: [State, (store: MemoryStore, name: string) => Promise<void>][] = [
      ["FORCED_OPEN", async (store, name) => void (await store.force(name, "FORCED_OPEN", "ops"))],
      ["DISABLED", async (store, name) => void (await store.force(name, "DISABLED", "ops"))],
    ];

    it.each(pinned)("never forgets a %s circuit", async (state, bring) => {
      const store = makeStore({ idleTtlMs: 1_000 });
      await bring(store, "keep.a");
      expect((await store.get("keep.a"))!.state).toBe(state);
      expect(store.evictIdle(now + 30 * 86_400_000)).toBe(0);
      expect(store.size).toBe(1);
    });

    it("forgets a HALF_OPEN circuit with no probe out one idle TTL after its last use, not 1 ms sooner", async () => {
      const store = makeStore({ idleTtlMs: 60_000 });
      await trip(store, "idle.half");
      now = T0 + 10_000;
      expect((await store.get("idle.half"))!.state).toBe("HALF_OPEN");
      expect(store.evictIdle(T0 + 59_999)).toBe(0);
      expect(store.evictIdle(T0 + 60_000)).toBe(1);
      expect(await store.get("idle.half")).toBeUndefined();
    });

    it("forgets an OPEN circuit nobody uses when it turns HALF_OPEN, if it has been idle a whole TTL by then", async () => {
      const store = makeStore({ idleTtlMs: 1_000 });
      const rec = recorder();
      await store.watch({ circuits: [], prefix: "idle." }, undefined, rec.sink);
      await trip(store, "idle.open");
      expect(store.evictIdle(T0 + 9_999)).toBe(0);
      expect((await store.get("idle.open"))!.state).toBe("OPEN");
      expect(store.evictIdle(T0 + 10_000)).toBe(1);
      expect(rec.events()).toEqual(["idle.open CLOSED>OPEN consecutive_failures @0", "idle.open OPEN>HALF_OPEN open_duration_elapsed @10000"]);
      expect(rec.items.at(-1)).toMatchObject({ kind: "circuit_removed", circuit: "idle.open", cause: "idle_evicted" });
    });

    it("keeps a HALF_OPEN circuit while its probe is out; once the probe times out and the reopened circuit turns HALF_OPEN, forgets it", async () => {
      const store = makeStore({ idleTtlMs: 1_000 });
      await trip(store, "idle.probe");
      now = T0 + 10_000;
      expect((await store.acquire("idle.probe")).allowed).toBe(true); // the probe, never reported
      expect(store.evictIdle(T0 + 14_999)).toBe(0); // probe out until T0 + 15 000
      expect(store.evictIdle(T0 + 15_000)).toBe(0); // timed out: OPEN again until T0 + 25 000
      expect((await store.get("idle.probe"))!.state).toBe("OPEN");
      expect(store.evictIdle(T0 + 24_999)).toBe(0);
      expect(store.evictIdle(T0 + 25_000)).toBe(1);
    });

    it("keeps explicit settings across eviction", async () => {
      const store = makeStore({ idleTtlMs: 1_000 });
      await store.configureCircuit("idle.a", { patch: { failureThreshold: 1 }, replace: false }, "alice");
      expect(store.evictIdle(T0 + 1_000)).toBe(1);
      expect(await store.get("idle.a")).toBeUndefined();
      await call(store, "idle.a", "FAILURE");
      expect(await store.get("idle.a")).toMatchObject({
        state: "OPEN",
        config: { failureThreshold: 1 },
        configSources: ["circuit", "defaults"],
      });
    });

    it("keeps settings from the config file across eviction", async () => {
      const store = makeStore({ idleTtlMs: 1_000, circuits: { "idle.file": { preset: "strict", patch: {} } } });
      await store.acquire("idle.file");
      expect(store.evictIdle(T0 + 1_000)).toBe(1);
      await store.acquire("idle.file");
      expect((await store.get("idle.file"))!.configSources).toEqual(["circuit", "preset:strict", "defaults"]);
    });

    it("tick() evicts what is due on every call", async () => {
      const store = makeStore({ idleTtlMs: 1_000 });
      await store.acquire("idle.a");
      now = T0 + 999;
      store.tick();
      expect(store.size).toBe(1);
      now = T0 + 1_000;
      store.tick();
      expect(store.size).toBe(0);
    });
  });

  describe("tick", () => {
    it("turns a due OPEN circuit HALF_OPEN and tells watchers, without any acquire", async () => {
      const store = makeStore();
      const rec = recorder();
      await store.watch({ circuits: [], prefix: "tick." }, undefined, rec.sink);
      await trip(store, "tick.a");
      now = T0 + 9_999;
      store.tick();
      expect(rec.events()).toEqual(["tick.a CLOSED>OPEN consecutive_failures @0"]);
      now = T0 + 10_000;
      store.tick();
      expect(rec.events()).toEqual(["tick.a CLOSED>OPEN consecutive_failures @0", "tick.a OPEN>HALF_OPEN open_duration_elapsed @10000"]);
      store.tick();
      expect(rec.events()).toHaveLength(2);
    });

    it("times out an unreported probe and reopens, without any acquire", async () => {
      const store = makeStore();
      const rec = recorder();
      await trip(store, "tick.a");
      now = T0 + 10_000;
      await store.acquire("tick.a");
      await store.watch({ circuits: ["tick.a"], prefix: "" }, undefined, rec.sink);
      now = T0 + 15_000;
      store.tick();
      expect(rec.events()).toEqual(["tick.a HALF_OPEN>OPEN probe_timeout @15000"]);
      expect(await store.get("tick.a")).toMatchObject({ state: "OPEN", openUntil: T0 + 25_000, stats: { totalTimeouts: 1 } });
    });

    it("sends every transition to onTransition listeners and config changes to onConfigChange, until unsubscribed", async () => {
      const store = makeStore();
      const transitions: string[] = [];
      const changes: string[] = [];
      const offT = store.onTransition((e) => transitions.push(`${e.circuit} ${e.to}`));
      const offC = store.onConfigChange((c) => changes.push(`${c.target} ${c.actor}`));
      await trip(store, "l.a");
      await store.configureCircuit("l.b", { patch: { jitter: 0.1 }, replace: false }, "alice");
      await store.configurePattern("l.*", { patch: { successThreshold: 2 }, replace: false }, "bob");
      offT();
      offC();
      await store.reset("l.a", "ops");
      await store.configureCircuit("l.b", { patch: { jitter: 0.2 }, replace: false }, "alice");
      expect(transitions).toEqual(["l.a OPEN"]);
      expect(changes).toEqual(["l.b alice", "l.* bob", "l.* bob"]);
    });
  });

  describe("config history", () => {
    it("records a pattern change only in the circuits whose config it changed", async () => {
      const store = makeStore();
      await store.acquire("cfg.a");
      await store.configureCircuit("cfg.b", { patch: { failureThreshold: 2 }, replace: false }, "alice");
      expect(await store.configurePattern("cfg.*", { patch: { failureThreshold: 1 }, replace: false }, "bob")).toMatchObject({ matchedCircuits: 2 });
      const actors = async (name: string) => (await store.history(name, 10))!.entries.map((e) => (e.kind === "config" ? e.change.actor : e.kind));
      expect(await actors("cfg.a")).toEqual(["bob"]);
      expect(await actors("cfg.b")).toEqual(["alice"]); // its explicit failure_threshold still wins: nothing changed
      await store.configurePattern("cfg.*", { patch: { failureThreshold: 1 }, replace: false }, "bob"); // same again
      expect(await actors("cfg.a")).toEqual(["bob"]);
    });
  });

  describe("event log retention", () => {
    async function fiveEvents(store: MemoryStore): Promise<string[]> {
      const rec = recorder();
      await store.watch({ circuits: [], prefix: "" }, undefined, rec.sink);
      for (let i = 0; i < 5; i++) await store.force("log.a", i % 2 === 0 ? "FORCED_OPEN" : "CLOSED", "ops");
      expect(rec.events().map((e) => e.split(" ")[1])).toEqual([
        "CLOSED>FORCED_OPEN",
        "FORCED_OPEN>CLOSED",
        "CLOSED>FORCED_OPEN",
        "FORCED_OPEN>CLOSED",
        "CLOSED>FORCED_OPEN",
      ]);
      return rec.ids();
    }

    it("resumes from the newest eventLogSize events", async () => {
      const store = makeStore({ eventLogSize: 3 });
      const ids = await fiveEvents(store);
      const rec = recorder();
      await store.watch({ circuits: [], prefix: "" }, ids[1], rec.sink); // oldest kept is ids[2]
      expect(rec.ids()).toEqual(ids.slice(2));
      const last = recorder();
      await store.watch({ circuits: [], prefix: "" }, ids[4], last.sink);
      expect(last.items).toEqual([]);
    });

    it("refuses a resume token older than the eventLogSize events kept, as expired", async () => {
      const store = makeStore({ eventLogSize: 3 });
      const first = recorder();
      await store.watch({ circuits: [], prefix: "" }, undefined, first.sink);
      const snapshotToken = (first.items[0] as { resumeToken: string }).resumeToken;
      const ids = await fiveEvents(store);
      for (const token of [ids[0]!, snapshotToken]) {
        const err = await store.watch({ circuits: [], prefix: "" }, token, () => undefined).then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(ResumeTokenError);
        expect(err).toMatchObject({ problem: "expired", message: expect.stringContaining("older than the 3 events kept") });
      }
    });

    it("refuses a token of another store instance (an earlier run) as expired", async () => {
      const earlier = makeStore();
      const ids = await fiveEvents(earlier);
      const store = makeStore();
      await fiveEvents(store);
      const err = await store.watch({ circuits: [], prefix: "" }, ids[0], () => undefined).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ResumeTokenError);
      expect(err).toMatchObject({ problem: "expired" });
    });
  });

  describe("history ring", () => {
    it("keeps at most historyLimit entries, dropping the oldest", async () => {
      const store = makeStore({ historyLimit: 3 });
      await store.configureCircuit("h.a", { patch: { jitter: 0.1 }, replace: false }, "alice"); // dropped
      for (let i = 0; i < 4; i++) await store.force("h.a", i % 2 === 0 ? "DISABLED" : "CLOSED", "ops"); // first dropped
      const history = (await store.history("h.a", 100))?.entries;
      expect(history!.map((e) => (e.kind === "transition" ? `${e.event.from}>${e.event.to}` : "config"))).toEqual([
        "DISABLED>CLOSED",
        "CLOSED>DISABLED",
        "DISABLED>CLOSED",
      ]);
    });

    it("answers no entries for limit 0", async () => {
      const store = makeStore();
      await trip(store, "h.a");
      expect((await store.history("h.a", 0))?.entries).toEqual([]);
    });
  });

  describe("lifecycle", () => {
    it("hands out a distinct permit for every acquire", async () => {
      const store = makeStore({}, { failureThreshold: 0 });
      const permits = await Promise.all(Array.from({ length: 1_000 }, () => store.acquire("p.a")));
      expect(new Set(permits.map((d) => d.permit)).size).toBe(1_000);
    });

    it("close() stops watchers and reports not ready", async () => {
      const store = makeStore();
      const rec = recorder();
      await store.watch({ circuits: [], prefix: "" }, undefined, rec.sink);
      expect(store.health()).toEqual({ ready: true });
      await store.close();
      expect(store.health()).toEqual({ ready: false, reason: "store closed" });
      await trip(store, "c.a");
      expect(rec.events()).toEqual([]);
    });

    it("rejects a report on a circuit it does not hold as unknown", async () => {
      const store = makeStore();
      const err = await store
        .report("never.seen", { permit: "evdnn2.0.c.loyw4i7k.abc", outcome: "SUCCESS", durationMs: 1, retryAfterMs: 0 })
        .then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(PermitRejectedError);
      expect(err).toMatchObject({ problem: "unknown", message: 'circuit "never.seen" does not exist (it was never acquired, or was evicted while idle); the permit cannot be reported' });
    });
  });
});
