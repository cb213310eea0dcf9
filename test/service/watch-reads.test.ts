/**
 * The snapshot reads of Watch streams (src/service/watch-reads.ts): with
 * read-ahead (the hub's snapshots) a prefix's next page is read while the
 * caller takes this one, with the same pages in the same order; without it
 * (status rounds) a page is read only when asked for.
 */
import { afterEach, describe, expect, it } from "vitest";
import { BUILTIN_DEFAULTS, BUILTIN_PRESETS } from "../../src/engine/index.js";
import { WatchHub } from "../../src/service/watch-hub.js";
import { matchingViewPages } from "../../src/service/watch-reads.js";
import { createMemoryStore } from "../../src/store/memory.js";
import type { CircuitStore, ListQuery } from "../../src/store/store.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** A memory store with `n` circuits r.000, r.001, ... whose list() calls are counted (by their `after`). */
async function countedStore(n: number): Promise<{ store: CircuitStore; lists: (string | undefined)[] }> {
  const store = createMemoryStore({ layers: { defaults: { ...BUILTIN_DEFAULTS }, presets: BUILTIN_PRESETS, rules: [] }, tickIntervalMs: 0 });
  cleanups.push(() => store.close());
  for (let i = 0; i < n; i++) await store.acquire(`r.${String(i).padStart(3, "0")}`);
  const lists: (string | undefined)[] = [];
  const wrapped: CircuitStore = Object.create(store) as CircuitStore;
  wrapped.list = (query: ListQuery) => {
    lists.push(query.after);
    return store.list(query);
  };
  wrapped.watch = store.watch.bind(store);
  return { store: wrapped, lists };
}

const filter = { circuits: [], prefix: "r." };

describe("watch snapshot reads", () => {
  it("with read-ahead, the next page is read while the caller takes this one; the pages are the same", async () => {
    const { store, lists } = await countedStore(25);
    const ahead = matchingViewPages(store, filter, undefined, 10, true);
    const first = await ahead.next();
    expect(first.value.map((v: { circuit: string }) => v.circuit)).toEqual(Array.from({ length: 10 }, (_, i) => `r.00${i}`));
    // The first page, and the second read ahead.
    expect(lists).toEqual([undefined, "r.009"]);
    const rest: string[] = [];
    for await (const page of ahead) rest.push(...page.map((v) => v.circuit));
    expect(rest).toEqual(Array.from({ length: 15 }, (_, i) => `r.${String(i + 10).padStart(3, "0")}`));
    expect(lists).toEqual([undefined, "r.009", "r.019"]);
  });

  it("without it, a page is read only when the caller asks for it", async () => {
    const { store, lists } = await countedStore(25);
    const pages = matchingViewPages(store, filter, undefined, 10);
    await pages.next();
    expect(lists).toEqual([undefined]);
    await pages.return(undefined);
  });

  it("a Watch stream's snapshot reads ahead: the second page is read before the first is taken", async () => {
    const { store, lists } = await countedStore(1500); // more than one page
    const hub = new WatchHub(store, {});
    const controller = new AbortController();
    const stream = hub.open(filter, undefined, controller.signal)[Symbol.asyncIterator]();
    const first = await stream.next();
    expect(first.value).toMatchObject({ kind: "snapshot", status: { circuit: "r.000" } });
    // The read ahead starts before the first page's messages are handed out
    // (the memory store answers at most 500 a page: the second starts after r.499).
    expect(lists).toEqual([undefined, "r.499"]);
    controller.abort();
    await stream.return?.(undefined);
    hub.shutdown();
  });
});
