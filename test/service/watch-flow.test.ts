/**
 * Watch flow control at the service layer: the WatchHub over a real memory
 * store, with a reader the test drives by hand (a generator that is not
 * pulled is a client that does not read). A snapshot of any size streams
 * without counting against the backlog; entries logged meanwhile follow it in
 * order; a watcher that falls maxBacklog behind gets what was queued, then a
 * heartbeat whose token resumes exactly where it stopped, then
 * WATCHER_TOO_SLOW; at shutdown every queued message is delivered before the
 * stream ends.
 */
import { afterEach, describe, expect, it } from "vitest";
import { BUILTIN_DEFAULTS, BUILTIN_PRESETS } from "../../src/engine/index.js";
import { ResourceExhaustedError } from "../../src/service/errors.js";
import { WatchHub, type WatchMessage } from "../../src/service/watch-hub.js";
import { WatchSlots } from "../../src/service/watch-slots.js";
import { encodeWatchToken } from "../../src/service/watch-token.js";
import { createMemoryStore, type MemoryStore } from "../../src/store/memory.js";
import type { WatchFilter } from "../../src/store/store.js";
import { toggle } from "../support/toggle.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function makeStore(eventLogSize = 100_000): MemoryStore {
  const store = createMemoryStore({
    layers: { defaults: BUILTIN_DEFAULTS, presets: BUILTIN_PRESETS, rules: [] },
    clock: () => 1_700_000_000_000,
    random: () => 0.5,
    tickIntervalMs: 0,
    eventLogSize,
  });
  cleanups.push(() => store.close());
  return store;
}

/** A hub stream the test pulls by hand. */
function open(hub: WatchHub, filter: WatchFilter, resumeToken?: string): AsyncIterator<WatchMessage> {
  const controller = new AbortController();
  cleanups.push(() => controller.abort());
  return hub.open(filter, resumeToken, controller.signal)[Symbol.asyncIterator]();
}

async function take(it: AsyncIterator<WatchMessage>, n: number): Promise<WatchMessage[]> {
  const out: WatchMessage[] = [];
  for (let i = 0; i < n; i++) {
    const r = await it.next();
    if (r.done === true) throw new Error(`stream ended after ${i} of ${n} messages`);
    out.push(r.value);
  }
  return out;
}

/**
 * What the stream yields until it ends, and how it ended; stops reading after
 * `max` messages (a stream that should have ended by then must not hang the test).
 */
async function rest(it: AsyncIterator<WatchMessage>, max = 20_000): Promise<{ messages: WatchMessage[]; error: unknown }> {
  const messages: WatchMessage[] = [];
  try {
    for (;;) {
      if (messages.length === max) return { messages, error: new Error(`still open after ${max} messages`) };
      const r = await it.next();
      if (r.done === true) return { messages, error: undefined };
      messages.push(r.value);
    }
  } catch (error) {
    return { messages, error };
  }
}

const describeMessage = (m: WatchMessage): string =>
  m.kind === "snapshot" ? `snapshot ${m.status.circuit}` : m.kind === "event" ? `event ${m.event.circuit} ${m.event.eventId}` : m.kind;

