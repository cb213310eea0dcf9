// Over 400 lines: the facade has one method per store operation, each a few lines delegating to its parts (listed below).
/**
 * The Redis store: every circuit in Redis, shared by any number of replicas.
 * A thin facade over its parts:
 * - the Lua scripts (lua/*.lua, the engine's rules in Lua), called through a
 *   typed client (script-client.ts): each Acquire, Report, read and admin
 *   change is one script that reads, decides and writes atomically with
 *   Redis TIME as the clock: one round trip, no lock, no lost update;
 * - the event stream: the script appends each transition (in Cluster mode
 *   this replica appends it right after, since the stream lives in another
 *   slot, and the reader passes over one a later transition of its circuit
 *   overtook: ../transition-order.ts); one reader per replica follows it and
 *   feeds every Watch (event-feed.ts);
 * - the local view (local-views.ts): Acquire on a CLOSED circuit without a
 *   round trip while this replica's view is fresh;
 * - the settings cache (settings-cache.ts): explicit settings checked by
 *   version inside each script, runtime rules by compare-and-set and pub/sub;
 * - the removal announcer (removal-announcer.ts): idle circuits Redis
 *   expired, written to the event stream for watchers (not in Cluster mode);
 * - the config operations (redis-config-ops.ts): Configure and the pattern
 *   rules, by compare-and-set on the stored settings and rule list;
 * - the circuit indexes (circuit-index.ts, lua/includes/indexes.lua): the
 *   count and the cap, and ListCircuits by name and state (redis-list.ts);
 * - the report coalescer (report-coalescer.ts): a circuit's Reports that
 *   arrive while one of its report calls is in flight go in one call next,
 *   and (not in Cluster mode) the batches of many circuits that arrive
 *   while report calls are in flight go in one report-page.lua call;
 * - the bounded per-circuit caches (bounded-map.ts), swept every 10 s.
 * - the data epoch (data-epoch.ts): when Redis lost its data, the replica
 *   drops its rules, settings versions and views, reloads the rules and the
 *   shared permit secret, and rewinds its stream reader if need be.
 * What a config resolves to and whether a Configure is valid is decided by
 * config-decisions.ts, as for every store.
 */
import type { Cluster, Redis } from "ioredis";
import {
  type CircuitConfig,
  type ForceTarget,
  PERMIT_WINDOW_SLOTS,
  circuitHash,
  permitRefusal,
} from "../../engine/index.js";
import type { PermitSecrets } from "../permit-signer.js";
import { type SharedSigner, createSharedSigner } from "./permit-secret.js";
import { type ConfigDecisions, type FileConfig, createConfigDecisions } from "../config-decisions.js";
import { createStoreListeners } from "../store-listeners.js";
import { type HistoryPage, type HistoryPosition, type PositionedHistoryEntry, pageOfHistory } from "../history-page.js";
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
  StoreUnavailableError,
} from "../store.js";
import { REPLICA_CACHE_IDLE_MS } from "./bounded-map.js";
import { type CircuitIndex, createCircuitIndex } from "./circuit-index.js";
import { type CircuitNames, createCircuitNames } from "./circuit-names.js";
import { listRedisCircuits } from "./redis-list.js";
import { createStatusFeed } from "./status-feed.js";
import { type DataEpoch, createDataEpoch } from "./data-epoch.js";
import { defineDataEpochCommand, readDataEpoch } from "./scripts.js";
import { EventFeed } from "./event-feed.js";
import { type RemovalAnnouncer, createRemovalAnnouncer } from "./removal-announcer.js";
import { type RedisConfigOps, createRedisConfigOps } from "./redis-config-ops.js";
import { openRedisWatch } from "./redis-watch.js";
import { createKeySpace } from "./keys.js";
import { type LocalViews, createLocalViews } from "./local-views.js";
import { createPermitStreams, permitIdText } from "./permit-streams.js";
import { type CircuitCall, type ReportArgs, type ReportGroup, type ScriptClient, createScriptClient } from "./script-client.js";
import { type Gatherer, MAX_REPORT_PAGE, MAX_REPORT_PAGE_CALLS, createCoalescer, createGatherer } from "./report-coalescer.js";
import {
  MAX_STALE_RETRIES,
  type ReportReply,
  type ScriptEvent,
  type StaleConfig,
  decodeHistoryEntry,
  decodeHistoryPosition,
  toCircuitEvent,
  toCircuitView,
} from "./script-replies.js";
import { readViews } from "./read-page.js";
import { type SettingsCache, type VersionedConfig, createSettingsCache } from "./settings-cache.js";
import type { Guard } from "./unavailable.js";

