/**
 * Decoders for what the Lua scripts answer (JSON made by cjson): each reply
 * checked field by field into a declared type, so a script and its caller
 * cannot drift apart silently. A reply of the wrong shape throws
 * ScriptReplyError naming the field. cjson writes an empty Lua table as {},
 * so an empty list may arrive as an object.
 */
import {
  CONFIG_FIELD_LIST,
  tableDefaults,
  type CircuitConfig,
  type ConfigFieldSpec,
  type CircuitStats,
  type ConfigSettings,
  type ConfigSource,
  type DenyReason,
  type Outcome,
  type Principal,
  type ReportDisposition,
  type ResolvedConfig,
  type State,
  type Transition,
  type TransitionReason,
} from "../../engine/index.js";
import type { AcquireDecision, CircuitEvent, CircuitView, ConfigChangeRecord, PatternRuleRecord } from "../store.js";
import type { HistoryPosition } from "../history-page.js";
import { orderRules, viewSources } from "../config-decisions.js";

/** A script answered something its caller does not understand (a bug, not an outage). */
/** How often a command is retried with the stored settings after a staleConfig answer. */
export const MAX_STALE_RETRIES = 3;

export class ScriptReplyError extends Error {
  override readonly name = "ScriptReplyError";
}

type Fields = Record<string, unknown>;

function fields(value: unknown, what: string): Fields {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ScriptReplyError(`${what} is not an object: ${JSON.stringify(value)}`);
  return value as Fields;
}

function asNum(v: unknown, what: string): number {
  if (typeof v !== "number") throw new ScriptReplyError(`${what} is not a number: ${JSON.stringify(v)}`);
  return v;
}

function asBool(v: unknown, what: string): boolean {
  if (typeof v !== "boolean") throw new ScriptReplyError(`${what} is not a boolean: ${JSON.stringify(v)}`);
  return v;
}

function asStr(v: unknown, what: string): string {
  if (typeof v !== "string") throw new ScriptReplyError(`${what} is not a string: ${JSON.stringify(v)}`);
  return v;
}

function asOneOf<T extends string>(v: unknown, values: readonly T[], what: string): T {
  const found = values.find((x) => x === v);
  if (found === undefined) throw new ScriptReplyError(`${what} is not one of ${values.join(", ")}: ${JSON.stringify(v)}`);
  return found;
}

const num = (o: Fields, key: string, what: string): number => asNum(o[key], `${what}.${key}`);
const bool = (o: Fields, key: string, what: string): boolean => asBool(o[key], `${what}.${key}`);
const str = (o: Fields, key: string, what: string): string => asStr(o[key], `${what}.${key}`);
const oneOf = <T extends string>(o: Fields, key: string, values: readonly T[], what: string): T => asOneOf(o[key], values, `${what}.${key}`);

function list<T>(value: unknown, item: (v: unknown, what: string) => T, what: string): T[] {
  if (Array.isArray(value)) return value.map((v, i) => item(v, `${what}[${i}]`));
  if (typeof value === "object" && value !== null && Object.keys(value).length === 0) return [];
  throw new ScriptReplyError(`${what} is not a list: ${JSON.stringify(value)}`);
}

const STATES: readonly State[] = ["CLOSED", "OPEN", "HALF_OPEN", "FORCED_OPEN", "DISABLED"];
const DENY_REASONS: readonly DenyReason[] = ["OPEN", "FORCED_OPEN", "HALF_OPEN_FULL"];
const OUTCOMES: readonly Outcome[] = ["SUCCESS", "FAILURE", "TIMEOUT", "IGNORED"];
const DISPOSITIONS: readonly ReportDisposition[] = ["RECORDED", "STALE", "DUPLICATE", "CONFLICT"];
/** Every TransitionReason; the record type makes a reason missing here a compile error. */
const TRANSITION_REASONS = Object.keys({
  consecutive_failures: 1,
  failure_rate: 1,
  slow_call_rate: 1,
  open_duration_elapsed: 1,
  probe_failed: 1,
  probe_timeout: 1,
  probes_succeeded: 1,
  reset: 1,
  forced_open: 1,
  disabled: 1,
  released: 1,
} satisfies Record<TransitionReason, 1>) as TransitionReason[];
/**
 * Counters as the scripts write them, with the rates recomputed: cjson
 * prints 14 significant digits, the engine's doubles have 17.
 */
