/**
 * Local fail fast: what this client knows about circuits that are OPEN, so
 * it can deny without a round trip until the service said it may admit again.
 */
import type { State } from "./vocabulary.js";
import type { Clock } from "./classify.js";
import type { CircuitDenial } from "./errors.js";
import type { WatchTransition } from "./types.js";

interface Entry {
  /** Our clock (epoch ms): until then the circuit denies. */
  until: number;
  state: State;
  reason: CircuitDenial["reason"];
}

/**
 * Circuits known OPEN, each until a time on this client's clock. Learned from
 * service denials that carry a retry_after and from Watch transitions;
 * forgotten when that time comes, when the service admits a call, or when a
 * transition leaves OPEN. Denials without a retry_after (FORCED_OPEN,
 * HALF_OPEN full) are never cached: only the service knows when they end.
 */
export class KnownOpen {
  private readonly circuits = new Map<string, Entry>();

  /** `failFast: false` keeps the bookkeeping but never denies locally. */
  constructor(
    private readonly clock: Clock,
    private readonly failFast: boolean,
  ) {}

  /** The epoch ms until which `circuit` is known OPEN, or undefined (expired entries are dropped). */
  until(circuit: string): number | undefined {
    return this.entry(circuit)?.until;
  }

  /** The local denial for `circuit` (`local: true`, retryAfterMs as of now), or undefined when the service must be asked. */
  denial(circuit: string): CircuitDenial | undefined {
    if (!this.failFast) return undefined;
    const k = this.entry(circuit);
    if (k === undefined) return undefined;
    return { circuit, state: k.state, reason: k.reason, retryAfterMs: k.until - this.clock.now(), local: true };
  }

  /** A denial from the service: remembered for its retry_after, if it has one. */
  denied(d: CircuitDenial): void {
    if (d.retryAfterMs > 0) this.circuits.set(d.circuit, { until: this.clock.now() + d.retryAfterMs, state: d.state, reason: d.reason });
  }

  /** The service admitted a call on `circuit`: whatever was known is stale. */
  admitted(circuit: string): void {
    this.circuits.delete(circuit);
  }

  /** A Watch transition: to OPEN is remembered for the open time left as of the event; any other clears. */
  transition(e: WatchTransition): void {
    if (e.to === "OPEN" && e.openUntil !== undefined) {
      // Service clock → our clock: the remaining open time as of the event.
      const remaining = e.openUntil - e.at;
      if (remaining > 0) this.circuits.set(e.circuit, { until: this.clock.now() + remaining, state: "OPEN", reason: "OPEN" });
    } else if (e.to !== "OPEN") {
      this.circuits.delete(e.circuit);
    }
  }

  private entry(circuit: string): Entry | undefined {
    const k = this.circuits.get(circuit);
    if (k !== undefined && this.clock.now() >= k.until) {
      this.circuits.delete(circuit);
      return undefined;
    }
    return k;
  }
}
