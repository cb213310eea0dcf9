/** Errors thrown by the Breakerbox TypeScript SDK. */
import type { DenyReason, State } from "./vocabulary.js";
import { NO_DETAILS, type RpcErrorDetails } from "./error-details.js";

/** One candidate's denial (from AcquireAny, or a local fail-fast denial). */
export interface CircuitDenial {
  /** The circuit that denied. */
  circuit: string;
  /** Its state when it denied. */
  state: State;
  /** Milliseconds until asking again may succeed; 0 when unknown (FORCED_OPEN, HALF_OPEN full). */
  retryAfterMs: number;
  /** Why it denied; "SERVICE_UNAVAILABLE" when degraded mode is failClosed. */
  reason: DenyReason | "SERVICE_UNAVAILABLE";
  /** True when the SDK denied locally (fail fast) without asking the service. */
  local: boolean;
}

/** The shortest positive retryAfterMs among `denials`; 0 when none has one. */
export function soonestRetryMs(denials: readonly CircuitDenial[]): number {
  const known = denials.map((d) => d.retryAfterMs).filter((ms) => ms > 0);
  return known.length === 0 ? 0 : Math.min(...known);
}

/** The first denial with the soonest retry (see `soonestRetryMs`); `denials` must not be empty. */
export function soonestDenial(denials: readonly CircuitDenial[]): CircuitDenial {
  const ms = soonestRetryMs(denials);
  return denials.find((d) => d.retryAfterMs === ms) ?? denials[0]!;
}

const OPEN_BRAND = Symbol.for("breakerbox.CircuitOpenError");
const TIMEOUT_BRAND = Symbol.for("breakerbox.CallTimeoutError");
const RPC_BRAND = Symbol.for("breakerbox.BreakerboxRpcError");

/**
 * Thrown by `run`/`runAny`/`wrap` (when no fallback is given) when the circuit
 * denied the call: the dependency was NOT called. `circuit`, `state`,
 * `retryAfterMs` and `reason` are those of the denial (for `runAny`, of the
 * denial with the soonest retry; all of them are in `denials`). `local` is true
 * when the SDK denied from its own cache of a known-OPEN circuit, without a
 * round trip.
 */
export class CircuitOpenError extends Error {
  override readonly name = "CircuitOpenError";
  readonly circuit: string;
  readonly state: State;
  readonly retryAfterMs: number;
  readonly reason: DenyReason | "SERVICE_UNAVAILABLE";
  readonly local: boolean;
  /** Every denial behind this error (one for `run`, one per candidate for `runAny`). */
  readonly denials: readonly CircuitDenial[];
  readonly [OPEN_BRAND] = true;

  constructor(denial: CircuitDenial, denials: readonly CircuitDenial[] = [denial]) {
    super(
      `circuit ${denial.circuit} is ${denial.state} (${denial.reason}${denial.local ? ", denied locally" : ""})` +
        (denial.retryAfterMs > 0 ? `; retry after ${denial.retryAfterMs} ms` : ""),
    );
    this.circuit = denial.circuit;
    this.state = denial.state;
    this.retryAfterMs = denial.retryAfterMs;
    this.reason = denial.reason;
    this.local = denial.local;
    this.denials = denials;
  }

  /** Type guard that also works across duplicated copies of this package. */
  static is(err: unknown): err is CircuitOpenError {
    return typeof err === "object" && err !== null && (err as Record<symbol, unknown>)[OPEN_BRAND] === true;
  }
}

/**
 * Thrown by `run` when the call did not settle within `timeoutMs`. The call's
 * AbortSignal was aborted with this error as its reason, and the outcome was
 * reported as TIMEOUT. A late result of the call is discarded.
 */
export class CallTimeoutError extends Error {
  override readonly name = "CallTimeoutError";
  readonly [TIMEOUT_BRAND] = true;
  constructor(
    readonly circuit: string,
    readonly timeoutMs: number,
  ) {
    super(`call on circuit ${circuit} timed out after ${timeoutMs} ms`);
  }

  /** Type guard that also works across duplicated copies of this package. */
  static is(err: unknown): err is CallTimeoutError {
    return typeof err === "object" && err !== null && (err as Record<symbol, unknown>)[TIMEOUT_BRAND] === true;
  }
}

/**
 * A failed call to the Breakerbox service itself (not to the dependency):
 * `code` is the gRPC status code (e.g. 14 UNAVAILABLE, 9 FAILED_PRECONDITION
 * for an unknown/expired permit), `codeName` its name, `details` the message
 * (for people: decide on `reason`, not on it).
 *
 * From the error details the server sends (docs/clients.md §Errors):
 * `reason` is the ErrorReason name without its prefix (e.g. "PERMIT_EXPIRED",
 * "STORE_UNAVAILABLE"), undefined when the error did not come from a
 * Breakerbox server (a proxy, the client library itself); `retryDelayMs` the
 * server's RetryInfo (UNAVAILABLE and RESOURCE_EXHAUSTED); `fieldViolations`
 * each bad request field (INVALID_ARGUMENT); `metadata` the ErrorInfo
 * metadata (e.g. circuit, permitTtl, limit).
 */
export class BreakerboxRpcError extends Error {
  override readonly name = "BreakerboxRpcError";
  readonly [RPC_BRAND] = true;
  readonly reason: string | undefined;
  readonly retryDelayMs: number | undefined;
  readonly fieldViolations: readonly { field: string; description: string }[];
  readonly metadata: Readonly<Record<string, string>>;
  constructor(
    readonly code: number,
    readonly codeName: string,
    readonly details: string,
    errorDetails: RpcErrorDetails = NO_DETAILS,
  ) {
    super(`${codeName}: ${details}`);
    this.reason = errorDetails.reason;
    this.retryDelayMs = errorDetails.retryDelayMs;
    this.fieldViolations = errorDetails.fieldViolations;
    this.metadata = errorDetails.metadata;
  }

  /** Type guard that also works across duplicated copies of this package. */
  static is(err: unknown): err is BreakerboxRpcError {
    return typeof err === "object" && err !== null && (err as Record<symbol, unknown>)[RPC_BRAND] === true;
  }
}
