/**
 * Conversion between protobuf messages (gen/ts) and engine/store types. The
 * only place that knows both; enum values a client sends that we do not know
 * become InvalidArgumentError naming the field.
 */
import { create } from "@bufbuild/protobuf";
import { type Duration, durationFromMs, durationMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type CircuitConfig as ProtoConfig,
  type CircuitEvent as ProtoEvent,
  type CircuitStats as ProtoStats,
  type CircuitStatus,
  type ConfigChange as ProtoConfigChange,
  type HistoryEntry as ProtoHistoryEntry,
  CircuitConfigSchema,
  CircuitEventSchema,
  CircuitStatsSchema,
  CircuitStatusSchema,
  ConfigChangeSchema,
  DenyReason as ProtoDenyReason,
  HistoryEntrySchema,
  Outcome as ProtoOutcome,
  State as ProtoState,
} from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import type { CircuitConfig, CircuitStats, ConfigPatch, DenyReason, Outcome, State } from "../engine/index.js";
import type { CircuitEvent, CircuitView, ConfigChangeRecord, HistoryEntry } from "../store/store.js";
import { InvalidArgumentError } from "../service/errors.js";
import { PROTO_CONFIG_FIELDS } from "./proto-config-fields.js";

export const STATE_TO_PROTO: Readonly<Record<State, ProtoState>> = {
  CLOSED: ProtoState.CLOSED,
  OPEN: ProtoState.OPEN,
  HALF_OPEN: ProtoState.HALF_OPEN,
  FORCED_OPEN: ProtoState.FORCED_OPEN,
  DISABLED: ProtoState.DISABLED,
};

const PROTO_TO_STATE: Readonly<Record<number, State>> = {
  [ProtoState.CLOSED]: "CLOSED",
  [ProtoState.OPEN]: "OPEN",
  [ProtoState.HALF_OPEN]: "HALF_OPEN",
  [ProtoState.FORCED_OPEN]: "FORCED_OPEN",
  [ProtoState.DISABLED]: "DISABLED",
};

const PROTO_TO_OUTCOME: Readonly<Record<number, Outcome>> = {
  [ProtoOutcome.SUCCESS]: "SUCCESS",
  [ProtoOutcome.FAILURE]: "FAILURE",
  [ProtoOutcome.TIMEOUT]: "TIMEOUT",
  [ProtoOutcome.IGNORED]: "IGNORED",
};

export const DENY_REASON_TO_PROTO: Readonly<Record<DenyReason, ProtoDenyReason>> = {
  OPEN: ProtoDenyReason.OPEN,
  FORCED_OPEN: ProtoDenyReason.FORCED_OPEN,
  HALF_OPEN_FULL: ProtoDenyReason.HALF_OPEN_FULL,
};

/**
 * A State filter or target: undefined for STATE_UNSPECIFIED, throws for a
 * number no State has.
 */
export function stateFromProto(field: string, value: ProtoState): State | undefined {
  if (value === ProtoState.UNSPECIFIED) return undefined;
  const state = PROTO_TO_STATE[value];
  if (state === undefined) throw new InvalidArgumentError(field, `has unknown value ${value}; use a STATE_* value`);
  return state;
}

/** An Outcome: undefined for OUTCOME_UNSPECIFIED, throws for an unknown number. */
export function outcomeFromProto(value: ProtoOutcome): Outcome | undefined {
  if (value === ProtoOutcome.UNSPECIFIED) return undefined;
  const outcome = PROTO_TO_OUTCOME[value];
  if (outcome === undefined) {
    throw new InvalidArgumentError(
      "outcome",
      `has unknown value ${value}; use OUTCOME_SUCCESS, OUTCOME_FAILURE, OUTCOME_TIMEOUT or OUTCOME_IGNORED`,
    );
  }
  return outcome;
}

/** Milliseconds of an optional Duration (unset is 0); a malformed Duration throws. */
export function msFromDuration(field: string, d: Duration | undefined): number {
  if (d === undefined) return 0;
  if (d.nanos <= -1_000_000_000 || d.nanos >= 1_000_000_000 || (d.seconds > 0n && d.nanos < 0) || (d.seconds < 0n && d.nanos > 0)) {
    throw new InvalidArgumentError(field, "is not a valid google.protobuf.Duration (nanos out of range or of the other sign)");
  }
  return durationMs(d);
}

/**
 * A config patch from a ConfigureRequest: only the fields that are set (an
 * enum at its UNSPECIFIED value is unset). Durations become whole
 * milliseconds (sub-millisecond precision is dropped). Loops over the config
 * table, so a new field needs no code here.
 */
