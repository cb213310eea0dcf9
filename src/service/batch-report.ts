/**
 * How BatchReport applies its reports: each on its own, reports of the same
 * circuit one after another in request order, different circuits at the
 * same time. Per circuit the store sees exactly the sequence of one-by-one
 * Reports (a circuit's answers depend only on its own history); across
 * circuits nothing orders them (as for Reports sent by different agents),
 * so their store round trips overlap instead of adding up.
 */
import type { ReportAck } from "../store/store.js";

/** One report's result: its ack, or what Report would have failed with. */
export type BatchResult = { ack: ReportAck } | { error: unknown };

/**
 * Decodes every item (a decode error is that item's result and applies
 * nothing), then applies the decoded ones with `apply`, chained per circuit.
 * Resolves with one result per item, in item order; never rejects.
 *
 * @param decode turns item i into a call; `field` is "reports[i]." for the
 *   errors it raises
 * @param apply applies one call; `field` as for decode
 */
export async function runBatch<T, C extends { request: { circuit: string } }>(
  items: readonly T[],
  decode: (item: T, field: string) => C,
  apply: (call: C, field: string) => Promise<ReportAck>,
): Promise<BatchResult[]> {
  const results: BatchResult[] = new Array<BatchResult>(items.length);
  // The tail of each circuit's chain: the next report of that circuit waits for it.
  const tails = new Map<string, Promise<void>>();
  items.forEach((item, i) => {
    const field = `reports[${i}].`;
    let call: C;
    try {
      call = decode(item, field);
    } catch (error) {
      results[i] = { error };
      return;
    }
    const run = async (): Promise<void> => {
      try {
        results[i] = { ack: await apply(call, field) };
      } catch (error) {
        results[i] = { error };
      }
    };
    const circuit = call.request.circuit;
    const tail = tails.get(circuit);
    tails.set(circuit, tail === undefined ? run() : tail.then(run));
  });
  await Promise.all(tails.values());
  return results;
}
