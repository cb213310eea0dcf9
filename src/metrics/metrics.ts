/**
 * Breakerbox's Prometheus metrics: one prom-client Registry of our own (not
 * the global one), served at GET /metrics on the HTTP port.
 *
 * | metric | type | labels | counted by |
 * |---|---|---|---|
 * | breakerbox_circuit_state | gauge | circuit, state | every replica: 1 for the state each circuit is in, 0 for the other four |
 * | breakerbox_circuit_failure_rate | gauge | circuit | every replica: each labelled circuit's window failure rate, read from the store (failure-rates.ts); no _other |
 * | breakerbox_build_info | gauge | version, node_version, build | always 1: what this process runs (build-info.ts) |
 * | breakerbox_calls_total | counter | circuit, outcome | Reports this replica served (not duplicates) |
 * | breakerbox_call_duration_seconds | histogram | circuit | the durations those Reports carried (a Report without one is not observed) |
 * | breakerbox_rejections_total | counter | circuit, reason | Acquires this replica denied |
 * | breakerbox_shadow_rejections_total | counter | circuit, reason | shadow-mode Acquires this replica allowed that enforce mode would have denied |
 * | breakerbox_transitions_total | counter | circuit, from, to | transitions this replica applied |
 * | breakerbox_rpc_duration_seconds | histogram | method, code | unary CircuitService RPCs on both ports |
 * | breakerbox_store_duration_seconds | histogram | operation, result | store calls (a Redis round trip in Redis mode) |
 * | breakerbox_store_ready | gauge | | 1 while the store answers |
 * | breakerbox_redis_data_losses_total | counter | | times this replica found Redis had lost its data (0 on the memory store) |
 * | breakerbox_watch_status_rounds_total | counter | | Watch status rounds this replica ran (one per tick for every status stream) |
 * | breakerbox_watch_status_full_reads_total | counter | | status rounds that read every watched circuit (the store could not tell what changed) |
 * | breakerbox_watch_status_changed_total | counter | | changed circuit names the store's change feed gave the status rounds |
 * | breakerbox_status_feed_overflows_total | counter | | times the memory store's change record overflowed (0 on Redis) |
 *
 * plus prom-client's process_* and nodejs_* metrics. State, outcome and
 * reason values are the engine's names (CLOSED, OPEN, HALF_OPEN,
 * FORCED_OPEN, DISABLED; SUCCESS, FAILURE, TIMEOUT, IGNORED; OPEN,
 * FORCED_OPEN, HALF_OPEN_FULL). Counters count what this replica did, so
 * summing over replicas gives the fleet's totals; the state and failure-rate
 * gauges are the same on every replica. The `circuit` label is capped (see
 * circuit-series.ts); the failure-rate gauge has no _other series.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from "prom-client";
import { type CircuitCountSource, registerCircuitCountGauges } from "./circuit-count.js";
import type { DenyReason, Outcome, State } from "../engine/index.js";
import type { AcquireDecision, CircuitEvent, CircuitStore, ReportAck } from "../store/store.js";
import { readBuildInfo } from "./build-info.js";
import { FailureRates, registerFailureRateGauge, type FailureRatesOptions } from "./failure-rates.js";
import { CALL_DURATION_BUCKETS_SECONDS, CircuitSeriesTable, DENY_REASONS, OTHER_CIRCUIT, OUTCOMES, type CircuitSeries } from "./circuit-series.js";
import type { CircuitStateTracker } from "./circuit-states.js";
import { LatencyHistogram, histogramValues, type HistogramSeries } from "./latency-histogram.js";
import { type StatusRoundsSource, registerStatusRoundCounters } from "./status-rounds.js";

/** Label values of breakerbox_circuit_state's `state`. */
export const STATES: readonly State[] = Object.freeze(["CLOSED", "OPEN", "HALF_OPEN", "FORCED_OPEN", "DISABLED"]);

/** Options of {@link createMetrics}. */
export interface MetricsOptions {
  /**
   * Circuits that get their own `circuit` label (BREAKERBOX_METRICS_MAX_CIRCUITS);
   * the rest are aggregated under circuit="_other".
   */
  maxCircuits: number;
  /** Add prom-client's process_* and nodejs_* metrics. Default true. */
  processMetrics?: boolean;
}