export { FEED_CURRENT_MS, VIEW_TTL_MS } from "./local-views.js";

/** How often the replica's caches drop entries idle for REPLICA_CACHE_IDLE_MS. */
const CACHE_SWEEP_MS = 10_000;

/** The config file's layers and circuits (FileConfig), and: */
export interface RedisStoreOptions extends FileConfig, PermitSecrets {
  /** Connection for commands (scripts are registered on it). */
  client: Redis | Cluster;
  /** Makes a further connection of the same kind, for the blocking stream reader and pub/sub. */
  duplicate: () => Redis | Cluster;
  /** Cluster mode: scripts cannot append to the event stream themselves. */
  cluster: boolean;
  /** Key prefix, default "bb:". */
  keyPrefix?: string;
  /** Circuits unused this long expire once CLOSED or HALF_OPEN with no probe out (includes/engine.lua commit). Default 24 h. */
  idleTtlMs?: number;
  historyLimit?: number;
  /** Tests only: slots of a permit stream's dedupe window (lua/includes/permit-window.lua); default 2^21. */
  permitWindowSlots?: number;
  /** Tests only: report calls in flight before report batches wait for a page (report-coalescer.ts); default MAX_REPORT_PAGE_CALLS. */
  reportPageCalls?: number;
  /** Approximate length of the event stream (MAXLEN ~). Default 10 000. */
  eventLogSize?: number;
  /**
   * The clients' command timeout (BREAKERBOX_REDIS_TIMEOUT_SECONDS), when
   * they have one: the event reader's blocking XREAD then waits at most half
   * of it (and at most 1 s), so it never outlives the timeout.
   */
  commandTimeoutMs?: number;
  random?: () => number;
  /**
   * Announce each idle circuit that Redis expires to every replica's
   * watchers (circuit_removed): turns on keyspace notifications for expired
   * keys (notify-keyspace-events gains "Ex") and listens on one more
   * connection. Default true; always false in Cluster mode (not supported).
   */
  announceRemovals?: boolean;
  /**
   * Most circuits the store holds (BREAKERBOX_MAX_CIRCUITS): creating one
   * more throws CircuitCapError and writes nothing. Decided in the creating
   * script on one server or Sentinel; from this replica's periodic count in
   * Cluster mode (circuit-index.ts). Undefined: no cap.
   */
  maxCircuits?: number;
  /**
   * Entries each per-circuit cache of this replica (local views, explicit
   * settings, resolved configs) holds at most; least recently set dropped
   * first. Default REPLICA_CACHE_ENTRIES (100 000).
   */
  cacheEntries?: number;
  /** Told of conditions an operator should fix, e.g. CONFIG refused so removals may not be announced. */
  onWarning?: (message: string, details: Record<string, unknown>) => void;
  /**
   * Replaces Redis TIME inside the scripts. Only tests set it, to move and
   * freeze circuits' time without sleeping; it is not reachable from config.
   */
  testClock?: () => number;
}

export function createRedisStore(options: RedisStoreOptions): RedisStore {
  return new RedisStore(options);
}

