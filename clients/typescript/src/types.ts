/**
 * The public types of the SDK: the options of `createBreakerbox`, what its
 * calls take and return, what `watch()` yields, and the `Breakerbox`
 * interface itself. No code lives here.
 */
import type * as grpc from "@grpc/grpc-js";
import type {
  CircuitEvent as PbCircuitEvent,
  CircuitStatus as PbCircuitStatus,
  ConfigChange as PbConfigChange,
} from "./gen/breakerbox/v1/breakerbox_pb.js";
import type { DenyReason, LocalBreakerConfig, Outcome, ReportDisposition, State } from "./vocabulary.js";
import type { Classification, Clock } from "./classify.js";
import type { CircuitDenial, CircuitOpenError } from "./errors.js";
import type { ClientTlsOptions } from "./grpc-transport.js";

export type { DenyReason, LocalBreakerConfig, Outcome, ReportDisposition, State, ClientTlsOptions };

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
   * Which instance of the agent this client is (a pod name, a process id):
   * sent as `agent_instance_id` with every Acquire, AcquireAny and Report, so
   * history and Watch name it, with the API key's name, as the principal of
   * the transitions its reports cause. Up to 128 characters from
   * [A-Za-z0-9._:/@-] (the service refuses others with INVALID_ARGUMENT).
   * Default: `<hostname>:<pid>` (characters outside that set replaced by
   * "-"), so each agent process counts as one reporter; "" sends none.
   */
  agentInstanceId?: string;
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
  /**
   * Deadline of each Acquire, AcquireAny, Report and BatchReport RPC in ms
   * (default 2000): when the service does not answer an Acquire within it,
   * it is taken as unreachable (see `whenUnavailable`).
   */
  rpcTimeoutMs?: number;
  /**
   * The SDK's clock (epoch ms): measures call durations, parses HTTP-date
   * Retry-After values, and times local fail-fast denials. Default `Date`.
   */
  clock?: Clock;
  /**
   * Called when the service refused a queued Report for good (e.g.
   * `BreakerboxRpcError` FAILED_PRECONDITION with reason PERMIT_EXPIRED),
   * or a Report was dropped (`reason` "REPORT_DROPPED": the queue was full,
   * or `close()` gave up). A Report that found the service unreachable is
   * not an error: it is retried. `run` never fails because of a Report: it
   * returns as soon as `fn` settles. Default: ignore.
   */
  onReportError?: (err: unknown, circuit: string) => void;
  /**
   * Most Reports held while they wait to be sent (default 10000). When full,
   * the OLDEST is dropped (its permit may have expired anyway) and counted
   * in `status().droppedReports`.
   */
  reportQueueSize?: number;
  /**
   * How long a Report waits for others to share its BatchReport, in ms
   * (default 2; 0 sends each at once). Calls made back to back then cost the
   * service one BatchReport per several calls; `flush()` and `close()` do not wait.
   */
  reportLingerMs?: number;
  /** How long `close()` may spend sending the queued Reports, in ms (default 5000); what is left then is dropped. */
  closeTimeoutMs?: number;
  /** Set false to turn off local fail-fast (every Acquire goes to the service). Default true. */
  failFast?: boolean;
  /** Watch reconnect backoff: first delay (default 100 ms) and cap (default 5000 ms). */
  watchBackoff?: { initialMs?: number; maxMs?: number };
  /**
   * Degraded mode: what `run`/`runAny` do when the Breakerbox service itself
   * is unreachable (an Acquire fails with UNAVAILABLE or DEADLINE_EXCEEDED).
   * - "failOpen" (default): a local breaker per circuit (consecutive
   *   failures, `localConfig`) guards the dependency meanwhile; its
   *   outcomes stay local (they are not sent to the service).
   * - "failClosed": every call is denied (fallback or `CircuitOpenError` with
   *   reason "SERVICE_UNAVAILABLE", `local: true`).
   * - "off": the Acquire error is thrown (`BreakerboxRpcError`).
   * While degraded the SDK does not call the service; after
   * `serviceRetryMs` the next call asks it again, and the first answer ends
   * degraded mode (local breakers are dropped: the service is the truth).
   */
  whenUnavailable?: "failOpen" | "failClosed" | "off";
  /** Config of the local breakers of degraded mode (default: 5 failures in a row open one for 30000 ms). */
  localConfig?: LocalBreakerConfig;
  /**
   * How long degraded mode skips the service before asking again (default
   * 5000 ms, or longer when the server's RetryInfo asks): an outage costs one
   * `rpcTimeoutMs`, not one per call.
   */
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
  /**
   * How it was counted: RECORDED, STALE, DUPLICATE (counted before, same
   * outcome) or CONFLICT (counted before with another outcome, which stands).
   * Undefined from a server that predates dispositions or sends one this SDK
   * does not know: the report was accepted, nothing to do.
   */
  disposition: ReportDisposition | undefined;
  /** The outcome that counts for this permit: this report's, or the first one's for DUPLICATE and CONFLICT. */
  recordedOutcome: Outcome | undefined;
  /** This permit's outcome had already been counted (DUPLICATE or CONFLICT); nothing changed. */
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
  /**
   * How a value `fn` resolved to counts (default: SUCCESS). E.g.
   * `classifyResponse` for a fetch `Response`: a 503 returned, not thrown,
   * counts FAILURE with its Retry-After hint; a 404 IGNORED. The value is
   * returned to the caller either way.
   */
  classifyResult?: (value: T, nowMs: number) => Classification;
}

