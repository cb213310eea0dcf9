/**
 * The machine-readable half of every CircuitService error (docs/design.md
 * §Errors): which status code each ErrorReason travels with, how long a
 * client should wait before retrying it, and the google.rpc details
 * (ErrorInfo, RetryInfo, BadRequest) built from them. status.ts decides
 * which reason an error has; this module only knows reasons.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { anyPack, AnySchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { StatusSchema, type Status } from "../../gen/ts/google/rpc/status_pb.js";
import { ErrorReason } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";

/** A detail as ConnectError takes it (Connect does not export the type). */
type OutgoingDetail = NonNullable<ConstructorParameters<typeof ConnectError>[3]>[number];

/** ErrorInfo.domain of every Breakerbox error. */
export const ERROR_DOMAIN = "breakerbox.v1";

/** An ErrorReason value name without its ERROR_REASON_ prefix, as ErrorInfo.reason spells it. */
export type ReasonName = Exclude<keyof typeof ErrorReason, "UNSPECIFIED">;

/** What every error with one reason shares. */
export interface ReasonSpec {
  /** The status code the reason always travels with. */
  readonly code: Code;
  /**
   * RetryInfo.retry_delay in ms; set exactly for the UNAVAILABLE and
   * RESOURCE_EXHAUSTED reasons (see {@link RETRY_DELAY_MS}).
   */
  readonly retryDelayMs?: number;
  /** The ErrorInfo.metadata keys errors of this reason carry (the proto's "Metadata:"). */
  readonly metadata: readonly string[];
  /** True when no server error produces the reason yet (the proto says "Reserved"). */
  readonly reserved?: true;
}

/**
 * How long a client should wait before retrying, per reason, sent as
 * RetryInfo. Why these values:
 * - STORE_UNAVAILABLE 1 s: a Redis failover or restart takes seconds; sooner
 *   retries from a fleet of agents only add load to a recovering store.
 * - SHUTTING_DOWN 1 s: another replica can take the call at once; this one
 *   is gone within its drain grace, after which the address serves a new one.
 * - TOO_MANY_WATCHERS 5 s: streams free up when watchers leave, which is
 *   slow; a tight retry loop would keep the server at its limit.
 * - WATCHER_TOO_SLOW 0 s: the stream was cut to bound memory, not because
 *   the server is busy; resuming at once with the last resume token loses
 *   nothing while the token is retained.
 * - CIRCUIT_CAP_REACHED 60 s: room comes back only as idle circuits are
 *   evicted (their idle TTL), so a quick retry only adds load.
 */
export const RETRY_DELAY_MS = Object.freeze({
  STORE_UNAVAILABLE: 1000,
  SHUTTING_DOWN: 1000,
  TOO_MANY_WATCHERS: 5000,
  WATCHER_TOO_SLOW: 0,
  CIRCUIT_CAP_REACHED: 60_000,
} satisfies Partial<Record<ReasonName, number>>);

/**
 * Every ErrorReason with its code, retry delay and metadata keys: the table
 * tests and docs loop over. Every UNAVAILABLE and RESOURCE_EXHAUSTED reason
 * has a retry delay; no other has.
 */
export const ERROR_REASONS: Readonly<Record<ReasonName, ReasonSpec>> = Object.freeze({
  INVALID_FIELD: { code: Code.InvalidArgument, metadata: [] },
  MALFORMED_REQUEST: { code: Code.InvalidArgument, metadata: [] },
  PAGE_TOKEN_INVALID: { code: Code.InvalidArgument, metadata: [] },
  RESUME_TOKEN_INVALID: { code: Code.InvalidArgument, metadata: [] },
  RESUME_TOKEN_EXPIRED: { code: Code.OutOfRange, metadata: [] },
  CIRCUIT_NOT_FOUND: { code: Code.NotFound, metadata: ["circuit"] },
  PATTERN_RULE_NOT_FOUND: { code: Code.NotFound, metadata: ["pattern"] },
  PERMIT_MALFORMED: { code: Code.FailedPrecondition, metadata: [] },
  PERMIT_FOREIGN: { code: Code.FailedPrecondition, metadata: ["circuit"] },
  PERMIT_EXPIRED: { code: Code.FailedPrecondition, metadata: ["circuit", "permitTtl"] },
  PERMIT_UNKNOWN: { code: Code.FailedPrecondition, metadata: ["circuit"] },
  PERMIT_BAD_SIGNATURE: { code: Code.FailedPrecondition, metadata: [] },
  PATTERN_RULE_FROM_FILE: { code: Code.FailedPrecondition, metadata: ["pattern"] },
  TOO_MANY_WATCHERS: { code: Code.ResourceExhausted, retryDelayMs: RETRY_DELAY_MS.TOO_MANY_WATCHERS, metadata: ["limit", "scope"] },
  WATCHER_TOO_SLOW: { code: Code.ResourceExhausted, retryDelayMs: RETRY_DELAY_MS.WATCHER_TOO_SLOW, metadata: ["limit"] },
  // Reserved until the stores enforce BREAKERBOX_MAX_CIRCUITS (issue 11).
  CIRCUIT_CAP_REACHED: { code: Code.ResourceExhausted, retryDelayMs: RETRY_DELAY_MS.CIRCUIT_CAP_REACHED, metadata: ["circuit", "limit"], reserved: true },
  STORE_UNAVAILABLE: { code: Code.Unavailable, retryDelayMs: RETRY_DELAY_MS.STORE_UNAVAILABLE, metadata: [] },
  SHUTTING_DOWN: { code: Code.Unavailable, retryDelayMs: RETRY_DELAY_MS.SHUTTING_DOWN, metadata: [] },
  CREDENTIALS_MISSING: { code: Code.Unauthenticated, metadata: [] },
  CREDENTIALS_INVALID: { code: Code.Unauthenticated, metadata: [] },
  ROLE_INSUFFICIENT: { code: Code.PermissionDenied, metadata: ["method", "requiredRole", "role"] },
  INTERNAL: { code: Code.Internal, metadata: [] },
});