export class RedisStore implements CircuitStore {
  private readonly client: Redis | Cluster;
  private readonly cluster: boolean;
  private readonly eventLogSize: number;
  private readonly testClock: (() => number) | undefined;
  private readonly decisions: ConfigDecisions;
  private readonly scripts: ScriptClient;
  private readonly guard: Guard;
  private readonly views: LocalViews;
  private readonly settings: SettingsCache;
  private readonly feed: EventFeed;
  /** Signs and opens permits; with no secret configured, set by start() (the shared one is read from Redis). */
  private readonly permits: SharedSigner;
  private readonly epoch: DataEpoch;
  private readonly dataLossListeners = new Set<() => void>();
  private readonly onWarning: (message: string, details: Record<string, unknown>) => void;
  private readonly keyPrefix: string;
  private readonly names: CircuitNames;
  private readonly index: CircuitIndex;
  private readonly removals: RemovalAnnouncer | undefined;
  private readonly config: RedisConfigOps;
  private readonly permitStreams = createPermitStreams();
  private readonly permitWindowSlots: number;
  /** Reports of one circuit that arrive while one of its report calls is in flight go together in the next. */
  private readonly reports = createCoalescer<ReportArgs, ReportResult>((name, batch) => this.sendReports(name, batch));
  /** Not in Cluster mode: report batches of many circuits waiting on calls in flight go in one page call. */
  private readonly reportPages: Gatherer<ReportGroup, ReportReply[] | StaleConfig>;
  private readonly listeners = createStoreListeners();
  private closed = false;
  private sweeper: NodeJS.Timeout | undefined;
  /** The config this replica resolved for a circuit (no round trip). */
  private readonly configOf = (name: string): CircuitConfig => this.settings.resolved(name).config;
  private started: Promise<void> | undefined;
  /** The Watch status rounds' change feed (status-feed.ts); absent in Cluster mode, whose rounds read every circuit. */
  readonly statusChanges?: (cursor: string | undefined) => Promise<StatusChanges>;

  constructor(options: RedisStoreOptions) {
    this.client = options.client;
    const keys = createKeySpace(options.keyPrefix);
    this.cluster = options.cluster;
    this.onWarning = options.onWarning ?? (() => undefined);
    this.keyPrefix = keys.prefix;
    this.eventLogSize = options.eventLogSize ?? 10_000;
    this.testClock = options.testClock;
    this.permitWindowSlots = options.permitWindowSlots ?? PERMIT_WINDOW_SLOTS;
    this.reportPages = createGatherer(
      (groups) => this.sendReportPage(groups),
      options.reportPageCalls ?? MAX_REPORT_PAGE_CALLS,
      MAX_REPORT_PAGE,
      (group) => group.reports.length,
    );
    this.decisions = createConfigDecisions(options);
    this.scripts = createScriptClient({
      client: this.client,
      keys,
      cluster: this.cluster,
      idleTtlMs: options.idleTtlMs ?? 86_400_000,
      historyLimit: options.historyLimit ?? 100,
      eventLogSize: this.eventLogSize,
      random: options.random ?? Math.random,
      testClock: this.testClock,
      maxCircuits: options.maxCircuits,
      clusterFull: () => this.index.full(),
    });
    this.guard = this.scripts.guard;
    this.permits = createSharedSigner(this.client, keys.permitSecret, options, this.guard);
    this.names = createCircuitNames(this.client, this.cluster, keys, this.guard);
    this.index = createCircuitIndex({
      client: this.client,
      cluster: this.cluster,
      keys,
      guard: this.guard,
      maxCircuits: options.maxCircuits,
      testClock: this.testClock,
      scanCount: async () => (await this.names.withPrefix("", "circuit")).length,
    });
    const reader = options.duplicate();
    defineDataEpochCommand(reader);
    this.feed = new EventFeed({
      reader,
      client: this.client,
      streamKey: keys.events,
      blockMs: options.commandTimeoutMs === undefined ? 1000 : Math.max(10, Math.min(1000, Math.floor(options.commandTimeoutMs / 2))),
      onEvent: (e) => this.views.learn(e),
      onConfigChanged: (circuit, version) => this.settings.changed(circuit, version),
      onRemoved: (circuit) => this.forgetCircuit(circuit),
      ordered: this.cluster,
      beforeRead: (connection, afterFailure) => this.epoch.whenDue(readDataEpoch(connection, keys.rules), afterFailure),
    });
    this.views = createLocalViews({
      feedIsCurrent: (ms) => this.feed.isCurrent(ms),
      testClock: this.testClock,
      ...(options.cacheEntries === undefined ? {} : { maxEntries: options.cacheEntries }),
    });
    this.settings = createSettingsCache({
      client: this.client,
      subscriber: options.duplicate(),
      keys,
      decisions: this.decisions,
      scripts: this.scripts,
      onChange: (name) => this.views.forget(name),
      ...(options.cacheEntries === undefined ? {} : { maxEntries: options.cacheEntries }),
      onBackwards: () => this.epoch.check(),
    });
    this.epoch = createDataEpoch({ read: (candidate) => this.scripts.dataEpoch(candidate), onLost: () => this.afterDataLoss() });
    this.config = createRedisConfigOps({
      cluster: this.cluster,
      decisions: this.decisions,
      scripts: this.scripts,
      settings: this.settings,
      names: this.names,
      listeners: this.listeners,
      start: () => this.start(),
      now: () => this.now(),
      deliver: (events) => this.deliver(events),
    });
    if (!this.cluster) {
      const feed = createStatusFeed({ client: this.client, keys, guard: this.guard, testClock: this.testClock });
      this.statusChanges = async (cursor) => {
        await this.start();
        return feed(cursor);
      };
    }
    if (!this.cluster && (options.announceRemovals ?? true)) {
      this.removals = createRemovalAnnouncer({
        client: this.client as Redis,
        subscriber: options.duplicate() as Redis,
        keys,
        announce: (circuit) => this.scripts.announceRemoval(circuit),
        onWarning: this.onWarning,
      });
    }
  }

