/**
 * The store interface: where circuits live. `memory` (one replica) and
 * `redis` (any number of replicas) implement it with the same semantics,
 * proven by one conformance suite (test/conformance).
 *
 * Guarantees every implementation MUST give:
 * - Atomicity: each call is applied to a circuit as one indivisible step
 *   (read, decide, write). Concurrent callers, on any replica, see a total
 *   order of steps per circuit; no update is lost.
 * - Clock: the store owns the time. Transitions and permit expiries use the
 *   store's clock (Redis TIME in Redis mode, an injected clock in memory), so
 *   replicas with skewed clocks agree.
 * - Expiry: a CLOSED circuit idle for the configured time may be forgotten,
 *   with its counters and history; its explicit settings survive. An OPEN,
 *   HALF_OPEN, FORCED_OPEN or DISABLED circuit is never forgotten. Idle means
 *   unused: only acquire, report, reset, force and configureCircuit of the
 *   circuit are uses. Reads (get, list, history, watch) never are, even when
 *   they apply a due transition (time's, between states that do not
 *   expire), nor is a pattern rule's config change of the circuit. Nothing
 *   of a forgotten circuit but its explicit settings remains.
 * - Events: every transition, config change and removal of a circuit enters
 *   the event log at a position, increasing in the order they happened (a
 *   transition's position is its event id), and is delivered to every
 *   watcher whose filter matches, exactly once and in order, including
 *   watchers on other replicas.
 *
 * Inputs are validated by the service before they reach the store: names,
 * enum values and config ranges. The store still refuses what only it can
 * judge (permits, configs that are invalid once merged, resume tokens).
 */
import type {
  CircuitConfig,
  CircuitStats,
  ConfigPatch,
  ConfigSource,
  DenyReason,
  ForceTarget,
  Outcome,
  PatternRule,
  Principal,
  ReportDisposition,
  State,
  Transition,
} from "../engine/index.js";
import type { HistoryPage, HistoryPosition } from "./history-page.js";

export { CircuitCapError, PatternRuleFromFileError, PatternRuleNotFoundError, ResumeTokenError, StoreUnavailableError } from "./store-errors.js";

/** Everything known about one circuit, as of one instant. */
export interface CircuitView {
  circuit: string;
  /** The state callers see (DISABLED when the config disables the circuit). */
  state: State;
  config: CircuitConfig;
  /** Where the config came from, most specific first, as text: sourceLabel of each of configSourceDetails. */
  configSources: string[];
  /** Where the config came from, most specific first. */
  configSourceDetails: ConfigSource[];
  stats: CircuitStats;
  generation: number;
  /** When it entered its current state. */
  since: number;
  /** While OPEN: when probes will be let through. */
  openUntil?: number;
}

/** A transition with its position in the event log. */
export interface CircuitEvent extends Transition {
  /** Opaque, increasing; also a resume token. */
  eventId: string;
}

/** A recorded config change of one circuit. */
export interface ConfigChangeRecord {
  /** The circuit name or the pattern that was configured. */
  target: string;
  actor: string;
  at: number;
  oldConfig: CircuitConfig;
  newConfig: CircuitConfig;
  /** Where the new config comes from, most specific first; absent on entries recorded before v1. */
  newSources?: ConfigSource[];
}

export type HistoryEntry =
  | { kind: "transition"; event: CircuitEvent }
  | { kind: "config"; change: ConfigChangeRecord };

/** The store's answer to Acquire. */
export interface AcquireDecision {
  allowed: boolean;
  permit?: string;
  state: State;
  retryAfterMs: number;
  reason?: DenyReason;
  shadowDenied: boolean;
}

/** A validated Report. */
export interface ReportCommand {
  permit: string;
  outcome: Outcome;
  durationMs: number;
  /** The dependency's Retry-After hint; 0 when none. */
  retryAfterMs: number;
  /**
   * The reporter: every transition this report drives carries it (those
   * time made due first carry none). Absent: they carry none.
   */
  principal?: Principal;
}

