/**
 * Reads of many circuits in one script call (lua/read-page.lua,
 * src/store/redis/read-page.ts), against a real redis-server: a ListCircuits
 * page and a store watch's snapshot (the metrics resync) run one read-page
 * call per 100 circuits and no per-circuit read.lua, a listing by prefix
 * reads only the circuits in its range, and each view is the one get()
 * answers: due transitions applied and announced, another replica's settings
 * adopted, circuits gone behind the index left out.
 */
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { BUILTIN_DEFAULTS, BUILTIN_PRESETS } from "../../src/engine/index.js";
import { READ_PAGE_BATCH } from "../../src/store/redis/read-page.js";
import { type RedisStore, createRedisStore } from "../../src/store/redis/redis-store.js";
import { commandSources } from "../../src/store/redis/scripts.js";
import type { CircuitEvent, CircuitView, WatchItem } from "../../src/store/store.js";
import { useRedisServer } from "../support/redis-store-fixture.js";

const redis = useRedisServer();
const sha = (lua: string): string => createHash("sha1").update(lua).digest("hex");
const READ = sha(commandSources().bbRead);
const READ_PAGE = sha(commandSources().bbReadPage);

let opened: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of opened) await close();
  opened = [];
});

let prefixes = 0;

/** A store whose command connection counts the read scripts it sends (EVALSHA, or EVAL after NOSCRIPT). */
async function makeStore(options: { keyPrefix?: string; testClock?: () => number } = {}) {
  const client: Redis = redis().connect();
  const counts = { read: 0, readPage: 0 };
  const send = client.sendCommand.bind(client);
  client.sendCommand = ((command: { name: string; args: unknown[] }) => {
    const script = command.name === "evalsha" ? String(command.args[0]) : command.name === "eval" ? sha(String(command.args[0])) : undefined;
    if (script === READ) counts.read++;
    if (script === READ_PAGE) counts.readPage++;
    return send(command as never);
  }) as typeof client.sendCommand;
  const keyPrefix = options.keyPrefix ?? `rp${++prefixes}.${process.pid}:`;
  const store: RedisStore = createRedisStore({
    layers: { defaults: { ...BUILTIN_DEFAULTS, failureThreshold: 1 }, presets: BUILTIN_PRESETS, rules: [] },
    keyPrefix,
    client,
    duplicate: () => redis().connect(),
    cluster: false,
    announceRemovals: false,
    ...(options.testClock === undefined ? {} : { testClock: options.testClock }),
  });
  await store.start();
  opened.push(async () => {
    await store.close();
    client.disconnect();
  });
  const reset = (): void => {
    counts.read = 0;
    counts.readPage = 0;
  };
  return { store, keyPrefix, counts, reset };
}

const name = (group: string, i: number): string => `${group}.${String(i).padStart(3, "0")}`;

async function create(store: RedisStore, group: string, n: number): Promise<void> {
  await Promise.all(Array.from({ length: n }, (_, i) => store.acquire(name(group, i))));
}

async function open(store: RedisStore, circuit: string): Promise<void> {
  const d = await store.acquire(circuit);
  await store.report(circuit, { permit: d.permit!, outcome: "FAILURE", durationMs: 1, retryAfterMs: 0 });
}

/** Every snapshot view of a store watch on `prefix`. */
async function snapshot(store: RedisStore, prefix: string): Promise<CircuitView[]> {
  const views: CircuitView[] = [];
  let done!: () => void;
  const complete = new Promise<void>((resolve) => (done = resolve));
  const sub = await store.watch({ circuits: [], prefix }, undefined, (item: WatchItem) => {
    if (item.kind === "snapshot") views.push(item.status);
    if (item.kind === "snapshot_complete") done();
  });
  await complete;
  sub.close();
  return views;
}