  /**
   * Loads the runtime rules, subscribes to their changes and starts following
   * the event stream. Called by the first operation; call it up front to fail
   * fast at start when Redis is unreachable.
   */
  start(): Promise<void> {
    // A failed start (Redis away) is forgotten, so the next operation tries again.
    this.started ??= (async () => {
      await this.epoch.start();
      if (this.permits.signer === undefined) await this.permits.load();
      await this.settings.start();
      await this.index.backfill();
      await this.guard(() => this.feed.start());
      if (this.removals !== undefined) await this.guard(() => this.removals!.start());
      this.sweeper ??= setInterval(() => this.sweepCaches(), CACHE_SWEEP_MS).unref();
    })().catch((err: unknown) => {
      this.started = undefined;
      throw err;
    });
    return this.started;
  }

  // ---- hot path ---------------------------------------------------------

  async acquire(name: string): Promise<AcquireDecision> {
    const id = this.permitStreams.take(name, this.testClock?.() ?? Date.now(), this.configOf(name).permitTtlMs);
    const decision = await this.views.acquire(name, id, this.configOf, async (sentAt) => {
      const { reply: r } = await this.run(name, (call) => this.scripts.acquire(call, circuitHash(name), permitIdText(id)));
      this.views.confirm(name, r.phase, r.generation, r.now, sentAt);
      const decision: AcquireDecision = { allowed: r.allowed, state: r.state, retryAfterMs: r.retryAfterMs, shadowDenied: r.shadowDenied };
      if (r.permit !== undefined) decision.permit = r.permit;
      if (r.reason !== undefined) decision.reason = r.reason;
      return decision;
    });
    // The views and acquire.lua build the body; a local grant implies start() has run (it needs a confirmed view).
    if (decision.permit !== undefined) decision.permit = this.permits.signer!.sign(name, decision.permit);
    else this.permitStreams.giveBack(name, id);
    return decision;
  }