export function patchFromProto(c: ProtoConfig | undefined): ConfigPatch {
  const patch: Record<string, unknown> = {};
  if (c === undefined) return patch;
  const message = c as unknown as Readonly<Record<string, unknown>>;
  for (const { spec, localName, enum: values } of PROTO_CONFIG_FIELDS) {
    const value = message[localName];
    if (value === undefined) continue;
    const field = `config.${spec.name}`;
    if (spec.kind === "duration") {
      patch[spec.key] = Math.round(msFromDuration(field, value as Duration));
    } else if (values !== undefined) {
      if (value === 0) continue;
      const engineValue = values.valueOf.get(value as number);
      if (engineValue === undefined) throw new InvalidArgumentError(field, `has unknown value ${String(value)}; use ${values.accepted}`);
      patch[spec.key] = engineValue;
    } else {
      patch[spec.key] = value;
    }
  }
  return patch as ConfigPatch;
}

/** A resolved config as the proto carries it: every field set, durations as Durations, enums as their numbers. */
export function configToProto(c: CircuitConfig): ProtoConfig {
  const message = create(CircuitConfigSchema);
  // Set on the created message rather than passed to create(): that would
  // walk the schema a second time to copy an init object (List and Watch
  // snapshots convert one config per circuit).
  const fields = message as unknown as Record<string, unknown>;
  for (const { spec, localName, enum: values } of PROTO_CONFIG_FIELDS) {
    const value = c[spec.key];
    if (spec.kind === "duration") fields[localName] = durationFromMs(value as number);
    else if (values !== undefined) fields[localName] = values.numberOf.get(value as string) ?? values.numberOf.get(spec.default as string);
    else fields[localName] = value;
  }
  return message;
}

export function statsToProto(s: CircuitStats): ProtoStats {
  return create(CircuitStatsSchema, {
    windowCalls: BigInt(s.windowCalls),
    windowFailures: BigInt(s.windowFailures),
    windowSlowCalls: BigInt(s.windowSlowCalls),
    failureRate: s.failureRate,
    slowCallRate: s.slowCallRate,
    consecutiveFailures: s.consecutiveFailures,
    halfOpenInFlight: s.halfOpenInFlight,
    halfOpenSuccesses: s.halfOpenSuccesses,
    totalSuccesses: BigInt(s.totalSuccesses),
    totalFailures: BigInt(s.totalFailures),
    totalTimeouts: BigInt(s.totalTimeouts),
    totalIgnored: BigInt(s.totalIgnored),
    totalRejections: BigInt(s.totalRejections),
    reopenCount: s.reopenCount,
  });
}

export function statusToProto(v: CircuitView): CircuitStatus {
  const status = create(CircuitStatusSchema, {
    circuit: v.circuit,
    state: STATE_TO_PROTO[v.state],
    config: configToProto(v.config),
    stats: statsToProto(v.stats),
    generation: BigInt(v.generation),
    since: timestampFromMs(v.since),
    configSources: v.configSources,
  });
  if (v.openUntil !== undefined) status.openUntil = timestampFromMs(v.openUntil);
  return status;
}

export function eventToProto(e: CircuitEvent): ProtoEvent {
  const event = create(CircuitEventSchema, {
    circuit: e.circuit,
    fromState: STATE_TO_PROTO[e.from],
    toState: STATE_TO_PROTO[e.to],
    at: timestampFromMs(e.at),
    reason: e.reason,
    eventId: e.eventId,
    generation: BigInt(e.generation),
    stats: statsToProto(e.stats),
    actor: e.actor ?? "",
  });
  if (e.openUntil !== undefined) event.openUntil = timestampFromMs(e.openUntil);
  return event;
}

export function historyEntryToProto(h: HistoryEntry): ProtoHistoryEntry {
  if (h.kind === "transition") {
    return create(HistoryEntrySchema, { entry: { case: "transition", value: eventToProto(h.event) } });
  }
  return create(HistoryEntrySchema, { entry: { case: "configChange", value: configChangeToProto(h.change) } });
}

/** A recorded config change (History and Watch); Watch sets `circuit`. */
export function configChangeToProto(c: ConfigChangeRecord): ProtoConfigChange {
  return create(ConfigChangeSchema, {
    target: c.target,
    actor: c.actor,
    at: timestampFromMs(c.at),
    oldConfig: configToProto(c.oldConfig),
    newConfig: configToProto(c.newConfig),
  });
}

export function retryAfterToProto(ms: number): Duration | undefined {
  return ms > 0 ? durationFromMs(Math.ceil(ms)) : undefined;
}
