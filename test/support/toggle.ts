/**
 * Transitions on demand for Watch tests: pins a circuit open and releases it
 * in turn, through the store, and answers the event ids the store gave them.
 */
import type { CircuitStore } from "../../src/store/store.js";

/**
 * Makes `n` transitions of `circuit` one after another (FORCED_OPEN on even
 * steps counted from `first`, CLOSED on odd ones); answers their event ids,
 * as this replica's store announced them.
 */
export async function toggle(store: CircuitStore, circuit: string, n: number, first = 0): Promise<string[]> {
  const ids: string[] = [];
  const off = store.onTransition((e) => void (e.circuit === circuit && ids.push(e.eventId)));
  for (let i = first; i < first + n; i++) await store.force(circuit, i % 2 === 0 ? "FORCED_OPEN" : "CLOSED", "test");
  off();
  return ids;
}
