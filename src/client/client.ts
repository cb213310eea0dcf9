/**
 * The Breakerbox agent SDK: `createBreakerbox({ address })` and `run(circuit, fn)`.
 *
 * Contract of the Acquire/Report dance as the SDK plays it:
 * - every allowed call is reported exactly once (one Report per permit), with
 *   its measured duration;
 * - a denied call never runs `fn`;
 * - while a circuit is known OPEN (a denial with retry_after > 0, or a Watch
 *   event this client received) the SDK denies locally, without a round trip,
 *   until the time the service said it may admit again; then it asks again.
 */
import { durationFromMs, durationMs, timestampMs } from "@bufbuild/protobuf/wkt";
import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import {
  DenyReason as PbDenyReason,
  Outcome as PbOutcome,
  State as PbState,
  type CircuitEvent as PbCircuitEvent,
  type CircuitStatus as PbCircuitStatus,
  type WatchResponse,
} from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { acquire as engineAcquire, newCircuit, report as engineReport } from "../engine/circuit.js";
import { applyPatch, BUILTIN_DEFAULTS } from "../engine/config.js";
import type { Circuit as EngineCircuit, CircuitConfig, ConfigPatch, DenyReason, Outcome, State } from "../engine/types.js";
import { isAbortError, retryAfterHintOf, type Clock } from "./classify.js";
import { BreakerboxRpcError, CallTimeoutError, CircuitOpenError, type CircuitDenial } from "./errors.js";
import { createGrpcTransport, type ClientTlsOptions, type Transport } from "./grpc-transport.js";
import type * as grpc from "@grpc/grpc-js";

export type { DenyReason, Outcome, State, ClientTlsOptions };

/** Options of `createBreakerbox`. */
export interface BreakerboxOptions {
  /** host:port of a Breakerbox gRPC listener (default port 50051). */
  address: string;
  /** Only "grpc" (the default) for now: @grpc/grpc-js with the generated protobuf-es schemas. */
  transport?: "grpc";
  /**
   * The API key, when the service has access control on: sent as
   * `authorization: Bearer <apiKey>` with every RPC, Watch included. An
   * `agent` key may Acquire, Report and read; Reset, ForceState and
   * Configure need an `admin` key. A missing or unknown key fails calls with
   * `BreakerboxRpcError` UNAUTHENTICATED, a key of the wrong role with
   * PERMISSION_DENIED (neither starts degraded mode: the service is up).
   */
  apiKey?: string;
  /**
   * TLS to the service: `true` trusts the system CAs, `{ rootCert }` trusts
   * that CA (PEM); `clientCert`/`clientKey` for servers that require client
   * certificates. Default: plaintext. Not together with `credentials`.
   */
  tls?: boolean | ClientTlsOptions;
  /** gRPC channel credentials, for what `tls` does not cover; plaintext by default. */
  credentials?: grpc.ChannelCredentials;
  /** Metadata sent with every RPC. Use `apiKey` rather than an `authorization` entry. */
  metadata?: Record<string, string>;
  /** Timeout applied by `run` when the call gives none; undefined or 0 = no timeout. */
  defaultTimeoutMs?: number;
  /** Deadline of each Acquire/Report RPC in ms (default 5000). */
  rpcTimeoutMs?: number;
  /**
   * The SDK's clock (epoch ms): measures call durations, parses HTTP-date
   * Retry-After values, and times local fail-fast denials. Default `Date`.
   */
  clock?: Clock;
  /**
   * Called when `run` could not Report an outcome (the service failed or was
   * unreachable). `run` itself never fails because of a Report: it returns
   * or rethrows what `fn` did. Default: ignore.
   */
  onReportError?: (err: unknown, circuit: string) => void;
  /** Set false to turn off local fail-fast (every Acquire goes to the service). Default true. */
  failFast?: boolean;
  /** Watch reconnect backoff: first delay (default 100 ms) and cap (default 5000 ms). */
  watchBackoff?: { initialMs?: number; maxMs?: number };
  /**
   * Degraded mode: what `run`/`runAny` do when the Breakerbox service itself
   * is unreachable (an Acquire fails with UNAVAILABLE or DEADLINE_EXCEEDED).
   * - "failOpen" (default): a local breaker per circuit, the same engine as
   *   the service (src/engine) with `localConfig`, guards the dependency
   *   meanwhile; its outcomes stay local (they are not sent to the service).
   * - "failClosed": every call is denied (fallback or `CircuitOpenError` with
   *   reason "SERVICE_UNAVAILABLE", `local: true`).
   * - "off": the Acquire error is thrown (`BreakerboxRpcError`).
   * While degraded the SDK does not call the service; after
   * `serviceRetryMs` the next call asks it again, and the first answer ends
   * degraded mode (local breakers are dropped: the service is the truth).
   */
  whenUnavailable?: "failOpen" | "failClosed" | "off";
  /** Config of the local breakers of degraded mode, over the built-in defaults. */
  localConfig?: ConfigPatch;
  /** How long degraded mode skips the service before asking again (default 1000 ms). */
  serviceRetryMs?: number;
  /** Extra grpc-js channel options (e.g. reconnect backoff). */
  channelOptions?: grpc.ChannelOptions;
}

