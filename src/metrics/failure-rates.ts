/**
 * breakerbox_circuit_failure_rate{circuit}: each labelled circuit's
 * sliding-window failure rate exactly as the trip rule sees it
 * (CircuitView.stats.failureRate: window failures ÷ window calls, 0 with no
 * calls), read from the store, so every replica shows the fleet's rate, not
 * its own traffic's.
 *
 * Only circuits with their own `circuit` label (circuit-series.ts) are
 * exported and remembered: a rate over the circuits beyond the cap would be a
 * mean of unrelated circuits and mislead, so there is no `_other` series.
 * Memory and work are bounded by the cap, never by the store's size.
 *
 * The values are refreshed at scrape time, at most once per `minIntervalMs`,
 * concurrent scrapes sharing one refresh. A refresh asks the store's change
 * feed (CircuitStore.statusChanges, the same one the Watch status rounds use,
 * with a cursor of its own) what changed and reads only the labelled circuits
 * among those, plus the circuits labelled since the last refresh (a label is
 * given when traffic, a transition or the state gauge meets a circuit, which
 * the feed need not name). The feed names a circuit for its whole window
 * after its last change, so a rate that decays as calls slide out of the
 * window is read again too. Without a feed (Redis Cluster), or when it cannot
 * tell (first refresh, old cursor, pattern rule change, Redis data loss),
 * every labelled circuit is read, and so it is every `fullReadMs` whatever the
 * feed says: a circuit evicted while idle is named by no feed (its rate was 0
 * by then: its window emptied before it went idle), and the full read drops
 * it. A refresh that fails keeps the previous values and the cursor, so the
 * next one misses nothing.
 *
 * A scrape must not change a circuit, and a read applies the transitions time
 * has made due (OPEN → HALF_OPEN, a half-open probe timing out): a circuit
 * `mayRead` refuses (the state tracker: OPEN past its open duration, or
 * HALF_OPEN) is not read but put aside, and keeps the rate last read (while
 * OPEN, that of the calls that opened it) until a refresh may read it; the
 * trip rule does not look at the window in those states anyway.
 */
import { Gauge, type Registry } from "prom-client";
import type { CircuitStore } from "../store/store.js";
import type { CircuitSeriesTable } from "./circuit-series.js";

/** Refreshes at most this often; scrapes in between answer the last values. */
export const FAILURE_RATE_REFRESH_MS = 1000;
/** The longest a scrape waits for a refresh; a slower one (store away) finishes in the background. */
export const FAILURE_RATE_WAIT_MS = 1000;
/** Reads every labelled circuit at least this often, whatever the change feed says. */
export const FAILURE_RATE_FULL_READ_MS = 300_000;
/** get() calls in flight at once during a refresh. */
export const FAILURE_RATE_READ_CONCURRENCY = 64;

export interface FailureRatesOptions {
  /** Default {@link FAILURE_RATE_REFRESH_MS}. */
  minIntervalMs?: number;
  /** Default {@link FAILURE_RATE_FULL_READ_MS}. */
  fullReadMs?: number;
  /** Default {@link FAILURE_RATE_READ_CONCURRENCY}. */
  concurrency?: number;
  /** Whether `circuit` may be read now (a read must not apply a due transition). Default: always. */
  mayRead?: (circuit: string) => boolean;
  /** Monotonic ms for the refresh interval. Default performance.now. */
  now?: () => number;
}

/** The failure rates of the labelled circuits. */
export class FailureRates {
  private readonly rates = new Map<string, number>();
  /** The change feed's cursor; undefined: the next refresh reads every labelled circuit. */
  private cursor: string | undefined;
  /** Labelled circuits to read that `mayRead` refused so far (at most the cap). */
  private deferred = new Set<string>();
  /** How many of the table's labelled names (in label order) a refresh has taken in. */
  private labelledSeen = 0;
  private refreshing: Promise<void> | undefined;
  private lastStart = Number.NEGATIVE_INFINITY;
  /** When (this.now) the last refresh that read every labelled circuit started. */
  private lastFullRead = Number.NEGATIVE_INFINITY;
  private readonly minIntervalMs: number;
  private readonly fullReadMs: number;
  private readonly concurrency: number;
  private readonly now: () => number;
  private readonly mayRead: (circuit: string) => boolean;
  /** Refreshes that completed. */
  refreshes = 0;

