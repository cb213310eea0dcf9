/**
 * The local breakers of degraded mode (failOpen): one small consecutive-
 * failures breaker per circuit, in this process only, guarding dependencies
 * while the Breakerbox service itself is unreachable. The same rule as the
 * Python (`_local_breaker.py`) and Go (`local.go`) clients: CLOSED until
 * `failureThreshold` failures in a row; then OPEN for `openDurationMs` (or the
 * dependency's own Retry-After, when longer); then one trial call whose
 * outcome closes or re-opens it. Their outcomes are never sent to the service.
 */
import type { Clock } from "./classify.js";
import { CircuitOpenError } from "./errors.js";
import type { Admission } from "./run.js";
import type { LocalBreakerConfig } from "./vocabulary.js";

const DEFAULT_FAILURE_THRESHOLD = 5;
const DEFAULT_OPEN_DURATION_MS = 30_000;

/** One circuit's local breaker: CLOSED while `openUntil` is undefined. */
interface Breaker {
  failures: number;
  openUntil: number | undefined;
  /** The trial call after OPEN is out. */
  probing: boolean;
}

/**
 * Guards dependencies while the service is unreachable. `clear()` drops every
 * breaker (the service is the truth again); a call admitted before that
 * reports nowhere.
 */
export class LocalBreakers {
  private readonly breakers = new Map<string, Breaker>();
  private readonly threshold: number;
  private readonly openDurationMs: number;

  constructor(
    private readonly clock: Clock,
    config: LocalBreakerConfig | undefined,
  ) {
    this.threshold = Math.max(1, config?.failureThreshold ?? DEFAULT_FAILURE_THRESHOLD);
    this.openDurationMs = Math.max(0, config?.openDurationMs ?? DEFAULT_OPEN_DURATION_MS);
  }

  /** Admission on `circuit`'s local breaker (created CLOSED on first use); a denial has `local: true`. */
  admit(circuit: string): Admission {
    let b = this.breakers.get(circuit);
    if (b === undefined) this.breakers.set(circuit, (b = { failures: 0, openUntil: undefined, probing: false }));
    const breaker = b;
    const now = this.clock.now();
    let probe = false;
    if (breaker.openUntil !== undefined) {
      if (now < breaker.openUntil) return deny(circuit, "OPEN", breaker.openUntil - now);
      // Past the open time: one trial call at a time (HALF_OPEN); its outcome decides.
      if (breaker.probing) return deny(circuit, "HALF_OPEN", 0);
      breaker.probing = probe = true;
    }
    return {
      allowed: true,
      circuit,
      reporter: (outcome, _durationMs, retryAfterMs) => {
        // Dropped if the service came back meanwhile (the local breaker is gone).
        if (this.breakers.get(circuit) !== breaker) return;
        if (probe) breaker.probing = false;
        if (outcome === "SUCCESS") {
          // A late success of a call admitted before the breaker opened does not close it.
          if (probe || breaker.openUntil === undefined) Object.assign(breaker, { failures: 0, openUntil: undefined });
        } else if (outcome === "FAILURE" || outcome === "TIMEOUT") {
          breaker.failures++;
          if (probe || breaker.failures >= this.threshold) {
            breaker.openUntil = this.clock.now() + Math.max(this.openDurationMs, retryAfterMs ?? 0);
          }
        }
      },
    };
  }

  /** Drops every local breaker. */
  clear(): void {
    this.breakers.clear();
  }
}

function deny(circuit: string, state: "OPEN" | "HALF_OPEN", retryAfterMs: number): Admission {
  return {
    allowed: false,
    error: new CircuitOpenError({ circuit, state, reason: state === "OPEN" ? "OPEN" : "HALF_OPEN_FULL", retryAfterMs, local: true }),
  };
}