  async report(name: string, command: ReportCommand): Promise<ReportAck> {
    await this.start();
    let opened;
    try {
      // Before any script runs: a token that is not ours changes nothing.
      opened = this.permits.signer!.open(name, command.permit);
    } catch (refusal) {
      // Off the hot path: say what a missing circuit is before judging the token, as the memory store does;
      // like it, a refused token applies no due transition.
      if (!(await this.scripts.exists(name))) throw permitRefusal.noSuchCircuit(name);
      throw refusal;
    }
    const { body, permit } = opened;
    const { reply: r, resolved } = await this.reports.submit(name, {
      permit: body,
      generation: permit.generation,
      kind: permit.kind,
      expiresAt: permit.expiresAt,
      stream: permit.stream,
      seq: permit.seq,
      windowSlots: this.permitWindowSlots,
      outcome: command.outcome,
      durationMs: command.durationMs,
      retryAfterMs: command.retryAfterMs,
      principal: command.principal,
    });
    if (r.kind === "recorded") return { state: r.state, disposition: r.disposition, recordedOutcome: r.recordedOutcome, duplicate: r.duplicate, stale: r.stale };
    switch (r.problem) {
      case "missing":
        throw permitRefusal.noSuchCircuit(name);
      case "unknown":
        throw permitRefusal.notIssued(name);
      case "probe":
        throw permitRefusal.probeNotOutstanding(name);
      case "expired":
        throw permitRefusal.expired((r.now ?? permit.expiresAt) - permit.expiresAt, resolved.config.permitTtlMs, name);
      case "forgotten":
        throw permitRefusal.pastWindow(resolved.config.permitTtlMs, name);
    }
  }

  // ---- reads --------------------------------------------------------------

  async get(name: string): Promise<CircuitView | undefined> {
    const { reply: r, resolved } = await this.run(name, (call) => this.scripts.read(call, "view"));
    if (r.kind !== "missing") return toCircuitView(r.view, resolved);
    this.forgetCircuit(name);
    return undefined;
  }

  async list(query: ListQuery): Promise<ListPage> {
    await this.start();
    return listRedisCircuits({ index: this.index, names: this.names, get: (name) => this.get(name), getMany: this.getMany }, query);
  }

  /** The views of `names` in their order (undefined: gone), read a batch per script call (read-page.ts). */
  private readonly getMany = (names: readonly string[]): Promise<(CircuitView | undefined)[]> =>
    readViews(
      {
        cluster: this.cluster,
        readPage: (calls) => this.scripts.readPage(calls),
        resolved: (name) => this.settings.resolved(name),
        get: (name) => this.get(name),
        found: async (_name, reply, resolved) => {
          await this.deliver(reply.events);
          return toCircuitView(reply.view, resolved);
        },
        missing: (name) => this.forgetCircuit(name),
      },
      names,
    );

  async countCircuits(): Promise<number> {
    await this.start();
    return this.index.count();
  }

  async history(name: string, limit: number, before?: HistoryPosition): Promise<HistoryPage | undefined> {
    const { reply: r } = await this.run(name, (call) => this.scripts.read(call, "history"));
    if (r.kind === "missing") return undefined;
    const stored = (r.history ?? []).map((json): PositionedHistoryEntry => {
      const decoded = decodeHistoryEntry(json);
      const entry: HistoryEntry = decoded.kind === "transition" ? { kind: "transition", event: toCircuitEvent(decoded.event) } : decoded;
      const position = decodeHistoryPosition(json);
      return position === undefined ? { entry } : { entry, position };
    });
    return pageOfHistory(stored, limit, before);
  }

  // ---- admin -----------------------------------------------------------------

  async reset(name: string, actor: string): Promise<CircuitView | undefined> {
    const { reply: r, resolved } = await this.run(name, (call) => this.scripts.admin(call, "reset", actor));
    return r.kind === "missing" ? undefined : toCircuitView(r.view, resolved);
  }

  async force(name: string, target: ForceTarget, actor: string): Promise<CircuitView> {
    const { reply: r, resolved } = await this.run(name, (call) => this.scripts.admin(call, target, actor));
    if (r.kind === "missing") throw new Error(`admin.lua answered missing to ${target} of ${name}`);
    return toCircuitView(r.view, resolved);
  }

  configureCircuit(name: string, command: ConfigureCommand, actor: string): Promise<CircuitView> {
    return this.config.configureCircuit(name, command, actor);
  }

