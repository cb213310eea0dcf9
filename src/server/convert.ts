/**
 * Conversion between protobuf messages (gen/ts) and engine/store types. The
 * only place that knows both; enum values a client sends that we do not know
 * become InvalidArgumentError naming the field.
 */
import { create } from "@bufbuild/protobuf";
import { type Duration, durationFromMs, durationMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  CircuitRemovedSchema,
  type CircuitRemoved as ProtoCircuitRemoved,
  RemovalCause as ProtoRemovalCause,
  type CircuitConfig as ProtoConfig,
  type CircuitEvent as ProtoEvent,
  type CircuitStats as ProtoStats,
  type CircuitStatus,
  type ConfigChange as ProtoConfigChange,
  type HistoryEntry as ProtoHistoryEntry,
  type Principal as ProtoPrincipal,
  type ReportResponse,
  CircuitConfigSchema,
  CircuitEventSchema,
  CircuitStatsSchema,
  CircuitStatusSchema,
  ConfigChangeSchema,
  ConfigSourceKind as ProtoConfigSourceKind,
  ConfigSourceSchema,
  type ConfigSource as ProtoConfigSource,
  DenyReason as ProtoDenyReason,
  HistoryEntrySchema,
  Outcome as ProtoOutcome,
  PatternRuleOrigin as ProtoPatternRuleOrigin,
  PatternRuleSchema,
  Pin as ProtoPin,
  PrincipalSchema,
  ReportDisposition as ProtoReportDisposition,
  ReportResponseSchema,
  State as ProtoState,
  TransitionCause as ProtoTransitionCause,
  type PatternRule as ProtoPatternRule,
} from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import {
  type CircuitConfig,
  type CircuitStats,
  type ConfigPatch,
  type ConfigSource,
  type DenyReason,
  type ForceTarget,
  type Outcome,
  type Principal,
  type ReportDisposition,
  type State,
  type TransitionReason,
  adminPrincipal,
} from "../engine/index.js";
import type {
  CircuitEvent,
  CircuitView,
  ConfigChangeRecord,
  HistoryEntry,
  PatternRuleOrigin,
  PatternRuleRecord,
  RemovalCause,
  ReportAck,
} from "../store/store.js";
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

const OUTCOME_TO_PROTO: Readonly<Record<Outcome, ProtoOutcome>> = {
  SUCCESS: ProtoOutcome.SUCCESS,
  FAILURE: ProtoOutcome.FAILURE,
  TIMEOUT: ProtoOutcome.TIMEOUT,
  IGNORED: ProtoOutcome.IGNORED,
};

const PROTO_TO_OUTCOME: Readonly<Record<number, Outcome>> = {
  [ProtoOutcome.SUCCESS]: "SUCCESS",
  [ProtoOutcome.FAILURE]: "FAILURE",
  [ProtoOutcome.TIMEOUT]: "TIMEOUT",
  [ProtoOutcome.IGNORED]: "IGNORED",
};

const DISPOSITION_TO_PROTO: Readonly<Record<ReportDisposition, ProtoReportDisposition>> = {
  RECORDED: ProtoReportDisposition.RECORDED,
  STALE: ProtoReportDisposition.STALE,
  DUPLICATE: ProtoReportDisposition.DUPLICATE,
  CONFLICT: ProtoReportDisposition.CONFLICT,
};

const REMOVAL_CAUSE_TO_PROTO: Readonly<Record<RemovalCause, ProtoRemovalCause>> = { idle_evicted: ProtoRemovalCause.IDLE_EVICTED };

/** A circuit's removal (Watch), at `at` (store ms). */
export function circuitRemovedToProto(circuit: string, cause: RemovalCause, at: number): ProtoCircuitRemoved {
  return create(CircuitRemovedSchema, { circuit, cause: REMOVAL_CAUSE_TO_PROTO[cause], removalTime: timestampFromMs(at) });
}