/** How a Report was counted (engine ReportResult without its transitions). */
export interface ReportAck {
  state: State;
  disposition: ReportDisposition;
  /** This report's outcome (RECORDED, STALE) or the first report's (DUPLICATE, CONFLICT). */
  recordedOutcome: Outcome;
  /** DUPLICATE or CONFLICT. */
  duplicate: boolean;
  /** STALE. */
  stale: boolean;
}

/**
 * A validated Configure. Applied to the target's explicit settings in this
 * order: `replace` drops them all; `clear` and `clearPreset` drop the named
 * ones; `patch` and `preset` set theirs. Fields named nowhere are kept.
 */
export interface ConfigureCommand {
  /** Start from this preset (must exist). */
  preset?: string;
  /** Fields to set. */
  patch: ConfigPatch;
  /** Drop earlier explicit settings of the target first. */
  replace: boolean;
  /** Fields to drop from the explicit settings (an update_mask naming a field that `patch` leaves unset). */
  clear?: readonly (keyof CircuitConfig)[];
  /** Drop the explicit preset (an update_mask naming "preset" with no preset given). */
  clearPreset?: boolean;
  /**
   * Pattern targets only: the rule's precedence among the runtime rules.
   * Unset keeps an existing rule's, and puts a new rule after every runtime
   * rule (the highest precedence + 1, or 1).
   */
  precedence?: number;
}

/** Where a pattern rule was set: by Configure at runtime, or in the config file. */
export type PatternRuleOrigin = "runtime" | "config_file";

/**
 * A pattern rule as stores hold and list it. Rules are consulted runtime
 * rules first, by precedence ascending and equal precedences by pattern,
 * then the config file's rules in file order.
 */
export interface PatternRuleRecord extends PatternRule {
  origin: PatternRuleOrigin;
  /** Runtime rules: 0 and up. Config file rules: 0. */
  precedence: number;
  /** Runtime rules: when last written, by the store's clock (ms). Absent for file rules. */
  updateTime?: number;
  /** Runtime rules: the caller (API key name) that last wrote it. Absent for file rules. */
  updatedBy?: string;
}

/** A pattern rule a Configure wrote or a DeletePatternRule removed, and how many existing circuits it governs (or governed). */
export interface PatternRuleChange {
  rule: PatternRuleRecord;
  matchedCircuits: number;
}

export interface ListQuery {
  prefix: string;
  /** Only this state; undefined for any. */
  state?: State;
  /** Names strictly after this one (the previous page's last name). */
  after?: string;
  limit: number;
}

export interface ListPage {
  circuits: CircuitView[];
  /** True when more circuits follow the last one returned. */
  more: boolean;
}

/** Which circuits a watcher wants: the listed names plus any under `prefix`. Both empty = all. */
export interface WatchFilter {
  circuits: readonly string[];
  prefix: string;
}

/** Why a circuit left the store. */
export type RemovalCause = "idle_evicted";

/**
 * An entry of the event log other than a transition, with its position
 * (`position` plays the part of a transition's eventId): a config change of
 * one circuit (Configure on it, or on a pattern rule that governs it), or the
 * removal of a circuit.
 */
export type LoggedChange =
  | { kind: "config_change"; position: string; circuit: string; change: ConfigChangeRecord }
  | { kind: "circuit_removed"; position: string; circuit: string; cause: RemovalCause; at: number };

/**
 * One item delivered to a watcher, in order. Positions (an event's eventId,
 * a logged change's position, snapshot_complete's resumeToken) are the
 * store's raw log positions; the service wraps them in filter-bound opaque
 * tokens.
 */
export type WatchItem =
  | { kind: "snapshot"; status: CircuitView }
  | { kind: "snapshot_complete"; resumeToken: string }
  | { kind: "event"; event: CircuitEvent }
  | LoggedChange;

/** The log position of a positional item; undefined for a snapshot. */
export function positionOf(item: WatchItem): string | undefined {
  switch (item.kind) {
    case "snapshot":
      return undefined;
    case "snapshot_complete":
      return item.resumeToken;
    case "event":
      return item.event.eventId;
    default:
      return item.position;
  }
}