export function decodeStats(value: unknown, what = "stats"): CircuitStats {
  const o = fields(value, what);
  const n = (key: keyof CircuitStats): number => num(o, key, what);
  const [calls, failures, slow] = [n("windowCalls"), n("windowFailures"), n("windowSlowCalls")];
  return {
    windowCalls: calls,
    windowFailures: failures,
    windowSlowCalls: slow,
    failureRate: calls === 0 ? 0 : failures / calls,
    slowCallRate: calls === 0 ? 0 : slow / calls,
    consecutiveFailures: n("consecutiveFailures"),
    halfOpenInFlight: n("halfOpenInFlight"),
    halfOpenSuccesses: n("halfOpenSuccesses"),
    totalSuccesses: n("totalSuccesses"),
    totalFailures: n("totalFailures"),
    totalTimeouts: n("totalTimeouts"),
    totalIgnored: n("totalIgnored"),
    totalRejections: n("totalRejections"),
    reopenCount: n("reopenCount"),
  };
}

/** A transition as a script or the event stream carries it; eventId once it has one. */
export interface ScriptEvent extends Transition {
  eventId?: string;
}

export function decodeEvent(value: unknown, what = "event"): ScriptEvent {
  const o = fields(value, what);
  const e: ScriptEvent = {
    circuit: str(o, "circuit", what),
    from: oneOf(o, "from", STATES, what),
    to: oneOf(o, "to", STATES, what),
    at: num(o, "at", what),
    reason: oneOf(o, "reason", TRANSITION_REASONS, what),
    generation: num(o, "generation", what),
    stats: decodeStats(o["stats"], `${what}.stats`),
  };
  if (o["openUntil"] !== undefined) e.openUntil = num(o, "openUntil", what);
  if (o["actor"] !== undefined) e.actor = str(o, "actor", what);
  if (o["principal"] !== undefined) e.principal = decodePrincipal(o["principal"], `${what}.principal`);
  if (o["failureReporters"] !== undefined) e.failureReporters = list(o["failureReporters"], decodePrincipal, `${what}.failureReporters`);
  if (o["eventId"] !== undefined) e.eventId = str(o, "eventId", what);
  return e;
}

function decodePrincipal(value: unknown, what: string): Principal {
  const o = fields(value, what);
  return { keyName: str(o, "keyName", what), agentInstanceId: str(o, "agentInstanceId", what) };
}

/** A circuit as a script sees it (the store adds the config). */
export interface ScriptView {
  circuit: string;
  state: State;
  stats: CircuitStats;
  generation: number;
  since: number;
  openUntil?: number;
}

function decodeView(value: unknown, what = "view"): ScriptView {
  const o = fields(value, what);
  const v: ScriptView = {
    circuit: str(o, "circuit", what),
    state: oneOf(o, "state", STATES, what),
    stats: decodeStats(o["stats"], `${what}.stats`),
    generation: num(o, "generation", what),
    since: num(o, "since", what),
  };
  if (o["openUntil"] !== undefined) v.openUntil = num(o, "openUntil", what);
  return v;
}

/** The caller's explicit-settings version was stale: the stored settings, to retry with. */
export interface StaleConfig {
  kind: "stale";
  version: number;
  settings: ConfigSettings | undefined;
}

/** One config field's value, checked by its kind in CONFIG_FIELD_LIST. */
function decodeField(f: ConfigFieldSpec, v: unknown, what: string): boolean | number | string {
  if (f.kind === "boolean") return asBool(v, what);
  if (f.kind === "enum") return asOneOf(v, f.values ?? [], what);
  return asNum(v, what);
}

/** Explicit settings as stored (JSON; "" or absent for none), fields checked against CONFIG_FIELD_LIST. */
export function decodeSettings(json: string | null | undefined): ConfigSettings | undefined {
  if (json == null || json === "") return undefined;
  return settingsOf(fields(JSON.parse(json), "settings"), "settings");
}

/** The explicit settings in `o` (its patch and preset). */
function settingsOf(o: Fields, what: string): ConfigSettings {
  const patch = fields(o["patch"], `${what}.patch`);
  const settings: ConfigSettings = { patch: {} };
  const out: Fields = settings.patch;
  for (const f of CONFIG_FIELD_LIST) if (patch[f.key] !== undefined) out[f.key] = decodeField(f, patch[f.key], `${what}.patch.${f.key}`);
  if (o["preset"] !== undefined) settings.preset = str(o, "preset", what);
  return settings;
}

/**
 * The runtime pattern rules as stored (JSON list; absent for none), checked
 * like explicit settings, and ordered. Rules stored before rules had a
 * precedence take their place in the list as it (1, 2, ...), which keeps
 * their order.
 */
