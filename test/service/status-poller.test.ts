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

/** Counts the store's reads: list() calls (with their prefix) and get() calls. */
function counted(store: CircuitStore): { store: CircuitStore; lists: string[]; gets: string[] } {
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

function poller(store: CircuitStore): { poller: StatusPoller; advance: (ms: number) => void } {
  let t = 0;
  const p = new StatusPoller(store, { maxBacklog: 10_000, now: () => t });
  cleanups.push(() => {
    // Unsubscribing every stream stops the timer.
    for (const s of [...(p as unknown as { subscriptions: Set<never> }).subscriptions]) p.unsubscribe(s);
  });
  return { poller: p, advance: (ms) => void (t += ms) };
}

const filter = (f: Partial<WatchFilter>): WatchFilter => ({ circuits: f.circuits ?? [], prefix: f.prefix ?? "" });

describe("StatusPoller", () => {
  it("reads the store once per round for 20 streams, and gives each exactly the circuits that changed", async () => {
    const memory = makeStore();
    for (const name of ["dash.a", "dash.b", "dash.c"]) await call(memory, name, "SUCCESS");
    const c = counted(memory);
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
    expect(c.lists).toEqual(["dash.", "dash."]);
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
    expect(c.lists).toHaveLength(4);

    await p.round(); // no time passed: nobody is due
    expect(c.lists).toHaveLength(4);
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
    // The snapshots read the store once per stream; rounds from here on.
    const lists0 = c.lists.length;
    const rounds0 = hub.poller.rounds;
    await call(memory, "dash.a", "FAILURE");
    await until("a status on every stream", () => seen.every((m) => m.some((x) => x.kind === "status")));
    await until("five more rounds", () => hub.poller.rounds >= rounds0 + 5);
    const rounds = hub.poller.rounds - rounds0;
    // One list() per round (a round under way may have counted and not read yet).
    expect(c.lists.length - lists0).toBeGreaterThanOrEqual(rounds - 1);
    expect(c.lists.length - lists0).toBeLessThanOrEqual(rounds);
    for (const m of seen) expect(m.filter((x) => x.kind === "status").map((x) => x.kind === "status" && x.status.stats.totalFailures)).toEqual([1]);
  });
});