/** Options of `runStream`. */
export interface StreamOptions<T> {
  /**
   * Abort the stream if it has not ended after this many ms (its signal is
   * aborted, TIMEOUT reported, `CallTimeoutError` thrown). Default: the
   * client's `defaultTimeoutMs`; 0 = none.
   */
  timeoutMs?: number;
  /** Called instead of throwing when the circuit denies; its items are the stream's. */
  fallback?: (err: CircuitOpenError) => AsyncIterable<T> | Iterable<T> | Promise<AsyncIterable<T> | Iterable<T>>;
  /** As `RunOptions.isFailure`, for an error the stream throws. */
  isFailure?: (err: unknown) => boolean;
  /** The caller's signal: aborting it ends the stream (IGNORED), rejecting the pending `next()` with its reason. */
  signal?: AbortSignal;
}

/** A watched circuit's status, as the service read it (shared by snapshots and live status). */
export interface WatchCircuitStatus {
  circuit: string;
  state: State;
  generation: number;
  /** When it entered its state (service clock, epoch ms). */
  since?: number;
  /** While OPEN: when it will let probes through (service clock, epoch ms). */
  openUntil?: number;
  /** The message as received: config, stats (counters) and config sources. */
  raw: PbCircuitStatus;
}

/** A watched circuit's snapshot (sent first, once per matching circuit). */
export interface WatchSnapshot extends WatchCircuitStatus {
  type: "snapshot";
}

/**
 * A watched circuit's live status, only with `WatchOptions.statusIntervalMs`:
 * sent after the snapshot (or after the replayed events on a resume) whenever
 * something in the circuit (state, stats, config) changed, at most once per
 * interval. Transitions still arrive as `WatchTransition`, usually before the
 * status that reflects them.
 */
export interface WatchStatus extends WatchCircuitStatus {
  type: "status";
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
  /** The stream's position after this update: pass it as `WatchOptions.resumeToken` to resume after it. */
  resumeToken: string;
  raw: PbCircuitEvent;
}

/** The end of the initial snapshot. */
export interface WatchSnapshotComplete {
  type: "snapshot_complete";
  resumeToken: string;
}

/** A config change of a watched circuit (Configure on it, or on a pattern rule that governs it). */
export interface WatchConfigChange {
  type: "config_change";
  circuit: string;
  /** The circuit name or the pattern that was configured. */
  target: string;
  actor: string;
  /** When (service clock, epoch ms). */
  at: number;
  /** The stream's position after this update. */
  resumeToken: string;
  /** The message as received: old and new config. */
  raw: PbConfigChange;
}

/** A watched circuit left the service (e.g. evicted while idle; it is re-created on next use). */
export interface WatchCircuitRemoved {
  type: "circuit_removed";
  circuit: string;
  /** "idle_evicted", or "unspecified" for a cause this SDK does not know. */
  cause: "idle_evicted" | "unspecified";
  /** When (service clock, epoch ms). */
  at: number;
  /** The stream's position after this update. */
  resumeToken: string;
}

/**
 * What `watch()` yields. Heartbeats, and message kinds this SDK does not know,
 * are consumed by the SDK (their resume token is kept for reconnects).
 */
export type WatchUpdate = WatchSnapshot | WatchTransition | WatchSnapshotComplete | WatchStatus | WatchConfigChange | WatchCircuitRemoved;

/** Options of `watch`. */
export interface WatchOptions {
  /** Circuit names to watch. Empty with no prefix: every circuit. */
  circuits?: string[];
  /** Watch every circuit whose name starts with this. */
  prefix?: string;
  /**
   * Resume after this point: the `resumeToken` of the last update received
   * by a watch with the same circuits and prefix (no snapshot is sent then).
   * Opaque; a token of another filter makes the first `next()` throw
   * INVALID_ARGUMENT.
   */
  resumeToken?: string;
  /**
   * Also yield each matching circuit's live status (`WatchStatus`) whenever
   * it changed, at most once per this many ms. Default 0: off. Otherwise
   * 1000 to 3600000 (1 h); anything else makes the first `next()` throw
   * `BreakerboxRpcError` INVALID_ARGUMENT. Each interval costs the service
   * one read of the matching circuits, so keep it long and the filter narrow.
   * After a reconnect that resumes, the first round sends every matching
   * circuit again.
   */
  statusIntervalMs?: number;
  /** Ends the iteration when aborted. */
  signal?: AbortSignal;
}

