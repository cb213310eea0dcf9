/**
 * The error contract of src/server/status.ts and error-details.ts on its own:
 * every error class maps to its code, its ErrorReason, its metadata, and the
 * RetryInfo and BadRequest details the reason calls for; the reasons table
 * holds every ErrorReason of the proto.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { ErrorReason } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { InvalidConfigError, permitRefusal } from "../../src/engine/index.js";
import { UnknownPresetError } from "../../src/engine/config.js";
import { ERROR_DOMAIN, ERROR_REASONS, RETRY_DELAY_MS, statusDetailsBin, type ReasonName } from "../../src/server/error-details.js";
import { malformedRequestError, toConnectError, toStatusProto } from "../../src/server/status.js";
import { PermissionDeniedError, UnauthenticatedError } from "../../src/service/access.js";
import * as service from "../../src/service/errors.js";
import { PatternRuleFromFileError, PatternRuleNotFoundError, ResumeTokenError, StoreUnavailableError } from "../../src/store/store.js";
import { detailsOfStatusBytes } from "../../clients/typescript/src/error-details.js";

/** What a client reads from the status toConnectError(err) answers. */
function read(err: unknown) {
  const status = toStatusProto(err);
  const infos = status.details.map((d) => anyUnpack(d, ErrorInfoSchema)).filter((d) => d !== undefined);
  const retries = status.details.map((d) => anyUnpack(d, RetryInfoSchema)).filter((d) => d !== undefined);
  const bad = status.details.map((d) => anyUnpack(d, BadRequestSchema)).filter((d) => d !== undefined);
  expect(infos).toHaveLength(1);
  expect(infos[0]!.domain).toBe(ERROR_DOMAIN);
  return {
    code: status.code,
    message: status.message,
    reason: infos[0]!.reason,
    metadata: { ...infos[0]!.metadata },
    retryDelayMs: retries.length === 0 ? undefined : Number(retries[0]!.retryDelay!.seconds) * 1000 + retries[0]!.retryDelay!.nanos / 1e6,
    violations: bad.flatMap((b) => b.fieldViolations.map((v) => v.field)),
  };
}

const principal = { name: "bots", role: "agent" as const };
const cases: [string, unknown, { code: Code; reason: ReasonName; metadata?: Record<string, string>; violations?: string[] }][] = [
  ["InvalidArgumentError", new service.InvalidArgumentError("circuit", "is required"), { code: Code.InvalidArgument, reason: "INVALID_FIELD", violations: ["circuit"] }],
  [
    "InvalidArgumentError with several violations",
    new service.InvalidArgumentError("config.a", "x", [
      { field: "config.a", description: "x" },
      { field: "config.b", description: "y" },
    ]),
    { code: Code.InvalidArgument, reason: "INVALID_FIELD", violations: ["config.a", "config.b"] },
  ],
  [
    "InvalidConfigError",
    new InvalidConfigError([
      { field: "failure_rate_threshold", message: "failure_rate_threshold must be a number from 0 to 1, got 2" },
      { field: "minimum_calls", message: "minimum_calls must be at least 1, got 0" },
    ]),
    { code: Code.InvalidArgument, reason: "INVALID_FIELD", violations: ["config.failure_rate_threshold", "config.minimum_calls"] },
  ],
  ["UnknownPresetError", new UnknownPresetError("nope", ["default"]), { code: Code.InvalidArgument, reason: "INVALID_FIELD", violations: ["preset"] }],
  ["ResumeTokenError malformed", new ResumeTokenError("malformed", "bad"), { code: Code.InvalidArgument, reason: "RESUME_TOKEN_INVALID", violations: ["resume_token"] }],
  ["ResumeTokenError expired", new ResumeTokenError("expired", "gone"), { code: Code.OutOfRange, reason: "RESUME_TOKEN_EXPIRED" }],
  ["CircuitNotFoundError", new service.CircuitNotFoundError("a.b"), { code: Code.NotFound, reason: "CIRCUIT_NOT_FOUND", metadata: { circuit: "a.b" } }],
  ["PatternRuleNotFoundError", new PatternRuleNotFoundError("a.*"), { code: Code.NotFound, reason: "PATTERN_RULE_NOT_FOUND", metadata: { pattern: "a.*" } }],
  ["PatternRuleFromFileError", new PatternRuleFromFileError("a.*"), { code: Code.FailedPrecondition, reason: "PATTERN_RULE_FROM_FILE", metadata: { pattern: "a.*" } }],
  ["permit malformed", permitRefusal.malformed(), { code: Code.FailedPrecondition, reason: "PERMIT_MALFORMED" }],
  ["permit foreign", permitRefusal.foreign("c"), { code: Code.FailedPrecondition, reason: "PERMIT_FOREIGN", metadata: { circuit: "c" } }],
  ["permit expired", permitRefusal.expired(5, 1500, "c"), { code: Code.FailedPrecondition, reason: "PERMIT_EXPIRED", metadata: { circuit: "c", permitTtl: "1.5s" } }],
  ["permit not issued", permitRefusal.notIssued("c"), { code: Code.FailedPrecondition, reason: "PERMIT_UNKNOWN", metadata: { circuit: "c" } }],
  ["probe not outstanding", permitRefusal.probeNotOutstanding("c"), { code: Code.FailedPrecondition, reason: "PERMIT_UNKNOWN", metadata: { circuit: "c" } }],
  ["no such circuit", permitRefusal.noSuchCircuit("c"), { code: Code.FailedPrecondition, reason: "PERMIT_UNKNOWN", metadata: { circuit: "c" } }],
  ["too many watchers", new service.ResourceExhaustedError("too_many_watchers", 7, "m", "replica"), { code: Code.ResourceExhausted, reason: "TOO_MANY_WATCHERS", metadata: { limit: "7", scope: "replica" } }],
  ["too many watchers of a key", new service.ResourceExhaustedError("too_many_watchers", 3, "m", "key"), { code: Code.ResourceExhausted, reason: "TOO_MANY_WATCHERS", metadata: { limit: "3", scope: "key" } }],
  ["watcher too slow", new service.ResourceExhaustedError("watcher_too_slow", 9, "m"), { code: Code.ResourceExhausted, reason: "WATCHER_TOO_SLOW", metadata: { limit: "9" } }],
  ["StoreUnavailableError", new StoreUnavailableError("down"), { code: Code.Unavailable, reason: "STORE_UNAVAILABLE" }],
  ["ShuttingDownError", new service.ShuttingDownError("bye"), { code: Code.Unavailable, reason: "SHUTTING_DOWN" }],
  ["no key", new UnauthenticatedError("missing", "m"), { code: Code.Unauthenticated, reason: "CREDENTIALS_MISSING" }],
  ["unknown key", new UnauthenticatedError("invalid", "m"), { code: Code.Unauthenticated, reason: "CREDENTIALS_INVALID" }],
  [
    "PermissionDeniedError",
    new PermissionDeniedError(principal, "Reset", "admin"),
    { code: Code.PermissionDenied, reason: "ROLE_INSUFFICIENT", metadata: { method: "Reset", requiredRole: "admin", role: "agent" } },
  ],
  ["anything else", new Error("secret"), { code: Code.Internal, reason: "INTERNAL" }],
  ["an undecodable request", malformedRequestError("breakerbox.v1.AcquireRequest", "premature EOF"), { code: Code.InvalidArgument, reason: "MALFORMED_REQUEST" }],
];

