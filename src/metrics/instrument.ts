/**
 * Where the store metrics are taken: a CircuitStore wrapper (store round
 * trips, calls and rejections), at a seam every call crosses whichever port
 * it came in on. RPC latency is taken by the interceptor in rpc-interceptor.ts.
 *
 * Acquire and Report are the hot path (benchmarked against a no-op RPC):
 * every label combination is resolved before the first call, a call costs two
 * clock reads, one derived promise and a few additions, and the wrapped
 * promise is handed back as is (no extra hop before the caller sees the
 * answer).
 */
import { performance } from "node:perf_hooks";
import { InvalidConfigError, PermitRejectedError, UnknownPresetError } from "../engine/index.js";
import {
  PatternRuleFromFileError,
  PatternRuleNotFoundError,
  ResumeTokenError,
  StoreUnavailableError,
  passedThrough,
  type CircuitStore,
} from "../store/store.js";
import type { HistogramSeries, LatencyHistogram } from "./latency-histogram.js";
import type { BreakerboxMetrics } from "./metrics.js";

/** gRPC status names by code number (Connect's codes are gRPC's numbers). */
export const GRPC_CODE_NAMES: readonly string[] = Object.freeze([
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
]);

/** The `result` label values of breakerbox_store_duration_seconds. */
export type StoreResult = "ok" | "refused" | "unavailable" | "error";

/** The `operation` label values of breakerbox_store_duration_seconds, by store method. */
export const STORE_OPERATIONS = Object.freeze({
  acquire: "acquire",
  report: "report",
  get: "get",
  list: "list",
  history: "history",
  reset: "reset",
  force: "force",
  configureCircuit: "configure_circuit",
  configurePattern: "configure_pattern",
  listPatternRules: "list_pattern_rules",
  deletePatternRule: "delete_pattern_rule",
} as const);

/** Seconds since `startMs` (a performance.now() reading). */
export const seconds = (startMs: number): number => (performance.now() - startMs) / 1000;

/** The store's answer as a `result` label: the caller's problem (refused) is not the store's. */
export function storeResultOf(err: unknown): StoreResult {
  if (StoreUnavailableError.is(err)) return "unavailable";
  if (
    PermitRejectedError.is(err) ||
    InvalidConfigError.is(err) ||
    err instanceof UnknownPresetError ||
    ResumeTokenError.is(err) ||
    PatternRuleNotFoundError.is(err) ||
    PatternRuleFromFileError.is(err)
  ) {
    return "refused";
  }
  return "error";
}

/** The four series of one store operation. */
class OperationSeries {
  readonly ok: HistogramSeries;
  private readonly byResult: Record<Exclude<StoreResult, "ok">, HistogramSeries>;

  constructor(histogram: LatencyHistogram<"operation" | "result">, operation: string) {
    this.ok = histogram.seriesFor({ operation, result: "ok" });
    this.byResult = {
      refused: histogram.seriesFor({ operation, result: "refused" }),
      unavailable: histogram.seriesFor({ operation, result: "unavailable" }),
      error: histogram.seriesFor({ operation, result: "error" }),
    };
  }

  failed(err: unknown, startMs: number): void {
    const result = storeResultOf(err);
    this.byResult[result === "ok" ? "error" : result].observe(seconds(startMs));
  }

  /** Times `promise` into these series; returns `promise` itself. */
  time<T>(promise: Promise<T>, startMs: number): Promise<T> {
    promise.then(
      () => this.ok.observe(seconds(startMs)),
      (err: unknown) => this.failed(err, startMs),
    );
    return promise;
  }
}

/**
 * Wraps `store`: every data call is timed into breakerbox_store_duration_seconds,
 * Acquire decisions and Report outcomes are counted per circuit. Watch,
 * the status change feed, listeners, health and close pass straight through.
 */
export function instrumentStore(store: CircuitStore, metrics: BreakerboxMetrics): CircuitStore {
  const h = metrics.storeDuration;
  const op = Object.fromEntries(
    Object.entries(STORE_OPERATIONS).map(([method, operation]) => [method, new OperationSeries(h, operation)]),
  ) as Record<keyof typeof STORE_OPERATIONS, OperationSeries>;
  const acquireOp = op.acquire;
  const reportOp = op.report;

  return {
    acquire(circuit) {
      const start = performance.now();
      const p = store.acquire(circuit);
      p.then(
        (d) => {
          acquireOp.ok.observe(seconds(start));
          metrics.countDecision(circuit, d);
        },
        (err: unknown) => acquireOp.failed(err, start),
      );
      return p;
    },
    report(circuit, command) {
      const start = performance.now();
      const p = store.report(circuit, command);
      p.then(
        (ack) => {
          reportOp.ok.observe(seconds(start));
          metrics.countReport(circuit, command.outcome, ack, command.durationMs);
        },
        (err: unknown) => reportOp.failed(err, start),
      );
      return p;
    },
    get: (circuit) => op.get.time(store.get(circuit), performance.now()),
    list: (query) => op.list.time(store.list(query), performance.now()),
    history: (circuit, limit, before) => op.history.time(store.history(circuit, limit, before), performance.now()),
    reset: (circuit, actor) => op.reset.time(store.reset(circuit, actor), performance.now()),
    force: (circuit, target, actor) => op.force.time(store.force(circuit, target, actor), performance.now()),
    configureCircuit: (circuit, command, actor) =>
      op.configureCircuit.time(store.configureCircuit(circuit, command, actor), performance.now()),
    configurePattern: (pattern, command, actor) =>
      op.configurePattern.time(store.configurePattern(pattern, command, actor), performance.now()),
    listPatternRules: () => op.listPatternRules.time(store.listPatternRules(), performance.now()),
    deletePatternRule: (pattern, actor) => op.deletePatternRule.time(store.deletePatternRule(pattern, actor), performance.now()),
    ...passedThrough(store),
  };
}