/** The Breakerbox client. */
export interface Breakerbox {
  /**
   * Runs `fn` under the circuit: Acquire (or a local fail-fast denial); if
   * denied, `fallback(err)` or throw `CircuitOpenError` without calling `fn`;
   * else call `fn(signal)` under the timeout, measure its duration, classify,
   * queue the Report, and return its result or rethrow its error as soon as
   * it settles (the Report is sent in the background, batched: see `flush`).
   *
   * Classification: resolved → SUCCESS (or `classifyResult(value)`); timed
   * out → TIMEOUT (throws `CallTimeoutError`); the caller's `signal`
   * aborted, or an error named "AbortError" → IGNORED; a timeout error of
   * the call's own client (`isTimeoutError`) → TIMEOUT; `isFailure(err)`
   * when given (false → IGNORED); an error with an HTTP status (`status`,
   * `statusCode`, `response.status`: the OpenAI/Anthropic SDK errors, fetch
   * wrappers) 429 or 5xx → FAILURE, other 4xx → IGNORED; any other error →
   * FAILURE. A FAILURE carries the dependency's hint (`err.retryAfterMs`, or
   * the headers' `retry-after-ms`, `Retry-After`, `x-ratelimit-reset-*`) as
   * the report's retry_after. A Report never changes what `run` returns or
   * throws (see `onReportError`). When the service
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
  /**
   * A guarded stream: iterating it Acquires (on the first `next()`), then
   * yields `fn(signal)`'s items; the outcome is reported when the stream
   * ends (SUCCESS) or throws (classified like `run`: FAILURE, IGNORED for
   * other 4xx), TIMEOUT past `timeoutMs`, IGNORED when the consumer breaks
   * out early (its signal is then aborted). Denied: the fallback's items, or
   * `CircuitOpenError` thrown by the first `next()`.
   */
  runStream<T>(
    circuit: string,
    fn: (signal: AbortSignal) => AsyncIterable<T> | Iterable<T> | Promise<AsyncIterable<T> | Iterable<T>>,
    options?: StreamOptions<T>,
  ): AsyncIterableIterator<T>;
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
   * retry (a repeated Report answers DUPLICATE, or CONFLICT for another outcome). Throws
   * `BreakerboxRpcError` (FAILED_PRECONDITION for an unknown/expired/foreign permit).
   */
  report(circuit: string, permit: string, outcome: Outcome, options?: ReportOptions): Promise<ReportResult>;
  /**
   * Streams snapshots and transitions of the matching circuits (and their
   * live status with `statusIntervalMs`). On a transient error (UNAVAILABLE,
   * RESOURCE_EXHAUSTED, INTERNAL, UNKNOWN, DEADLINE_EXCEEDED, CANCELLED by
   * the other side, or the stream ending) it reconnects with the last
   * event_id after a bounded exponential backoff (never sooner than the
   * server's RetryInfo asks), so no transition is missed; a stream cut for
   * falling behind (WATCHER_TOO_SLOW) resumes at once. If the service no
   * longer retains those events (RESUME_TOKEN_EXPIRED) it starts over with a
   * fresh snapshot. Other errors end the iteration by throwing.
   * Breaking out of the loop, aborting `signal` or `close()` ends it.
   * Transitions seen here also feed local fail-fast. The stream opens on the
   * first `next()` (the first turn of `for await`), not when `watch()` is
   * called; the snapshot it starts with covers anything that changed before.
   */
  watch(options?: WatchOptions): AsyncIterableIterator<WatchUpdate>;
  /**
   * When this client will next ask the service about `circuit`: the epoch ms
   * until which it denies locally, or undefined when it would ask now.
   */
  knownOpenUntil(circuit: string): number | undefined;
  /**
   * `degraded` while the SDK is not asking the service (it was unreachable
   * less than `serviceRetryMs` ago); `queuedReports`: Reports not yet
   * delivered (queued or being sent); `pendingReports`: those of them that
   * found the service unreachable and wait for their next try (retried with
   * jittered backoff; safe, a permit counts once); `droppedReports`: Reports
   * dropped since the client was created (queue full, or left at `close()`).
   */
  status(): { degraded: boolean; pendingReports: number; queuedReports: number; droppedReports: number };
  /**
   * Resolves true once every Report queued so far is delivered (or refused
   * for good), false if `timeoutMs` passed first (default: no bound). A
   * Report waiting out its retry backoff is tried now.
   */
  flush(timeoutMs?: number): Promise<boolean>;
  /** Kept for compatibility: `flush(closeTimeoutMs)` unless the service is known down (then at once). Prefer `flush`. */
  flushPending(): Promise<void>;
  /**
   * Ends every watch, sends the queued Reports (for at most `closeTimeoutMs`;
   * the rest are dropped and counted), then closes the channel. Calls after
   * it are not supported.
   */
  close(): Promise<void>;
}