export function decodeRuntimeRules(json: string | null | undefined): PatternRuleRecord[] {
  if (json == null || json === "") return [];
  const rules = list(JSON.parse(json), (v, what) => {
    const o = fields(v, what);
    const settings = settingsOf(o, what);
    const rule: PatternRuleRecord = { ...settings, pattern: str(o, "pattern", what), origin: "runtime", precedence: 0 };
    if (o["updateTime"] !== undefined) rule.updateTime = num(o, "updateTime", what);
    if (o["updatedBy"] !== undefined) rule.updatedBy = str(o, "updatedBy", what);
    return { rule, precedence: o["precedence"] };
  }, "rules");
  return orderRules(rules.map(({ rule, precedence }, i) => ({ ...rule, precedence: precedence === undefined ? i + 1 : asNum(precedence, `rules[${i}].precedence`) })));
}

/** Parses a script's JSON reply and answers the stale-config retry, or hands the reply to `decode`. */
function decodeReply<T>(json: unknown, what: string, decode: (o: Fields) => T): T | StaleConfig {
  if (typeof json !== "string") throw new ScriptReplyError(`${what} reply is not a string: ${JSON.stringify(json)}`);
  const o = fields(JSON.parse(json), what);
  if (o["staleConfig"] !== undefined) {
    const s = fields(o["staleConfig"], `${what}.staleConfig`);
    return { kind: "stale", version: num(s, "version", what), settings: decodeSettings(str(s, "settings", what)) };
  }
  return decode(o);
}

/** The transitions a script made; absent when it stopped before any could happen. */
const events = (o: Fields, what: string): ScriptEvent[] => (o["events"] === undefined ? [] : list(o["events"], decodeEvent, `${what}.events`));

/** acquire.lua's answer: the decision, plus what the local view learns from it. */
export interface AcquireReply extends AcquireDecision {
  kind: "acquired";
  events: ScriptEvent[];
  /** The stored state and generation, and the store's time: for the local view. */
  phase: State;
  generation: number;
  now: number;
}

export function decodeAcquireReply(json: unknown): AcquireReply | StaleConfig {
  return decodeReply(json, "acquire", (o) => {
    const r: AcquireReply = {
      kind: "acquired",
      allowed: bool(o, "allowed", "acquire"),
      state: oneOf(o, "state", STATES, "acquire"),
      retryAfterMs: num(o, "retryAfterMs", "acquire"),
      shadowDenied: bool(o, "shadowDenied", "acquire"),
      events: events(o, "acquire"),
      phase: oneOf(o, "phase", STATES, "acquire"),
      generation: num(o, "generation", "acquire"),
      now: num(o, "now", "acquire"),
    };
    if (o["permit"] !== undefined) r.permit = str(o, "permit", "acquire");
    if (o["reason"] !== undefined) r.reason = oneOf(o, "reason", DENY_REASONS, "acquire");
    return r;
  });
}

/** Why report.lua refused a permit. */
export type ReportRefusal = "missing" | "unknown" | "probe" | "expired" | "forgotten";

export type ReportReply =
  | {
      kind: "recorded";
      state: State;
      disposition: ReportDisposition;
      recordedOutcome: Outcome;
      duplicate: boolean;
      stale: boolean;
      events: ScriptEvent[];
    }
  | { kind: "refused"; problem: ReportRefusal; events: ScriptEvent[]; now: number | undefined };

export function decodeReportReply(json: unknown): ReportReply | StaleConfig {
  return decodeReply(json, "report", (o) => reportReplyOf(o, "report"));
}

/**
 * report-batch.lua's answer: one reply per report, in order (each what
 * report.lua would answer); a missing circuit is one answer for them all.
 */
export function decodeReportBatchReply(json: unknown, count: number): ReportReply[] | StaleConfig {
  if (typeof json === "string" && json.startsWith("[")) {
    const replies = list(JSON.parse(json), (v, what) => reportReplyOf(fields(v, what), what), "reportBatch");
    if (replies.length !== count) throw new ScriptReplyError(`reportBatch answered ${replies.length} replies to ${count} reports`);
    return replies;
  }
  return decodeReply(json, "reportBatch", (o) => {
    const missing = reportReplyOf(o, "reportBatch");
    if (missing.kind !== "refused" || missing.problem !== "missing") throw new ScriptReplyError(`reportBatch answered one reply that is not "missing": ${JSON.stringify(json)}`);
    return Array.from({ length: count }, () => ({ ...missing, events: [] }));
  });
}

