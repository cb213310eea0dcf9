/**
 * The shared status poller (status-poller.ts): however many streams asked
 * for status, a round reads the store once, for the union of the due
 * streams' filters, and each stream gets the changed circuits it matches, at
 * its own interval. Rounds are run by hand on a fake clock (the streams'
 * intervals are an hour, so the poller's own timer never fires here).
 */
import { afterEach, describe, expect, it } from "vitest";
import { applyPatch, BUILTIN_DEFAULTS, BUILTIN_PRESETS } from "../../src/engine/index.js";
import { StatusPoller, type StatusStreamHooks, type StatusSubscription } from "../../src/service/status-poller.js";
import { WatchHub, type WatchMessage } from "../../src/service/watch-hub.js";
import { createMemoryStore, type MemoryStore } from "../../src/store/memory.js";
import type { CircuitStore, CircuitView, ListQuery, WatchFilter } from "../../src/store/store.js";

const HOUR = 3_600_000;
let now = 1_700_000_000_000;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function makeStore(): MemoryStore {
  const store = createMemoryStore({
    layers: { defaults: applyPatch(BUILTIN_DEFAULTS, { failureThreshold: 100, failureRateThreshold: 0 }), presets: BUILTIN_PRESETS, rules: [] },
    clock: () => now,
    random: () => 0.5,
    tickIntervalMs: 0,
  });
  cleanups.push(() => store.close());
  return store;
}

/**
 * Counts the store's reads: list() calls (with their prefix) and get() calls.
 * `feed: false` hides the store's change feed (as a store without one).
 */
function counted(store: CircuitStore, feed = true): { store: CircuitStore; lists: string[]; gets: string[] } {
  const lists: string[] = [];
  const gets: string[] = [];
  const wrapped: CircuitStore = Object.create(store) as CircuitStore;
  wrapped.list = (query: ListQuery) => {
    lists.push(query.prefix ?? "");
    return store.list(query);
  };
  wrapped.get = (name: string) => {
    gets.push(name);
    return store.get(name);
  };
  wrapped.watch = store.watch.bind(store);
  if (!feed) Object.defineProperty(wrapped, "statusChanges", { value: undefined });
  return { store: wrapped, lists, gets };
}

async function call(store: CircuitStore, name: string, outcome: "SUCCESS" | "FAILURE"): Promise<void> {
  const d = await store.acquire(name);
  expect(d.allowed).toBe(true);
  await store.report(name, { permit: d.permit!, outcome, durationMs: 1, retryAfterMs: 0 });
}

/** A stream as the hub shows it to the poller: live, and its reader takes every status at once. */
function stream(): StatusStreamHooks & { got: CircuitView[]; sub?: StatusSubscription } {
  const got: CircuitView[] = [];
  const s: StatusStreamHooks & { got: CircuitView[]; sub?: StatusSubscription } = {
    got,
    live: () => true,
    unread: () => 0,
    send: (view) => {
      got.push(view);
      s.sub!.taken();
    },
  };
  return s;
}

/** Subscribes `s` (a {@link stream}) to `p`. */
function join(p: StatusPoller, f: WatchFilter, intervalMs: number, s: ReturnType<typeof stream>): StatusSubscription {
  return (s.sub = p.subscribe(f, intervalMs, s));
}

function poller(store: CircuitStore, maxBacklog = 10_000): { poller: StatusPoller; advance: (ms: number) => void } {
  let t = 0;
  const p = new StatusPoller(store, { maxBacklog, now: () => t });
  cleanups.push(() => {
    // Unsubscribing every stream stops the timer.
    for (const s of [...(p as unknown as { subscriptions: Set<never> }).subscriptions]) p.unsubscribe(s);
  });
  return { poller: p, advance: (ms) => void (t += ms) };
}

const filter = (f: Partial<WatchFilter>): WatchFilter => ({ circuits: f.circuits ?? [], prefix: f.prefix ?? "" });

