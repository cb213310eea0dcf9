// Over 400 lines: one class holding all of the embedded store's state; its decisions live in the engine and config-decisions.ts.
/**
 * (Over 400 lines: every CircuitStore command on one in-memory map; the event
 * log, the watchers and config decisions are modules of their own.)
 *
 * The embedded store: every circuit in this process's memory, driven by the
 * engine directly. One replica only; state is lost on restart.
 *
 * JavaScript runs one step at a time, so each method body is atomic per
 * circuit without locks. Time comes from the injected clock.
 */
import { TouchedNames } from "./memory-touched.js";
import { type PermitSecrets, type PermitSigner, createPermitSigner, randomPermitSecret } from "./permit-signer.js";
import {
  type Circuit,
  type CircuitConfig,
  type ConfigSettings,
  type ForceTarget,
  type ResolvedConfig,
  type Tick,
  type Transition,
  permitRefusal,
  PermitRejectedError,
  acquire as engineAcquire,
  adminPrincipal,
  advance,
  force as engineForce,
  idleExpiryAt,
  isEvictable,
  newCircuit,
  nextDueAt,
  report as engineReport,
  reset as engineReset,
  statsOf,
  visibleState,
  globMatches,
} from "../engine/index.js";
import {
  type AcquireDecision,
  type CircuitEvent,
  type CircuitStore,
  type CircuitView,
  type ConfigChangeRecord,
  type ConfigureCommand,
  type HistoryEntry,
  type ListPage,
  type ListQuery,
  type PatternRuleChange,
  type PatternRuleRecord,
  type ReportAck,
  type ReportCommand,
  type StatusChanges,
  type StoreHealth,
  type WatchFilter,
  type WatchItem,
  type WatchSubscription,
  circuitOf,
  matchesFilter,
} from "./store.js";
import { createStoreListeners } from "./store-listeners.js";
import { CircuitCapError } from "./store-errors.js";
import { DueHeap } from "./due-heap.js";
import { type HistoryPage, type HistoryPosition, type PositionedHistoryEntry, nextHistoryPosition, pageOfHistory } from "./history-page.js";
import { type MemoryEventLog, type UnloggedChange, createMemoryEventLog } from "./memory-event-log.js";
import { createMemoryWatchers } from "./memory-watchers.js";
import { SortedKeyMap, SortedNames } from "./sorted-names.js";
import {
  type ConfigDecisions,
  type FileConfig,
  type RuleDecision,
  createConfigDecisions,
  governedBy,
  sameConfig,
  viewSources,
} from "./config-decisions.js";

/** The config file's layers and circuits (FileConfig), and: */
export interface MemoryStoreOptions extends FileConfig, PermitSecrets {
  /** The store's clock, ms since the epoch. Default Date.now. */
  clock?: () => number;
  /** Uniform [0, 1) source for jitter. Default Math.random. */
  random?: () => number;
  /** Circuits unused this long are forgotten once CLOSED or HALF_OPEN with no probe out (engine isEvictable). Default 24 h. */
  idleTtlMs?: number;
  /** Most circuits held; creating one more throws CircuitCapError. Default 1 000 000. */
  maxCircuits?: number;
  /** Events kept for Watch resume. Default 10 000. */
  eventLogSize?: number;
  /** History entries kept per circuit. Default 100. */
  historyLimit?: number;
  /**
   * How often a background tick applies due time-driven transitions (so
   * watchers see OPEN → HALF_OPEN without waiting for traffic) and evicts idle
   * circuits; each tick looks only at the circuits due (two due-time heaps). Default 1000 ms; 0 turns it off (tests with a frozen clock call
   * {@link MemoryStore.tick} themselves).
   */
  tickIntervalMs?: number;
  /**
   * Circuit names the record of recent changes holds for the Watch status
   * rounds (statusChanges); past it the older half is forgotten and the next
   * round reads every circuit. Default 100 000.
   */
  statusFeedMaxNames?: number;
  /** Tests only: slots of a permit stream's dedupe window (engine permit-window.ts); default 2^21. */
  permitWindowSlots?: number;
}

