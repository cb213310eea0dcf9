/**
 * How `run`, `runAny` and `runStream` get admitted around the Breakerbox
 * service itself: the "service down" memo (an unreachable service is not
 * asked again for `serviceRetryMs`, so an outage costs one RPC timeout, not
 * one per call), the `whenUnavailable` policy meanwhile (failOpen: a local
 * breaker per circuit; failClosed: deny with reason SERVICE_UNAVAILABLE), and
 * the Acquires in flight when the service is found down, which end at once
 * with that finding instead of each waiting out its own deadline.
 *
 * Errors are told apart by gRPC code and ErrorInfo reason, never by message
 * text: UNAVAILABLE and DEADLINE_EXCEEDED mean unreachable (RetryInfo, when
 * the server sent one, lengthens the memo); RESOURCE_EXHAUSTED with reason
 * CIRCUIT_CAP_REACHED applies the policy to that call only (the service is up).
 */
import type { LocalBreakerConfig } from "./vocabulary.js";
import type { Clock } from "./classify.js";
import { BreakerboxRpcError, CircuitOpenError, soonestDenial, type CircuitDenial } from "./errors.js";
import { LocalBreakers } from "./local-breakers.js";
import type { Admission, Reporter } from "./run.js";
import type { AcquireAnyResult, AcquireResult, BreakerboxOptions } from "./types.js";

/** gRPC codes that mean the service is unreachable: DEADLINE_EXCEEDED, UNAVAILABLE. */
const UNREACHABLE = new Set([4, 14]);

/** The service (or its store) cannot answer now: network, deadline, store down, replica shutting down. */
export const isUnreachable = (e: unknown): e is BreakerboxRpcError => BreakerboxRpcError.is(e) && UNREACHABLE.has(e.code);

/** The store holds its maximum of circuits: this call cannot be admitted by the service, the service is up. */
const isCircuitCap = (e: unknown): boolean => BreakerboxRpcError.is(e) && e.reason === "CIRCUIT_CAP_REACHED";

/** The reason an in-flight Acquire is aborted with when another call found the service down. */
const SERVICE_DOWN = Symbol("breakerbox.serviceDown");

/** What the gate needs from the client. */
export interface ServiceGateOptions {
  clock: Clock;
  /** `BreakerboxOptions.whenUnavailable`. */
  policy: NonNullable<BreakerboxOptions["whenUnavailable"]>;
  /** How long to skip the service after it was found unreachable. */
  serviceRetryMs: number;
  /** Config of the local breakers (failOpen). */
  localConfig: LocalBreakerConfig | undefined;
  /** The reporter of a permit the service gave: queues its outcome. */
  serviceReporter(circuit: string, permit: string): Reporter;
  /** The service answered again after being down. */
  onUp(): void;
}

export class ServiceGate {
  private downUntil = 0;
  private readonly local: LocalBreakers;
  /** Acquires in flight: ended at once when the service is found down. */
  private readonly inFlight = new Set<AbortController>();

  constructor(private readonly options: ServiceGateOptions) {
    this.local = new LocalBreakers(options.clock, options.localConfig);
  }

  isDown(): boolean {
    return this.options.clock.now() < this.downUntil;
  }

  /**
   * Admission for `run`: locally while the service is known down, else by
   * `acquire` (the service, or a local fail-fast denial); an unreachable
   * service starts the memo and admits by the policy. Other errors of
   * `acquire` are thrown. `acquire` gets a signal that aborts when another
   * call finds the service down first.
   */
  async admit(circuit: string, acquire: (signal: AbortSignal) => Promise<AcquireResult>): Promise<Admission> {
    if (this.options.policy !== "off" && this.isDown()) return this.admitLocally(circuit);
    let a: AcquireResult;
    try {
      a = await this.shared(acquire);
    } catch (e) {
      if (!this.degrades(e)) throw e;
      return this.admitLocally(circuit);
    }
    if (a.allowed || !a.local) this.markUp();
    if (!a.allowed) return { allowed: false, error: new CircuitOpenError(a) };
    return { allowed: true, circuit, reporter: this.options.serviceReporter(circuit, a.permit) };
  }

  /**
   * Admission for `runAny`, like `admit` over ordered candidates: a denial
   * carries the one with the soonest retry and all of them in `denials`.
   */
  async admitAny(circuits: readonly string[], acquireAny: (signal: AbortSignal) => Promise<AcquireAnyResult>): Promise<Admission> {
    if (this.options.policy !== "off" && this.isDown()) return this.admitAnyLocally(circuits);
    let a: AcquireAnyResult;
    try {
      a = await this.shared(acquireAny);
    } catch (e) {
      if (!this.degrades(e)) throw e;
      return this.admitAnyLocally(circuits);
    }
    if (!a.allowed) {
      if (a.denials.some((d) => !d.local)) this.markUp();
      return { allowed: false, error: new CircuitOpenError(soonestDenial(a.denials), a.denials) };
    }
    this.markUp();
    return { allowed: true, circuit: a.circuit, reporter: this.options.serviceReporter(a.circuit, a.permit) };
  }

  /** Down for serviceRetryMs, or longer when the server's RetryInfo asks (STORE_UNAVAILABLE, SHUTTING_DOWN). */
  markDown(e: unknown): void {
    if (this.options.policy === "off") return;
    const asked = BreakerboxRpcError.is(e) ? (e.retryDelayMs ?? 0) : 0;
    this.downUntil = this.options.clock.now() + Math.max(this.options.serviceRetryMs, asked);
    // The Acquires still waiting on the same dead service would each wait out
    // their deadline: they share this finding instead.
    for (const c of this.inFlight) c.abort(SERVICE_DOWN);
  }

  /** The service answered: leave the memo; after an outage drop the local breakers (the service is the truth). */
  markUp(): void {
    const wasDown = this.downUntil > 0;
    this.downUntil = 0;
    if (wasDown) {
      this.local.clear();
      this.options.onUp();
    }
  }

  /** Runs one Acquire as a participant of the in-flight set. */
  private async shared<R>(call: (signal: AbortSignal) => Promise<R>): Promise<R> {
    const controller = new AbortController();
    this.inFlight.add(controller);
    try {
      return await call(controller.signal);
    } catch (e) {
      if (controller.signal.reason === SERVICE_DOWN) throw SERVICE_DOWN;
      throw e;
    } finally {
      this.inFlight.delete(controller);
    }
  }

  /** Whether an Acquire error is answered by the policy (and, when unreachable, starts the memo). */
  private degrades(e: unknown): boolean {
    if (this.options.policy === "off") return false;
    if (e === SERVICE_DOWN) return true;
    if (isUnreachable(e)) {
      this.markDown(e);
      return true;
    }
    return isCircuitCap(e);
  }

  private admitLocally(circuit: string): Admission {
    if (this.options.policy === "failClosed") {
      const retryAfterMs = Math.max(0, this.downUntil - this.options.clock.now());
      return { allowed: false, error: new CircuitOpenError({ circuit, state: "OPEN", reason: "SERVICE_UNAVAILABLE", retryAfterMs, local: true }) };
    }
    return this.local.admit(circuit);
  }

  private admitAnyLocally(circuits: readonly string[]): Admission {
    const denials: CircuitDenial[] = [];
    for (const c of circuits) {
      const a = this.admitLocally(c);
      if (a.allowed) return a;
      denials.push(a.error.denials[0]!);
    }
    return { allowed: false, error: new CircuitOpenError(soonestDenial(denials), denials) };
  }
}
