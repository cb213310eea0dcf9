/**
 * ListCircuits on the Redis store: a page of circuits in name order, after
 * the cursor, optionally in one state. With the store-wide indexes (single
 * server, Sentinel) the names come from them in order, a page at a time, and
 * only the candidates are read, a batch per script call (read-page.ts): the
 * work is proportional to the page (plus, for CLOSED, the names the index
 * skips in-script; DISABLED reads every name, since a config can disable any
 * circuit). In Cluster
 * mode every name under the prefix is found by SCAN, sorted, and read until
 * the page is full.
 */
import type { State } from "../../engine/index.js";
import type { CircuitView, ListPage, ListQuery } from "../store.js";
import type { CircuitIndex } from "./circuit-index.js";
import type { CircuitNames } from "./circuit-names.js";

export interface RedisListSource {
  index: CircuitIndex;
  names: CircuitNames;
  /** The circuit's view as of now (read.lua); undefined when it does not exist. */
  get(name: string): Promise<CircuitView | undefined>;
  /** The views of several circuits, in their order, as get() reads each (a batch per script call: read-page.ts). */
  getMany(names: readonly string[]): Promise<(CircuitView | undefined)[]>;
}

/** Index pages fetched per round trip: the page and its lookahead, within bounds. */
const MIN_BATCH = 16;
const MAX_BATCH = 1000;

/** One page of ListCircuits (CircuitStore.list). */
export async function listRedisCircuits(source: RedisListSource, query: ListQuery): Promise<ListPage> {
  const circuits: CircuitView[] = [];
  /** Adds a view; answers true when the page is full and `view` proves more follow. */
  const take = (view: CircuitView | undefined, state: State | undefined): boolean => {
    if (view === undefined) return false; // expired since it was indexed or listed
    if (state !== undefined && view.state !== state) return false;
    if (circuits.length === query.limit) return true;
    circuits.push(view);
    return false;
  };
  if (!source.index.indexed) {
    const names = (await source.names.withPrefix(query.prefix, "circuit")).filter((n) => query.after === undefined || n > query.after).sort();
    for (const name of names) if (take(await source.get(name), query.state)) return { circuits, more: true };
    return { circuits, more: false };
  }
  const want = Math.min(MAX_BATCH, Math.max(MIN_BATCH, query.limit + 1));
  let after = query.after;
  for (;;) {
    const page = await source.index.candidates(query.prefix, after, query.state, want);
    // One page's reads go out together, a batch of circuits per script call; the page is bounded by `want`.
    const views = await source.getMany(page.names);
    for (const view of views) if (take(view, query.state)) return { circuits, more: true };
    if (page.done) return { circuits, more: false };
    after = page.last;
  }
}
