/**
 * Coalesces the Reports of one circuit that arrive close together into one
 * script call (report-batch.lua): one round trip and one load and store of
 * the circuit for many reports, which is what a hot circuit's Reports cost
 * Redis most. No timer and so no added latency: a report goes out at once
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
