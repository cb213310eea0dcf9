/**
 * Coalesces the Reports of one circuit that arrive close together into one
 * script call (report-batch.lua): one round trip and one load and store of
 * the circuit for many reports, which is what a hot circuit's Reports cost
 * Redis most. (Then, on a single server or Sentinel, createGatherer below
 * puts the batches of many circuits in one call.) No timer and so no added latency: a report goes out at once
 * unless a call for its circuit is in flight; then it waits for that call's
 * answer and goes with everything else that arrived meanwhile (at most
 * `maxBatch` per call, the rest in the next). At most one report call per
 * circuit is in flight, which also keeps a circuit's reports in arrival order.
 *
 * Generic over what is sent and answered: `send` gets a circuit's items in
 * arrival order and answers one result per item, in the same order; each
 * caller gets its own result, or, when `send` fails, the same error as the
 * others of its call.
 */

/** Most reports in one call: bounds one script's run in Redis (and its reply). */
export const MAX_REPORT_BATCH = 64;

export interface Coalescer<A, R> {
  /** Sends `item` for `key` with whatever else is waiting for `key`; answers its result. */
  submit(key: string, item: A): Promise<R>;
  /** Keys with a call in flight (tests: nothing is left behind). */
  readonly busy: number;
}

interface Waiting<A, R> {
  item: A;
  resolve: (result: R) => void;
  reject: (err: unknown) => void;
}

export function createCoalescer<A, R>(
  send: (key: string, items: readonly A[]) => Promise<readonly R[]>,
  maxBatch: number = MAX_REPORT_BATCH,
): Coalescer<A, R> {
  // A key is here while a call for it is in flight; its list is what waits for the next call.
  const waiting = new Map<string, Waiting<A, R>[]>();

  const call = async (key: string, batch: Waiting<A, R>[]): Promise<void> => {
    let results: readonly R[] | undefined;
    let error: unknown;
    try {
      results = await send(key, batch.map((w) => w.item));
      if (results.length !== batch.length) throw new Error(`report coalescer: ${results.length} results for ${batch.length} items`);
    } catch (err) {
      results = undefined;
      error = err;
    }
    // The next call first: what waited goes out before this call's callers run on.
    next(key);
    if (results === undefined) for (const w of batch) w.reject(error);
    else batch.forEach((w, i) => w.resolve(results[i]!));
  };

  const next = (key: string): void => {
    const queue = waiting.get(key)!;
    if (queue.length === 0) {
      waiting.delete(key);
      return;
    }
    void call(key, queue.splice(0, maxBatch));
  };

  return {
    submit: (key, item) =>
      new Promise<R>((resolve, reject) => {
        const queue = waiting.get(key);
        if (queue !== undefined) {
          queue.push({ item, resolve, reject });
          return;
        }
        waiting.set(key, []);
        void call(key, [{ item, resolve, reject }]);
      }),
    get busy() {
      return waiting.size;
    },
  };
}

/**
 * Most reports in one page call (report-page.lua), over all its circuits:
 * bounds one script's run in Redis, about 10 µs a report.
 */
export const MAX_REPORT_PAGE = 64;

/**
 * Report calls in flight before report batches wait to go together in a
 * page. Measured (docs/benchmarks.md, "Report pages"): 2 cut Redis CPU per
 * Report the most but left the replica waiting on round trips (Report rate
 * down by a fifth at 64 in flight); 16 keeps the rate of one call per batch
 * and most of the saving (at 64 Reports in flight a page carries about 4).
 */
export const MAX_REPORT_PAGE_CALLS = 16;

export interface Gatherer<A, R> {
  /** Sends `item` with whatever else is waiting; answers its result. */
  submit(item: A): Promise<R>;
  /** Calls in flight (tests: nothing is left behind). */
  readonly inFlight: number;
}

/**
 * Gathers the items of many keys (one circuit's report batch each) into
 * shared calls (report-page.lua): the second stage after the coalescer. No
 * timer either: an item goes out at once while fewer than `maxCalls` calls
 * are in flight; otherwise it waits, and when a call answers, what waited
 * goes out together, up to `maxWeight` (items are not split: one heavier
 * than that goes alone). Items keep their arrival order; each caller gets its
 * own result, or, when `send` fails, the same error as the others of its call.
 */
export function createGatherer<A, R>(
  send: (items: readonly A[]) => Promise<readonly R[]>,
  maxCalls: number,
  maxWeight: number,
  weight: (item: A) => number,
): Gatherer<A, R> {
  const queue: Waiting<A, R>[] = [];
  let inFlight = 0;

  const call = async (batch: Waiting<A, R>[]): Promise<void> => {
    inFlight += 1;
    let results: readonly R[] | undefined;
    let error: unknown;
    try {
      results = await send(batch.map((w) => w.item));
      if (results.length !== batch.length) throw new Error(`report gatherer: ${results.length} results for ${batch.length} items`);
    } catch (err) {
      results = undefined;
      error = err;
    }
    inFlight -= 1;
    // The next call first: what waited goes out before this call's callers run on.
    drain();
    if (results === undefined) for (const w of batch) w.reject(error);
    else batch.forEach((w, i) => w.resolve(results[i]!));
  };

  const drain = (): void => {
    while (inFlight < maxCalls && queue.length > 0) {
      let n = 1;
      let total = weight(queue[0]!.item);
      while (n < queue.length && total + weight(queue[n]!.item) <= maxWeight) total += weight(queue[n++]!.item);
      void call(queue.splice(0, n));
    }
  };

  return {
    submit: (item) =>
      new Promise<R>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        drain();
      }),
    get inFlight() {
      return inFlight;
    },
  };
}