/** One bad request field, sent as a BadRequest.FieldViolation. */
export interface FieldViolation {
  /** The field as clients spell it, e.g. "circuit" or "config.failure_rate_threshold". */
  readonly field: string;
  /** What is wrong with it and what is accepted. */
  readonly description: string;
}

/** What {@link reasonedError} needs besides the message and the reason. */
export interface ReasonDetails {
  /** ErrorInfo.metadata; the keys ERROR_REASONS lists for the reason. */
  readonly metadata?: Readonly<Record<string, string>>;
  /** BadRequest.field_violations; give at least one for every INVALID_ARGUMENT but MALFORMED_REQUEST's. */
  readonly violations?: readonly FieldViolation[];
  /** The original error, kept as ConnectError.cause for logs (never sent). */
  readonly cause?: unknown;
}

/**
 * A ConnectError with `reason`'s code and its details: ErrorInfo always,
 * RetryInfo when the reason has a retry delay, BadRequest when `violations`
 * are given. `message` is the human-readable text clients see unchanged.
 */
export function reasonedError(message: string, reason: ReasonName, details: ReasonDetails = {}): ConnectError {
  const spec = ERROR_REASONS[reason];
  const outgoing: OutgoingDetail[] = [
    { desc: ErrorInfoSchema, value: { domain: ERROR_DOMAIN, reason, metadata: { ...details.metadata } } },
  ];
  if (spec.retryDelayMs !== undefined) {
    outgoing.push({ desc: RetryInfoSchema, value: { retryDelay: durationOf(spec.retryDelayMs) } });
  }
  if (details.violations !== undefined && details.violations.length > 0) {
    outgoing.push({
      desc: BadRequestSchema,
      value: { fieldViolations: details.violations.map(({ field, description }) => ({ field, description })) },
    });
  }
  return new ConnectError(message, spec.code, undefined, outgoing, details.cause);
}

/** `ms` as google.protobuf.Duration init. */
function durationOf(ms: number): { seconds: bigint; nanos: number } {
  return { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
}

/** `ms` the way a Duration reads in JSON ("30s", "1.5s"): the value of a permitTtl metadata entry. */
export function durationText(ms: number): string {
  return `${ms / 1000}s`;
}

/**
 * `err` as a google.rpc.Status: its code, raw message and details packed as
 * Any. What connect-node sends in grpc-status-details-bin, and what the
 * grpc-js port sends there too (see {@link statusDetailsBin}).
 */
export function statusProtoOf(err: ConnectError): Status {
  return create(StatusSchema, {
    code: err.code,
    message: err.rawMessage,
    details: err.details.map((d) =>
      "desc" in d
        ? anyPack(d.desc, create(d.desc, d.value))
        : create(AnySchema, { typeUrl: `type.googleapis.com/${d.type}`, value: d.value }),
    ),
  });
}

/**
 * The value of the grpc-status-details-bin trailer for `err` (a binary
 * google.rpc.Status), or undefined when it has no details: a client then
 * reads the code and message from grpc-status and grpc-message alone.
 */
export function statusDetailsBin(err: ConnectError): Buffer | undefined {
  if (err.details.length === 0) return undefined;
  const bytes = toBinary(StatusSchema, statusProtoOf(err));
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