describe("StatusPoller", () => {
  it.each([
    ["with the store's change feed", true],
    ["without one", false],
  ])("reads the store once per round for 20 streams, and gives each exactly the circuits that changed (%s)", async (_, feed) => {
    const memory = makeStore();
    for (const name of ["dash.a", "dash.b", "dash.c"]) await call(memory, name, "SUCCESS");
    // Past the window of these calls: from here on their views change only by new calls.
    now += 10 * 60_000;
    const c = counted(memory, feed);
    const { poller: p, advance } = poller(c.store);
    const streams = Array.from({ length: 20 }, () => stream());
    const subs = streams.map((s) => join(p, filter({ prefix: "dash." }), HOUR, s));
    for (const [i, sub] of subs.entries()) for (const name of ["dash.a", "dash.b", "dash.c"]) if (i % 2 === 0) sub.noteSnapshot((await memory.get(name))!);

    advance(HOUR);
    await p.round();
    expect(c.lists).toEqual(["dash."]);
    expect(c.gets).toEqual([]);
    // Streams that sent a snapshot get nothing; the others (as after a resume) get every circuit.
    expect(streams.map((s) => s.got.length)).toEqual(streams.map((_, i) => (i % 2 === 0 ? 0 : 3)));

    await call(memory, "dash.b", "FAILURE");
    advance(HOUR);
    await p.round();
    // The first round read everything (no feed cursor yet); with the feed this one reads dash.b alone.
    expect([c.lists, c.gets]).toEqual(feed ? [["dash."], ["dash.b"]] : [["dash.", "dash."], []]);
    for (const [i, s] of streams.entries()) {
      expect(s.got.slice(i % 2 === 0 ? 0 : 3).map((v) => `${v.circuit}:${v.stats.totalFailures}`)).toEqual(["dash.b:1"]);
    }
    expect(p.rounds).toBe(2);
  });

  it("reads the union of different filters once: a covered prefix or name is not read again", async () => {
    const memory = makeStore();
    for (const name of ["a.b.x", "a.c", "b.x", "c.y", "d.z"]) await call(memory, name, "SUCCESS");
    const c = counted(memory);
    const { poller: p, advance } = poller(c.store);
    const wide = stream();
    const narrow = stream();
    const named = stream();
    const other = stream();
    join(p, filter({ prefix: "a." }), HOUR, wide);
    join(p, filter({ prefix: "a.b." }), HOUR, narrow);
    join(p, filter({ circuits: ["b.x", "a.c", "missing"] }), HOUR, named);
    join(p, filter({ prefix: "c." }), HOUR, other);
    advance(HOUR);
    await p.round();
    expect(c.lists).toEqual(["a.", "c."]);
    expect(c.gets).toEqual(["b.x", "missing"]);
    const names = (s: { got: CircuitView[] }) => s.got.map((v) => v.circuit);
    expect([names(wide), names(narrow), names(named), names(other)]).toEqual([["a.b.x", "a.c"], ["a.b.x"], ["a.c", "b.x"], ["c.y"]]);
  });

  it("serves each stream at its own interval, and reads nothing when no stream is due", async () => {
    const memory = makeStore();
    await call(memory, "x", "SUCCESS");
    const c = counted(memory);
    const { poller: p, advance } = poller(c.store);
    const fast = stream();
    const slow = stream();
    join(p, filter({}), 2 * HOUR, slow);
    expect(p.tick).toBe(2 * HOUR);
    join(p, filter({}), HOUR, fast);
    expect(p.tick).toBe(HOUR);

    const rounds: string[] = [];
    for (let i = 0; i < 4; i++) {
      advance(HOUR);
      await call(memory, "x", "FAILURE");
      await p.round();
      rounds.push(`${fast.got.length}/${slow.got.length}`);
    }
    expect(rounds).toEqual(["1/0", "2/1", "3/1", "4/2"]);
    // Each stream's first round lists (the feed had no cursor yet when it
    // subscribed); then one get of the changed circuit per round, for both.
    expect([c.lists.length, c.gets]).toEqual([2, ["x", "x"]]);

    await p.round(); // no time passed: nobody is due
    expect([c.lists.length, c.gets.length]).toEqual([2, 2]);
  });

  it("reads only the changed circuits: 10,000 circuits, 5 changed, 20 streams → 5 get()s and no listing", async () => {
    const memory = makeStore();
    for (let i = 0; i < 10_000; i++) await call(memory, `c.${String(i).padStart(5, "0")}`, "SUCCESS");
    now += 10 * 60_000; // past the window of these calls: their views no longer slide
    const c = counted(memory);
    // Room for every circuit in the first round (which sends all: these streams sent no snapshot).
    const { poller: p, advance } = poller(c.store, 100_000);
    const streams = Array.from({ length: 20 }, () => stream());
    for (const s of streams) join(p, filter(s === streams[0] ? {} : { prefix: "c." }), HOUR, s);
    advance(HOUR);
    await p.round(); // no feed cursor yet: everything, once
    expect(c.lists).toHaveLength(10);
    expect(p.feedFallbacks).toBe(1);

    const changed = ["c.00007", "c.01234", "c.05000", "c.09998", "c.09999"];
    for (const name of changed) await call(memory, name, "FAILURE");
    const got = streams.map((s) => s.got.length);
    advance(HOUR);
    await p.round();
    expect(c.lists).toHaveLength(10);
    expect(c.gets).toEqual(changed);
    expect(streams.map((s, i) => s.got.slice(got[i]).map((v) => v.circuit))).toEqual(streams.map(() => changed));
    expect(p.feedFallbacks).toBe(1);
  });

  it("a resumed stream whose first read ran out of room reads from the first circuit once more before it reads only changes", async () => {
    const memory = makeStore();
    for (const name of ["a", "b", "c"]) await call(memory, name, "SUCCESS");
    now += 10 * 60_000; // past the window of these calls
    const c = counted(memory);
    // A backlog of 4: a round sends at most 2 statuses.
    const { poller: p, advance } = poller(c.store, 4);
    const s = stream();
    s.sub = p.subscribe(filter({}), HOUR, s, true);
    const round = async (): Promise<string[]> => {
      const before = s.got.length;
      advance(HOUR);
      await p.round();
      return s.got.slice(before).map((v) => `${v.circuit}:${v.stats.totalFailures}`);
    };
    expect(await round()).toEqual(["a:0", "b:0"]);
    await call(memory, "a", "FAILURE"); // before the cursor (b) of the read that goes on
    now += 10 * 60_000; // and out of its window by the next rounds
    expect(await round()).toEqual(["c:0"]);
    expect(await round()).toEqual(["a:1"]);
    const lists = c.lists.length;
    await call(memory, "c", "FAILURE");
    expect(await round()).toEqual(["c:1"]);
    expect(c.lists).toHaveLength(lists); // now only the changed circuit, by get()
  });

  it("reads everything when the store's record overflowed, counts it, and tells of it at most once a minute", async () => {
    const memory = createMemoryStore({
      layers: { defaults: applyPatch(BUILTIN_DEFAULTS, { failureThreshold: 100, failureRateThreshold: 0 }), presets: BUILTIN_PRESETS, rules: [] },
      clock: () => now,
      tickIntervalMs: 0,
      statusFeedMaxNames: 4,
    });
    cleanups.push(() => memory.close());
    const c = counted(memory);
    let t = 0;
    const notices: number[] = [];
    const p = new StatusPoller(c.store, { maxBacklog: 10_000, now: () => t, onFeedOverflow: (rounds) => notices.push(rounds) });
    const s = stream();
    join(p, filter({}), 1000, s);
    cleanups.push(() => p.unsubscribe(s.sub!));
    let batch = 0;
    /** Changes 5 new circuits (more than the record keeps), then runs a round `ms` later. */
    const overflowThenRound = async (ms: number): Promise<void> => {
      batch += 1;
      for (let i = 0; i < 5; i++) await call(memory, `b${batch}.${i}`, "SUCCESS");
      t += ms;
      await p.round();
    };
    t += 1000;
    await p.round(); // no cursor yet: a fallback, not an overflow
    await overflowThenRound(1000);
    await overflowThenRound(1000);
    await overflowThenRound(60_000);
    // (The record overflowed 4 times in those 3 rounds: 15 names through a record of 4.)
    expect([p.rounds, p.feedFallbacks, p.feedOverflows, memory.statusFeedStats().overflows]).toEqual([4, 4, 3, 4]);
    expect(c.lists).toEqual(["", "", "", ""]);
    // The first overflow at once; the second within the minute is held back and told with the third.
    expect(notices).toEqual([1, 2]);
  });

  it("stops its timer when the last stream unsubscribes", () => {
    const { poller: p } = poller(makeStore());
    const a = join(p, filter({}), HOUR, stream());
    const b = join(p, filter({}), 2 * HOUR, stream());
    p.unsubscribe(a);
    expect(p.tick).toBe(2 * HOUR);
    p.unsubscribe(b);
    expect(p.tick).toBe(0);
    expect(p.size).toBe(0);
  });
});

