/**
 * The local breakers of degraded mode: one engine circuit (src/engine, the
 * service's own state machine) per circuit name, in this process only.
 */
import { acquire, newCircuit, report } from "../engine/circuit.js";
import { applyPatch, BUILTIN_DEFAULTS } from "../engine/config.js";
import type { Circuit, CircuitConfig, ConfigPatch } from "../engine/types.js";
import type { Clock } from "./classify.js";
import { CircuitOpenError } from "./errors.js";
import type { Admission } from "./run.js";

/**
 * Guards dependencies while the service is unreachable. Outcomes stay here:
 * they are never sent to the service. `clear()` drops every breaker (the
 * service is the truth again); a call admitted before that reports nowhere.
 */
export class LocalBreakers {
  private readonly circuits = new Map<string, Circuit>();
  private readonly config: CircuitConfig;
  private nonce = 0;

  /**
   * @param config over the built-in defaults (not the service's env defaults: this process does not know them).
   * @param onReportError gets an outcome the engine refused (e.g. a permit that expired meanwhile).
   */
  constructor(
    private readonly clock: Clock,
    config: ConfigPatch | undefined,
    private readonly onReportError: (err: unknown, circuit: string) => void,
  ) {
    this.config = applyPatch(BUILTIN_DEFAULTS, config);
  }

  /** Acquire on `circuit`'s local breaker (created CLOSED on first use); a denial has `local: true`. */
  admit(circuit: string): Admission {
    const now = this.clock.now();
    let c = this.circuits.get(circuit);
    if (c === undefined) this.circuits.set(circuit, (c = newCircuit(circuit, now)));
    const breaker = c;
    const r = acquire(breaker, this.config, { now, rand: Math.random(), nonce: (++this.nonce).toString(36) });
    if (!r.allowed || r.permit === undefined) {
      return {
        allowed: false,
        error: new CircuitOpenError({ circuit, state: r.state, reason: r.reason ?? "OPEN", retryAfterMs: r.retryAfterMs, local: true }),
      };
    }
    const permit = r.permit;
    return {
      allowed: true,
      circuit,
      reporter: async (outcome, durationMs, retryAfterMs) => {
        // Dropped if the service came back meanwhile (the local breaker is gone).
        if (this.circuits.get(circuit) !== breaker) return;
        try {
          report(breaker, this.config, { now: this.clock.now(), rand: Math.random(), permit, outcome, durationMs, retryAfterMs: retryAfterMs ?? 0 });
        } catch (e) {
          this.onReportError(e, circuit);
        }
      },
    };
  }

  /** Drops every local breaker. */
  clear(): void {
    this.circuits.clear();
  }
}