  configurePattern(pattern: string, command: ConfigureCommand, actor: string): Promise<PatternRuleChange> {
    return this.config.configurePattern(pattern, command, actor);
  }

  listPatternRules(): Promise<PatternRuleRecord[]> {
    return this.config.listPatternRules();
  }

  deletePatternRule(pattern: string, actor: string): Promise<PatternRuleChange> {
    return this.config.deletePatternRule(pattern, actor);
  }

  // ---- watch -------------------------------------------------------------

  async watch(filter: WatchFilter, resumeToken: string | undefined, sink: (item: WatchItem) => void): Promise<WatchSubscription> {
    await this.start();
    const source = { feed: this.feed, names: this.names, getMany: this.getMany, eventLogSize: this.eventLogSize, guard: this.guard };
    return openRedisWatch(source, filter, resumeToken, sink);
  }

  async logPosition(): Promise<string> {
    await this.start();
    return this.guard(() => this.feed.position());
  }

  /** Resolves once this replica has read every event written so far (watchers have them). */
  async settle(): Promise<void> {
    await this.start();
    await this.guard(() => this.feed.caughtUp());
  }

  onTransition(listener: (event: CircuitEvent) => void): () => void {
    return this.listeners.transitions.on(listener);
  }

  onConfigChange(listener: (change: ConfigChangeRecord) => void): () => void {
    return this.listeners.configChanges.on(listener);
  }

  /**
   * Calls `listener` each time this replica finds that Redis lost its data
   * (after it dropped what Redis no longer holds); answers the unsubscribe.
   */
  onDataLoss(listener: () => void): () => void {
    this.dataLossListeners.add(listener);
    return () => void this.dataLossListeners.delete(listener);
  }

  /** How many times this replica found that Redis lost its data. */
  get dataLosses(): number {
    return this.epoch.losses;
  }

  /** Checks the data epoch now (the event reader checks it every 0.5-1.5 s anyway); true when Redis lost its data. */
  checkDataEpoch(): Promise<boolean> {
    return this.epoch.check();
  }

  health(): StoreHealth {
    if (this.closed) return { ready: false, reason: "store closed" };
    const status = this.client.status;
    if (status !== "ready") return { ready: false, reason: `redis connection ${status}` };
    // A hung Redis keeps the connection "ready"; the event reader's failing reads tell.
    if (this.feed.isFailing()) return { ready: false, reason: "redis is not answering (event stream reads fail or time out)" };
    return { ready: true };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    await this.feed.stop();
    this.settings.close();
    this.removals?.close();
  }

  /** Entries in this replica's per-circuit caches (each bounded by cacheEntries). */
  cacheSizes(): { views: number; explicit: number; resolved: number } {
    return { views: this.views.size, ...this.settings.sizes };
  }

  /**
   * Drops cache entries not set again for REPLICA_CACHE_IDLE_MS as of `now`
   * (Date.now ms): those of circuits nobody uses any more, Redis expired
   * them, or their removal announcement was missed. Runs every
   * CACHE_SWEEP_MS; tests call it with a later `now`.
   */
  sweepCaches(now: number = Date.now()): void {
    const cutoff = now - REPLICA_CACHE_IDLE_MS;
    this.views.sweep(cutoff);
    this.settings.sweep(cutoff);
    this.permitStreams.sweep(cutoff);
  }

  // ---- internals ---------------------------------------------------------

  /** Redis no longer holds the circuit (announced expiry, or a read found it missing): drop what this replica cached of it. */
  private forgetCircuit(name: string): void {
    this.views.forget(name);
    this.settings.drop(name);
  }

  /**
   * Redis lost its data (data-epoch.ts): drop what it no longer holds (the
   * views, every settings version and rule) and read what it holds now (the
   * rules; the shared permit secret, which a replica may just have generated
   * afresh: permits of the lost one stay accepted until the next loss).
   */
  private async afterDataLoss(): Promise<void> {
    this.views.forget();
    await this.settings.reset();
    await this.permits.load();
    await this.guard(() => this.feed.afterDataLoss());
    this.onWarning(
      "Redis lost its data (the data epoch changed): this replica dropped its pattern rules, settings versions and local views and read them again",
      { keyPrefix: this.keyPrefix },
    );
    for (const listener of this.dataLossListeners) listener();
  }