describe("WatchHub status with 20 streams", () => {
  it("makes one store read per round for all of them, and each gets the change", async () => {
    const memory = makeStore();
    await call(memory, "dash.a", "SUCCESS");
    const c = counted(memory);
    const hub = new WatchHub(c.store, {});
    const seen: WatchMessage[][] = [];
    for (let i = 0; i < 20; i++) {
      const controller = new AbortController();
      cleanups.push(() => controller.abort());
      const messages: WatchMessage[] = [];
      seen.push(messages);
      void (async () => {
        try {
          for await (const m of hub.open(filter({ prefix: "dash." }), undefined, controller.signal, { statusIntervalMs: 20 })) messages.push(m);
        } catch {
          // aborted at cleanup
        }
      })();
    }
    const until = async (what: string, ok: () => boolean): Promise<void> => {
      const deadline = Date.now() + 5000;
      while (!ok()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    await until("20 snapshots", () => seen.every((m) => m.some((x) => x.kind === "snapshot_complete")));
    // The snapshots read the store once per stream, and the first rounds read
    // everything once (no feed cursor yet); from here on, only changes.
    await until("two rounds", () => hub.poller.rounds >= 2);
    const round0 = hub.poller.rounds;
    await until("one more round", () => hub.poller.rounds >= round0 + 1);
    const lists0 = c.lists.length;
    const gets0 = c.gets.length;
    const rounds0 = hub.poller.rounds;
    await call(memory, "dash.a", "FAILURE");
    await until("a status on every stream", () => seen.every((m) => m.some((x) => x.kind === "status")));
    await until("five more rounds", () => hub.poller.rounds >= rounds0 + 5);
    const rounds = hub.poller.rounds - rounds0;
    // No listing; at most one get of dash.a per round for the 20 streams (the
    // frozen clock keeps it inside its window, so every round reads it again).
    expect(c.lists.length - lists0).toBe(0);
    expect(new Set(c.gets.slice(gets0))).toEqual(new Set(["dash.a"]));
    expect(c.gets.length - gets0).toBeLessThanOrEqual(rounds + 1);
    for (const m of seen) expect(m.filter((x) => x.kind === "status").map((x) => x.kind === "status" && x.status.stats.totalFailures)).toEqual([1]);
  });
});
