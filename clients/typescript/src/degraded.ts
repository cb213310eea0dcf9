/**
 * Degraded mode: how `run` and `runAny` get admitted when the Breakerbox
 * service itself is unreachable, and the outcomes of service permits whose
 * Report could not be sent, kept until the service answers again.
 */
import type { LocalBreakerConfig, Outcome } from "./vocabulary.js";
import type { Clock } from "./classify.js";
import { BreakerboxRpcError, CircuitOpenError, soonestDenial, type CircuitDenial } from "./errors.js";
import { LocalBreakers } from "./local-breakers.js";
import type { Admission, Reporter } from "./run.js";
import type { AcquireAnyResult, AcquireResult, BreakerboxOptions, ReportOptions } from "./types.js";

/** gRPC codes that mean the service is unreachable: DEADLINE_EXCEEDED, UNAVAILABLE. */
const UNREACHABLE = new Set([4, 14]);
const isUnreachable = (e: unknown): boolean => BreakerboxRpcError.is(e) && UNREACHABLE.has(e.code);

interface PendingReport {
  circuit: string;
  permit: string;
  outcome: Outcome;
  options: ReportOptions;
}

/** What degraded mode needs from the client. */
export interface DegradedModeOptions {
  clock: Clock;
  /** `BreakerboxOptions.whenUnavailable`. */
  policy: NonNullable<BreakerboxOptions["whenUnavailable"]>;
  /** How long to skip the service after it was found unreachable. */
  serviceRetryMs: number;
  /** Config of the local breakers (failOpen). */
  localConfig: LocalBreakerConfig | undefined;
  onReportError: (err: unknown, circuit: string) => void;
  /** Sends one Report to the service; rejects with `BreakerboxRpcError`. */
  report(circuit: string, permit: string, outcome: Outcome, options: ReportOptions): Promise<unknown>;
}

/**
 * The service is "down" for `serviceRetryMs` after an Acquire or Report found
 * it unreachable; meanwhile calls are admitted locally (failOpen: a local
 * breaker per circuit; failClosed: denied with reason SERVICE_UNAVAILABLE)
 * and the service is not asked. Any answer of the service ends degraded mode:
 * the local breakers are dropped and unsent Reports are re-sent (a permit's
 * outcome counts once, so a re-sent Report is safe). With policy "off" none
 * of this happens: unreachable is an error like any other.
 */
export class DegradedMode {
  private downUntil = 0;
  private readonly local: LocalBreakers;
  /** Unsent Reports by permit. */
  private readonly pending = new Map<string, PendingReport>();
  private flushing: Promise<void> | undefined;

  constructor(private readonly options: DegradedModeOptions) {
    this.local = new LocalBreakers(options.clock, options.localConfig);
  }

  /** `Breakerbox.status()`. */
  status(): { degraded: boolean; pendingReports: number } {
    return { degraded: this.isDown(), pendingReports: this.pending.size };
  }

  /**
   * Admission for `run`: locally while degraded, else by `acquire` (the
   * service, or a local fail-fast denial); an unreachable service starts
   * degraded mode and admits locally. Other errors of `acquire` are thrown.
   */
  async admit(circuit: string, acquire: () => Promise<AcquireResult>): Promise<Admission> {
    if (this.options.policy !== "off" && this.isDown()) return this.admitLocally(circuit);
    let a: AcquireResult;
    try {
      a = await acquire();
    } catch (e) {
      if (this.options.policy === "off" || !isUnreachable(e)) throw e;
      this.markDown(e);
      return this.admitLocally(circuit);
    }
    if (a.allowed || !a.local) this.markUp();
    if (!a.allowed) return { allowed: false, error: new CircuitOpenError(a) };
    return { allowed: true, circuit, reporter: this.serviceReporter(circuit, a.permit) };
  }

  /**
   * Admission for `runAny`, like `admit` over ordered candidates: a denial
   * carries the one with the soonest retry and all of them in `denials`.
   */
  async admitAny(circuits: readonly string[], acquireAny: () => Promise<AcquireAnyResult>): Promise<Admission> {
    if (this.options.policy !== "off" && this.isDown()) return this.admitAnyLocally(circuits);
    let a: AcquireAnyResult;
    try {
      a = await acquireAny();
    } catch (e) {
      if (this.options.policy === "off" || !isUnreachable(e)) throw e;
      this.markDown(e);
      return this.admitAnyLocally(circuits);
    }
    if (!a.allowed) {
      if (a.denials.some((d) => !d.local)) this.markUp();
      return { allowed: false, error: new CircuitOpenError(soonestDenial(a.denials), a.denials) };
    }
    this.markUp();
    return { allowed: true, circuit: a.circuit, reporter: this.serviceReporter(a.circuit, a.permit) };
  }

  /** `Breakerbox.flushPending()`: re-sends unsent Reports unless the service is known down; resolves when done. */
  async flushPending(): Promise<void> {
    if (!this.isDown()) this.startFlush();
    await this.flushing;
  }

  private isDown(): boolean {
    return this.options.clock.now() < this.downUntil;
  }

  /** Down for serviceRetryMs, or longer when the server's RetryInfo asks (STORE_UNAVAILABLE, SHUTTING_DOWN). */
  private markDown(e: unknown): void {
    const asked = BreakerboxRpcError.is(e) ? (e.retryDelayMs ?? 0) : 0;
    this.downUntil = this.options.clock.now() + Math.max(this.options.serviceRetryMs, asked);
  }

  /** The service answered: leave degraded mode and re-send unsent Reports. */
  private markUp(): void {
    this.downUntil = 0;
    this.local.clear();
    this.startFlush();
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

  /** The reporter of a service permit: an unreachable service keeps the outcome for re-sending. */
  private serviceReporter(circuit: string, permit: string): Reporter {
    return async (outcome, durationMs, retryAfterMs) => {
      const options: ReportOptions = { durationMs, ...(retryAfterMs !== undefined && { retryAfterMs }) };
      try {
        await this.options.report(circuit, permit, outcome, options);
        this.markUp();
      } catch (e) {
        if (isUnreachable(e) && this.options.policy !== "off") {
          this.pending.set(permit, { circuit, permit, outcome, options });
          this.markDown(e);
        } else this.options.onReportError(e, circuit);
      }
    };
  }

  private startFlush(): void {
    if (this.pending.size > 0) this.flushing ??= this.flush().finally(() => (this.flushing = undefined));
  }

  /** Re-sends unsent Reports in order; stops at the first that finds the service unreachable again. */
  private async flush(): Promise<void> {
    for (const [permit, p] of [...this.pending]) {
      try {
        await this.options.report(p.circuit, p.permit, p.outcome, p.options);
        this.pending.delete(permit);
      } catch (e) {
        if (isUnreachable(e)) {
          this.markDown(e);
          return;
        }
        this.pending.delete(permit); // refused (e.g. expired permit): it cannot count anymore
        this.options.onReportError(e, p.circuit);
      }
    }
  }
}