/** The result of `acquire`. */
export type AcquireResult =
  | {
      allowed: true;
      circuit: string;
      /** Opaque token for `report`. */
      permit: string;
      state: State;
      /** Shadow mode: enforce mode would have denied this call. */
      shadowDenied: boolean;
    }
  | ({ allowed: false } & CircuitDenial);

/** The result of `acquireAny`: the admitting candidate, or every denial. */
export type AcquireAnyResult =
  | { allowed: true; circuit: string; permit: string; state: State; denials: CircuitDenial[] }
  | { allowed: false; denials: CircuitDenial[]; retryAfterMs: number };

/** Options of `report`. */
export interface ReportOptions {
  /** How long the call took, in ms (for slow-call detection). */
  durationMs?: number;
  /** The dependency's own Retry-After hint, in ms: if this report opens the circuit, it stays OPEN at least this long. */
  retryAfterMs?: number;
}

/** The result of `report`. */
export interface ReportResult {
  /** The circuit's state after the report. */
  state: State;
  /** This permit's outcome had already been counted; nothing changed. */
  duplicate: boolean;
  /** The permit came from an older generation: counted, drove no transition. */
  stale: boolean;
}

/** Options of `run`, `runAny` and `wrap`. */
export interface RunOptions<T> {
  /**
   * Abort the call after this many ms: its signal is aborted, TIMEOUT is
   * reported, and `CallTimeoutError` is thrown. Default: the client's
   * `defaultTimeoutMs`; 0 = no timeout.
   */
  timeoutMs?: number;
  /**
   * Called instead of throwing when the circuit denies (with the
   * `CircuitOpenError`); its result is `run`'s result. Not called when `fn`
   * itself fails.
   */
  fallback?: (err: CircuitOpenError) => T | Promise<T>;
  /**
   * Decides whether a thrown error counts against the dependency. `false`
   * reports IGNORED (the permit is freed and the call counts nowhere: the
   * caller's own bad request, a 404 it expected). Not consulted for timeouts
   * (always TIMEOUT) or aborts (always IGNORED). Default: every error is a
   * FAILURE.
   */
  isFailure?: (err: unknown) => boolean;
  /**
   * The caller's signal: aborting it aborts the call's signal, reports
   * IGNORED, and rejects with the signal's reason. Already aborted: no
   * Acquire is made.
   */
  signal?: AbortSignal;
}

/** A watched circuit's snapshot (sent first, once per matching circuit). */
export interface WatchSnapshot {
  type: "snapshot";
  circuit: string;
  state: State;
  generation: number;
  /** When it entered its state (service clock, epoch ms). */
  since?: number;
  /** While OPEN: when it will let probes through (service clock, epoch ms). */
  openUntil?: number;
  raw: PbCircuitStatus;
}

/** A transition of a watched circuit. */
export interface WatchTransition {
  type: "transition";
  circuit: string;
  from: State;
  to: State;
  /** When it happened (service clock, epoch ms). */
  at: number;
  reason: string;
  eventId: string;
  generation: number;
  /** While OPEN: when it will let probes through (service clock, epoch ms). */
  openUntil?: number;
  actor: string;
  raw: PbCircuitEvent;
}

/** The end of the initial snapshot. */
export interface WatchSnapshotComplete {
  type: "snapshot_complete";
  resumeToken: string;
}

/** What `watch()` yields. Heartbeats are consumed by the SDK. */
export type WatchUpdate = WatchSnapshot | WatchTransition | WatchSnapshotComplete;

