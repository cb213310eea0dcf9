/**
 * breakerbox_circuits and breakerbox_circuits_max: how many circuits the
 * store holds against its cap (BREAKERBOX_MAX_CIRCUITS), for the alert that
 * fires before the cap refuses new circuits. The count is read at scrape
 * from the store's index or map size (CircuitStore.countCircuits), never a
 * walk of every circuit; a count that fails or takes longer than
 * COUNT_TIMEOUT_MS (Redis away) leaves the last value, so a scrape never
 * waits on an unreachable store.
 */
import { Gauge, type Registry } from "prom-client";

/** The longest a scrape waits for the store's count. */
export const COUNT_TIMEOUT_MS = 1000;

/** Where the two gauges read from; set once the store exists (trackCircuitCount). */
export interface CircuitCountSource {
  count: () => Promise<number>;
  max: number;
}

/** Registers both gauges; they read from `source()` at each scrape (0 until it is set). */
export function registerCircuitCountGauges(registry: Registry, source: () => CircuitCountSource | undefined): void {
  new Gauge({
    name: "breakerbox_circuits",
    help: "Circuits the store holds (every replica reads the same store). Redis Cluster: this replica's count, at most 30 s old.",
    registers: [registry],
    aggregator: "first", // BREAKERBOX_WORKERS: every worker counts the same store
    async collect() {
      const s = source();
      if (s === undefined) return;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), COUNT_TIMEOUT_MS)));
      try {
        const n = await Promise.race([s.count(), late]);
        if (n !== undefined) this.set(n);
      } catch {
        // The store is unreachable: breakerbox_store_ready says so; keep the last count.
      } finally {
        clearTimeout(timer);
      }
    },
  });
  new Gauge({
    name: "breakerbox_circuits_max",
    help: "The store's circuit cap (BREAKERBOX_MAX_CIRCUITS): creating a circuit past it answers RESOURCE_EXHAUSTED.",
    registers: [registry],
    aggregator: "first",
    collect() {
      const s = source();
      if (s !== undefined) this.set(s.max);
    },
  });
}