/** The metrics of one Breakerbox process. Build with {@link createMetrics}. */
export class BreakerboxMetrics {
  /** Every metric of this process; {@link exposition} renders it. */
  readonly registry = new Registry();
  /** Per-circuit counters and the label cap. */
  readonly circuits: CircuitSeriesTable;
  /** breakerbox_rpc_duration_seconds{method,code}. */
  readonly rpcDuration = new LatencyHistogram(
    "breakerbox_rpc_duration_seconds",
    "Time to handle a unary CircuitService RPC on either port, from the decoded request to the reply, by method and gRPC status code.",
    ["method", "code"],
  );
  /** breakerbox_store_duration_seconds{operation,result}. */
  readonly storeDuration = new LatencyHistogram(
    "breakerbox_store_duration_seconds",
    "Time of one store call (in Redis mode a round trip to Redis) by operation and result: ok, refused (the store rejected the request, e.g. an expired permit), unavailable (the store could not be reached) or error.",
    ["operation", "result"],
  );
  private readonly transitions: Counter<"circuit" | "from" | "to">;
  private states: CircuitStateTracker | undefined;
  private storeReady: (() => boolean) | undefined;
  private circuitCount: CircuitCountSource | undefined;
  private failureRates: FailureRates | undefined;
  private dataLosses: (() => number) | undefined;
  private statusRounds: (() => StatusRoundsSource) | undefined;
  private aggregate: (() => Promise<string>) | undefined;