export const DENY_REASON_TO_PROTO: Readonly<Record<DenyReason, ProtoDenyReason>> = {
  OPEN: ProtoDenyReason.OPEN,
  FORCED_OPEN: ProtoDenyReason.FORCED_OPEN,
  HALF_OPEN_FULL: ProtoDenyReason.HALF_OPEN_FULL,
};

/** CircuitEvent.cause for each transition reason: a reason without its enum value does not compile. */
export const TRANSITION_CAUSE_TO_PROTO: Readonly<Record<TransitionReason, ProtoTransitionCause>> = {
  consecutive_failures: ProtoTransitionCause.CONSECUTIVE_FAILURES,
  failure_rate: ProtoTransitionCause.FAILURE_RATE,
  slow_call_rate: ProtoTransitionCause.SLOW_CALL_RATE,
  open_duration_elapsed: ProtoTransitionCause.OPEN_DURATION_ELAPSED,
  probe_failed: ProtoTransitionCause.PROBE_FAILED,
  probe_timeout: ProtoTransitionCause.PROBE_TIMEOUT,
  probes_succeeded: ProtoTransitionCause.PROBES_SUCCEEDED,
  reset: ProtoTransitionCause.RESET,
  forced_open: ProtoTransitionCause.FORCED_OPEN,
  disabled: ProtoTransitionCause.DISABLED,
  released: ProtoTransitionCause.RELEASED,
};

/** ConfigSource.kind for each kind of source. */
export const CONFIG_SOURCE_KIND_TO_PROTO: Readonly<Record<ConfigSource["kind"], ProtoConfigSourceKind>> = {
  circuit: ProtoConfigSourceKind.CIRCUIT,
  pattern_rule: ProtoConfigSourceKind.PATTERN_RULE,
  preset: ProtoConfigSourceKind.PRESET,
  defaults: ProtoConfigSourceKind.DEFAULTS,
};

const PATTERN_RULE_ORIGIN_TO_PROTO: Readonly<Record<PatternRuleOrigin, ProtoPatternRuleOrigin>> = {
  runtime: ProtoPatternRuleOrigin.RUNTIME,
  config_file: ProtoPatternRuleOrigin.CONFIG_FILE,
};

const PROTO_TO_PIN: Readonly<Record<number, ForceTarget>> = {
  [ProtoPin.FORCED_OPEN]: "FORCED_OPEN",
  [ProtoPin.DISABLED]: "DISABLED",
  [ProtoPin.NONE]: "CLOSED",
};

/**
 * An enum value a client sent: undefined for its UNSPECIFIED value (0), the
 * engine's value from `table` otherwise; a number the table lacks throws
 * InvalidArgumentError on `field` saying what to `use`.
 */
function enumFromProto<T>(field: string, value: number, table: Readonly<Record<number, T>>, use: string): T | undefined {
  if (value === 0) return undefined;
  const known = Object.hasOwn(table, value) ? table[value] : undefined;
  if (known === undefined) throw new InvalidArgumentError(field, `has unknown value ${value}; use ${use}`);
  return known;
}

/** A ForceState pin: undefined for PIN_UNSPECIFIED, the force target otherwise (PIN_NONE releases: CLOSED). */
export function pinFromProto(value: ProtoPin): ForceTarget | undefined {
  return enumFromProto("pin", value, PROTO_TO_PIN, "PIN_FORCED_OPEN, PIN_DISABLED or PIN_NONE");
}

/** A State filter or target: undefined for STATE_UNSPECIFIED, throws for a number no State has. */
export function stateFromProto(field: string, value: ProtoState): State | undefined {
  return enumFromProto(field, value, PROTO_TO_STATE, "a STATE_* value");
}

/** An Outcome: undefined for OUTCOME_UNSPECIFIED, throws for an unknown number (naming `field`). */
export function outcomeFromProto(value: ProtoOutcome, field = "outcome"): Outcome | undefined {
  return enumFromProto(field, value, PROTO_TO_OUTCOME, "OUTCOME_SUCCESS, OUTCOME_FAILURE, OUTCOME_TIMEOUT or OUTCOME_IGNORED");
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
  return patchToProto(c);
}

