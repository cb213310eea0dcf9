/**
 * The state of every circuit, as this replica knows it, for the
 * breakerbox_circuit_state gauge.
 *
 * `store.onTransition` only sees the transitions this replica makes, so with
 * several replicas on Redis it cannot tell a replica that another one opened a
 * circuit. The store's watch can: a snapshot of every circuit, then every
 * transition made by any replica, in order. The tracker holds one watch on
 * all circuits and keeps name → state.
 *
 * Two things no event says, handled here:
 * - OPEN → HALF_OPEN is lazy (applied on the next Acquire or read), so a
 *   circuit nobody touches after its open duration still says OPEN in the
 *   store. {@link CircuitStateTracker.stateOf} shows such a circuit as
 *   HALF_OPEN from its `openUntil` on, which is what its next caller will see.
 * - In Redis Cluster mode a circuit's transitions can reach the stream out of
 *   order; the store passes an overtaken one over, and the tracker too only
 *   moves a circuit forward (by transition time, then generation), so the
 *   gauge never shows a generation older than one it showed.
 * - A circuit whose config says `enabled: false` reads as DISABLED, and a
 *   config change sends no transition. The periodic resync (a fresh
 *   snapshot every `resyncMs`) picks that up, and repairs anything missed
 *   (e.g. events trimmed from the Redis stream during a long outage).
 */
import type { State } from "../engine/index.js";
import type { CircuitEvent, CircuitStore, CircuitView, WatchSubscription } from "../store/store.js";
import { happenedBefore } from "../store/transition-order.js";

/** What the tracker keeps per circuit. */
interface Tracked {
  /** The state as the store's state machine has it (without `enabled`). */
  phase: State;
  /** While OPEN: when probes are let through. */
  openUntil: number | undefined;
  /** The config's `enabled` as of the last snapshot. */
  enabled: boolean;
  /** When the circuit entered `phase` and its generation there; undefined when only noteServed met it. */
  since?: number;
  generation?: number;
}

/** Options of {@link CircuitStateTracker}. */
export interface CircuitStateTrackerOptions {
  store: CircuitStore;
  /** For the lazy OPEN → HALF_OPEN. Default Date.now. */
  clock?: () => number;
  /** Take a fresh snapshot this often; 0 = never (events only). Default 5 minutes. */
  resyncMs?: number;
  /** Pause before watching again after the store refused. Default 1 s. */
  retryMs?: number;
  /** Called when opening the watch fails (it is retried); must not throw. */
  onError?: (err: unknown) => void;
  /** Called each time a snapshot is in place (after start, each resync, each recovery); must not throw. */
  onSynced?: () => void;
}

const ALL = { circuits: [], prefix: "" } as const;