describe("toConnectError", () => {
  it.each(cases)("%s", (_label, err, want) => {
    const got = read(err);
    expect(got.code).toBe(want.code);
    expect(got.reason).toBe(want.reason);
    expect(ERROR_REASONS[want.reason].code).toBe(want.code);
    expect(got.metadata).toEqual(want.metadata ?? {});
    expect(got.retryDelayMs).toBe(ERROR_REASONS[want.reason].retryDelayMs);
    expect(got.violations).toEqual(want.violations ?? []);
    // The message is the error's own text (INTERNAL hides it).
    if (want.code !== Code.Internal && !(err instanceof ConnectError)) expect(got.message).toContain((err as Error).message.slice(0, 10));
  });

  it("keeps messages as they were", () => {
    expect(toConnectError(new service.InvalidArgumentError("circuit", "is required")).rawMessage).toBe("circuit is required");
    expect(toConnectError(new UnknownPresetError("nope", ["default"])).rawMessage).toBe('preset unknown preset "nope"; known presets: default');
    expect(toConnectError(new Error("secret")).rawMessage).toBe("internal error");
  });

  it("the SDK reads back what the server sends in grpc-status-details-bin", () => {
    const bin = statusDetailsBin(toConnectError(new StoreUnavailableError("down")));
    expect(detailsOfStatusBytes(bin)).toEqual({ reason: "STORE_UNAVAILABLE", retryDelayMs: 1000, fieldViolations: [], metadata: {} });
    expect(statusDetailsBin(new ConnectError("plain", Code.Unimplemented))).toBeUndefined();
    expect(detailsOfStatusBytes(Buffer.from([0xff]))).toEqual({ reason: undefined, retryDelayMs: undefined, fieldViolations: [], metadata: {} });
  });
});

describe("the reasons table", () => {
  it("holds every ErrorReason of the proto, and no other", () => {
    const proto = Object.keys(ErrorReason).filter((k) => Number.isNaN(Number(k)) && k !== "UNSPECIFIED");
    expect(Object.keys(ERROR_REASONS).sort()).toEqual(proto.sort());
  });

  it("gives RetryInfo to exactly the UNAVAILABLE and RESOURCE_EXHAUSTED reasons", () => {
    const withDelay = Object.entries(ERROR_REASONS).filter(([, s]) => s.retryDelayMs !== undefined).map(([r]) => r);
    const retryable = Object.entries(ERROR_REASONS)
      .filter(([, s]) => s.code === Code.Unavailable || s.code === Code.ResourceExhausted)
      .map(([r]) => r);
    expect(withDelay.sort()).toEqual(retryable.sort());
    expect(RETRY_DELAY_MS).toEqual({
      STORE_UNAVAILABLE: 1000,
      SHUTTING_DOWN: 1000,
      TOO_MANY_WATCHERS: 5000,
      WATCHER_TOO_SLOW: 0,
      CIRCUIT_CAP_REACHED: 60_000,
    });
  });

  it("marks no reason reserved: every one is produced (CIRCUIT_CAP_REACHED since the stores cap circuits)", () => {
    const reserved = Object.entries(ERROR_REASONS).filter(([, s]) => s.reserved === true).map(([r]) => r);
    expect(reserved).toEqual([]);
  });
});