/** The circuit a log entry is about. */
export function circuitOf(entry: { kind: "event"; event: CircuitEvent } | LoggedChange): string {
  return entry.kind === "event" ? entry.event.circuit : entry.circuit;
}

/** An open watch; close() stops delivery and frees it. Idempotent. */
export interface WatchSubscription {
  close(): void;
  /**
   * How far in the WHOLE event log (entries of circuits this watcher does not
   * match included) the watcher has been served: every matching entry up to
   * here has already been handed to its sink. Resuming from it misses nothing
   * and replays nothing, however long the watcher was quiet.
   */
  position(): string;
}

export interface StoreHealth {
  ready: boolean;
  /** Why not, when not ready. */
  reason?: string;
}

/**
 * Where circuits live. Every method may reject with StoreUnavailableError
 * when the backing store cannot be reached; the service maps it to
 * UNAVAILABLE.
 */
export interface CircuitStore {
  /** Decides one call; creates the circuit on first use with its resolved config. */
  acquire(circuit: string): Promise<AcquireDecision>;

  /**
   * Records an outcome. Rejects with PermitRejectedError for a malformed,
   * foreign, expired or unknown permit (also when the circuit does not exist).
   * Remembers a reported permit's outcome until the permit expires, and
   * answers a repeat within that time DUPLICATE or CONFLICT, changing nothing.
   */
  report(circuit: string, command: ReportCommand): Promise<ReportAck>;

  /** The circuit's view, or undefined if it does not exist. */
  get(circuit: string): Promise<CircuitView | undefined>;

  /** Circuits in name order. */
  list(query: ListQuery): Promise<ListPage>;

  /**
   * How many circuits the store holds now (the breakerbox_circuits gauge):
   * cheap, from an index or map size, never a walk of every circuit. Exact
   * on the memory store and on one Redis server or Sentinel; on Redis
   * Cluster this replica's latest count (docs/design.md §Stores).
   */
  countCircuits(): Promise<number>;

  /**
   * At most `limit` history entries, newest first: the newest ones, or with
   * `before` (a page's `next`) the ones strictly older than it, however many
   * were recorded since (see src/store/history-page.ts pageOfHistory, which
   * both stores use: a `before` from an earlier life of the circuit ends the
   * listing). Undefined if the circuit does not exist.
   */
  history(circuit: string, limit: number, before?: HistoryPosition): Promise<HistoryPage | undefined>;

  /**
   * Resets to CLOSED; undefined if the circuit does not exist. The
   * transition carries `actor` and the principal {keyName: actor}.
   */
  reset(circuit: string, actor: string): Promise<CircuitView | undefined>;

  /** Pins or releases; creates the circuit if needed. The transition carries actor and principal as reset's. */
  force(circuit: string, target: ForceTarget, actor: string): Promise<CircuitView>;

  /**
   * Changes one circuit's explicit settings (creating the circuit if needed),
   * keeping its state and counters. Rejects with InvalidConfigError when the
   * merged config is invalid, UnknownPresetError for an unknown preset.
   */
  configureCircuit(circuit: string, command: ConfigureCommand, actor: string): Promise<CircuitView>;

  /**
   * Sets a runtime pattern rule (ahead of the file's rules, at its
   * precedence; an existing rule with the same pattern is updated). Every
   * live circuit whose resolved config changes records the change in its
   * history. Answers the rule as stored and how many live circuits it
   * governs. Rejects like configureCircuit when the rule alone, or any
   * circuit with explicit settings it matches, would resolve to an invalid
   * config.
   */
  configurePattern(pattern: string, command: ConfigureCommand, actor: string): Promise<PatternRuleChange>;

  /** Every pattern rule, in the order they are consulted (see PatternRuleRecord). */
  listPatternRules(): Promise<PatternRuleRecord[]>;

  /**
   * Removes the runtime rule with this pattern; the circuits it governed
   * fall back to the next matching rule, preset and defaults, and each whose
   * config changes records it in its history. Answers the rule as it was and
   * how many live circuits it governed. Rejects with PatternRuleNotFoundError
   * when no rule has the pattern, PatternRuleFromFileError when only the
   * config file has it, InvalidConfigError when a circuit with explicit
   * settings it matches would fall back to an invalid config.
   */
  deletePatternRule(pattern: string, actor: string): Promise<PatternRuleChange>;