/** Keeps the state of every circuit from the store's watch. Call {@link start}, then {@link close}. */
export class CircuitStateTracker {
  private readonly store: CircuitStore;
  private readonly clock: () => number;
  private readonly resyncMs: number;
  private readonly retryMs: number;
  private readonly onError: ((err: unknown) => void) | undefined;
  private readonly onSynced: (() => void) | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private table = new Map<string, Tracked>();
  private subscription: WatchSubscription | undefined;
  private syncing: Promise<void> | undefined;
  private syncedOnce = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: CircuitStateTrackerOptions) {
    this.store = options.store;
    this.clock = options.clock ?? Date.now;
    this.resyncMs = options.resyncMs ?? 300_000;
    this.retryMs = options.retryMs ?? 1000;
    this.onError = options.onError;
    this.onSynced = options.onSynced;
  }

  /** Opens the watch in the background (retrying while the store is unreachable) and schedules resyncs. */
  start(): void {
    if (this.closed || this.syncing !== undefined || this.syncedOnce) return;
    void this.sync();
    if (this.resyncMs > 0) {
      this.timer = setInterval(() => void this.sync(), this.resyncMs);
      this.timer.unref();
    }
  }

  /** True once a snapshot has been taken: from then on every circuit is known. */
  get synced(): boolean {
    return this.syncedOnce;
  }

  /** Number of circuits known. */
  get size(): number {
    return this.table.size;
  }

  /**
   * Takes a fresh snapshot now and resolves once it is in place (or the
   * attempt failed; failures are retried in the background). Concurrent calls
   * share one attempt.
   */
  sync(): Promise<void> {
    this.syncing ??= this.syncOnce().finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  /**
   * Every known circuit with the state its next caller will see as of now:
   * DISABLED when its config disables it (unless FORCED_OPEN), HALF_OPEN for
   * an OPEN circuit whose open duration has passed.
   */
  *states(): IterableIterator<[circuit: string, state: State]> {
    const now = this.clock();
    for (const [name, t] of this.table) yield [name, visible(t, now)];
  }

  /** The state of one circuit (as in {@link states}), or undefined when unknown. */
  stateOf(circuit: string): State | undefined {
    const t = this.table.get(circuit);
    return t === undefined ? undefined : visible(t, this.clock());
  }

  /**
   * Whether time alone may change `circuit` by now (less `marginMs` for the
   * store's clock being ahead), so that reading it would apply a transition:
   * OPEN from its `openUntil` on; HALF_OPEN always (a probe may be out past
   * its permit_ttl, which the tracker cannot see). Circuits it does not know
   * never left CLOSED as far as it can tell: false. The failure-rate gauge
   * does not read such a circuit, so a scrape never moves one.
   */
  timeMayMove(circuit: string, marginMs = 1000): boolean {
    const t = this.table.get(circuit);
    if (t === undefined) return false;
    if (t.phase === "HALF_OPEN") return true;
    return t.phase === "OPEN" && (t.openUntil === undefined || this.clock() >= t.openUntil - marginMs);
  }

  /**
   * Records that this replica served `circuit` in `state`, if the tracker
   * does not know it yet: a circuit created since the snapshot makes no event
   * until its first transition. Known circuits are left alone (their events
   * are the truth). Called on every Acquire: one map lookup.
   */
  noteServed(circuit: string, state: State): void {
    if (!this.table.has(circuit)) this.table.set(circuit, { phase: state, openUntil: undefined, enabled: true });
  }

  /** Stops watching. Idempotent. */
  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.subscription?.close();
    this.subscription = undefined;
  }

  private async syncOnce(): Promise<void> {
    const fresh = new Map<string, Tracked>();
    let subscription: WatchSubscription;
    try {
      subscription = await this.store.watch(ALL, undefined, (item) => {
        switch (item.kind) {
          case "snapshot":
            fresh.set(item.status.circuit, fromView(item.status));
            break;
          case "snapshot_complete":
            // From here the new subscription's map is the truth; the old
            // subscription (closed below) no longer writes to what we read.
            this.table = fresh;
            this.syncedOnce = true;
            break;
          case "event":
            apply(fresh, item.event);
            break;
          case "circuit_removed":
            // Evicted (idle): it is no longer in the store, so not in the gauge.
            fresh.delete(item.circuit);
            break;
        }
      });
    } catch (err) {
      try {
        this.onError?.(err);
      } catch {
        // A failing logger must not stop the retries.
      }
      // One pending retry at a time, however many attempts failed meanwhile.
      if (!this.closed && this.retryTimer === undefined) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          void this.sync();
        }, this.retryMs);
        this.retryTimer.unref();
      }
      return;
    }
    if (this.closed) {
      subscription.close();
      return;
    }
    this.subscription?.close();
    this.subscription = subscription;
    try {
      this.onSynced?.();
    } catch {
      // A failing logger must not undo the sync.
    }
  }
}

function fromView(view: CircuitView): Tracked {
  return { phase: view.state, openUntil: view.openUntil, enabled: view.config.enabled, since: view.since, generation: view.generation };
}

function apply(table: Map<string, Tracked>, event: CircuitEvent): void {
  const known = table.get(event.circuit);
  // Only forward: an event older than what the table holds was overtaken.
  if (known?.since !== undefined && known.generation !== undefined && !happenedBefore({ at: known.since, generation: known.generation }, event)) return;
  // A circuit first met in an event keeps `enabled` = true (no event carries
  // the config) until the next snapshot.
  table.set(event.circuit, { phase: event.to, openUntil: event.openUntil, enabled: known?.enabled ?? true, since: event.at, generation: event.generation });
}

function visible(t: Tracked, now: number): State {
  if (!t.enabled && t.phase !== "FORCED_OPEN") return "DISABLED";
  if (t.phase === "OPEN" && t.openUntil !== undefined && now >= t.openUntil) return "HALF_OPEN";
  return t.phase;
}