/** Options of `watch`. */
export interface WatchOptions {
  /** Circuit names to watch. Empty with no prefix: every circuit. */
  circuits?: string[];
  /** Watch every circuit whose name starts with this. */
  prefix?: string;
  /** Resume after this event_id / snapshot_complete token (no snapshot is sent then). */
  resumeToken?: string;
  /** Ends the iteration when aborted. */
  signal?: AbortSignal;
}

/** The Breakerbox client. */
export interface Breakerbox {
  /**
   * Runs `fn` under the circuit: Acquire (or a local fail-fast denial); if
   * denied, `fallback(err)` or throw `CircuitOpenError` without calling `fn`;
   * else call `fn(signal)` under the timeout, measure its duration, classify
   * and Report, then return its result or rethrow its error.
   *
   * Classification: resolved → SUCCESS; timed out → TIMEOUT (throws
   * `CallTimeoutError`); the caller's `signal` aborted, or an error named
   * "AbortError" → IGNORED; `isFailure(err) === false` → IGNORED; any other
   * error → FAILURE, with the error's Retry-After hint (HTTP 429/503
   * Retry-After header, or `err.retryAfterMs`) passed as the report's
   * retry_after. A failed Report never changes what `run` returns or throws
   * (see `onReportError`; a Report that failed because the service is
   * unreachable is kept and re-sent when it answers again). When the service
   * is unreachable, `whenUnavailable` decides (default failOpen: a local
   * breaker guards the call); other errors of the Acquire RPC are thrown as
   * `BreakerboxRpcError`.
   */
  run<T>(circuit: string, fn: (signal: AbortSignal) => Promise<T>, options?: RunOptions<T>): Promise<T>;
  /**
   * Like `run` over ordered failover candidates (AcquireAny): `fn` is called
   * with the first circuit that admits, and the outcome is reported to that
   * circuit. Candidates known OPEN locally are skipped without a round trip.
   * When none admits, the `CircuitOpenError` carries the denial with the
   * soonest retry (and all of them in `denials`).
   */
  runAny<T>(circuits: readonly string[], fn: (circuit: string, signal: AbortSignal) => Promise<T>, options?: RunOptions<T>): Promise<T>;
  /** Decorator: returns `(...args) => run(circuit, (signal) => fn(signal, ...args), options)`. */
  wrap<A extends unknown[], T>(
    circuit: string,
    fn: (signal: AbortSignal, ...args: A) => Promise<T>,
    options?: RunOptions<T>,
  ): (...args: A) => Promise<T>;
  /**
   * Manual flow: asks whether a call may go ahead (locally denied while known
   * OPEN). Denial is a value, not an error. Degraded mode does not apply: an
   * unreachable service throws `BreakerboxRpcError`.
   */
  acquire(circuit: string, options?: { signal?: AbortSignal }): Promise<AcquireResult>;
  /** Manual flow: AcquireAny over ordered candidates (locally known-OPEN ones are skipped). */
  acquireAny(circuits: readonly string[], options?: { signal?: AbortSignal }): Promise<AcquireAnyResult>;
  /**
   * Manual flow: reports the outcome of a call made under `permit`. Safe to
   * retry (a repeated Report answers duplicate=true). Throws
   * `BreakerboxRpcError` (FAILED_PRECONDITION for an unknown/expired/foreign permit).
   */
  report(circuit: string, permit: string, outcome: Outcome, options?: ReportOptions): Promise<ReportResult>;
  /**
   * Streams snapshots and transitions of the matching circuits. On a
   * transient error (UNAVAILABLE, RESOURCE_EXHAUSTED, INTERNAL, UNKNOWN,
   * DEADLINE_EXCEEDED, or the stream ending) it reconnects with the last
   * event_id after a bounded exponential backoff, so no transition is missed;
   * if the service no longer retains those events (OUT_OF_RANGE) it starts
   * over with a fresh snapshot. Other errors end the iteration by throwing.
   * Breaking out of the loop, aborting `signal` or `close()` ends it.
   * Transitions seen here also feed local fail-fast.
   */
  watch(options?: WatchOptions): AsyncIterableIterator<WatchUpdate>;
  /**
   * When this client will next ask the service about `circuit`: the epoch ms
   * until which it denies locally, or undefined when it would ask now.
   */
  knownOpenUntil(circuit: string): number | undefined;
  /**
   * Degraded-mode status: `degraded` while the SDK is not asking the service
   * (it was unreachable less than `serviceRetryMs` ago); `pendingReports` is
   * how many outcomes of service permits wait to be re-sent (a Report that
   * failed as UNAVAILABLE is retried, safely, when the service answers again).
   */
  status(): { degraded: boolean; pendingReports: number };
  /** Re-sends pending reports now if the service is not known down; resolves when done. */
  flushPending(): Promise<void>;
  /** Ends every watch and closes the channel. */
  close(): void;
}

