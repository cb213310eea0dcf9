/**
 * The error boundary: maps every engine, store and service error to a status
 * code and an ErrorReason with its details (docs/design.md §Errors; the
 * details themselves are built by error-details.ts). Both transports throw
 * what this returns; gRPC and Connect share the numeric codes.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Status } from "../../gen/ts/google/rpc/status_pb.js";
import { InvalidConfigError, PermitRejectedError, UnknownPresetError } from "../engine/index.js";
import { CircuitCapError, PatternRuleFromFileError, PatternRuleNotFoundError, ResumeTokenError, StoreUnavailableError } from "../store/store.js";
import { PermissionDeniedError, UnauthenticatedError } from "../service/access.js";
import {
  CircuitNotFoundError,
  InvalidArgumentError,
  PageTokenError,
  ResourceExhaustedError,
  ShuttingDownError,
} from "../service/errors.js";
import { durationText, reasonedError, statusProtoOf, type ReasonName } from "./error-details.js";

/**
 * The status for `err`, with the details of docs/design.md §Errors: every
 * error gets ErrorInfo (domain "breakerbox.v1", its reason and metadata),
 * UNAVAILABLE and RESOURCE_EXHAUSTED get RetryInfo, INVALID_ARGUMENT gets
 * BadRequest naming each bad field (error-details.ts builds them). Unknown
 * errors become INTERNAL with a generic message (the caller logs the
 * original, kept as `cause`); ConnectErrors pass through.
 */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (InvalidArgumentError.is(err)) {
    return reasonedError(err.message, "INVALID_FIELD", { violations: err.violations });
  }
  if (PageTokenError.is(err)) {
    return reasonedError(err.message, "PAGE_TOKEN_INVALID", { violations: [{ field: err.field, description: err.message }] });
  }
  if (InvalidConfigError.is(err)) {
    const violations = err.issues.map((i) => ({ field: `config.${i.field}`, description: i.message }));
    return reasonedError(err.issues.map((i) => `config.${i.message}`).join("; "), "INVALID_FIELD", { violations });
  }
  if (err instanceof UnknownPresetError) {
    return reasonedError(`preset ${err.message}`, "INVALID_FIELD", { violations: [{ field: "preset", description: err.message }] });
  }
  if (CircuitNotFoundError.is(err)) return reasonedError(err.message, "CIRCUIT_NOT_FOUND", { metadata: { circuit: err.circuit } });
  if (PatternRuleNotFoundError.is(err)) return reasonedError(err.message, "PATTERN_RULE_NOT_FOUND", { metadata: { pattern: err.pattern } });
  if (PatternRuleFromFileError.is(err)) return reasonedError(err.message, "PATTERN_RULE_FROM_FILE", { metadata: { pattern: err.pattern } });
  if (PermitRejectedError.is(err)) return reasonedError(err.message, PERMIT_REASONS[err.problem], { metadata: permitMetadata(err) });
  if (ResumeTokenError.is(err)) {
    // "malformed", and a token bound to another filter, are invalid; only
    // "expired" (its events are gone) is OUT_OF_RANGE.
    if (err.problem === "expired") return reasonedError(err.message, "RESUME_TOKEN_EXPIRED");
    return reasonedError(err.message, "RESUME_TOKEN_INVALID", { violations: [{ field: "resume_token", description: err.message }] });
  }
  if (UnauthenticatedError.is(err)) {
    return reasonedError(err.message, err.problem === "missing" ? "CREDENTIALS_MISSING" : "CREDENTIALS_INVALID");
  }
  if (PermissionDeniedError.is(err)) {
    const metadata = { method: err.method, requiredRole: err.requiredRole, role: err.principal.role };
    return reasonedError(err.message, "ROLE_INSUFFICIENT", { metadata });
  }
  if (ResourceExhaustedError.is(err)) {
    if (err.resource === "watcher_too_slow") return reasonedError(err.message, "WATCHER_TOO_SLOW", { metadata: { limit: String(err.limit) } });
    return reasonedError(err.message, "TOO_MANY_WATCHERS", { metadata: { limit: String(err.limit), scope: err.scope ?? "replica" } });
  }
  if (CircuitCapError.is(err)) return reasonedError(err.message, "CIRCUIT_CAP_REACHED", { metadata: { circuit: err.circuit, limit: String(err.cap) } });
  if (StoreUnavailableError.is(err)) return reasonedError(err.message, "STORE_UNAVAILABLE");
  if (ShuttingDownError.is(err)) return reasonedError(err.message, "SHUTTING_DOWN");
  return internalError(err);
}

/** INTERNAL "internal error" with ErrorInfo INTERNAL; `cause` is kept for logs, never sent. */
export function internalError(cause?: unknown): ConnectError {
  return reasonedError("internal error", "INTERNAL", { cause });
}

/**
 * INVALID_ARGUMENT MALFORMED_REQUEST for a request body that does not decode
 * as `typeName`; `why` is the decoder's message.
 */
export function malformedRequestError(typeName: string, why: string | undefined): ConnectError {
  return reasonedError(`request could not be decoded as ${typeName}${why === undefined ? "" : `: ${why}`}`, "MALFORMED_REQUEST");
}

const PERMIT_REASONS = {
  malformed: "PERMIT_MALFORMED",
  foreign: "PERMIT_FOREIGN",
  "bad-signature": "PERMIT_BAD_SIGNATURE",
  expired: "PERMIT_EXPIRED",
  unknown: "PERMIT_UNKNOWN",
} as const satisfies Record<PermitRejectedError["problem"], ReasonName>;

function permitMetadata(err: PermitRejectedError): Record<string, string> {
  const metadata: Record<string, string> = {};
  if (err.circuit !== undefined) metadata.circuit = err.circuit;
  if (err.permitTtlMs !== undefined) metadata.permitTtl = durationText(err.permitTtlMs);
  return metadata;
}

/** True for codes that mean the caller sent something wrong (logged as warnings, not errors). */
export function isClientError(code: Code): boolean {
  return (
    code === Code.InvalidArgument ||
    code === Code.NotFound ||
    code === Code.FailedPrecondition ||
    code === Code.OutOfRange ||
    code === Code.ResourceExhausted ||
    code === Code.Unauthenticated ||
    code === Code.PermissionDenied
  );
}

/**
 * `err` as a google.rpc.Status: what a gRPC client would have received in
 * grpc-status-details-bin had the call failed with it (code, message and the
 * details toConnectError attached). BatchReport answers a failed report with
 * this.
 */
export function toStatusProto(err: unknown): Status {
  return statusProtoOf(toConnectError(err));
}
