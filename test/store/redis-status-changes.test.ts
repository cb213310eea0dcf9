/**
 * The Redis store's change feed for Watch status rounds (RedisStore.statusChanges,
 * status-feed.ts, the touched index of lua/includes/indexes.lua), with the
 * same contract as the memory store's (memory-status-changes.test.ts): the
 * circuits changed since the cursor, those whose window may have slid since,
 * those a due time transition changes; no names (read everything) when it
 * cannot tell.
 */
import { afterEach, describe, expect, it } from "vitest";
import { applyPatch, BUILTIN_DEFAULTS, BUILTIN_PRESETS } from "../../src/engine/index.js";
import type { RedisStore } from "../../src/store/redis/redis-store.js";
import { STATUS_FEED_RETAIN_MS } from "../../src/store/redis/status-feed.js";
import { openRedisStore, useRedisServer } from "../support/redis-store-fixture.js";

const redis = useRedisServer();
const T0 = 1_700_000_000_000;
let now = T0;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function makeStore(): Promise<{ store: RedisStore; keyPrefix: string }> {
  now = T0;
  const opened = await openRedisStore(redis(), {
    layers: {
      defaults: applyPatch(BUILTIN_DEFAULTS, { failureThreshold: 1, failureRateThreshold: 0, openDurationMs: 10_000, windowMs: 1000, permitTtlMs: 3000 }),
      presets: BUILTIN_PRESETS,
      rules: [],
    },
    testClock: () => now,
    random: () => 0.5,
  });
  cleanups.push(() => opened.close());
  return opened;
}

async function call(store: RedisStore, name: string, outcome: "SUCCESS" | "FAILURE"): Promise<void> {
  const d = await store.acquire(name);
  await store.report(name, { permit: d.permit!, outcome, durationMs: 1, retryAfterMs: 0 });
}

const changes = (store: RedisStore, cursor: string | undefined) => store.statusChanges!(cursor);

describe("RedisStore.statusChanges", () => {
  it("names the circuits changed since the cursor, and those whose window may have slid since; not those merely read", async () => {
    const { store } = await makeStore();
    await call(store, "a", "SUCCESS");
    const first = await changes(store, undefined);
    expect(first.names).toBeUndefined(); // no cursor: read everything
    // "a" was used at the cursor's time: its 1 s window may still slide.
    expect((await changes(store, first.cursor)).names).toEqual(["a"]);

    now += 5000;
    const quiet = await changes(store, first.cursor);
    expect(await store.get("a")).toBeDefined(); // a read changes nothing: not recorded
    expect((await changes(store, quiet.cursor)).names).toEqual([]);
    now += 5000;
    await call(store, "b", "SUCCESS");
    expect((await changes(store, quiet.cursor)).names).toEqual(["b"]);
  });

  it("names an OPEN circuit until its open time passed, and a HALF_OPEN one until its probe timed out, with no command run", async () => {
    const { store } = await makeStore();
    await call(store, "idle", "SUCCESS");
    await call(store, "trip", "FAILURE"); // OPEN until T0 + 10 s
    now += 5000; // past their 1 s window: only time's transitions can change them now
    const { cursor } = await changes(store, undefined);
    now += 5000;
    expect((await changes(store, cursor)).names).toEqual(["trip"]);
    const probe = await store.acquire("trip"); // applies HALF_OPEN, takes the probe (3 s permit)
    expect([probe.allowed, probe.state]).toEqual([true, "HALF_OPEN"]);
    now += 2500; // past the window of that Acquire (and the skew allowed before a cursor)
    const probing = await changes(store, cursor);
    now += 1000; // the probe timed out: a read reopens the circuit
    expect((await changes(store, probing.cursor)).names).toEqual(["trip"]);
    expect((await store.get("trip"))?.state).toBe("OPEN");
  });

  it("writes a circuit's feed score once per bucket under steady Reports, and names it after every one", async () => {
    const { store, keyPrefix } = await makeStore();
    const score = async (): Promise<number | null> => {
      const s = await redis().admin.zscore(`${keyPrefix}idx:touched`, "a");
      return s === null ? null : Number(s);
    };
    // Window 1 s: buckets of 100 ms; the score is the bound (1.1 windows on) rounded up to one.
    await call(store, "a", "SUCCESS");
    expect(await score()).toBe(T0 + 1100);
    const { cursor } = await changes(store, undefined);
    now += 30;
    await call(store, "a", "SUCCESS"); // bound T0 + 1130: the next bucket
    expect(await score()).toBe(T0 + 1200);
    // Taken out behind the store's back, so a write would show: a Report
    // whose bound rounds to the score already written writes none.
    await redis().admin.zrem(`${keyPrefix}idx:touched`, "a");
    now += 30;
    await call(store, "a", "SUCCESS"); // bound T0 + 1160: within the score written
    expect(await score()).toBeNull();
    now += 50;
    await call(store, "a", "SUCCESS"); // bound T0 + 1210: a new bucket
    expect(await score()).toBe(T0 + 1300);
    // Every Report was named: the score covers each change's own bound.
    expect((await changes(store, cursor)).names).toEqual(["a"]);
    now = T0 + 1300;
    const last = await changes(store, cursor);
    expect(last.names).toEqual(["a"]);
    now += 1001; // a cursor past the score by more than the skew allowed before it
    const after = await changes(store, last.cursor);
    expect((await changes(store, after.cursor)).names).toEqual([]);
  });

  it("answers no names (read everything) after a pattern rule change, a data loss, or past its retention", async () => {
    const { store, keyPrefix } = await makeStore();
    await call(store, "a", "SUCCESS");
    const first = await changes(store, undefined);
    await store.configurePattern("z.*", { patch: { failureThreshold: 7 }, replace: false }, "ops");
    expect((await changes(store, first.cursor)).names).toBeUndefined();

    const second = await changes(store, first.cursor);
    expect((await changes(store, second.cursor)).names).toEqual(["a"]);
    await redis().admin.hset(`${keyPrefix}rules`, "epoch", "another-life");
    expect((await changes(store, second.cursor)).names).toBeUndefined();

    const third = await changes(store, second.cursor);
    now += STATUS_FEED_RETAIN_MS + 2000;
    expect((await changes(store, third.cursor)).names).toBeUndefined();
    // The read trimmed what no cursor it can still answer needs.
    expect(await redis().admin.zcard(`${keyPrefix}idx:touched`)).toBe(0);
  });
});