describe("redis store: reads of many circuits per script call", () => {
  it("a ListCircuits page reads its circuits in one read-page call per 100, with no read.lua per circuit", async () => {
    const { store, counts, reset } = await makeStore();
    await create(store, "svc", 300);
    reset();
    const page = await store.list({ prefix: "svc.", limit: 150 });
    expect(page.circuits.map((c) => c.circuit)).toEqual(Array.from({ length: 150 }, (_, i) => name("svc", i)));
    expect(page.more).toBe(true);
    // 151 candidates (the page and one lookahead): two calls of at most 100.
    expect(READ_PAGE_BATCH).toBe(100);
    expect(counts).toEqual({ read: 0, readPage: 2 });
    // Each view is the one a single read answers.
    expect(page.circuits[42]).toEqual(await store.get(name("svc", 42)));
  });

  it("a listing by prefix reads only the circuits under the prefix", async () => {
    const { store, counts, reset } = await makeStore();
    await create(store, "a", 250);
    await create(store, "b", 30);
    await create(store, "c", 250);
    reset();
    const page = await store.list({ prefix: "b.", limit: 1000 });
    expect(page.circuits.map((c) => c.circuit)).toEqual(Array.from({ length: 30 }, (_, i) => name("b", i)));
    expect(page.more).toBe(false);
    // The 30 fit in one call; reading the 530 would take six.
    expect(counts).toEqual({ read: 0, readPage: 1 });
  });

  it("a store watch's snapshot (the metrics resync) reads a batch per call, not a circuit per call", async () => {
    const { store, counts, reset } = await makeStore();
    await create(store, "w", 250);
    await open(store, name("w", 7));
    reset();
    const views = await snapshot(store, "");
    expect(views.map((v) => v.circuit)).toEqual(Array.from({ length: 250 }, (_, i) => name("w", i)));
    expect(views[7]!.state).toBe("OPEN");
    expect(counts).toEqual({ read: 0, readPage: 3 });
  });

  it("applies due transitions as a single read does, committing them and telling listeners", async () => {
    let now = 1_000_000;
    const { store } = await makeStore({ testClock: () => now });
    await create(store, "due", 5);
    await open(store, name("due", 2));
    const events: CircuitEvent[] = [];
    store.onTransition((e) => events.push(e));
    const openUntil = (await store.get(name("due", 2)))!.openUntil!;
    now = openUntil + 1;
    const page = await store.list({ prefix: "due.", limit: 10 });
    expect(page.circuits.map((c) => `${c.circuit}=${c.state}`)).toEqual(["due.000=CLOSED", "due.001=CLOSED", "due.002=HALF_OPEN", "due.003=CLOSED", "due.004=CLOSED"]);
    expect(events.map((e) => `${e.circuit}:${e.from}->${e.to}:${e.reason}`)).toEqual(["due.002:OPEN->HALF_OPEN:open_duration_elapsed"]);
    // Committed: the next read finds it HALF_OPEN with nothing left to apply.
    expect((await store.get(name("due", 2)))?.state).toBe("HALF_OPEN");
    expect(events).toHaveLength(1);
  });

  it("a circuit whose settings another replica changed is read with them; one gone behind the index is left out", async () => {
    const a = await makeStore();
    const b = await makeStore({ keyPrefix: a.keyPrefix });
    await create(a.store, "cfg", 4);
    await a.store.list({ prefix: "cfg.", limit: 10 }); // a resolves every config at version 0
    await b.store.configureCircuit(name("cfg", 1), { patch: { failureThreshold: 7 }, replace: false }, "ops");
    await redis().admin.del(`${a.keyPrefix}{${name("cfg", 3)}}`);
    a.reset();
    const page = await a.store.list({ prefix: "cfg.", limit: 10 });
    expect(page.circuits.map((c) => `${c.circuit}:${c.config.failureThreshold}`)).toEqual(["cfg.000:1", "cfg.001:7", "cfg.002:1"]);
    // The page in one call, then the stale circuit alone: once with the old version, once with the adopted one.
    expect(a.counts).toEqual({ read: 2, readPage: 1 });
  });
});