const STATES: Record<number, State> = {
  [PbState.CLOSED]: "CLOSED",
  [PbState.OPEN]: "OPEN",
  [PbState.HALF_OPEN]: "HALF_OPEN",
  [PbState.FORCED_OPEN]: "FORCED_OPEN",
  [PbState.DISABLED]: "DISABLED",
};
const REASONS: Record<number, DenyReason> = {
  [PbDenyReason.OPEN]: "OPEN",
  [PbDenyReason.FORCED_OPEN]: "FORCED_OPEN",
  [PbDenyReason.HALF_OPEN_FULL]: "HALF_OPEN_FULL",
};
const OUTCOMES: Record<Outcome, PbOutcome> = {
  SUCCESS: PbOutcome.SUCCESS,
  FAILURE: PbOutcome.FAILURE,
  TIMEOUT: PbOutcome.TIMEOUT,
  IGNORED: PbOutcome.IGNORED,
};

const stateOf = (s: PbState): State => STATES[s] ?? "CLOSED";
const reasonOf = (r: PbDenyReason, state: State): DenyReason =>
  REASONS[r] ?? (state === "FORCED_OPEN" ? "FORCED_OPEN" : state === "HALF_OPEN" ? "HALF_OPEN_FULL" : "OPEN");
const msOf = (d: Duration | undefined): number => (d === undefined ? 0 : durationMs(d));
const tsOf = (t: Timestamp | undefined): number | undefined => (t === undefined ? undefined : timestampMs(t));

/** gRPC codes after which watch() reconnects. */
const TRANSIENT = new Set([1 /* CANCELLED (not by us) */, 2, 4, 8, 13, 14]);
const OUT_OF_RANGE = 11;
/** gRPC codes that mean the service is unreachable (degraded mode). */
const UNREACHABLE = new Set([4 /* DEADLINE_EXCEEDED */, 14 /* UNAVAILABLE */]);
const isUnreachable = (e: unknown): boolean => BreakerboxRpcError.is(e) && UNREACHABLE.has(e.code);

/** Reports an outcome for one admitted call (to the service, or to a local breaker). */
type Reporter = (outcome: Outcome, durationMs: number, retryAfterMs: number | undefined) => Promise<void>;

/** How a call was admitted. */
type Admission = { allowed: true; circuit: string; reporter: Reporter } | { allowed: false; error: CircuitOpenError };

interface PendingReport {
  circuit: string;
  permit: string;
  outcome: Outcome;
  options: ReportOptions;
}

interface KnownOpen {
  until: number;
  state: State;
  reason: CircuitDenial["reason"];
}

class Client implements Breakerbox {
  private readonly transport: Transport;
  private readonly clock: Clock;
  private readonly known = new Map<string, KnownOpen>();
  private readonly closing = new AbortController();
  private serviceDownUntil = 0;
  private readonly localCircuits = new Map<string, EngineCircuit>();
  private readonly localConfig: CircuitConfig;
  private localNonce = 0;
  private readonly pending = new Map<string, PendingReport>();
  private flushing: Promise<void> | undefined;

  constructor(private readonly options: BreakerboxOptions) {
    if (options.transport !== undefined && options.transport !== "grpc") throw new Error(`unsupported transport ${String(options.transport)}`);
    this.transport = createGrpcTransport({
      address: options.address,
      ...(options.credentials !== undefined && { credentials: options.credentials }),
      ...(options.tls !== undefined && { tls: options.tls }),
      ...(options.apiKey !== undefined && { apiKey: options.apiKey }),
      ...(options.metadata !== undefined && { metadata: options.metadata }),
      ...(options.rpcTimeoutMs !== undefined && { rpcTimeoutMs: options.rpcTimeoutMs }),
      ...(options.channelOptions !== undefined && { channelOptions: options.channelOptions }),
    });
    this.clock = options.clock ?? Date;
    this.localConfig = applyPatch(BUILTIN_DEFAULTS, options.localConfig);
  }

  status(): { degraded: boolean; pendingReports: number } {
    return { degraded: this.degraded(), pendingReports: this.pending.size };
  }

  private degraded(): boolean {
    return this.clock.now() < this.serviceDownUntil;
  }

