/**
 * Conversions between the protobuf messages of gen/ts (copied into src/gen by the build) and the SDK's own
 * values (string unions, epoch ms, `CircuitDenial`), in one place.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, durationMs, timestampMs } from "@bufbuild/protobuf/wkt";
import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import {
  DenyReason as PbDenyReason,
  Outcome as PbOutcome,
  ReportDisposition as PbReportDisposition,
  RemovalCause as PbRemovalCause,
  State as PbState,
  type ReportResponse as PbReportResponse,
  type CircuitStatus as PbCircuitStatus,
  type ReportRequestSchema,
  type WatchRequestSchema,
  type WatchResponse,
} from "./gen/breakerbox/v1/breakerbox_pb.js";
import type { DenyReason, Outcome, ReportDisposition, State } from "./vocabulary.js";
import type { CircuitDenial } from "./errors.js";
import type { ReportOptions, ReportResult, WatchCircuitStatus, WatchOptions, WatchUpdate } from "./types.js";

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

const FROM_PB_OUTCOME: Record<number, Outcome> = Object.fromEntries(Object.entries(OUTCOMES).map(([o, pb]) => [pb, o as Outcome]));
const DISPOSITIONS: Record<number, ReportDisposition> = {
  [PbReportDisposition.RECORDED]: "RECORDED",
  [PbReportDisposition.STALE]: "STALE",
  [PbReportDisposition.DUPLICATE]: "DUPLICATE",
  [PbReportDisposition.CONFLICT]: "CONFLICT",
};

/** A ReportResponse for `report()`; a disposition or outcome this SDK does not know (or none) is undefined. */
export function reportResultOf(r: PbReportResponse): ReportResult {
  return {
    state: stateOf(r.state),
    disposition: DISPOSITIONS[r.disposition],
    recordedOutcome: FROM_PB_OUTCOME[r.recordedOutcome],
    duplicate: r.duplicate,
    stale: r.stale,
  };
}

/** The SDK's state for a protobuf state; CLOSED for UNSPECIFIED or a value this SDK does not know. */
export const stateOf = (s: PbState): State => STATES[s] ?? "CLOSED";

/** A duration in ms; 0 when absent. */
export const msOf = (d: Duration | undefined): number => (d === undefined ? 0 : durationMs(d));

const tsOf = (t: Timestamp | undefined): number | undefined => (t === undefined ? undefined : timestampMs(t));

/**
 * A denial as the service gave it (`local: false`) for `circuit`; a reason
 * this SDK does not know is inferred from the state.
 */
export function denialOf(circuit: string, d: { state: PbState; reason: PbDenyReason; retryAfter?: Duration | undefined }): CircuitDenial {
  const state = stateOf(d.state);
  const reason = REASONS[d.reason] ?? (state === "FORCED_OPEN" ? "FORCED_OPEN" : state === "HALF_OPEN" ? "HALF_OPEN_FULL" : "OPEN");
  return { circuit, state, reason, retryAfterMs: msOf(d.retryAfter), local: false };
}

/**
 * The ReportRequest for `report()`: the duration rounded to whole ms and the
 * Retry-After hint rounded up (a hint must not shrink); either is left unset
 * when absent or not positive.
 */
export function reportRequestOf(
  circuit: string,
  permit: string,
  outcome: Outcome,
  options: ReportOptions,
): MessageInitShape<typeof ReportRequestSchema> {
  const { durationMs: ms, retryAfterMs } = options;
  return {
    circuit,
    permit,
    outcome: OUTCOMES[outcome],
    ...(ms !== undefined && ms > 0 && { duration: durationFromMs(Math.round(ms)) }),
    ...(retryAfterMs !== undefined && retryAfterMs > 0 && { retryAfter: durationFromMs(Math.ceil(retryAfterMs)) }),
  };
}

/** The WatchRequest for `watch()` at `resumeToken`; status_interval stays unset when `statusIntervalMs` is 0 or absent. */
export function watchRequestOf(options: WatchOptions, resumeToken: string): MessageInitShape<typeof WatchRequestSchema> {
  const { statusIntervalMs } = options;
  return {
    circuits: options.circuits ?? [],
    prefix: options.prefix ?? "",
    resumeToken,
    // Negative values are sent as they are, so the service refuses them with
    // INVALID_ARGUMENT rather than the SDK silently turning status off.
    ...(statusIntervalMs !== undefined && statusIntervalMs !== 0 && { statusInterval: durationFromMs(Math.round(statusIntervalMs)) }),
  };
}

function statusOf(s: PbCircuitStatus): WatchCircuitStatus {
  const since = tsOf(s.since);
  const openUntil = tsOf(s.openUntil);
  return {
    circuit: s.circuit,
    state: stateOf(s.state),
    generation: Number(s.generation),
    ...(since !== undefined && { since }),
    ...(openUntil !== undefined && { openUntil }),
    raw: s,
  };
}

/** What `watch()` yields for a Watch message; undefined for heartbeats and kinds this SDK does not know. */
export function watchUpdateOf(m: WatchResponse): WatchUpdate | undefined {
  const resumeToken = m.resumeToken;
  switch (m.kind.case) {
    case "snapshot":
      return { type: "snapshot", ...statusOf(m.kind.value) };
    case "status":
      return { type: "status", ...statusOf(m.kind.value) };
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
        resumeToken,
        raw: e,
      };
    }
    case "snapshotComplete":
      return { type: "snapshot_complete", resumeToken: m.kind.value.resumeToken };
    case "configChange": {
      const c = m.kind.value;
      return { type: "config_change", circuit: c.circuit, target: c.target, actor: c.actor, at: tsOf(c.at) ?? 0, resumeToken, raw: c };
    }
    case "circuitRemoved": {
      const r = m.kind.value;
      const cause = r.cause === PbRemovalCause.IDLE_EVICTED ? "idle_evicted" : "unspecified";
      return { type: "circuit_removed", circuit: r.circuit, cause, at: tsOf(r.removalTime) ?? 0, resumeToken };
    }
    default:
      return undefined;
  }
}
