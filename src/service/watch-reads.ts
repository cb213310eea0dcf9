/**
 * The reads a Watch stream makes of the circuits its filter selects (its
 * snapshot, its status rounds), through the store's read API page by page,
 * so a stream holds one page at a time however many circuits match.
 */
import type { CircuitStore, CircuitView, WatchFilter } from "../store/store.js";

/** Circuits per list() call of a snapshot or status read. */
export const WATCH_READ_PAGE = 1000;

/**
 * The current views of the circuits `filter` selects, in name order, as
 * pages read when the caller asks for the next one: the prefix (or every
 * circuit, when the filter is empty) with the store's list(), merged with a
 * get() of each listed name the prefix does not cover. Circuits that do not
 * exist are skipped. Each view is read when its page is, so a view is at
 * least as new as the moment the read started. With `after`, only the
 * circuits whose names sort after it.
 */
export async function* matchingViewPages(
  store: CircuitStore,
  filter: WatchFilter,
  after?: string,
  pageSize = WATCH_READ_PAGE,
): AsyncGenerator<CircuitView[]> {
  const listing = (filter.circuits.length === 0 && filter.prefix === "") || filter.prefix !== "";
  const extras = [...new Set(filter.circuits)]
    .filter((name) => !(filter.prefix !== "" && name.startsWith(filter.prefix)) && (after === undefined || name > after))
    .sort();
  let next = 0;
  /** The views of the extra names before `below` (all that are left, without it), read now. */
  const extrasBefore = async (below: string | undefined): Promise<CircuitView[]> => {
    const views: CircuitView[] = [];
    while (next < extras.length && (below === undefined || extras[next]! < below)) {
      const view = await store.get(extras[next++]!);
      if (view !== undefined) views.push(view);
    }
    return views;
  };
  if (listing) {
    let cursor = after;
    for (;;) {
      const page = await store.list({ prefix: filter.prefix, limit: pageSize, ...(cursor === undefined ? {} : { after: cursor }) });
      const views: CircuitView[] = [];
      for (const view of page.circuits) views.push(...(await extrasBefore(view.circuit)), view);
      if (views.length > 0) yield views;
      const last = page.circuits[page.circuits.length - 1];
      if (!page.more || last === undefined) break;
      cursor = last.circuit;
    }
  }
  const rest = await extrasBefore(undefined);
  if (rest.length > 0) yield rest;
}