  private markDown(): void {
    this.serviceDownUntil = this.clock.now() + (this.options.serviceRetryMs ?? 1000);
  }

  /** The service answered: leave degraded mode and re-send pending reports. */
  private markUp(): void {
    this.serviceDownUntil = 0;
    this.localCircuits.clear();
    if (this.pending.size > 0) this.flushing ??= this.flush().finally(() => (this.flushing = undefined));
  }

  /** Re-sends pending reports; each permit is sent until the service answers (retries are safe: duplicate=true). */
  private async flush(): Promise<void> {
    for (const [permit, p] of [...this.pending]) {
      try {
        await this.report(p.circuit, p.permit, p.outcome, p.options);
        this.pending.delete(permit);
      } catch (e) {
        if (isUnreachable(e)) {
          this.markDown();
          return;
        }
        this.pending.delete(permit); // refused (e.g. expired permit): cannot count anymore
        this.options.onReportError?.(e, p.circuit);
      }
    }
  }

  /** Resolves once pending reports have been re-sent (or the service is unreachable again). */
  async flushPending(): Promise<void> {
    if (this.pending.size > 0 && this.flushing === undefined && !this.degraded()) this.flushing = this.flush().finally(() => (this.flushing = undefined));
    await this.flushing;
  }

  private serviceReporter(circuit: string, permit: string): Reporter {
    return async (outcome, durationMs, retryAfterMs) => {
      const options: ReportOptions = { durationMs, ...(retryAfterMs !== undefined && { retryAfterMs }) };
      try {
        await this.report(circuit, permit, outcome, options);
        this.markUp();
      } catch (e) {
        if (isUnreachable(e) && this.policy() !== "off") {
          this.pending.set(permit, { circuit, permit, outcome, options });
          this.markDown();
        } else this.options.onReportError?.(e, circuit);
      }
    };
  }

  private policy(): "failOpen" | "failClosed" | "off" {
    return this.options.whenUnavailable ?? "failOpen";
  }

  /** Admission while the service is unreachable. */
  private admitLocally(circuit: string): Admission {
    if (this.policy() === "failClosed") {
      const d: CircuitDenial = { circuit, state: "OPEN", reason: "SERVICE_UNAVAILABLE", retryAfterMs: Math.max(0, this.serviceDownUntil - this.clock.now()), local: true };
      return { allowed: false, error: new CircuitOpenError(d) };
    }
    const now = this.clock.now();
    let c = this.localCircuits.get(circuit);
    if (c === undefined) this.localCircuits.set(circuit, (c = newCircuit(circuit, now)));
    const circ = c;
    const r = engineAcquire(circ, this.localConfig, { now, rand: Math.random(), nonce: (++this.localNonce).toString(36) });
    if (!r.allowed || r.permit === undefined) {
      const d: CircuitDenial = { circuit, state: r.state, reason: r.reason ?? "OPEN", retryAfterMs: r.retryAfterMs, local: true };
      return { allowed: false, error: new CircuitOpenError(d) };
    }
    const permit = r.permit;
    return {
      allowed: true,
      circuit,
      reporter: async (outcome, durationMs, retryAfterMs) => {
        // Dropped if the service came back meanwhile (the local breaker is gone).
        if (this.localCircuits.get(circuit) !== circ) return;
        try {
          engineReport(circ, this.localConfig, { now: this.clock.now(), rand: Math.random(), permit, outcome, durationMs, retryAfterMs: retryAfterMs ?? 0 });
        } catch (e) {
          this.options.onReportError?.(e, circuit);
        }
      },
    };
  }

  /** Acquire for run(): the service, or degraded mode when it is unreachable. */
  private async admit(circuit: string, signal: AbortSignal | undefined): Promise<Admission> {
    if (this.policy() !== "off" && this.degraded()) return this.admitLocally(circuit);
    let a: AcquireResult;
    try {
      a = await this.acquire(circuit, signal === undefined ? {} : { signal });
    } catch (e) {
      if (this.policy() === "off" || !isUnreachable(e)) throw e;
      this.markDown();
      return this.admitLocally(circuit);
    }
    if (a.allowed || !a.local) this.markUp();
    if (!a.allowed) return { allowed: false, error: new CircuitOpenError(a) };
    return { allowed: true, circuit, reporter: this.serviceReporter(circuit, a.permit) };
  }

