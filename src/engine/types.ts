/**
 * Engine vocabulary: states, outcomes, config and the circuit record.
 *
 * The engine is pure: it imports nothing from gen/, ioredis, grpc-js or
 * process.env, and every time it sees is passed in by the caller. Durations
 * and instants are integer milliseconds (instants since the Unix epoch).
 */
import type { PermitWindow } from "./permit-window.js";
import type { Reporters } from "./reporters.js";

/** A circuit's state. `FORCED_OPEN` and `DISABLED` are set only by an admin. */
export type State = "CLOSED" | "OPEN" | "HALF_OPEN" | "FORCED_OPEN" | "DISABLED";

/** The outcome of a call. `TIMEOUT` is a failure; `IGNORED` counts nowhere. */
export type Outcome = "SUCCESS" | "FAILURE" | "TIMEOUT" | "IGNORED";

/** `shadow` evaluates everything but always allows. */
export type Mode = "enforce" | "shadow";

/** Why an Acquire was (or, in shadow mode, would have been) denied. */
export type DenyReason = "OPEN" | "FORCED_OPEN" | "HALF_OPEN_FULL";

/** The fully resolved config of one circuit. Every field is set. */
export interface CircuitConfig {
  enabled: boolean;
  /** Consecutive failures that open; 0 turns the rule off. */
  failureThreshold: number;
  /** Failure rate in [0, 1] that opens once minimumCalls are in the window; 0 = off. */
  failureRateThreshold: number;
  minimumCalls: number;
  windowMs: number;
  /** A success slower than this is slow; 0 = slow-call detection off. */
  slowCallDurationMs: number;
  slowCallRateThreshold: number;
  openDurationMs: number;
  backoffMultiplier: number;
  maxOpenDurationMs: number;
  halfOpenMaxCalls: number;
  successThreshold: number;
  permitTtlMs: number;
  jitter: number;
  mode: Mode;
  /**
   * Distinct reporters whose failures (slow calls) a rule must have counted
   * before it may open the circuit; 0 or 1: a single reporter may
   * (reporters.ts).
   */
  minDistinctReporters: number;
}

/** A partial config: the fields an operator set explicitly. */
export type ConfigPatch = Partial<CircuitConfig>;

/** One outstanding half-open probe permit. */
export interface Probe {
  id: string;
  expiresAt: number;
}

/**
 * What each state needs, and only that (a discriminated union on `state`).
 */
export type Phase =
  | { state: "CLOSED" }
  | { state: "OPEN"; openUntil: number }
  | { state: "HALF_OPEN"; probes: Probe[]; successes: number }
  | { state: "FORCED_OPEN" }
  | { state: "DISABLED" };

/** Lifetime counters of a circuit. */
export interface Totals {
  successes: number;
  failures: number;
  timeouts: number;
  ignored: number;
  rejections: number;
}

/**
 * The sliding window: `WINDOW_BUCKETS` slots, each covering windowMs /
 * WINDOW_BUCKETS and tagged with the instant its bucket starts, so a slot from
 * an earlier lap of the ring is recognised as stale and reused.
 */
export interface Window {
  starts: number[];
  calls: number[];
  failures: number[];
  slow: number[];
}

/**
 * The mutable record of one circuit. Engine functions update it in place and
 * return what happened; stores persist it however they like.
 */
export interface Circuit {
  name: string;
  /** circuitHash(name), computed once: every permit carries it. */
  hash: string;
  phase: Phase;
  /** Incremented by every transition; permits carry the generation they were issued in. */
  generation: number;
  /** When the circuit entered its current state. */
  since: number;
  /** Last use, for idle eviction: Acquire, Report, reset, force or a Configure of this circuit (reads are none). */
  lastUsed: number;
  consecutiveFailures: number;
  /** Re-openings from HALF_OPEN since the circuit last closed; drives backoff. */
  reopenCount: number;
  window: Window;
  /** Who reported the recent failures and slow calls (reporters.ts); cleared with the window. */
  reporters: Reporters;
  totals: Totals;
  /**
   * Legacy permits (permit.ts LegacyPermit) already reported, by body, with
   * the instant they expire and the outcome that counted. A Map keeps
   * insertion order, which is (nearly) expiry order, so pruning stops at the
   * first live entry. Goes with the legacy permits in a later release.
   */
  reported: Map<string, ReportedPermit>;
  /** Which permits of each issuing stream were reported (permit-window.ts), by stream. */
  windows: Map<string, PermitWindow>;
  /** The stream this circuit's grants number their permits in: started at a grant once older than permit_ttl (or none yet). */
  issuer: { stream: string; next: number; since: number };
}

/** A permit whose outcome has been counted, remembered until it expires. */
export interface ReportedPermit {
  expiresAt: number;
  /** The outcome of its first Report: the one that counted. */
  outcome: Outcome;
}

/**
 * How a Report was counted:
 * - `RECORDED`: counted, and it may have driven a transition;
 * - `STALE`: the permit came from an older generation: counted in the
 *   totals, drove nothing;
 * - `DUPLICATE`: this permit's outcome had been counted already, with the
 *   same outcome: nothing changed;
 * - `CONFLICT`: it had been counted with a different outcome: nothing
 *   changed, the first outcome stands.
 */
export type ReportDisposition = "RECORDED" | "STALE" | "DUPLICATE" | "CONFLICT";

/**
 * Who caused something: the API key's name (from the credential) and the
 * agent instance the caller declared ("" when it declared none).
 */
export interface Principal {
  keyName: string;
  agentInstanceId: string;
}

/** Counters derived from a circuit at an instant. */
export interface CircuitStats {
  windowCalls: number;
  windowFailures: number;
  windowSlowCalls: number;
  failureRate: number;
  slowCallRate: number;
  consecutiveFailures: number;
  halfOpenInFlight: number;
  halfOpenSuccesses: number;
  totalSuccesses: number;
  totalFailures: number;
  totalTimeouts: number;
  totalIgnored: number;
  totalRejections: number;
  reopenCount: number;
}

/** A state change, as the engine reports it. Stores add the event id. */
export interface Transition {
  circuit: string;
  from: State;
  to: State;
  at: number;
  reason: TransitionReason;
  generation: number;
  /** Set when `to` is OPEN. */
  openUntil?: number;
  stats: CircuitStats;
  /** Who caused it, for admin transitions (set by the store, which knows the caller). */
  actor?: string;
  /**
   * Who caused it: the reporter whose Report drove a traffic transition, the
   * admin of an admin transition; absent for transitions time drove.
   */
  principal?: Principal;
  /**
   * Set on an OPEN transition a Report drove: the distinct reporters whose
   * failures the tripping rule counted (slow calls, for slow_call_rate; the
   * probe's reporter, for a failed probe), most recent first, at most
   * MAX_TRACKED_REPORTERS. Absent when none are known.
   */
  failureReporters?: Principal[];
}

export type TransitionReason =
  | "consecutive_failures"
  | "failure_rate"
  | "slow_call_rate"
  | "open_duration_elapsed"
  | "probe_failed"
  | "probe_timeout"
  | "probes_succeeded"
  | "reset"
  | "forced_open"
  | "disabled"
  | "released";
