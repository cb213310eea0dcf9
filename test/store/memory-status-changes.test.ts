/** The memory store's change feed for Watch status rounds (MemoryStore.statusChanges). */
import { afterEach, describe, expect, it } from "vitest";
import { applyPatch, BUILTIN_DEFAULTS, BUILTIN_PRESETS } from "../../src/engine/index.js";
import { createMemoryStore, type MemoryStore } from "../../src/store/memory.js";

const T0 = 1_700_000_000_000;
let now = T0;
const stores: MemoryStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

function makeStore(): MemoryStore {
  now = T0;
  const store = createMemoryStore({
    layers: {
      defaults: applyPatch(BUILTIN_DEFAULTS, { failureThreshold: 1, failureRateThreshold: 0, openDurationMs: 10_000, windowMs: 1000 }),
      presets: BUILTIN_PRESETS,
      rules: [],
    },
    clock: () => now,
    random: () => 0.5,
    tickIntervalMs: 0,
  });
  stores.push(store);
  return store;
}

async function call(store: MemoryStore, name: string, outcome: "SUCCESS" | "FAILURE"): Promise<void> {
  const d = await store.acquire(name);
  await store.report(name, { permit: d.permit!, outcome, durationMs: 1, retryAfterMs: 0 });
}

describe("MemoryStore.statusChanges", () => {
  it("names the circuits changed since the cursor, and those whose window may have slid since", async () => {
    const store = makeStore();
    await call(store, "a", "SUCCESS");
    const first = await store.statusChanges(undefined);
    expect(first.names).toBeUndefined(); // no cursor: read everything
    // "a" was used at the cursor's time: its 1 s window may still slide.
    expect((await store.statusChanges(first.cursor)).names).toEqual(["a"]);

    now += 5000;
    const quiet = await store.statusChanges(first.cursor);
    now += 5000;
    await call(store, "b", "SUCCESS");
    expect((await store.statusChanges(quiet.cursor)).names).toEqual(["b"]);
  });

  it("does not name a circuit for a granted Acquire on it, which changes nothing a view shows; names it for a denial", async () => {
    const store = makeStore();
    await call(store, "a", "SUCCESS");
    now += 5000; // past its 1 s window
    const { cursor } = await store.statusChanges(undefined);
    now += 10;
    expect((await store.acquire("a")).allowed).toBe(true);
    const granted = await store.statusChanges(cursor);
    expect(granted.names).toEqual([]);
    await store.acquire("new");
    expect((await store.statusChanges(granted.cursor)).names).toEqual(["new"]);

    await call(store, "trip", "FAILURE"); // OPEN
    now += 5000;
    const open = await store.statusChanges(undefined);
    now += 10;
    expect((await store.acquire("trip")).allowed).toBe(false); // counted in its rejections
    expect((await store.statusChanges(open.cursor)).names).toEqual(["trip"]);
  });

  it("applies due time transitions first, as a read would, and names their circuits", async () => {
    const store = makeStore();
    await call(store, "trip", "FAILURE"); // OPEN until T0 + 10 s
    now += 5000; // past its 1 s window: only the due transition can change it now
    const { cursor } = await store.statusChanges(undefined);
    const seen: string[] = [];
    store.onTransition((e) => seen.push(`${e.circuit}:${e.to}`));
    now += 5000;
    expect((await store.statusChanges(cursor)).names).toEqual(["trip"]);
    expect(seen).toEqual(["trip:HALF_OPEN"]);
  });

  it("answers no names (read everything) after a pattern rule change", async () => {
    const store = makeStore();
    await call(store, "a", "SUCCESS");
    const { cursor } = await store.statusChanges(undefined);
    await store.configurePattern("z.*", { patch: { failureThreshold: 7 }, replace: false }, "ops");
    expect((await store.statusChanges(cursor)).names).toBeUndefined();
  });
});