  constructor(
    private readonly store: Pick<CircuitStore, "get" | "statusChanges">,
    private readonly circuits: CircuitSeriesTable,
    options: FailureRatesOptions = {},
  ) {
    this.minIntervalMs = options.minIntervalMs ?? FAILURE_RATE_REFRESH_MS;
    this.fullReadMs = options.fullReadMs ?? FAILURE_RATE_FULL_READ_MS;
    this.concurrency = Math.max(1, options.concurrency ?? FAILURE_RATE_READ_CONCURRENCY);
    this.now = options.now ?? (() => performance.now());
    this.mayRead = options.mayRead ?? (() => true);
  }

  /** Each labelled circuit the store holds, with its failure rate as of the last refresh. */
  values(): ReadonlyMap<string, number> {
    return this.rates;
  }

  /**
   * Refreshes unless one ran less than `minIntervalMs` ago; joins the one in
   * flight. Rejects when the store failed (the values stay as they were).
   */
  refresh(): Promise<void> {
    if (this.refreshing !== undefined) return this.refreshing;
    const now = this.now();
    if (now - this.lastStart < this.minIntervalMs) return Promise.resolve();
    // Counted from the start, failed or not: an unreachable store is asked at most once per interval.
    this.lastStart = now;
    this.refreshing = this.refreshOnce(now).finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async refreshOnce(startedAt: number): Promise<void> {
    // Taken before the feed is asked: a circuit labelled meanwhile is new to the next refresh.
    const fresh = this.circuits.labelledNames(this.labelledSeen);
    const changes = this.store.statusChanges === undefined ? undefined : await this.store.statusChanges(this.cursor);
    const due = startedAt - this.lastFullRead >= this.fullReadMs;
    const changed = due ? undefined : changes?.names;
    const wanted = new Set<string>(this.deferred);
    if (changed === undefined) {
      for (const name of this.circuits.labelledNames()) wanted.add(name);
    } else {
      for (const name of fresh) wanted.add(name);
      for (const name of changed) if (this.circuits.hasOwnLabel(name)) wanted.add(name);
    }
    const names: string[] = [];
    const deferred = new Set<string>();
    for (const name of wanted) {
      if (this.mayRead(name)) names.push(name);
      else deferred.add(name);
    }
    const rates = await this.readAll(names);
    // Only now, all reads done: a failure above leaves values, cursor and what is new as they were.
    for (let i = 0; i < names.length; i++) {
      const rate = rates[i];
      if (rate === undefined) this.rates.delete(names[i]!);
      else this.rates.set(names[i]!, rate);
    }
    this.cursor = changes?.cursor;
    this.deferred = deferred;
    this.labelledSeen += fresh.length;
    if (changed === undefined) this.lastFullRead = startedAt;
    this.refreshes += 1;
  }

  /**
   * The failure rate of each name (undefined: the circuit does not exist),
   * read with get(), at most `concurrency` in flight; rejects on the first
   * failure. Keeps the rates, not the views: a full read holds one number per
   * labelled circuit.
   */
  private async readAll(names: readonly string[]): Promise<(number | undefined)[]> {
    const rates = new Array<number | undefined>(names.length);
    let next = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      // After a failure the refresh is void: the other workers stop asking.
      while (!failed && next < names.length) {
        const i = next++;
        try {
          rates[i] = (await this.store.get(names[i]!))?.stats.failureRate;
        } catch (err) {
          failed = true;
          throw err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, names.length) }, worker));
    return rates;
  }
}

/** Registers breakerbox_circuit_failure_rate; it reads `source()` at each scrape (no series until it is set). */
export function registerFailureRateGauge(registry: Registry, source: () => FailureRates | undefined): void {
  new Gauge({
    name: "breakerbox_circuit_failure_rate",
    help: "Each circuit's sliding-window failure rate as its failure_rate trip rule sees it (window failures / window calls, 0 with none), read from the store (the same on every replica), refreshed at most once a second. Only circuits with their own circuit label: a rate over the circuits beyond the cap would be a mean of unrelated circuits, so there is no _other series.",
    labelNames: ["circuit"] as const,
    registers: [registry],
    // BREAKERBOX_WORKERS: every worker reads the same store; summing rates would be meaningless.
    aggregator: "first",
    async collect() {
      const rates = source();
      if (rates === undefined) return;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, FAILURE_RATE_WAIT_MS)));
      const refresh = rates.refresh();
      // A refresh that outlives the scrape must not end as an unhandled rejection.
      refresh.catch(() => undefined);
      try {
        await Promise.race([refresh, late]);
      } catch {
        // The store is unreachable (breakerbox_store_ready says so): the last values stand.
      } finally {
        clearTimeout(timer);
      }
      this.reset();
      for (const [circuit, rate] of rates.values()) this.set({ circuit }, rate);
    },
  });
}
