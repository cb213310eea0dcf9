/**
 * The circuit config contract, declared once.
 *
 * Every config field of a circuit is one entry here: its engine name (the
 * key), its name in the proto and in config files, its environment variable,
 * its kind and unit, its accepted range, its default and what it means.
 * Everything else that speaks of config fields is derived from this table or
 * checked against it by a test that fails on any mismatch: the engine's
 * validation and defaults, env and file parsing, proto conversion, the packed
 * config the Lua scripts read (and their generated accessor), the dashboard's
 * labels and docs/configuration.md. docs/design.md ("Adding a config field")
 * lists the few places that are written by hand: this table, the rule that
 * uses the field, its Lua twin, and tests.
 *
 * The table is typed as a record over `keyof CircuitConfig`, so a field in
 * the interface without an entry here, or an entry without a field, does not
 * compile. Its key order is the order everything derived from it uses.
 */
import type { CircuitConfig } from "./types.js";

const SECOND = 1000;
const DAY_MS = 86_400 * SECOND;

/**
 * How a field's value is written and checked:
 * - `boolean`: true or false;
 * - `integer` and `number`: a JSON number (integer or any finite number);
 * - `duration`: integer milliseconds in the engine, a google.protobuf.Duration
 *   in the proto, seconds in its environment variable, "30s"/"1.5m"/seconds
 *   in config files;
 * - `enum`: one of `values`.
 */
export type ConfigFieldKind = "boolean" | "integer" | "number" | "duration" | "enum";

/** One config field, as every layer must see it. */
export interface ConfigFieldSpec<K extends keyof CircuitConfig = keyof CircuitConfig> {
  /** The engine's name (camelCase; a duration ends in `Ms`). */
  readonly key: K;
  /** The name in the proto (`CircuitConfig.<name>`), config files, error messages and the dashboard. */
  readonly name: string;
  /** The environment variable that sets the default for every circuit. */
  readonly env: string;
  readonly kind: ConfigFieldKind;
  /** The default when no environment variable, preset, rule or setting says otherwise. */
  readonly default: CircuitConfig[K];
  /** Accepted range (numbers and durations; durations in ms). */
  readonly min?: number;
  readonly max?: number;
  /** The lower bound itself is refused (a rate that must be above 0). */
  readonly minExclusive?: boolean;
  /** The upper bound itself is refused (jitter below 1). */
  readonly maxExclusive?: boolean;
  /** `enum`: the accepted values. */
  readonly values?: readonly string[];
  /** What 0 means, when 0 turns the rule off ("off"). */
  readonly zeroMeans?: string;
  /** How people read the value, when not as written: `percent` shows a rate (0.25) as 25% (the dashboard). */
  readonly format?: "percent";
  /** What the field means, as the configuration reference (docs/configuration.md) shows it: Markdown, one line. */
  readonly doc: string;
}

type ConfigFieldTable = { readonly [K in keyof CircuitConfig]: ConfigFieldSpec<K> };