  /**
   * Starts delivering to `sink`: without a resume token, one snapshot item per
   * matching circuit then snapshot_complete, then every matching log entry
   * (event, config_change, circuit_removed); with a resume token (a raw log
   * position), exactly the matching entries after it. Rejects with
   * ResumeTokenError when the token is malformed or its events are no longer
   * retained. `sink` is called synchronously from the store's event source
   * and must not throw.
   */
  watch(filter: WatchFilter, resumeToken: string | undefined, sink: (item: WatchItem) => void): Promise<WatchSubscription>;

  /**
   * The raw position of the newest entry of the event log, as a resume token
   * for watch(): watch(filter, it, sink) then delivers exactly the matching
   * entries logged after this call. The Watch hub starts a fresh stream here
   * and reads its snapshot with list() and get(), page by page as the client
   * takes it, instead of asking watch() for the whole snapshot at once.
   */
  logPosition(): Promise<string>;

  /**
   * Optional change feed for the Watch status rounds (service/status-poller.ts)
   * and the failure-rate gauge (metrics/failure-rates.ts), each with its own cursor:
   * the circuits whose view may differ from what it was when `cursor` (a
   * cursor this method answered before) was given, so a round reads those
   * instead of every circuit. `names` absent: the store cannot tell (no
   * cursor, a record that does not reach back that far, a change of pattern
   * rules): read everything. A store without it is read in full every round.
   */
  statusChanges?(cursor: string | undefined): Promise<StatusChanges>;

  /**
   * Every transition this replica makes (with one replica: every transition),
   * for its logs. Transitions made by other replicas reach Watch, not this.
   * Returns an unsubscribe function.
   */
  onTransition(listener: (event: CircuitEvent) => void): () => void;

  /** Every config change this replica makes, for its logs. Returns an unsubscribe function. */
  onConfigChange(listener: (change: ConfigChangeRecord) => void): () => void;

  health(): StoreHealth;

  /** Releases resources; pending watches are closed. */
  close(): Promise<void>;
}

/** What CircuitStore.statusChanges answers. */
export interface StatusChanges {
  /** The cursor to ask from next time. */
  cursor: string;
  /** Circuits whose view may have changed (maybe a few that did not; maybe ones removed since); absent: read everything. */
  names?: string[];
  /**
   * With no names: the store forgot changes after the cursor because its
   * record of them overflowed its bound (memory store statusFeedMaxNames),
   * not for an ordinary reason (no cursor, rule change, old cursor). Worth
   * an operator's look when it repeats: every such round reads every circuit.
   */
  overflowed?: true;
}

/** True when `name` is selected by `filter`. */
export function matchesFilter(filter: WatchFilter, name: string): boolean {
  if (filter.circuits.length === 0 && filter.prefix === "") return true;
  if (filter.prefix !== "" && name.startsWith(filter.prefix)) return true;
  return filter.circuits.includes(name);
}

/** The members a wrapper of a store (metrics, tracing) hands straight to it. */
export type PassedThrough = Pick<
  CircuitStore,
  "countCircuits" | "watch" | "logPosition" | "statusChanges" | "onTransition" | "onConfigChange" | "health" | "close"
>;

/**
 * `store`'s members that a wrapper (metrics, tracing) passes straight
 * through, to spread into the wrapper: one list, so no wrapper drops one
 * (the optional change feed is there only when the store has one: without
 * it every status round reads every circuit).
 */
export function passedThrough(store: CircuitStore): PassedThrough {
  return {
    countCircuits: () => store.countCircuits(),
    watch: (filter, resumeToken, sink) => store.watch(filter, resumeToken, sink),
    logPosition: () => store.logPosition(),
    ...(store.statusChanges === undefined ? {} : { statusChanges: (cursor: string | undefined) => store.statusChanges!(cursor) }),
    onTransition: (listener) => store.onTransition(listener),
    onConfigChange: (listener) => store.onConfigChange(listener),
    health: () => store.health(),
    close: () => store.close(),
  };
}