/** A config patch as the proto carries it: only the fields the patch sets (the inverse of patchFromProto). */
export function patchToProto(patch: ConfigPatch): ProtoConfig {
  const message = create(CircuitConfigSchema);
  // Set on the created message rather than passed to create(): that would
  // walk the schema a second time to copy an init object (List and Watch
  // snapshots convert one config per circuit).
  const fields = message as unknown as Record<string, unknown>;
  for (const { spec, localName, enum: values } of PROTO_CONFIG_FIELDS) {
    const value = patch[spec.key];
    if (value === undefined) continue;
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
    configSourceDetails: v.configSourceDetails.map(configSourceToProto),
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
    cause: TRANSITION_CAUSE_TO_PROTO[e.reason],
  });
  if (e.openUntil !== undefined) event.openUntil = timestampFromMs(e.openUntil);
  // An admin transition recorded before principals were kept has only its actor.
  const principal = e.principal ?? (e.actor === undefined ? undefined : adminPrincipal(e.actor));
  if (principal !== undefined) event.principal = principalToProto(principal);
  if (e.failureReporters !== undefined) event.failureReporters = e.failureReporters.map(principalToProto);
  return event;
}

export function principalToProto(p: Principal): ProtoPrincipal {
  return create(PrincipalSchema, { keyName: p.keyName, agentInstanceId: p.agentInstanceId });
}

/** A Report's answer; `duplicate` and `stale` kept beside `disposition` for older clients. */
export function reportAckToProto(ack: ReportAck): ReportResponse {
  return create(ReportResponseSchema, {
    state: STATE_TO_PROTO[ack.state],
    duplicate: ack.duplicate,
    stale: ack.stale,
    disposition: DISPOSITION_TO_PROTO[ack.disposition],
    recordedOutcome: OUTCOME_TO_PROTO[ack.recordedOutcome],
  });
}

function configSourceToProto(source: ConfigSource): ProtoConfigSource {
  return create(ConfigSourceSchema, { kind: CONFIG_SOURCE_KIND_TO_PROTO[source.kind], name: source.name });
}

/** An entry of `circuit`'s history. */
export function historyEntryToProto(h: HistoryEntry, circuit: string): ProtoHistoryEntry {
  if (h.kind === "transition") {
    return create(HistoryEntrySchema, { entry: { case: "transition", value: eventToProto(h.event) } });
  }
  return create(HistoryEntrySchema, { entry: { case: "configChange", value: configChangeToProto(h.change, circuit) } });
}

/** A recorded config change of `circuit` (History and Watch). */
export function configChangeToProto(c: ConfigChangeRecord, circuit: string): ProtoConfigChange {
  return create(ConfigChangeSchema, {
    target: c.target,
    actor: c.actor,
    // A config change is always an admin's act: its principal is the actor's key.
    principal: principalToProto(adminPrincipal(c.actor)),
    at: timestampFromMs(c.at),
    oldConfig: configToProto(c.oldConfig),
    newConfig: configToProto(c.newConfig),
    circuit,
    newConfigSources: (c.newSources ?? []).map(configSourceToProto),
  });
}

/** A pattern rule: its explicit settings as a config patch, and for runtime rules when and by whom it was last written. */
export function patternRuleToProto(r: PatternRuleRecord): ProtoPatternRule {
  const rule = create(PatternRuleSchema, {
    pattern: r.pattern,
    precedence: r.precedence,
    config: patchToProto(r.patch),
    preset: r.preset ?? "",
    origin: PATTERN_RULE_ORIGIN_TO_PROTO[r.origin],
  });
  if (r.updateTime !== undefined) rule.updateTime = timestampFromMs(r.updateTime);
  if (r.updatedBy !== undefined) rule.updatedBy = create(PrincipalSchema, { keyName: r.updatedBy });
  return rule;
}

export function retryAfterToProto(ms: number): Duration | undefined {
  return ms > 0 ? durationFromMs(Math.ceil(ms)) : undefined;
}