  /**
   * Runs reports of one circuit (report-coalescer.ts): through the page
   * gatherer, or in Cluster mode (no pages) as a page of one; after a
   * staleConfig answer the whole batch runs again with the stored settings.
   * Their transitions reach listeners in report order.
   */
  private async sendReports(name: string, batch: readonly ReportArgs[]): Promise<ReportResult[]> {
    const { reply, resolved } = await this.run(name, async (call) => {
      const group = { call, reports: batch };
      const replies = this.cluster ? (await this.sendReportPage([group]))[0]! : await this.reportPages.submit(group);
      return isStale(replies) ? replies : { replies, events: replies.flatMap((r) => r.events) };
    });
    return reply.replies.map((r) => ({ reply: r, resolved }));
  }

  /**
   * One page of report batches (createGatherer): a lone circuit's with
   * report.lua (one report) or report-batch.lua; several circuits' with
   * report-page.lua (never in Cluster mode). Each answers as reportBatch does.
   */
  private async sendReportPage(groups: readonly ReportGroup[]): Promise<(ReportReply[] | StaleConfig)[]> {
    if (groups.length > 1) return this.scripts.reportPage(groups);
    const { call, reports } = groups[0]!;
    if (reports.length > 1) return [await this.scripts.reportBatch(call, reports)];
    const reply = await this.scripts.report(call, reports[0]!);
    return [isStale(reply) ? reply : [reply]];
  }

  /** The store's time: Redis TIME (or the test clock). */
  private now(): Promise<number> {
    return this.testClock !== undefined ? Promise.resolve(this.testClock()) : this.scripts.time();
  }

  /**
   * Runs a circuit script with this replica's config for the circuit; after
   * a staleConfig answer, adopts the stored settings and runs it again. Then
   * hands the transitions the script made to listeners.
   */
  private async run<R extends { events?: ScriptEvent[] } | { kind: "missing" }>(
    name: string,
    script: (call: CircuitCall) => Promise<R | StaleConfig>,
  ): Promise<{ reply: R; resolved: VersionedConfig }> {
    await this.start();
    for (let attempt = 0; ; attempt++) {
      const resolved = this.settings.resolved(name);
      const reply = await script({ name, config: resolved.config, version: resolved.version });
      if (isStale(reply)) {
        if (attempt >= MAX_STALE_RETRIES) throw new StoreUnavailableError("circuit settings keep changing concurrently; retry");
        this.settings.adopt(name, { version: reply.version, settings: reply.settings });
        continue;
      }
      if ("events" in reply && reply.events !== undefined) await this.deliver(reply.events);
      return { reply, resolved };
    }
  }

  /** Tells local listeners about this replica's transitions; in Cluster mode appends them to the stream first. */
  private async deliver(events: ScriptEvent[]): Promise<void> {
    if (events.length === 0) return;
    const publish = (e: ScriptEvent): void => {
      this.views.learn(e);
      const event = toCircuitEvent(e);
      this.listeners.transitions.emit(event);
    };
    if (!this.cluster) {
      for (const e of events) publish(e);
      return;
    }
    // Awaited, so the caller's answer comes after its transitions are in the
    // stream, as in the other modes. Should this replica die between the
    // script and here, the state is right but watchers miss the event.
    for (const e of events) {
      const id = await this.scripts.appendEvent(e);
      // The history entry the script wrote has no id yet: give it this one.
      await this.scripts.setHistoryEventId(e.circuit, e.generation, id);
      publish({ ...e, eventId: id });
    }
  }
}

/** One report's reply and the config it ran with. */
interface ReportResult {
  reply: ReportReply;
  resolved: VersionedConfig;
}

function isStale<R>(reply: R | StaleConfig): reply is StaleConfig {
  return (reply as { kind?: unknown }).kind === "stale";
}