describe("WatchHub snapshot under flow control", () => {
  it("streams a snapshot 20 times the backlog in full, in name order, then snapshot_complete", async () => {
    const store = makeStore();
    const names = Array.from({ length: 100 }, (_, i) => `big.${String(i).padStart(3, "0")}`);
    for (const name of names.toReversed()) await store.acquire(name);
    const hub = new WatchHub(store, { maxBacklog: 5 });
    const { messages, error } = await rest(withShutdownAfter(hub, open(hub, { circuits: [], prefix: "big." }), names.length + 1));
    expect(error).toBeUndefined();
    expect(messages.map(describeMessage)).toEqual([...names.map((n) => `snapshot ${n}`), "snapshot_complete"]);
  });

  it("merges listed names outside the prefix into the snapshot's name order", async () => {
    const store = makeStore();
    for (const name of ["p.b", "p.d", "a", "c", "z", "p.a"]) await store.acquire(name);
    const hub = new WatchHub(store, {});
    const it = open(hub, { circuits: ["z", "c", "a", "p.b", "missing"], prefix: "p." });
    expect((await take(it, 7)).map(describeMessage)).toEqual([
      "snapshot a",
      "snapshot c",
      "snapshot p.a",
      "snapshot p.b",
      "snapshot p.d",
      "snapshot z",
      "snapshot_complete",
    ]);
  });

  it("delivers the entries logged during the snapshot after snapshot_complete, in order, exactly once", async () => {
    const store = makeStore();
    for (let i = 0; i < 10; i++) await store.acquire(`mid.${i}`);
    const hub = new WatchHub(store, {});
    const it = open(hub, { circuits: [], prefix: "mid." });
    const head = await take(it, 3);
    // Between snapshot messages: transitions of circuits sent already and of circuits still to come.
    const during = [...(await toggle(store, "mid.0", 3)), ...(await toggle(store, "mid.9", 2))];
    const tail = await take(it, 7 + 1 + during.length);
    const all = [...head, ...tail].map(describeMessage);
    expect(all).toEqual([
      ...Array.from({ length: 10 }, (_, i) => `snapshot mid.${i}`),
      "snapshot_complete",
      ...during.slice(0, 3).map((id) => `event mid.0 ${id}`),
      ...during.slice(3).map((id) => `event mid.9 ${id}`),
    ]);
  });

  it("when the entries logged during the snapshot overflow the backlog: full snapshot, snapshot_complete, the backlog, a heartbeat with its token, WATCHER_TOO_SLOW; resuming loses nothing", async () => {
    const store = makeStore();
    for (let i = 0; i < 20; i++) await store.acquire(`ovf.${String(i).padStart(2, "0")}`);
    const hub = new WatchHub(store, { maxBacklog: 5 });
    const filter = { circuits: [], prefix: "ovf." };
    const it = open(hub, filter);
    await take(it, 2);
    const ids = await toggle(store, "ovf.05", 12);
    const { messages, error } = await rest(it, 30);
    expect(messages.map(describeMessage)).toEqual([
      ...Array.from({ length: 18 }, (_, i) => `snapshot ovf.${String(i + 2).padStart(2, "0")}`),
      "snapshot_complete",
      ...ids.slice(0, 5).map((id) => `event ovf.05 ${id}`),
      "heartbeat",
    ]);
    expect(error).toBeInstanceOf(ResourceExhaustedError);
    expect(error).toMatchObject({ resource: "watcher_too_slow", limit: 5 });
    // The heartbeat's token is the fifth event's: the same position.
    const heartbeat = messages[messages.length - 1]!;
    expect(heartbeat.resumeToken).toBe(messages[messages.length - 2]!.resumeToken);
    const resumed = open(hub, filter, heartbeat.resumeToken);
    expect((await take(resumed, 5)).map(describeMessage)).toEqual(ids.slice(5, 10).map((id) => `event ovf.05 ${id}`));
  });
});

describe("WatchHub backlog limit", () => {
  it("cuts a watcher that stops reading at exactly the default backlog (10,000): it gets those 10,000 entries, a heartbeat with the last one's token, then WATCHER_TOO_SLOW; the rest stays unqueued and the resume delivers it exactly", async () => {
    const store = makeStore(20_000);
    await store.acquire("slow");
    const hub = new WatchHub(store, {}); // the documented default backlog
    const it = open(hub, { circuits: ["slow"], prefix: "" });
    await take(it, 2); // snapshot, snapshot_complete
    // The reader stops; 10,500 transitions are logged meanwhile.
    const ids = await toggle(store, "slow", 10_500);
    const { messages, error } = await rest(it, 10_002);
    expect(messages.length).toBe(10_001);
    expect(messages.slice(0, 10_000).map((m) => (m.kind === "event" ? m.event.eventId : m.kind))).toEqual(ids.slice(0, 10_000));
    expect(messages[10_000]!.kind).toBe("heartbeat");
    expect(messages[10_000]!.resumeToken).toBe(messages[9_999]!.resumeToken);
    expect(error).toBeInstanceOf(ResourceExhaustedError);
    expect(error).toMatchObject({ resource: "watcher_too_slow", limit: 10_000 });

    const resumed = open(hub, { circuits: ["slow"], prefix: "" }, messages[10_000]!.resumeToken);
    const replay = await take(resumed, 500);
    expect(replay.map((m) => (m.kind === "event" ? m.event.eventId : m.kind))).toEqual(ids.slice(10_000));
  });
});

