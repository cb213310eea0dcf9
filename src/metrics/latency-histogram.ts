/**
 * A Prometheus histogram for the hot path. prom-client's own Histogram
 * validates and hashes its labels on every observe (about 0.4 µs, measured on
 * our 2-core machines), which Acquire would pay twice. Here a caller resolves
 * a {@link HistogramSeries} once (per method and status code, per store
 * operation and result), keeps it, and an observation is a bucket search and
 * three additions. The registry turns the series into the usual
 * `_bucket{le}` / `_sum` / `_count` lines at scrape time.
 */
import type { Metric, Registry } from "prom-client";

/**
 * Bucket upper bounds in seconds for RPC and store latencies: an Acquire on
 * the memory store takes tens of microseconds, one on Redis a round trip
 * (about 0.1 to 1 ms on a LAN), and anything past 2.5 s has met a timeout.
 */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
]);

/** One label combination of a {@link LatencyHistogram}: where observations go. */
export class HistogramSeries {
  /** Observations per bucket (not cumulative); the last slot is above every bound (+Inf). */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Records one duration in seconds. NaN and negative values count in the lowest bucket. */
  observe(seconds: number): void {
    const bounds = this.bounds;
    let i = 0;
    // Prometheus buckets count observations <= le.
    while (i < bounds.length && seconds > bounds[i]!) i++;
    this.counts[i]! += 1;
    this.sum += seconds >= 0 ? seconds : 0;
    this.count += 1;
  }
}

/** What the prom-client Registry reads from a metric at scrape time. */
interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName: string;
}

/**
 * A histogram metric whose series are resolved once and observed cheaply.
 * Series appear in the exposition from the moment they are created (with
 * zero counts), so rate() sees their first observation.
 */
export class LatencyHistogram<L extends string> {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly series = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly L[],
    private readonly bounds: readonly number[] = LATENCY_BUCKETS_SECONDS,
  ) {}

  /** Adds this histogram to `registry` (which calls {@link get} on every scrape). */
  registerIn(registry: Registry): void {
    // The registry needs only name, help, type, aggregator and get(); its
    // typings list prom-client's own classes.
    registry.registerMetric(this as unknown as Metric);
  }

  /** The series for `labels`, created on first use. Resolve once and keep it: this builds a key. */
  seriesFor(labels: Readonly<Record<L, string>>): HistogramSeries {
    const key = this.labelNames.map((n) => labels[n]).join("\u0000");
    let s = this.series.get(key);
    if (s === undefined) {
      const own: Record<string, string> = {};
      for (const n of this.labelNames) own[n] = labels[n];
      s = new HistogramSeries(own, this.bounds);
      this.series.set(key, s);
    }
    return s;
  }

  /** Zeroes every series (prom-client's Registry.resetMetrics calls this). */
  reset(): void {
    for (const s of this.series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }

  /** The exposition values, as prom-client's own Histogram shapes them. */
  async get(): Promise<HistogramMetricValues> {
    return histogramValues(this, this.series.values(), this.bounds);
  }
}

/** What a histogram metric's get() answers the prom-client Registry. */
export interface HistogramMetricValues {
  name: string;
  help: string;
  type: string;
  aggregator: string;
  values: MetricValue[];
}

/**
 * The `_bucket{le}` / `_sum` / `_count` values of `series` (each with its own
 * labels), as prom-client's own Histogram shapes them. Shared by every
 * histogram that keeps its series itself.
 */
export function histogramValues(
  metric: { name: string; help: string },
  series: Iterable<HistogramSeries>,
  bounds: readonly number[],
): HistogramMetricValues {
  const values: MetricValue[] = [];
  const bucketName = `${metric.name}_bucket`;
  for (const s of series) {
    let cumulative = 0;
    for (let i = 0; i < bounds.length; i++) {
      cumulative += s.counts[i]!;
      values.push({ metricName: bucketName, labels: { ...s.labels, le: bounds[i]! }, value: cumulative });
    }
    values.push({ metricName: bucketName, labels: { ...s.labels, le: "+Inf" }, value: s.count });
    values.push({ metricName: `${metric.name}_sum`, labels: { ...s.labels }, value: s.sum });
    values.push({ metricName: `${metric.name}_count`, labels: { ...s.labels }, value: s.count });
  }
  return { name: metric.name, help: metric.help, type: "histogram", aggregator: "sum", values };
}
