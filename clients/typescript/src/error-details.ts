/**
 * Reads the machine-readable details of a failed call (docs/clients.md
 * §Errors): the google.rpc.Status a server sends in the
 * `grpc-status-details-bin` trailer, unpacked to what an agent decides on.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { anyUnpack, durationMs } from "@bufbuild/protobuf/wkt";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "./gen/google/rpc/error_details_pb.js";
import { StatusSchema, type Status } from "./gen/google/rpc/status_pb.js";

/** ErrorInfo.domain of Breakerbox's errors; a reason from another domain is not one of ours. */
export const BREAKERBOX_ERROR_DOMAIN = "breakerbox.v1";

/** What a failed call's details say; every field is empty when the server sent none. */
export interface RpcErrorDetails {
  /**
   * ErrorInfo.reason when ErrorInfo.domain is "breakerbox.v1": an ErrorReason
   * value name without its ERROR_REASON_ prefix (e.g. "PERMIT_EXPIRED").
   */
  reason: string | undefined;
  /** RetryInfo.retry_delay in ms (0 means: retry at once); undefined without RetryInfo. */
  retryDelayMs: number | undefined;
  /** BadRequest's field violations: each bad request field and what is wrong with it. */
  fieldViolations: readonly { field: string; description: string }[];
  /** ErrorInfo.metadata (e.g. circuit, permitTtl, limit). */
  metadata: Readonly<Record<string, string>>;
}

/** No details at all. */
export const NO_DETAILS: RpcErrorDetails = Object.freeze({ reason: undefined, retryDelayMs: undefined, fieldViolations: [], metadata: {} });

/**
 * The details in a binary google.rpc.Status (the value of
 * `grpc-status-details-bin`); {@link NO_DETAILS} when `bytes` is undefined
 * or does not decode (a proxy's status, a corrupted trailer): the code and
 * message still tell what happened.
 */
export function detailsOfStatusBytes(bytes: Uint8Array | undefined): RpcErrorDetails {
  if (bytes === undefined) return NO_DETAILS;
  try {
    return detailsOfStatus(fromBinary(StatusSchema, bytes));
  } catch {
    return NO_DETAILS;
  }
}

/** The details of a google.rpc.Status (a BatchReport result's error, or a decoded trailer). */
export function detailsOfStatus(status: Status): RpcErrorDetails {
  let reason: string | undefined;
  let retryDelayMs: number | undefined;
  let metadata: Record<string, string> = {};
  const fieldViolations: { field: string; description: string }[] = [];
  try {
    for (const any of status.details) {
      const info = anyUnpack(any, ErrorInfoSchema);
      if (info !== undefined && info.domain === BREAKERBOX_ERROR_DOMAIN) {
        reason = info.reason;
        metadata = { ...info.metadata };
      }
      const retry = anyUnpack(any, RetryInfoSchema);
      if (retry?.retryDelay !== undefined) retryDelayMs = durationMs(retry.retryDelay);
      const bad = anyUnpack(any, BadRequestSchema);
      for (const v of bad?.fieldViolations ?? []) fieldViolations.push({ field: v.field, description: v.description });
    }
  } catch {
    return NO_DETAILS;
  }
  return { reason, retryDelayMs, fieldViolations, metadata };
}