describe("WatchHub status rounds", () => {
  it("never cut a watcher for status alone: after a resume (every circuit's status due), each round sends at most half the backlog and the next goes on where it stopped, until every circuit was sent once", async () => {
    const store = makeStore();
    const names = Array.from({ length: 30 }, (_, i) => `st.${String(i).padStart(2, "0")}`);
    for (const name of names) await store.acquire(name);
    const filter = { circuits: [], prefix: "st." };
    const hub = new WatchHub(store, { maxBacklog: 10 });
    const controller = new AbortController();
    cleanups.push(() => controller.abort());
    const token = encodeWatchToken(filter, await store.logPosition());
    const it = hub.open(filter, token, controller.signal, { statusIntervalMs: 10 })[Symbol.asyncIterator]();
    const sent = await take(it, 30);
    expect(sent.map((m) => (m.kind === "status" ? m.status.circuit : m.kind))).toEqual(names);
    // Nothing changed since: the next message is the next transition, not a status.
    const [id] = await toggle(store, "st.07", 1);
    const next = await it.next();
    expect(next.value).toMatchObject({ kind: "event", event: { eventId: id } });
  });
});

describe("WatchHub shutdown", () => {
  it("delivers every queued message before the stream ends OK", async () => {
    const store = makeStore();
    await store.acquire("drain");
    const hub = new WatchHub(store, {});
    const it = open(hub, { circuits: ["drain"], prefix: "" });
    await take(it, 2);
    const ids = await toggle(store, "drain", 50);
    hub.shutdown();
    const more = await toggle(store, "drain", 3, 50); // after shutdown: not queued
    expect(more).toHaveLength(3);
    const { messages, error } = await rest(it);
    expect(error).toBeUndefined();
    expect(messages.map((m) => (m.kind === "event" ? m.event.eventId : m.kind))).toEqual(ids);
  });
});

describe("WatchSlots", () => {
  it("limits streams per replica, and per key when a per-key limit is set; a release frees the slot once", () => {
    const slots = new WatchSlots({ maxStreams: 3, maxPerKey: 2 });
    const a1 = slots.take("a");
    slots.take("a");
    expect(() => slots.take("a")).toThrow(expect.objectContaining({ resource: "too_many_watchers", limit: 2, scope: "key" }));
    expect(() => slots.take("a")).toThrow(/BREAKERBOX_MAX_WATCH_STREAMS_PER_KEY/);
    slots.take(undefined); // a Health.Watch: replica limit only
    expect(slots.size).toBe(3);
    expect(() => slots.take("b")).toThrow(expect.objectContaining({ resource: "too_many_watchers", limit: 3, scope: "replica" }));
    a1();
    a1(); // released once only
    expect(slots.size).toBe(2);
    slots.take("a");
    expect(slots.size).toBe(3);
    expect(() => slots.take(undefined)).toThrow(expect.objectContaining({ scope: "replica" }));
  });

  it("without a per-key limit, one key may take every stream of the replica", () => {
    const slots = new WatchSlots({ maxStreams: 3 });
    for (let i = 0; i < 3; i++) slots.take("anonymous");
    expect(() => slots.take("anonymous")).toThrow(expect.objectContaining({ scope: "replica", limit: 3 }));
  });
});

/** Pulls `it` normally; the hub is shut down after `n` messages so the stream ends (OK). */
function withShutdownAfter(hub: WatchHub, it: AsyncIterator<WatchMessage>, n: number): AsyncIterator<WatchMessage> {
  let seen = 0;
  return {
    async next() {
      const r = await it.next();
      if (r.done !== true && ++seen === n) hub.shutdown();
      return r;
    },
  };
}