/** The config fields of a circuit, by engine name, in contract order. */
export const CONFIG_FIELDS: ConfigFieldTable = Object.freeze({
  enabled: {
    key: "enabled",
    name: "enabled",
    env: "CIRCUIT_BREAKER_ENABLED",
    kind: "boolean",
    default: true,
    doc: "`false` lets every call through, like the DISABLED state, but still records stats.",
  },
  failureThreshold: {
    key: "failureThreshold",
    name: "failure_threshold",
    env: "CIRCUIT_BREAKER_FAILURE_THRESHOLD",
    kind: "integer",
    default: 5,
    min: 0,
    max: 1_000_000,
    zeroMeans: "off",
    doc: "Consecutive failures that open the circuit.",
  },
  failureRateThreshold: {
    key: "failureRateThreshold",
    name: "failure_rate_threshold",
    env: "CIRCUIT_BREAKER_FAILURE_RATE_THRESHOLD",
    kind: "number",
    default: 0.5,
    min: 0,
    max: 1,
    zeroMeans: "off",
    format: "percent",
    doc: "Failure rate in the window that opens the circuit, once `minimum_calls` are in it.",
  },
  minimumCalls: {
    key: "minimumCalls",
    name: "minimum_calls",
    env: "CIRCUIT_BREAKER_MINIMUM_CALLS",
    kind: "integer",
    default: 10,
    min: 1,
    max: 1_000_000,
    doc: "Calls in the window before the failure and slow-call rates count.",
  },
  windowMs: {
    key: "windowMs",
    name: "window",
    env: "CIRCUIT_BREAKER_WINDOW_SIZE_SECONDS",
    kind: "duration",
    default: 120 * SECOND,
    min: 100,
    max: DAY_MS,
    doc: "Length of the sliding window the rates are computed over (kept as 10 buckets).",
  },
  slowCallDurationMs: {
    key: "slowCallDurationMs",
    name: "slow_call_duration",
    env: "CIRCUIT_BREAKER_SLOW_CALL_SECONDS",
    kind: "duration",
    default: 0,
    min: 0,
    max: DAY_MS,
    zeroMeans: "off",
    doc: "A success slower than this counts as slow.",
  },
  slowCallRateThreshold: {
    key: "slowCallRateThreshold",
    name: "slow_call_rate_threshold",
    env: "CIRCUIT_BREAKER_SLOW_CALL_RATE_THRESHOLD",
    kind: "number",
    default: 1.0,
    min: 0,
    max: 1,
    minExclusive: true,
    format: "percent",
    doc: "Slow-call rate in the window that opens the circuit.",
  },
  openDurationMs: {
    key: "openDurationMs",
    name: "open_duration",
    env: "CIRCUIT_BREAKER_TIMEOUT_SECONDS",
    kind: "duration",
    default: 60 * SECOND,
    min: 10,
    max: DAY_MS,
    doc: "How long the circuit stays OPEN before letting probes through (HALF_OPEN).",
  },
  backoffMultiplier: {
    key: "backoffMultiplier",
    name: "backoff_multiplier",
    env: "CIRCUIT_BREAKER_BACKOFF_MULTIPLIER",
    kind: "number",
    default: 1.0,
    min: 1,
    max: 100,
    doc: "Each failed half-open probe multiplies the open duration by this.",
  },
  maxOpenDurationMs: {
    key: "maxOpenDurationMs",
    name: "max_open_duration",
    env: "CIRCUIT_BREAKER_MAX_TIMEOUT_SECONDS",
    kind: "duration",
    default: 600 * SECOND,
    min: 10,
    max: 7 * DAY_MS,
    doc: "Cap of the grown open duration and of a dependency's `retry_after` hint; at least `open_duration`.",
  },
  halfOpenMaxCalls: {
    key: "halfOpenMaxCalls",
    name: "half_open_max_calls",
    env: "CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS",
    kind: "integer",
    default: 3,
    min: 1,
    max: 10_000,
    doc: "Probes in flight at once in HALF_OPEN, across all agents and replicas.",
  },
  successThreshold: {
    key: "successThreshold",
    name: "success_threshold",
    env: "CIRCUIT_BREAKER_SUCCESS_THRESHOLD",
    kind: "integer",
    default: 3,
    min: 1,
    max: 10_000,
    doc: "Successful probes that close the circuit.",
  },
  permitTtlMs: {
    key: "permitTtlMs",
    name: "permit_ttl",
    env: "CIRCUIT_BREAKER_PERMIT_TTL_SECONDS",
    kind: "duration",
    default: 30 * SECOND,
    min: 10,
    max: DAY_MS,
    doc: "A permit older than this can no longer be reported; a probe not reported by then counts as a TIMEOUT and frees its slot.",
  },
  jitter: {
    key: "jitter",
    name: "jitter",
    env: "CIRCUIT_BREAKER_JITTER",
    kind: "number",
    default: 0,
    min: 0,
    max: 1,
    maxExclusive: true,
    doc: "Spreads each open duration by ± this fraction, so a fleet of callers does not probe in lockstep.",
  },
  mode: {
    key: "mode",
    name: "mode",
    env: "CIRCUIT_BREAKER_MODE",
    kind: "enum",
    default: "enforce",
    values: ["enforce", "shadow"],
    doc: "`shadow` evaluates and records every decision and transition but always allows: try thresholds on live traffic first.",
  },
  minDistinctReporters: {
    key: "minDistinctReporters",
    name: "min_distinct_reporters",
    env: "CIRCUIT_BREAKER_MIN_DISTINCT_REPORTERS",
    kind: "integer",
    default: 1,
    min: 0,
    // MAX_TRACKED_REPORTERS (reporters.ts): the reporters a circuit keeps per list.
    max: 16,
    doc: "Reporter quorum: distinct reporters (API key name plus `agent_instance_id`) whose failures a rule must count before it may open the circuit: among the current run of consecutive failures (`failure_threshold`), the failures in the window (`failure_rate_threshold`), the slow calls in the window (`slow_call_rate_threshold`). `0` or `1`: a single reporter may open the circuit. A failed half-open probe reopens regardless. The instance id is the caller's claim: the quorum guards against one careless agent, and against a hostile one only when each agent has its own API key (docs/design.md, \"Reporter quorum\"). At most 16, the reporters a circuit keeps per list.",
  },
});

/** The engine names of every config field, in table order. */
export const CONFIG_KEYS: readonly (keyof CircuitConfig)[] = Object.freeze(
  Object.keys(CONFIG_FIELDS) as (keyof CircuitConfig)[],
);

/** Every field's spec, in table order. */
export const CONFIG_FIELD_LIST: readonly ConfigFieldSpec[] = Object.freeze(
  CONFIG_KEYS.map((key) => CONFIG_FIELDS[key] as ConfigFieldSpec),
);

/** The spec of the field named `name` in the proto and config files; undefined for an unknown name. */
export function fieldByName(name: string): ConfigFieldSpec | undefined {
  return BY_NAME.get(name);
}

const BY_NAME = new Map<string, ConfigFieldSpec>(CONFIG_FIELD_LIST.map((f) => [f.name, f]));

/** The built-in defaults, read off the table. */
export function tableDefaults(): CircuitConfig {
  const out: Record<string, unknown> = {};
  for (const f of CONFIG_FIELD_LIST) out[f.key] = f.default;
  return out as unknown as CircuitConfig;
}

/** `a or b`, `a, b or c`: a field's accepted values as a message lists them. */
export function joinWithOr(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} or ${items[items.length - 1]}`;
}