function reportReplyOf(o: Fields, what: string): ReportReply {
  if (o["rejected"] !== undefined) {
    const problem = oneOf<ReportRefusal>(o, "rejected", ["missing", "unknown", "probe", "expired", "forgotten"], what);
    return { kind: "refused", problem, events: events(o, what), now: o["now"] === undefined ? undefined : num(o, "now", what) };
  }
  return {
    kind: "recorded",
    state: oneOf(o, "state", STATES, what),
    disposition: oneOf(o, "disposition", DISPOSITIONS, what),
    recordedOutcome: oneOf(o, "recordedOutcome", OUTCOMES, what),
    duplicate: bool(o, "duplicate", what),
    stale: bool(o, "stale", what),
    events: events(o, what),
  };
}

/** read.lua and admin.lua: the circuit after the command, or missing (a read or Reset of no circuit). */
export type ViewReply =
  | { kind: "missing" }
  | { kind: "view"; view: ScriptView; events: ScriptEvent[]; history: string[] | undefined };

export function decodeViewReply(json: unknown): ViewReply | StaleConfig {
  return decodeReply(json, "view", (o): ViewReply => {
    if (o["missing"] === true) return { kind: "missing" };
    const history = o["history"] === undefined ? undefined : list(o["history"], asStr, "view.history");
    return { kind: "view", view: decodeView(o["view"]), events: events(o, "view"), history };
  });
}

export interface ConfigureReply {
  kind: "configured";
  view: ScriptView;
  /** The explicit-settings version now stored. */
  version: number;
  events: ScriptEvent[];
  now: number;
}

export function decodeConfigureReply(json: unknown): ConfigureReply | StaleConfig {
  return decodeReply(json, "configure", (o) => ({
    kind: "configured",
    view: decodeView(o["view"]),
    version: num(o, "version", "configure"),
    events: events(o, "configure"),
    now: num(o, "now", "configure"),
  }));
}

/**
 * A config as stored in a config-change history entry, checked against
 * CONFIG_FIELD_LIST; a field added since the entry was written reads as its
 * default.
 */
function decodeConfig(value: unknown, what: string): CircuitConfig {
  const o = fields(value, what);
  const config = tableDefaults() as unknown as Fields; // a fresh object
  for (const f of CONFIG_FIELD_LIST) if (o[f.key] !== undefined) config[f.key] = decodeField(f, o[f.key], `${what}.${f.key}`);
  return config as unknown as CircuitConfig;
}

/** A history entry as stored (JSON, newest first in the list). */
export type StoredHistoryEntry = { kind: "transition"; event: ScriptEvent } | { kind: "config"; change: ConfigChangeRecord };

export function decodeHistoryEntry(json: string): StoredHistoryEntry {
  const o = fields(JSON.parse(json), "history entry");
  if (o["kind"] === "transition") return { kind: "transition", event: decodeEvent(o["event"], "history entry.event") };
  const c = fields(o["change"], "history entry.change");
  return {
    kind: "config",
    change: {
      target: str(c, "target", "change"),
      actor: str(c, "actor", "change"),
      at: num(c, "at", "change"),
      oldConfig: decodeConfig(c["oldConfig"], "change.oldConfig"),
      newConfig: decodeConfig(c["newConfig"], "change.newConfig"),
      ...(c["newSources"] === undefined ? {} : { newSources: decodeSources(c["newSources"], "change.newSources") }),
    },
  };
}

const SOURCE_KINDS: readonly ConfigSource["kind"][] = ["circuit", "pattern_rule", "preset", "defaults"];

/** A recorded change's structured config sources (as the store wrote them). */
function decodeSources(value: unknown, what: string): ConfigSource[] {
  return list(value, (v, w) => {
    const o = fields(v, w);
    return { kind: oneOf(o, "kind", SOURCE_KINDS, w), name: str(o, "name", w) };
  }, what);
}

/**
 * The position push_history (includes/history.lua) gave a stored history
 * entry; undefined for an entry written before positions existed. A second
 * parse of the entry, kept apart from decodeHistoryEntry: GetHistory is not
 * a hot path.
 */
export function decodeHistoryPosition(json: string): HistoryPosition | undefined {
  const o = fields(JSON.parse(json), "history entry");
  if (o["seq"] === undefined) return undefined;
  return { life: num(o, "life", "history entry"), seq: num(o, "seq", "history entry") };
}

/** A script's transition as watchers and listeners see it (no event id yet in Cluster mode: ""). */
export function toCircuitEvent(e: ScriptEvent): CircuitEvent {
  return { ...e, eventId: e.eventId ?? "" };
}

/** A script's view of a circuit with the config this replica resolved for it. */
export function toCircuitView(v: ScriptView, resolved: ResolvedConfig): CircuitView {
  return { ...v, config: resolved.config, ...viewSources(resolved) };
}