  constructor(options: MetricsOptions) {
    this.circuits = new CircuitSeriesTable(options.maxCircuits);
    const registers = [this.registry];
    const circuits = this.circuits;

    const build = readBuildInfo();
    new Gauge({
      name: "breakerbox_build_info",
      help: "Always 1; its labels say what this process runs: the package version, the Node.js version, and a hash of the sources it was built from.",
      labelNames: ["version", "node_version", "build"] as const,
      registers,
      aggregator: "first", // BREAKERBOX_WORKERS: one binary for every worker
    }).set({ version: build.version, node_version: build.nodeVersion, build: build.build }, 1);
    const callDurations = {
      name: "breakerbox_call_duration_seconds",
      help: "Durations of the calls reported to this replica (Report's duration; duplicates and Reports without one excluded), by circuit.",
      type: "histogram",
      aggregator: "sum",
      get: async () =>
        histogramValues(callDurations, [...circuits.all()].map((s) => s.callDurations).filter((h): h is HistogramSeries => h !== undefined), CALL_DURATION_BUCKETS_SECONDS),
      reset: () => {
        for (const s of circuits.all()) s.callDurations = undefined;
      },
    };
    // The registry needs only name, help, type, aggregator and get(); its typings list prom-client's own classes.
    this.registry.registerMetric(callDurations as unknown as Metric);
    perCircuitCounter(registers, circuits, "breakerbox_calls_total",
      "Calls reported to this replica (Report, duplicates excluded), by circuit and outcome.",
      "outcome", OUTCOMES, (s) => s.calls);
    perCircuitCounter(registers, circuits, "breakerbox_rejections_total",
      "Acquires this replica denied, by circuit and deny reason.",
      "reason", DENY_REASONS, (s) => s.rejections);
    perCircuitCounter(registers, circuits, "breakerbox_shadow_rejections_total",
      "Acquires this replica allowed in shadow mode that enforce mode would have denied, by circuit and deny reason.",
      "reason", DENY_REASONS, (s) => s.shadowRejections);
    this.transitions = new Counter({
      name: "breakerbox_transitions_total",
      help: "State transitions this replica applied, by circuit, from and to state (sum over replicas for the fleet's count).",
      labelNames: ["circuit", "from", "to"] as const,
      registers,
    });
    const metrics = this;
    new Gauge({
      name: "breakerbox_circuit_state",
      help: "1 for the state each circuit is in, 0 for the others; the same on every replica. Under circuit=\"_other\" the number of circuits beyond the label cap in each state.",
      labelNames: ["circuit", "state"] as const,
      registers,
      // BREAKERBOX_WORKERS: every worker follows the same store; summing would count each state N times.
      aggregator: "first",
      collect() {
        this.reset();
        metrics.collectStates((circuit, state, value) => this.set({ circuit, state }, value));
      },
    });
    // After the state gauge: its collect gives labels to the circuits it meets (synchronously,
    // before this one's collect runs), so a circuit it shows gets its rate in the same scrape.
    registerFailureRateGauge(this.registry, () => metrics.failureRates);
    new Gauge({
      name: "breakerbox_store_ready",
      help: "1 while the store (Redis, or the embedded store) answers, else 0.",
      registers,
      aggregator: "min", // BREAKERBOX_WORKERS: 0 when any worker cannot reach it
      collect() {
        this.set(metrics.storeReady === undefined || metrics.storeReady() ? 1 : 0);
      },
    });
    registerCircuitCountGauges(this.registry, () => metrics.circuitCount);
    new Counter({
      name: "breakerbox_redis_data_losses_total",
      help: "Times this replica found that Redis had lost its data (the data epoch changed) and dropped its pattern rules, settings versions and local views; 0 on the memory store.",
      registers,
      aggregator: "max", // BREAKERBOX_WORKERS: the workers of one host share one Redis, so each sees the same loss
      collect() {
        this.reset();
        this.inc(metrics.dataLosses?.() ?? 0);
      },
    });
    registerStatusRoundCounters(this.registry, () => metrics.statusRounds?.());
    this.rpcDuration.registerIn(this.registry);
    this.storeDuration.registerIn(this.registry);
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** The content type of {@link exposition} (Prometheus text format 0.0.4). */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The scrape: every metric in the Prometheus text format (with BREAKERBOX_WORKERS, summed over the workers). */
  exposition(): Promise<string> {
    return this.aggregate?.() ?? this.registry.metrics();
  }

  /**
   * Makes this process one of several BREAKERBOX_WORKERS sharing the ports: a
   * scrape lands on any one worker, so it answers `aggregate()` (the primary's
   * sum over every worker, src/cluster.ts) instead of its own share. Adds
   * breakerbox_worker_rpcs_total{pid}: unary RPCs this worker answered, which
   * shows how the kernel spread connections over the workers.
   */
  serveAsWorker(pid: number, aggregate: () => Promise<string>): void {
    this.aggregate = aggregate;
    const rpcDuration = this.rpcDuration;
    new Counter({
      name: "breakerbox_worker_rpcs_total",
      help: "Unary CircuitService RPCs each worker process answered (BREAKERBOX_WORKERS > 1 only), by worker pid.",
      labelNames: ["pid"] as const,
      registers: [this.registry],
      async collect() {
        const { values } = await rpcDuration.get();
        let n = 0;
        for (const v of values) if (v.metricName.endsWith("_count")) n += v.value;
        this.reset();
        this.inc({ pid: String(pid) }, n);
      },
    });
  }

  /** Feeds breakerbox_circuit_state from `tracker` (which the caller starts and closes). */
  trackStates(tracker: CircuitStateTracker): void {
    this.states = tracker;
  }

  /** Feeds breakerbox_store_ready; `ready` is called on every scrape. */
  trackStoreReadiness(ready: () => boolean): void {
    this.storeReady = ready;
  }

  /** Feeds breakerbox_circuits (`count` is called on every scrape) and breakerbox_circuits_max. */
  trackCircuitCount(count: () => Promise<number>, max: number): void {
    this.circuitCount = { count, max };
  }

  /**
   * Feeds breakerbox_circuit_failure_rate from `store` (get() and its change
   * feed), for the circuits with their own label; read at scrape time. A
   * circuit the state tracker (trackStates) says time may move now is not
   * read until it may be.
   */
  trackFailureRates(store: Pick<CircuitStore, "get" | "statusChanges">, options?: FailureRatesOptions): FailureRates {
    // Not a circuit time may move now (the state tracker says): a scrape's read must not apply a transition.
    this.failureRates = new FailureRates(store, this.circuits, { mayRead: (circuit) => !(this.states?.timeMayMove(circuit) ?? false), ...options });
    return this.failureRates;
  }

  /** Feeds breakerbox_redis_data_losses_total; `count` is called on every scrape. */
  trackDataLosses(count: () => number): void {
    this.dataLosses = count;
  }

  /** Feeds the breakerbox_watch_status_* and breakerbox_status_feed_overflows_total counters; `read` is called on every scrape. */
  trackStatusRounds(read: () => StatusRoundsSource): void {
    this.statusRounds = read;
  }

  /**
   * Counts one Acquire decision: a denial in breakerbox_rejections_total, a
   * shadow-mode would-be denial in breakerbox_shadow_rejections_total. Also
   * tells the state tracker about circuits it has not seen (created since
   * its snapshot, no transition yet). An ordinary allow costs one map lookup
   * and one comparison.
   */
  countDecision(circuit: string, decision: AcquireDecision): void {
    this.states?.noteServed(circuit, decision.state);
    const reason: DenyReason | undefined = decision.reason;
    if (reason === undefined) return;
    if (!decision.allowed) this.circuits.seriesOf(circuit).countRejection(reason);
    else if (decision.shadowDenied) this.circuits.seriesOf(circuit).countShadowRejection(reason);
  }

  /**
   * Counts one Report in breakerbox_calls_total and its duration (ms; 0 when
   * the Report carried none) in breakerbox_call_duration_seconds, unless it
   * was a duplicate (its call was counted already).
   */
  countReport(circuit: string, outcome: Outcome, ack: ReportAck, durationMs: number): void {
    if (ack.duplicate) return;
    const series = this.circuits.seriesOf(circuit);
    series.countOutcome(outcome);
    if (durationMs > 0) series.observeCallDuration(durationMs / 1000);
  }

  /** Counts one transition this replica applied. */
  countTransition(event: CircuitEvent): void {
    this.transitions.inc({ circuit: this.circuits.labelOf(event.circuit), from: event.from, to: event.to });
  }

  /**
   * Emits the state gauge: for each circuit with its own label a 1 for its
   * state and 0 for the others; for the circuits beyond the cap, the number
   * in each state under "_other".
   */
  private collectStates(emit: (circuit: string, state: State, value: number) => void): void {
    const tracker = this.states;
    if (tracker === undefined) return;
    const other = new Map<State, number>();
    const emitOne = (circuit: string, current: State): void => {
      const label = this.circuits.labelOf(circuit);
      if (label === OTHER_CIRCUIT) {
        other.set(current, (other.get(current) ?? 0) + 1);
        return;
      }
      for (const state of STATES) emit(label, state, state === current ? 1 : 0);
    };
    for (const [circuit, state] of tracker.states()) emitOne(circuit, state);
    if (other.size > 0) for (const state of STATES) emit(OTHER_CIRCUIT, state, other.get(state) ?? 0);
  }
}

/** Builds the metrics of one process. */
export function createMetrics(options: MetricsOptions): BreakerboxMetrics {
  return new BreakerboxMetrics(options);
}

/**
 * A counter read at scrape time from the per-circuit tallies: `pick` gives a
 * circuit's counts, indexed like `values` (the label values of `label`), or
 * undefined when it has none of this kind. Counting stays plain array
 * increments on the hot path; labels are only built here.
 */
function perCircuitCounter<L extends string>(
  registers: Registry[],
  circuits: CircuitSeriesTable,
  name: string,
  help: string,
  label: L,
  values: readonly string[],
  pick: (s: CircuitSeries) => readonly number[] | undefined,
): void {
  new Counter({
    name,
    help,
    labelNames: ["circuit", label] as const,
    registers,
    collect() {
      this.reset();
      for (const s of circuits.all()) {
        const counts = pick(s);
        if (counts === undefined) continue;
        values.forEach((value, i) => this.inc({ circuit: s.label, [label]: value } as Record<"circuit" | L, string>, counts[i]!));
      }
    },
  });
}
