/**
 * The reads Watch streams make of the circuits their filters select (a
 * stream's snapshot, the shared status rounds), through the store's read API
 * page by page, so a reader holds one page at a time however many circuits
 * match.
 */
import type { CircuitStore, CircuitView, ListPage, WatchFilter } from "../store/store.js";

/** Circuits per list() call of a snapshot or status read. */
export const WATCH_READ_PAGE = 1000;
/**
 * Listed names read at once (their get()s in flight together): on Redis they
 * leave in one write and their replies come back together, so a status
 * round of changed circuits costs one round trip per this many names, not
 * one per name; bounded so a round of many changes holds few views at once.
 */
export const WATCH_GET_BATCH = 100;

/**
 * What one read covers: name prefixes listed with list() (sorted, none
 * covering another, so their ranges are disjoint and listing them in order
 * yields names in order; "" lists every circuit), and names outside them,
 * read with get(), up to WATCH_GET_BATCH at once (sorted).
 */
export interface ReadSet {
  prefixes: readonly string[];
  names: readonly string[];
}

/**
 * The smallest read covering every filter: a prefix another prefix covers is
 * dropped, and so is a listed name a prefix covers. With one filter it is
 * exactly that filter's read.
 */
export function readSetOf(filters: Iterable<WatchFilter>): ReadSet {
  const prefixes = new Set<string>();
  const names = new Set<string>();
  for (const filter of filters) {
    if (filter.circuits.length === 0 && filter.prefix === "") prefixes.add("");
    if (filter.prefix !== "") prefixes.add(filter.prefix);
    for (const name of filter.circuits) names.add(name);
  }
  // In sort order a prefix comes before every name (and prefix) it covers,
  // and what it covers is contiguous: checking the last kept one suffices.
  const kept: string[] = [];
  for (const prefix of [...prefixes].sort()) {
    const last = kept[kept.length - 1];
    if (last === undefined || !prefix.startsWith(last)) kept.push(prefix);
  }
  const covered = (name: string): boolean => kept.some((prefix) => name.startsWith(prefix));
  return { prefixes: kept, names: [...names].filter((name) => !covered(name)).sort() };
}

/** Whether `filter` selects the circuit `name`. */
export function filterMatches(filter: WatchFilter, name: string): boolean {
  if (filter.circuits.length === 0 && filter.prefix === "") return true;
  return (filter.prefix !== "" && name.startsWith(filter.prefix)) || filter.circuits.includes(name);
}

/**
 * The current views of the circuits `filter` selects, in name order, as
 * pages read when the caller asks for the next one: the prefix (or every
 * circuit, when the filter is empty) with the store's list(), merged with a
 * get() of each listed name the prefix does not cover. Circuits that do not
 * exist are skipped. Each view is read when its page is, so a view is at
 * least as new as the moment the read started. With `after`, only the
 * circuits whose names sort after it.
 */
export function matchingViewPages(
  store: CircuitStore,
  filter: WatchFilter,
  after?: string,
  pageSize = WATCH_READ_PAGE,
  readAhead = false,
): AsyncGenerator<CircuitView[]> {
  return readSetPages(store, readSetOf([filter]), after, pageSize, readAhead);
}

/**
 * The views a {@link ReadSet} covers, in name order, page by page as
 * {@link matchingViewPages} reads them. With `readAhead`, a prefix's next
 * page is read while the caller takes this one (the reader holds two pages):
 * the store's reads and the caller's sending overlap, which a snapshot
 * streamed to a client needs to go at the speed of the slower of the two
 * rather than of their sum.
 */
export async function* readSetPages(
  store: CircuitStore,
  set: ReadSet,
  after?: string,
  pageSize = WATCH_READ_PAGE,
  readAhead = false,
): AsyncGenerator<CircuitView[]> {
  const extras = after === undefined ? set.names : set.names.filter((name) => name > after);
  let next = 0;
  /** The views of the next extra names (at most WATCH_GET_BATCH, only those before `below`), read at once. */
  const readBatch = async (below: string | undefined): Promise<CircuitView[]> => {
    const batch: string[] = [];
    while (batch.length < WATCH_GET_BATCH && next < extras.length && (below === undefined || extras[next]! < below)) batch.push(extras[next++]!);
    return (await Promise.all(batch.map((name) => store.get(name)))).filter((view): view is CircuitView => view !== undefined);
  };
  /** The views of the extra names before `below`. */
  const extrasBefore = async (below: string): Promise<CircuitView[]> => {
    const views: CircuitView[] = [];
    while (next < extras.length && extras[next]! < below) views.push(...(await readBatch(below)));
    return views;
  };
  const list = (prefix: string, cursor: string | undefined): Promise<ListPage> => {
    const page = store.list({ prefix, limit: pageSize, ...(cursor === undefined ? {} : { after: cursor }) });
    // A page read ahead that the caller never asks for (it stopped) must not be an unhandled rejection.
    page.catch(() => undefined);
    return page;
  };
  for (const prefix of set.prefixes) {
    let pending: Promise<ListPage> | undefined = list(prefix, after);
    while (pending !== undefined) {
      const page: ListPage = await pending;
      const last = page.circuits[page.circuits.length - 1];
      const more = page.more && last !== undefined;
      pending = more && readAhead ? list(prefix, last.circuit) : undefined;
      const views: CircuitView[] = [];
      for (const view of page.circuits) views.push(...(await extrasBefore(view.circuit)), view);
      if (views.length > 0) yield views;
      if (more && !readAhead) pending = list(prefix, last.circuit);
    }
  }
  // The names after every listed circuit (a round of changed circuits has only these), a page at a time.
  while (next < extras.length) {
    const page: CircuitView[] = [];
    while (page.length < pageSize && next < extras.length) page.push(...(await readBatch(undefined)));
    if (page.length > 0) yield page;
  }
}