  knownOpenUntil(circuit: string): number | undefined {
    const k = this.known.get(circuit);
    if (k === undefined) return undefined;
    if (this.clock.now() >= k.until) {
      this.known.delete(circuit);
      return undefined;
    }
    return k.until;
  }

  private localDenial(circuit: string): CircuitDenial | undefined {
    if (this.options.failFast === false) return undefined;
    const until = this.knownOpenUntil(circuit);
    if (until === undefined) return undefined;
    const k = this.known.get(circuit)!;
    return { circuit, state: k.state, reason: k.reason, retryAfterMs: until - this.clock.now(), local: true };
  }

  private remember(d: CircuitDenial): void {
    if (d.retryAfterMs > 0) this.known.set(d.circuit, { until: this.clock.now() + d.retryAfterMs, state: d.state, reason: d.reason });
  }

  async acquire(circuit: string, options: { signal?: AbortSignal } = {}): Promise<AcquireResult> {
    const local = this.localDenial(circuit);
    if (local !== undefined) return { allowed: false, ...local };
    const r = await this.transport.unary("acquire", { circuit }, options.signal);
    const state = stateOf(r.state);
    if (r.allowed) {
      this.known.delete(circuit);
      return { allowed: true, circuit, permit: r.permit, state, shadowDenied: r.shadowDenied };
    }
    const denial: CircuitDenial = { circuit, state, reason: reasonOf(r.reason, state), retryAfterMs: msOf(r.retryAfter), local: false };
    this.remember(denial);
    return { allowed: false, ...denial };
  }

  async acquireAny(circuits: readonly string[], options: { signal?: AbortSignal } = {}): Promise<AcquireAnyResult> {
    const localDenials: CircuitDenial[] = [];
    const ask: string[] = [];
    for (const c of circuits) {
      const d = this.localDenial(c);
      if (d !== undefined) localDenials.push(d);
      else ask.push(c);
    }
    if (ask.length === 0) {
      return { allowed: false, denials: localDenials, retryAfterMs: soonest(localDenials) };
    }
    const r = await this.transport.unary("acquireAny", { circuits: ask }, options.signal);
    const remote = r.denials.map((d): CircuitDenial => {
      const state = stateOf(d.state);
      return { circuit: d.circuit, state, reason: reasonOf(d.reason, state), retryAfterMs: msOf(d.retryAfter), local: false };
    });
    for (const d of remote) this.remember(d);
    const denials = circuits.flatMap((c) => [...localDenials, ...remote].filter((d) => d.circuit === c));
    if (r.allowed) {
      this.known.delete(r.circuit);
      return { allowed: true, circuit: r.circuit, permit: r.permit, state: stateOf(r.state), denials };
    }
    return { allowed: false, denials, retryAfterMs: soonest(denials) };
  }

  async report(circuit: string, permit: string, outcome: Outcome, options: ReportOptions = {}): Promise<ReportResult> {
    const r = await this.transport.unary("report", {
      circuit,
      permit,
      outcome: OUTCOMES[outcome],
      ...(options.durationMs !== undefined && options.durationMs > 0 && { duration: durationFromMs(Math.round(options.durationMs)) }),
      ...(options.retryAfterMs !== undefined && options.retryAfterMs > 0 && { retryAfter: durationFromMs(Math.ceil(options.retryAfterMs)) }),
    });
    return { state: stateOf(r.state), duplicate: r.duplicate, stale: r.stale };
  }

  async run<T>(circuit: string, fn: (signal: AbortSignal) => Promise<T>, options: RunOptions<T> = {}): Promise<T> {
    options.signal?.throwIfAborted();
    const a = await this.admit(circuit, options.signal);
    if (!a.allowed) return this.denied(a.error, options);
    return this.guarded(circuit, a.reporter, fn, options);
  }

  async runAny<T>(circuits: readonly string[], fn: (circuit: string, signal: AbortSignal) => Promise<T>, options: RunOptions<T> = {}): Promise<T> {
    options.signal?.throwIfAborted();
    let a: AcquireAnyResult;
    if (this.policy() !== "off" && this.degraded()) return this.runAnyLocally(circuits, fn, options);
    try {
      a = await this.acquireAny(circuits, options.signal === undefined ? {} : { signal: options.signal });
    } catch (e) {
      if (this.policy() === "off" || !isUnreachable(e)) throw e;
      this.markDown();
      return this.runAnyLocally(circuits, fn, options);
    }
    if (!a.allowed) {
      if (a.denials.some((d) => !d.local)) this.markUp();
      const first = pickSoonest(a.denials);
      return this.denied(new CircuitOpenError(first, a.denials), options);
    }
    this.markUp();
    const chosen = a.circuit;
    return this.guarded(chosen, this.serviceReporter(chosen, a.permit), (signal) => fn(chosen, signal), options);
  }