/**
 * How long a change is remembered for statusChanges: the longest status
 * interval (1 h) plus the longest window (1 day), whose counts slide that
 * long after the change.
 */
const STATUS_FEED_RETAIN_MS = 3_600_000 + 86_400_000;

interface Entry {
  circuit: Circuit;
  resolved: ResolvedConfig;
  /** rulesVersion the resolution was made at. */
  resolvedAt: number;
  /** Oldest first, each with its position (history-page.ts). */
  history: PositionedHistoryEntry[];
  /** When its item in the store's time queue is due (engine nextDueAt), if it has one. */
  timeDue: number | undefined;
}

/** Creates the embedded store. Call close() to stop its background tick. */
export function createMemoryStore(options: MemoryStoreOptions): MemoryStore {
  return new MemoryStore(options);
}

export class MemoryStore implements CircuitStore {
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly idleTtlMs: number;
  private readonly signer: PermitSigner;
  private readonly historyLimit: number;
  private readonly decisions: ConfigDecisions;
  /** In the order they are consulted (config-decisions.ts orderRules). */
  private runtimeRules: PatternRuleRecord[] = [];
  private rulesVersion = 0;
  /** Settings stored by Configure, by circuit; kept when an idle circuit is evicted. */
  private readonly stored = new Map<string, ConfigSettings>();
  /** Names of the circuits whose stored state is not CLOSED, in order: a listing by OPEN, HALF_OPEN or FORCED_OPEN reads only these. */
  private readonly activeNames = new SortedNames();
  /** In name order too (sorted-names.ts): a listing page reads from its cursor on. */
  private readonly entries = new SortedKeyMap<Entry>([this.activeNames]);
  private readonly maxCircuits: number;
  /** Circuits with a time-driven transition due (OPEN, HALF_OPEN with probes out), by when. */
  private readonly timeQueue = new DueHeap<Entry>();
  /**
   * Every circuit, by the earliest instant it may be evictable (engine
   * idleExpiryAt, computed when it was queued: uses since only postpone it,
   * so an item that comes out early is queued again at the new instant).
   */
  private readonly idleQueue = new DueHeap<Entry>();
  private readonly eventLog: MemoryEventLog;
  private readonly permitWindowSlots: number | undefined;
  private readonly watchers = createMemoryWatchers();
  private readonly listeners = createStoreListeners();
  /** The circuits changed recently, for statusChanges. */
  private readonly touched: TouchedNames;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: MemoryStoreOptions) {
    this.clock = options.clock ?? Date.now;
    this.random = options.random ?? Math.random;
    this.idleTtlMs = options.idleTtlMs ?? 86_400_000;
    this.maxCircuits = options.maxCircuits ?? 1_000_000;
    // No shared secret needed: this store's permits die with the process.
    this.signer = createPermitSigner(options.permitSecret ?? randomPermitSecret(), options.previousPermitSecret);
    this.eventLog = createMemoryEventLog(options.eventLogSize ?? 10_000);
    this.historyLimit = options.historyLimit ?? 100;
    this.permitWindowSlots = options.permitWindowSlots;
    this.decisions = createConfigDecisions(options);
    this.touched = new TouchedNames(options.statusFeedMaxNames ?? 100_000, STATUS_FEED_RETAIN_MS);
    const every = options.tickIntervalMs ?? 1000;
    if (every > 0) {
      this.timer = setInterval(() => this.tick(), every);
      this.timer.unref();
    }
  }

  // ---- hot path ---------------------------------------------------------

  async acquire(name: string): Promise<AcquireDecision> {
    const circuits = this.entries.size;
    const entry = this.entryFor(name, true);
    const config = this.configOf(entry);
    const now = this.clock();
    const result = engineAcquire(entry.circuit, config, { now, rand: this.random() });
    // What a view shows changed: a new circuit, a denial (or shadow one:
    // counted), a probe out; a transition (publish records it). A plain grant
    // changes nothing a view shows, so it is not recorded, as on Redis
    // (includes/indexes.lua).
    if (this.entries.size !== circuits || result.reason !== undefined || entry.circuit.phase.state === "HALF_OPEN") {
      this.touched.touch(name, now);
    }
    if (result.transitions.length > 0) this.publish(entry, result.transitions);
    else if (entry.circuit.phase.state === "HALF_OPEN") this.scheduleTime(entry); // a probe went out
    const decision: AcquireDecision = {
      allowed: result.allowed,
      state: result.state,
      retryAfterMs: result.retryAfterMs,
      shadowDenied: result.shadowDenied,
    };
    if (result.permit !== undefined) decision.permit = this.signer.sign(name, result.permit);
    if (result.reason !== undefined) decision.reason = result.reason;
    return decision;
  }

  async report(name: string, command: ReportCommand): Promise<ReportAck> {
    const entry = this.entries.get(name);
    if (entry === undefined) {
      throw permitRefusal.noSuchCircuit(name);
    }
    // Before the circuit is touched: a token that is not ours changes nothing.
    const { body } = this.signer.open(name, command.permit);
    const config = this.configOf(entry);
    let result;
    try {
      result = engineReport(entry.circuit, config, { ...command, permit: body, now: this.clock(), rand: this.random(), windowSlots: this.permitWindowSlots });
    } catch (err) {
      // Transitions time made due stand even when the permit is refused.
      if (PermitRejectedError.is(err) && err.transitions.length > 0) this.publish(entry, err.transitions);
      throw err;
    }
    const { transitions, ...ack } = result;
    this.touched.touch(name, this.clock());
    if (transitions.length > 0) this.publish(entry, transitions);
    return ack;
  }

  // ---- reads --------------------------------------------------------------

  async get(name: string): Promise<CircuitView | undefined> {
    const entry = this.entries.get(name);
    if (entry === undefined) return undefined;
    this.advanceEntry(entry);
    return this.viewOf(entry);
  }

  async list(query: ListQuery): Promise<ListPage> {
    // A circuit shows OPEN, HALF_OPEN or FORCED_OPEN only from a stored state
    // that is not CLOSED (a due transition moves OPEN and HALF_OPEN into each
    // other, never to or from CLOSED); CLOSED and DISABLED (a config's
    // enabled=false) walk the names from the cursor.
    const index = query.state === "OPEN" || query.state === "HALF_OPEN" || query.state === "FORCED_OPEN" ? this.activeNames : this.entries.sortedKeys;
    const chunk = Math.max(64, query.limit + 1);
    const circuits: CircuitView[] = [];
    for (let after = query.after; ; ) {
      // Taken a chunk at a time: reading a circuit may apply a transition, which changes activeNames.
      const names: string[] = [];
      for (const name of index.from(query.prefix, after)) if (names.push(name) === chunk) break;
      for (const name of names) {
        const entry = this.entries.get(name)!;
        this.advanceEntry(entry);
        const view = this.viewOf(entry);
        if (query.state !== undefined && view.state !== query.state) continue;
        if (circuits.length === query.limit) return { circuits, more: true };
        circuits.push(view);
      }
      if (names.length < chunk) return { circuits, more: false };
      after = names.at(-1);
    }
  }

  async countCircuits(): Promise<number> {
    return this.entries.size;
  }

  async history(name: string, limit: number, before?: HistoryPosition): Promise<HistoryPage | undefined> {
    const entry = this.entries.get(name);
    if (entry === undefined) return undefined;
    this.advanceEntry(entry);
    return pageOfHistory(entry.history.toReversed(), limit, before);
  }

  // ---- admin -----------------------------------------------------------------

  async reset(name: string, actor: string): Promise<CircuitView | undefined> {
    const entry = this.entries.get(name);
    if (entry === undefined) return undefined;
    const config = this.configOf(entry);
    this.publish(entry, [{ ...engineReset(entry.circuit, config, this.clock()), actor, principal: adminPrincipal(actor) }]);
    return this.viewOf(entry);
  }

  async force(name: string, target: ForceTarget, actor: string): Promise<CircuitView> {
    const entry = this.entryFor(name, true);
    const config = this.configOf(entry);
    const now = this.clock();
    const transitions = advance(entry.circuit, config, { now, rand: this.random() });
    const forced = engineForce(entry.circuit, config, now, target);
    if (forced !== undefined) transitions.push({ ...forced, actor, principal: adminPrincipal(actor) });
    this.touched.touch(name, now);
    this.publish(entry, transitions);
    return this.viewOf(entry);
  }

  async configureCircuit(name: string, command: ConfigureCommand, actor: string): Promise<CircuitView> {
    const decision = this.decisions.configureCircuit(this.runtimeRules, name, this.stored.get(name), command);
    const entry = this.entryFor(name, true);
    const oldConfig = this.configOf(entry);
    this.stored.set(name, decision.settings);
    entry.resolved = decision.resolved;
    entry.resolvedAt = this.rulesVersion;
    const { config: newConfig, sources: newSources } = decision.resolved;
    const now = this.clock();
    // Configuring a circuit is a use (a pattern rule's change of it is not: replaceRules).
    entry.circuit.lastUsed = now;
    this.recordConfigChange(entry, { target: name, actor, at: now, oldConfig, newConfig, newSources });
    this.advanceEntry(entry);
    return this.viewOf(entry);
  }

  async configurePattern(pattern: string, command: ConfigureCommand, actor: string): Promise<PatternRuleChange> {
    const decision = this.decisions.configurePattern(this.runtimeRules, pattern, command, this.stored, { at: this.clock(), actor });
    return { rule: decision.rule, matchedCircuits: this.replaceRules(pattern, decision, actor, "after") };
  }

  async listPatternRules(): Promise<PatternRuleRecord[]> {
    return this.decisions.listRules(this.runtimeRules);
  }

  async deletePatternRule(pattern: string, actor: string): Promise<PatternRuleChange> {
    const decision = this.decisions.deletePattern(this.runtimeRules, pattern, this.stored);
    return { rule: decision.rule, matchedCircuits: this.replaceRules(pattern, decision, actor, "before") };
  }

  /**
   * Puts the decided runtime rules in force; every live circuit `pattern`
   * matches whose config changes records it. Answers how many of them the
   * rule governs `after` the change (a write) or governed `before` it (a delete).
   */
  private replaceRules(pattern: string, decision: RuleDecision, actor: string, counted: "before" | "after"): number {
    const now = this.clock();
    const changes: [Entry, CircuitConfig, boolean][] = [];
    for (const entry of this.entries.values()) {
      if (!globMatches(pattern, entry.circuit.name)) continue;
      const oldConfig = this.configOf(entry);
      changes.push([entry, oldConfig, governedBy(entry.resolved, pattern)]);
    }
    this.runtimeRules = decision.rules;
    this.rulesVersion += 1;
    let matched = 0;
    for (const [entry, oldConfig, governedBefore] of changes) {
      const newConfig = this.configOf(entry);
      if (counted === "before" ? governedBefore : governedBy(entry.resolved, pattern)) matched += 1;
      if (!sameConfig(oldConfig, newConfig)) {
        this.recordConfigChange(entry, { target: pattern, actor, at: now, oldConfig, newConfig, newSources: entry.resolved.sources });
      }
    }
    return matched;
  }

  // ---- watch -------------------------------------------------------------

  async watch(
    filter: WatchFilter,
    resumeToken: string | undefined,
    sink: (item: WatchItem) => void,
  ): Promise<WatchSubscription> {
    if (resumeToken !== undefined && resumeToken !== "") {
      const replay = this.eventLog.after(resumeToken).filter((entry) => matchesFilter(filter, circuitOf(entry)));
      for (const entry of replay) sink(entry);
    } else {
      // Apply due transitions first, so they reach existing watchers as events
      // and the snapshot shows the circuits as they are now.
      const matching = [...this.entries.values()].filter((e) => matchesFilter(filter, e.circuit.name));
      for (const entry of matching) this.advanceEntry(entry);
      matching.sort((a, b) => (a.circuit.name < b.circuit.name ? -1 : 1));
      for (const entry of matching) sink({ kind: "snapshot", status: this.viewOf(entry) });
      sink({ kind: "snapshot_complete", resumeToken: this.eventLog.currentToken() });
    }
    return this.watchers.open(filter, sink, () => this.eventLog.currentToken());
  }

  async logPosition(): Promise<string> {
    return this.eventLog.currentToken();
  }

  /**
   * The circuits whose view may differ from when `cursor` was given (Watch
   * status rounds): changed since (acquire, report, transition, configure,
   * force), or changed within their window before it (their counts slide).
   * Due time transitions are applied first, as a read would. Cursor:
   * `<change seq>:<store ms>:<rules version>`; a pattern rule change since,
   * or a cursor older than the record reaches, answers no names (read all).
   */
  async statusChanges(cursor: string | undefined): Promise<StatusChanges> {
    const now = this.clock();
    this.applyDue(now);
    const next = `${this.touched.cursor}:${now}:${this.rulesVersion}`;
    const [seq, at, rules] = (cursor ?? "").split(":").map(Number);
    if (cursor === undefined || rules !== this.rulesVersion || !Number.isFinite(seq) || !Number.isFinite(at)) return { cursor: next };
    const { names, overflowed } = this.touched.since(seq!, at!, now, (name) => {
      const entry = this.entries.get(name);
      // A window is kept as 10 buckets: the oldest one may end a bucket after the window.
      return entry === undefined ? 0 : this.configOf(entry).windowMs * 1.1;
    });
    if (names !== undefined) return { cursor: next, names };
    return overflowed ? { cursor: next, overflowed: true } : { cursor: next };
  }

  /** The status feed's record: names it holds, and times it overflowed (each made the next round read every circuit). */
  statusFeedStats(): { names: number; overflows: number } {
    return { names: this.touched.size, overflows: this.touched.overflows };
  }

  onTransition(listener: (event: CircuitEvent) => void): () => void {
    return this.listeners.transitions.on(listener);
  }

  onConfigChange(listener: (change: ConfigChangeRecord) => void): () => void {
    return this.listeners.configChanges.on(listener);
  }

  health(): StoreHealth {
    return this.closed ? { ready: false, reason: "store closed" } : { ready: true };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.watchers.clear();
  }

  /** Number of circuits held (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Applies the time-driven transitions due by now and evicts the circuits
   * idle by now: O(due · log n), only the circuits whose queued instant has
   * come are looked at. The background timer calls it; tests with a frozen
   * clock call it directly.
   */
  tick(): void {
    const now = this.clock();
    this.applyDue(now);
    this.evictIdle(now);
  }

  /** Applies the time-driven transitions due at `now`. */
  private applyDue(now: number): void {
    for (let item = this.timeQueue.popDue(now); item !== undefined; item = this.timeQueue.popDue(now)) {
      const [at, entry] = item;
      if (entry.timeDue !== at || this.entries.get(entry.circuit.name) !== entry) continue; // stale
      entry.timeDue = undefined;
      this.advanceEntry(entry, now);
      this.scheduleTime(entry);
    }
  }

  /**
   * Forgets the circuits evictable at `now` (engine isEvictable, after their
   * due transitions), each announced to watchers as circuit_removed
   * (idle_evicted). Returns how many were evicted.
   */
  evictIdle(now: number = this.clock()): number {
    let evicted = 0;
    for (let item = this.idleQueue.popDue(now); item !== undefined; item = this.idleQueue.popDue(now)) {
      const entry = item[1];
      const name = entry.circuit.name;
      if (this.entries.get(name) !== entry) continue; // evicted before, maybe re-created
      this.advanceEntry(entry, now);
      if (isEvictable(entry.circuit, now, this.idleTtlMs)) {
        this.entries.delete(name);
        this.logChange({ kind: "circuit_removed", circuit: name, cause: "idle_evicted", at: now });
        evicted += 1;
      } else {
        // Used since it was queued, or not yet at rest: look again when it may be.
        // A pinned circuit is looked at once per idle TTL (pins are admin writes, so few).
        const next = idleExpiryAt(entry.circuit, this.idleTtlMs) ?? now + this.idleTtlMs;
        this.idleQueue.push(Math.max(next, now + 1), entry);
      }
    }
    return evicted;
  }

  // ---- internals ---------------------------------------------------------

  private entryFor(name: string, create: true): Entry {
    let entry = this.entries.get(name);
    if (entry === undefined && create) {
      // Before anything changes: at the cap a new name is refused, existing circuits keep working.
      if (this.entries.size >= this.maxCircuits) throw new CircuitCapError(name, this.maxCircuits);
      const now = this.clock();
      entry = {
        circuit: newCircuit(name, now),
        resolved: this.resolve(name),
        resolvedAt: this.rulesVersion,
        history: [],
        timeDue: undefined,
      };
      this.entries.set(name, entry);
      this.idleQueue.push(now + this.idleTtlMs, entry);
    }
    return entry!;
  }

  private resolve(name: string): ResolvedConfig {
    return this.decisions.resolve(this.runtimeRules, name, this.stored.get(name));
  }

  /** The entry's resolved config, re-resolved when pattern rules changed since. */
  private configOf(entry: Entry): CircuitConfig {
    if (entry.resolvedAt !== this.rulesVersion) {
      entry.resolved = this.resolve(entry.circuit.name);
      entry.resolvedAt = this.rulesVersion;
    }
    return entry.resolved.config;
  }

  private advanceEntry(entry: Entry, now: number = this.clock()): void {
    const tick: Tick = { now, rand: this.random() };
    const transitions = advance(entry.circuit, this.configOf(entry), tick);
    if (transitions.length > 0) this.publish(entry, transitions);
  }

  private viewOf(entry: Entry): CircuitView {
    const config = this.configOf(entry);
    const c = entry.circuit;
    const view: CircuitView = {
      circuit: c.name,
      state: visibleState(c, config),
      config,
      ...viewSources(entry.resolved),
      stats: statsOf(c, config, this.clock()),
      generation: c.generation,
      since: c.since,
    };
    if (c.phase.state === "OPEN") view.openUntil = c.phase.openUntil;
    return view;
  }

  private publish(entry: Entry, transitions: Transition[]): void {
    if (transitions.length > 0) this.touched.touch(entry.circuit.name, this.clock());
    for (const t of transitions) {
      const event = this.eventLog.append(t);
      this.pushHistory(entry, { kind: "transition", event }, event.at);
      this.watchers.deliver({ kind: "event", event });
      this.listeners.transitions.emit(event);
    }
    if (entry.circuit.phase.state === "CLOSED") this.activeNames.delete(entry.circuit.name);
    else this.activeNames.add(entry.circuit.name);
    this.scheduleTime(entry);
  }

  /**
   * Queues the entry's next time-driven transition, unless an item due no
   * later is queued already (an early item only makes tick() look again).
   */
  private scheduleTime(entry: Entry): void {
    // After advance() nothing is due any more, so `due` is always in the future.
    const due = nextDueAt(entry.circuit);
    if (due === undefined || (entry.timeDue !== undefined && entry.timeDue <= due)) return;
    entry.timeDue = due;
    this.timeQueue.push(due, entry);
  }

  /**
   * Records a config change of one circuit: in its history and in the event
   * log for watchers. Every path that changes a circuit's config comes here,
   * so none can record one without watchers seeing it.
   */
  private recordConfigChange(entry: Entry, change: ConfigChangeRecord): void {
    this.touched.touch(entry.circuit.name, change.at);
    this.pushHistory(entry, { kind: "config", change }, change.at);
    this.logChange({ kind: "config_change", circuit: entry.circuit.name, change });
    this.listeners.configChanges.emit(change);
  }

  /** Appends a config change or removal to the event log and hands it to the matching watchers. */
  private logChange(change: UnloggedChange): void {
    this.watchers.deliver(this.eventLog.appendChange(change));
  }

  /** Records `item` (which happened at `at`, store ms) with its position, like push_history in Lua. */
  private pushHistory(entry: Entry, item: HistoryEntry, at: number): void {
    const position = nextHistoryPosition(entry.history.at(-1)?.position, at);
    entry.history.push({ entry: item, position });
    if (entry.history.length > this.historyLimit) entry.history.shift();
  }
}
