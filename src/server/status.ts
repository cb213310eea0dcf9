/**
 * The error boundary: maps every engine, store and service error to a status
 * code (docs/design.md §Errors). Both transports throw what this returns; gRPC and
 * Connect share the numeric codes.
 */
import { create } from "@bufbuild/protobuf";
import { anyPack, AnySchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { StatusSchema, type Status } from "../../gen/ts/google/rpc/status_pb.js";
import { InvalidConfigError, PermitRejectedError, UnknownPresetError } from "../engine/index.js";
import { ResumeTokenError, StoreUnavailableError } from "../store/store.js";
import { PermissionDeniedError, UnauthenticatedError } from "../service/access.js";
import {
  CircuitNotFoundError,
  InvalidArgumentError,
  ResourceExhaustedError,
  ShuttingDownError,
} from "../service/errors.js";

/**
 * The status for `err`. Unknown errors become INTERNAL with a generic
 * message (the caller logs the original); ConnectErrors pass through.
 */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (InvalidArgumentError.is(err)) return new ConnectError(err.message, Code.InvalidArgument);
  if (InvalidConfigError.is(err)) {
    return new ConnectError(err.issues.map((i) => `config.${i.message}`).join("; "), Code.InvalidArgument);
  }
  if (err instanceof UnknownPresetError) return new ConnectError(`preset ${err.message}`, Code.InvalidArgument);
  if (CircuitNotFoundError.is(err)) return new ConnectError(err.message, Code.NotFound);
  if (PermitRejectedError.is(err)) return new ConnectError(err.message, Code.FailedPrecondition);
  if (ResumeTokenError.is(err)) {
    return new ConnectError(err.message, err.problem === "expired" ? Code.OutOfRange : Code.InvalidArgument);
  }
  if (UnauthenticatedError.is(err)) return new ConnectError(err.message, Code.Unauthenticated);
  if (PermissionDeniedError.is(err)) return new ConnectError(err.message, Code.PermissionDenied);
  if (ResourceExhaustedError.is(err)) return new ConnectError(err.message, Code.ResourceExhausted);
  if (StoreUnavailableError.is(err)) return new ConnectError(err.message, Code.Unavailable);
  if (ShuttingDownError.is(err)) return new ConnectError(err.message, Code.Unavailable);
  return new ConnectError("internal error", Code.Internal, undefined, undefined, err);
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
  const ce = toConnectError(err);
  return create(StatusSchema, {
    code: ce.code,
    message: ce.rawMessage,
    details: ce.details.map((d) =>
      "desc" in d
        ? anyPack(d.desc, create(d.desc, d.value))
        : create(AnySchema, { typeUrl: `type.googleapis.com/${d.type}`, value: d.value }),
    ),
  });
}