  private async runAnyLocally<T>(circuits: readonly string[], fn: (circuit: string, signal: AbortSignal) => Promise<T>, options: RunOptions<T>): Promise<T> {
    const errors: CircuitOpenError[] = [];
    for (const c of circuits) {
      const a = this.admitLocally(c);
      if (a.allowed) return this.guarded(c, a.reporter, (signal) => fn(c, signal), options);
      errors.push(a.error);
    }
    const denials = errors.map((e) => e.denials[0]!);
    return this.denied(new CircuitOpenError(pickSoonest(denials), denials), options);
  }

  wrap<A extends unknown[], T>(circuit: string, fn: (signal: AbortSignal, ...args: A) => Promise<T>, options?: RunOptions<T>): (...args: A) => Promise<T> {
    return (...args: A) => this.run(circuit, (signal) => fn(signal, ...args), options);
  }

  private async denied<T>(err: CircuitOpenError, options: RunOptions<T>): Promise<T> {
    if (options.fallback !== undefined) return options.fallback(err);
    throw err;
  }

  /** Runs fn under an allowed permit and reports exactly once. */
  private async guarded<T>(circuit: string, reporter: Reporter, fn: (signal: AbortSignal) => Promise<T>, options: RunOptions<T>): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.options.defaultTimeoutMs ?? 0;
    const controller = new AbortController();
    const started = this.clock.now();
    let timer: NodeJS.Timeout | undefined;
    let onCallerAbort: (() => void) | undefined;
    type Settled = { kind: "ok"; value: T } | { kind: "error"; err: unknown } | { kind: "timeout" } | { kind: "aborted"; reason: unknown };
    const racers: Promise<Settled>[] = [
      Promise.resolve()
        .then(() => fn(controller.signal))
        .then(
          (value): Settled => ({ kind: "ok", value }),
          (err: unknown): Settled => ({ kind: "error", err }),
        ),
    ];
    if (timeoutMs > 0) racers.push(new Promise((resolve) => (timer = setTimeout(() => resolve({ kind: "timeout" }), timeoutMs))));
    const callerSignal = options.signal;
    if (callerSignal !== undefined) {
      racers.push(
        new Promise((resolve) => {
          onCallerAbort = () => resolve({ kind: "aborted", reason: callerSignal.reason });
          if (callerSignal.aborted) onCallerAbort();
          else callerSignal.addEventListener("abort", onCallerAbort, { once: true });
        }),
      );
    }
    let settled: Settled;
    try {
      settled = await Promise.race(racers);
    } finally {
      clearTimeout(timer);
      if (onCallerAbort !== undefined) callerSignal?.removeEventListener("abort", onCallerAbort);
    }
    const durationMs = this.clock.now() - started;
    let outcome: Outcome;
    let retryAfterMs: number | undefined;
    let thrown: unknown;
    switch (settled.kind) {
      case "ok":
        outcome = "SUCCESS";
        break;
      case "timeout":
        outcome = "TIMEOUT";
        thrown = new CallTimeoutError(circuit, timeoutMs);
        controller.abort(thrown);
        break;
      case "aborted":
        outcome = "IGNORED";
        thrown = settled.reason;
        controller.abort(settled.reason);
        break;
      case "error":
        thrown = settled.err;
        if (callerSignal?.aborted === true || isAbortError(settled.err)) outcome = "IGNORED";
        else if (options.isFailure !== undefined && !options.isFailure(settled.err)) outcome = "IGNORED";
        else {
          outcome = "FAILURE";
          retryAfterMs = retryAfterHintOf(settled.err, this.clock.now());
        }
        break;
    }
    await reporter(outcome, durationMs, retryAfterMs);
    if (settled.kind === "ok") return settled.value;
    throw thrown;
  }

  /** Feeds local fail-fast from a Watch transition. */
  private learn(e: WatchTransition): void {
    if (e.to === "OPEN" && e.openUntil !== undefined) {
      // Service clock → our clock: the remaining open time as of the event.
      const remaining = e.openUntil - e.at;
      if (remaining > 0) this.known.set(e.circuit, { until: this.clock.now() + remaining, state: "OPEN", reason: "OPEN" });
    } else if (e.to !== "OPEN") {
      this.known.delete(e.circuit);
    }
  }

  watch(options: WatchOptions = {}): AsyncIterableIterator<WatchUpdate> {
    const self = this;
    const backoffInitial = this.options.watchBackoff?.initialMs ?? 100;
    const backoffMax = this.options.watchBackoff?.maxMs ?? 5000;
    const stop = new AbortController();
    const ended = anySignal([this.closing.signal, stop.signal, ...(options.signal !== undefined ? [options.signal] : [])]);
    async function* run(): AsyncGenerator<WatchUpdate> {
      let resumeToken = options.resumeToken ?? "";
      let attempt = 0;
      while (!ended.aborted) {
        try {
          const stream = self.transport.watch(
            { circuits: options.circuits ?? [], prefix: options.prefix ?? "", resumeToken },
            ended,
          );
          for await (const m of stream) {
            attempt = 0;
            const u = convert(m);
            if (u === undefined) continue;
            if (u.type === "transition") {
              resumeToken = u.eventId;
              self.learn(u);
            } else if (u.type === "snapshot_complete") resumeToken = u.resumeToken;
            yield u;
          }
          // A Watch never ends by itself: the service went away. Reconnect.
        } catch (e) {
          if (ended.aborted) return;
          if (BreakerboxRpcError.is(e) && e.code === OUT_OF_RANGE && resumeToken !== "") resumeToken = "";
          else if (!(BreakerboxRpcError.is(e) && TRANSIENT.has(e.code))) throw e;
        }
        if (ended.aborted) return;
        const delay = Math.min(backoffMax, backoffInitial * 2 ** attempt);
        attempt++;
        await sleep(delay, ended);
      }
    }
    const gen = run();
    const origReturn = gen.return.bind(gen);
    gen.return = (value?: unknown) => {
      stop.abort();
      return origReturn(value as never);
    };
    return gen;
  }

  close(): void {
    this.closing.abort();
    this.transport.close();
  }
}

