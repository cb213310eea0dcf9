/**
 * The client's own names for the service's states, outcomes and reasons (the
 * wire enums of breakerbox.v1, without their prefixes). Defined here, not
 * borrowed from the server's engine: the package must install on its own.
 */

/** A circuit's state. */
export type State = "CLOSED" | "OPEN" | "HALF_OPEN" | "FORCED_OPEN" | "DISABLED";

/** What a guarded call came to; IGNORED counts neither way. */
export type Outcome = "SUCCESS" | "FAILURE" | "TIMEOUT" | "IGNORED";

/** Why the service denied an Acquire. */
export type DenyReason = "OPEN" | "FORCED_OPEN" | "HALF_OPEN_FULL";

/** What the service did with a Report (RECORDED: it counted; the others: it did not, and why). */
export type ReportDisposition = "RECORDED" | "STALE" | "DUPLICATE" | "CONFLICT";

/**
 * Config of the local breakers of degraded mode (failOpen), each field
 * optional over its default.
 */
export interface LocalBreakerConfig {
  /** Consecutive failures (or timeouts) that open a local breaker. Default 5. */
  failureThreshold?: number;
  /** How long an open local breaker denies before one trial call (ms). Default 30000. */
  openDurationMs?: number;
}
