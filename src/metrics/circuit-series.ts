/**
 * The per-circuit counters behind breakerbox_calls_total,
 * breakerbox_rejections_total, breakerbox_shadow_rejections_total and the
 * breakerbox_call_duration_seconds histogram, and the cap on how many
 * circuits get their own `circuit` label (which also says which circuits
 * breakerbox_circuit_failure_rate shows: labelledNames, hasOwnLabel).
 *
 * Circuit names come from callers, so without a cap one agent inventing names
 * could make every scrape unbounded. The first `maxCircuits` distinct circuits
 * this process meets (through traffic, transitions or the state feed) get
 * their own label for the life of the process; every later one is counted
 * under {@link OTHER_CIRCUIT}. That name cannot clash with a circuit: circuit
 * names start with a letter or digit.
 */
import type { DenyReason, Outcome } from "../engine/index.js";
import { HistogramSeries } from "./latency-histogram.js";

/** The `circuit` label value of everything beyond the cap. */
export const OTHER_CIRCUIT = "_other";

/** Label values of breakerbox_calls_total's `outcome`, in index order. */
export const OUTCOMES: readonly Outcome[] = Object.freeze(["SUCCESS", "FAILURE", "TIMEOUT", "IGNORED"]);

/** Label values of breakerbox_rejections_total's `reason`, in index order. */
export const DENY_REASONS: readonly DenyReason[] = Object.freeze(["OPEN", "FORCED_OPEN", "HALF_OPEN_FULL"]);

/**
 * Bucket upper bounds in seconds of breakerbox_call_duration_seconds: the
 * durations agents report for the calls a circuit guards, from a cache hit
 * (milliseconds) to an LLM completion or an agent-to-agent task (minutes).
 */
export const CALL_DURATION_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
]);

const OUTCOME_INDEX: Readonly<Record<Outcome, number>> = { SUCCESS: 0, FAILURE: 1, TIMEOUT: 2, IGNORED: 3 };
const REASON_INDEX: Readonly<Record<DenyReason, number>> = { OPEN: 0, FORCED_OPEN: 1, HALF_OPEN_FULL: 2 };

/**
 * Counters of one `circuit` label value (one circuit, or every circuit beyond
 * the cap). Plain numbers: the hot path increments them, scrapes read them.
 */
export class CircuitSeries {
  /** Reports by outcome, indexed like {@link OUTCOMES}; undefined until the first. */
  calls: number[] | undefined = undefined;
  /** Denied Acquires by reason, indexed like {@link DENY_REASONS}; undefined until the first. */
  rejections: number[] | undefined = undefined;
  /** Shadow-mode Acquires that enforce mode would have denied, by reason. */
  shadowRejections: number[] | undefined = undefined;

  /** Durations of the reported calls; undefined until the first Report that carried one. */
  callDurations: HistogramSeries | undefined = undefined;

  constructor(readonly label: string) {}

  countOutcome(outcome: Outcome): void {
    (this.calls ??= [0, 0, 0, 0])[OUTCOME_INDEX[outcome]]! += 1;
  }

  observeCallDuration(seconds: number): void {
    (this.callDurations ??= new HistogramSeries({ circuit: this.label }, CALL_DURATION_BUCKETS_SECONDS)).observe(seconds);
  }

  countRejection(reason: DenyReason): void {
    (this.rejections ??= [0, 0, 0])[REASON_INDEX[reason]]! += 1;
  }

  countShadowRejection(reason: DenyReason): void {
    (this.shadowRejections ??= [0, 0, 0])[REASON_INDEX[reason]]! += 1;
  }
}

/** Hands out {@link CircuitSeries} by circuit name, within the cap. */
export class CircuitSeriesTable {
  private readonly byName = new Map<string, CircuitSeries>();
  /** The names of {@link byName} in the order they got their label (the failure-rate gauge reads the newest ones). */
  private readonly order: string[] = [];
  /** Everything beyond the cap. */
  readonly other = new CircuitSeries(OTHER_CIRCUIT);

  /** `maxCircuits` distinct circuits get their own label; 0 puts every circuit under {@link OTHER_CIRCUIT}. */
  constructor(readonly maxCircuits: number) {}

  /**
   * The series of `circuit`: its own while it holds one of the first
   * `maxCircuits` places, else the shared {@link other}. Names beyond the cap
   * are not remembered (that is what the cap protects).
   */
  seriesOf(circuit: string): CircuitSeries {
    let s = this.byName.get(circuit);
    if (s !== undefined) return s;
    if (this.byName.size >= this.maxCircuits) return this.other;
    s = new CircuitSeries(circuit);
    this.byName.set(circuit, s);
    this.order.push(circuit);
    return s;
  }

  /** The label value `circuit` is exported under. */
  labelOf(circuit: string): string {
    return this.seriesOf(circuit).label;
  }

  /** Whether `circuit` has its own label (never gives it one). */
  hasOwnLabel(circuit: string): boolean {
    return this.byName.has(circuit);
  }

  /**
   * The circuits with their own label, in the order they got it, from the
   * `from`-th on (0: all). Labels are never taken back, so a reader that
   * remembers how many it has seen gets exactly the new ones.
   */
  labelledNames(from = 0): string[] {
    return this.order.slice(from);
  }

  /** Circuits with their own label. */
  get size(): number {
    return this.byName.size;
  }

  /** Every series with its own label, then {@link other}. */
  *all(): IterableIterator<CircuitSeries> {
    yield* this.byName.values();
    yield this.other;
  }
}