function convert(m: WatchResponse): WatchUpdate | undefined {
  switch (m.kind.case) {
    case "snapshot": {
      const s = m.kind.value;
      const openUntil = tsOf(s.openUntil);
      const since = tsOf(s.since);
      return {
        type: "snapshot",
        circuit: s.circuit,
        state: stateOf(s.state),
        generation: Number(s.generation),
        ...(since !== undefined && { since }),
        ...(openUntil !== undefined && { openUntil }),
        raw: s,
      };
    }
    case "event": {
      const e = m.kind.value;
      const openUntil = tsOf(e.openUntil);
      return {
        type: "transition",
        circuit: e.circuit,
        from: stateOf(e.fromState),
        to: stateOf(e.toState),
        at: tsOf(e.at) ?? 0,
        reason: e.reason,
        eventId: e.eventId,
        generation: Number(e.generation),
        ...(openUntil !== undefined && { openUntil }),
        actor: e.actor,
        raw: e,
      };
    }
    case "snapshotComplete":
      return { type: "snapshot_complete", resumeToken: m.kind.value.resumeToken };
    default:
      return undefined;
  }
}

function soonest(denials: readonly CircuitDenial[]): number {
  const known = denials.map((d) => d.retryAfterMs).filter((ms) => ms > 0);
  return known.length === 0 ? 0 : Math.min(...known);
}

function pickSoonest(denials: readonly CircuitDenial[]): CircuitDenial {
  const ms = soonest(denials);
  return denials.find((d) => d.retryAfterMs === ms) ?? denials[0]!;
}

/** AbortSignal.any for Node 20.0–20.2 too: aborts when any of `signals` does. */
function anySignal(signals: AbortSignal[]): AbortSignal {
  const c = new AbortController();
  const onAbort = (): void => {
    c.abort();
    for (const s of signals) s.removeEventListener("abort", onAbort);
  };
  for (const s of signals) {
    if (s.aborted) {
      onAbort();
      break;
    }
    s.addEventListener("abort", onAbort, { once: true });
  }
  return c.signal;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(() => {
      signal.removeEventListener("abort", done);
      resolve();
    }, ms);
    const done = (): void => {
      clearTimeout(t);
      resolve();
    };
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * Creates a Breakerbox client over one gRPC channel. Nothing is sent until
 * the first call. Call `close()` when done.
 */
export function createBreakerbox(options: BreakerboxOptions): Breakerbox {
  return new Client(options);
}
