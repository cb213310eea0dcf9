/**
 * The Redis store: every circuit in Redis, shared by any number of replicas.
 *
 * Each Acquire, Report, read and admin change is one Lua script (lua/*.lua,
 * the engine's rules in Lua) that reads, decides and writes atomically with
 * Redis TIME as the clock: one round trip, no lock, no lost update. The
 * script appends each transition to the event stream (in Cluster mode this
 * replica appends it right after, since the stream lives in another slot);
 * one reader per replica follows the stream and feeds every Watch.
 *
 * Local view: Acquire on a CLOSED circuit does not need Redis while this
 * replica's view of the circuit is fresh: confirmed by Redis (a script reply
 * or an event) less than VIEW_TTL_MS ago, with the event reader current. Every
 * transition reaches the view through the stream within milliseconds, so a
 * replica may hand out CLOSED permits for at most that long after the circuit
 * opened elsewhere; their reports are from an older generation and drive
 * nothing. Half-open probes and every Report always go to Redis.
 *
 * Config: the defaults, presets and file rules are static; a circuit's
 * explicit settings live in Redis and are checked by version inside each
 * script, so a replica never applies stale per-circuit settings; runtime
 * pattern rules live in Redis and reach other replicas by pub/sub (applied
 * within milliseconds; see docs).
 */
import { randomBytes } from "node:crypto";
import type { Cluster, Redis } from "ioredis";
import {
  type CircuitConfig,
  type CircuitStats,
  type ConfigLayers,
  type ConfigSettings,
  type ForceTarget,
  type PatternRule,
  type ResolvedConfig,
  type State,
  type Transition,
  InvalidConfigError,
  applyPatch,
  circuitHash,
  decodePermit,
  encodePermit,
  globMatches,
  permitRefusal,
  presetPatch,
  resolveConfig,
  UnknownPresetError,
  validateConfig,
} from "../../engine/index.js";
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
  type ReportAck,
  type ReportCommand,
  type StoreHealth,
  type WatchFilter,
  type WatchItem,
  type WatchSubscription,
  ResumeTokenError,
  StoreUnavailableError,
  matchesFilter,
} from "../store.js";
import { type ConfigDecisions, createConfigDecisions, sameConfig } from "../config-decisions.js";
import { type CircuitKeys, type KeySpace, createKeySpace } from "./keys.js";
import { type CommandName, defineCommands, packConfig } from "./scripts.js";
import { EventFeed, type StreamEvent, isStreamId } from "./event-feed.js";

export interface RedisStoreOptions {
  /** Connection for commands (scripts are registered on it). */
  client: Redis | Cluster;
  /** Makes a further connection of the same kind, for the blocking stream reader and pub/sub. */
  duplicate: () => Redis | Cluster;
  /** Cluster mode: scripts cannot append to the event stream themselves. */
  cluster: boolean;
  layers: ConfigLayers;
  circuits?: Record<string, ConfigSettings>;
  /** Key prefix, default "bb:". */
  keyPrefix?: string;
  /** CLOSED circuits untouched this long expire. Default 24 h. */
  idleTtlMs?: number;
  historyLimit?: number;
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
   * Replaces Redis TIME inside the scripts. Only tests set it, to move and
   * freeze circuits' time without sleeping; it is not reachable from config.
   */
  testClock?: () => number;
}

interface Explicit {
  version: number;
  settings: ConfigSettings | undefined;
}

interface ScriptEvent extends Omit<Transition, "stats"> {
  stats: CircuitStats;
  eventId?: string;
}

interface ScriptView {
  circuit: string;
  state: State;
  stats: CircuitStats;
  generation: number;
  since: number;
  openUntil?: number;
}

interface StaleConfigReply {
  staleConfig: { version: number; settings: string };
}

const MAX_STALE_RETRIES = 3;

/** Cluster mode: stamps a transition's stream id into its history entry (KEYS[1] history, ARGV generation, id). */
const SET_HISTORY_EVENT_ID = `
for i, json in ipairs(redis.call("LRANGE", KEYS[1], 0, 19)) do
  local entry = cjson.decode(json)
  if entry.kind == "transition" and entry.event.generation == tonumber(ARGV[1]) then
    entry.event.eventId = ARGV[2]
    redis.call("LSET", KEYS[1], i - 1, cjson.encode(entry))
    return 1
  end
end
return 0`;

/** How long a confirmation from Redis lets this replica grant CLOSED permits alone. */
export const VIEW_TTL_MS = 1000;
/** The event reader must have heard from Redis this recently for the view to count. */
export const FEED_CURRENT_MS = 1500;

/** What this replica knows of a circuit, and since when. */
interface LocalView {
  /** The stored state (not the visible one: enabled=false is applied at grant time). */
  phase: State;
  generation: number;
  /** Store time of the confirmation. */
  confirmedAt: number;
  /** circuitHash(name), kept so a local grant does not recompute it. */
  hash: string;
}

/** cjson encodes an empty Lua table as {}: read lists defensively. */
function list<T>(value: unknown): T[] {
  return Array.isArray(value) ? (value as T[]) : [];
}

/** Rates are recomputed here: cjson prints 14 significant digits, the engine's doubles have 17. */
function exactStats(s: CircuitStats): CircuitStats {
  return {
    ...s,
    failureRate: s.windowCalls === 0 ? 0 : s.windowFailures / s.windowCalls,
    slowCallRate: s.windowCalls === 0 ? 0 : s.windowSlowCalls / s.windowCalls,
  };
}

function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  // Script errors come back as ReplyError; everything else is the connection.
  return err.name !== "ReplyError";
}

export function createRedisStore(options: RedisStoreOptions): RedisStore {
  return new RedisStore(options);
}

export class RedisStore implements CircuitStore {
  private readonly client: Redis | Cluster;
  private readonly keys: KeySpace;
  private readonly decisions: ConfigDecisions;
  private readonly idleTtlMs: number;
  private readonly historyLimit: number;
  private readonly eventLogSize: number;
  private readonly random: () => number;
  private readonly testClock: (() => number) | undefined;
  private readonly cluster: boolean;
  private readonly explicit = new Map<string, Explicit>();
  private readonly resolved = new Map<string, ResolvedConfig & { version: number }>();
  private readonly views = new Map<string, LocalView>();
  /** The Acquire this replica has in flight in Redis, per circuit. */
  private readonly acquiring = new Map<string, Promise<unknown>>();
  /** Redis TIME minus Date.now(), learned from script replies. */
  private skewMs = 0;
  private runtimeRules: PatternRule[] = [];
  private rulesVersion = 0;
  private readonly noncePrefix = randomBytes(4).toString("hex");
  private nonceCounter = 0;
  private readonly feed: EventFeed;
  private readonly subscriber: Redis | Cluster;
  private readonly transitionListeners = new Set<(e: CircuitEvent) => void>();
  private readonly configListeners = new Set<(c: ConfigChangeRecord) => void>();
  private closed = false;
  /** The command connection's socket while its writes are held (coalesceWrites). */
  private corked: Redis["stream"] | undefined;
  private started: Promise<void> | undefined;

  constructor(options: RedisStoreOptions) {
    this.client = options.client;
    this.keys = createKeySpace(options.keyPrefix);
    this.decisions = createConfigDecisions(options);
    this.idleTtlMs = options.idleTtlMs ?? 86_400_000;
    this.historyLimit = options.historyLimit ?? 100;
    this.eventLogSize = options.eventLogSize ?? 10_000;
    this.random = options.random ?? Math.random;
    this.testClock = options.testClock;
    this.cluster = options.cluster;
    defineCommands(this.client);
    this.feed = new EventFeed({
      reader: options.duplicate(),
      client: this.client,
      streamKey: this.keys.events,
      blockMs: options.commandTimeoutMs === undefined ? 1000 : Math.max(10, Math.min(1000, Math.floor(options.commandTimeoutMs / 2))),
      onEvent: (e) => this.learn(e as unknown as ScriptEvent),
      onConfigChanged: (circuit, version) => {
        if ((this.explicit.get(circuit)?.version ?? -1) < version) this.forget(circuit);
      },
    });
    this.subscriber = options.duplicate();
    this.subscriber.on("message", (channel: string) => {
      if (channel === this.keys.rulesChannel) void this.loadRules().catch(() => undefined);
    });
    // Pub/sub does not replay what was published while this replica was
    // disconnected: reload the rules whenever the subscription comes back.
    this.subscriber.on("ready", () => void this.loadRules().catch(() => undefined));
  }

  /**
   * Loads the runtime rules, subscribes to their changes and starts following
   * the event stream. Called by the first operation; call it up front to fail
   * fast at start when Redis is unreachable.
   */
  start(): Promise<void> {
    // A failed start (Redis away) is forgotten, so the next operation tries again.
    this.started ??= (async () => {
      await this.guard(() => this.loadRules());
      await this.guard(() => this.subscriber.subscribe(this.keys.rulesChannel));
      await this.guard(() => this.feed.start());
    })().catch((err: unknown) => {
      this.started = undefined;
      throw err;
    });
    return this.started;
  }

  // ---- hot path ---------------------------------------------------------

  async acquire(name: string): Promise<AcquireDecision> {
    const nonce = this.noncePrefix + (++this.nonceCounter).toString(36);
    const local = this.acquireLocally(name, nonce);
    if (local !== undefined) return local;
    // When a view expires, every Acquire in flight would go to Redis at once:
    // let the first refresh it and the others wait and try the view again.
    const pending = this.acquiring.get(name);
    if (pending !== undefined) {
      await pending.catch(() => undefined);
      const again = this.acquireLocally(name, nonce);
      if (again !== undefined) return again;
    }
    const call = this.run("bbAcquire", name, [circuitHash(name), nonce]);
    this.acquiring.set(name, call);
    let r: Awaited<typeof call>;
    try {
      r = await call;
    } finally {
      if (this.acquiring.get(name) === call) this.acquiring.delete(name);
    }
    this.skewMs = (r.now as number) - Date.now();
    this.see(name, { phase: r.phase as State, generation: r.generation as number, confirmedAt: r.now as number, hash: circuitHash(name) });
    const decision: AcquireDecision = {
      allowed: r.allowed as boolean,
      state: r.state as State,
      retryAfterMs: r.retryAfterMs as number,
      shadowDenied: r.shadowDenied as boolean,
    };
    if (typeof r.permit === "string") decision.permit = r.permit;
    if (typeof r.reason === "string") decision.reason = r.reason as AcquireDecision["reason"];
    return decision;
  }

  /**
   * The CLOSED grant of the engine's acquire(), made from the local view when
   * it is fresh; undefined when Redis must decide.
   */
  private acquireLocally(name: string, nonce: string): AcquireDecision | undefined {
    const view = this.views.get(name);
    if (view === undefined || view.phase !== "CLOSED" || !this.feed.isCurrent(FEED_CURRENT_MS)) return undefined;
    const now = this.storeNow();
    if (now < view.confirmedAt || now - view.confirmedAt >= VIEW_TTL_MS) return undefined;
    const config = this.resolvedNow(name).config;
    const permit = encodePermit({
      circuitHash: view.hash,
      generation: view.generation,
      kind: config.enabled ? "closed" : "disabled",
      expiresAt: now + config.permitTtlMs,
      nonce,
    });
    return { allowed: true, permit, state: config.enabled ? "CLOSED" : "DISABLED", retryAfterMs: 0, shadowDenied: false };
  }

  /** Records what Redis said of a circuit, unless the view already knows a later generation. */
  private see(name: string, view: LocalView): void {
    const known = this.views.get(name);
    if (known !== undefined && known.generation > view.generation) return;
    this.views.set(name, view);
  }

  /** A transition, from a script reply or the stream. */
  private learn(e: ScriptEvent): void {
    this.see(e.circuit, { phase: e.to, generation: e.generation, confirmedAt: e.at, hash: circuitHash(e.circuit) });
  }

  /** A circuit's settings changed somewhere: drop what this replica assumed. */
  private forget(name: string): void {
    this.explicit.delete(name);
    this.resolved.delete(name);
    this.views.delete(name);
  }

  private storeNow(): number {
    return this.testClock !== undefined ? this.testClock() : Date.now() + this.skewMs;
  }

  async report(name: string, command: ReportCommand): Promise<ReportAck> {
    const permit = decodePermit(command.permit);
    if (permit === undefined || permit.circuitHash !== circuitHash(name)) {
      // Off the hot path: say what a missing circuit is before judging the token, as the engine does.
      if ((await this.run("bbRead", name, ["view", 0])).missing === true) throw permitRefusal.noSuchCircuit(name);
      throw permit === undefined ? permitRefusal.malformed() : permitRefusal.foreign(name);
    }
    const kind = { closed: "c", probe: "p", shadow: "s", disabled: "d" }[permit.kind];
    const r = await this.run("bbReport", name, [
      command.permit,
      permit.generation,
      kind,
      permit.expiresAt,
      command.outcome,
      command.durationMs,
      command.retryAfterMs,
    ]);
    switch (r.rejected) {
      case undefined:
        return { state: r.state as State, duplicate: r.duplicate as boolean, stale: r.stale as boolean };
      case "missing":
        throw permitRefusal.noSuchCircuit(name);
      case "unknown":
        throw permitRefusal.notIssued(name);
      case "probe":
        throw permitRefusal.probeNotOutstanding(name);
      case "expired": {
        const config = this.resolvedNow(name).config;
        throw permitRefusal.expired((r.now as number) - permit.expiresAt, config.permitTtlMs);
      }
      default:
        throw new Error(`report script answered ${JSON.stringify(r)}`);
    }
  }

  // ---- reads --------------------------------------------------------------

  async get(name: string): Promise<CircuitView | undefined> {
    const r = await this.run("bbRead", name, ["view", 0]);
    if (r.missing === true) return undefined;
    return this.viewOf(name, r.view as ScriptView, r.resolved);
  }

  async list(query: ListQuery): Promise<ListPage> {
    const names = (await this.scanNames(query.prefix))
      .filter((n) => query.after === undefined || n > query.after)
      .sort();
    const circuits: CircuitView[] = [];
    for (const name of names) {
      const view = await this.get(name);
      if (view === undefined) continue; // expired between SCAN and read
      if (query.state !== undefined && view.state !== query.state) continue;
      if (circuits.length === query.limit) return { circuits, more: true };
      circuits.push(view);
    }
    return { circuits, more: false };
  }

  async history(name: string, limit: number): Promise<HistoryEntry[] | undefined> {
    const r = await this.run("bbRead", name, ["history", limit]);
    if (r.missing === true) return undefined;
    return list<string>(r.history).map((json) => {
      const entry = JSON.parse(json) as HistoryEntry;
      if (entry.kind === "transition") {
        const e = entry.event as ScriptEvent;
        return { kind: "transition", event: this.eventOf(e) };
      }
      return entry;
    });
  }

  // ---- admin -----------------------------------------------------------------

  async reset(name: string, actor: string): Promise<CircuitView | undefined> {
    const r = await this.run("bbAdmin", name, ["reset", actor]);
    if (r.missing === true) return undefined;
    return this.viewOf(name, r.view as ScriptView, r.resolved);
  }

  async force(name: string, target: ForceTarget, actor: string): Promise<CircuitView> {
    const r = await this.run("bbAdmin", name, [target, actor]);
    return this.viewOf(name, r.view as ScriptView, r.resolved);
  }

  async configureCircuit(name: string, command: ConfigureCommand, actor: string): Promise<CircuitView> {
    for (let attempt = 0; ; attempt++) {
      const current = await this.readExplicit(name);
      const decision = this.decisions.configureCircuit(this.runtimeRules, name, current.settings, command);
      const { settings: next, resolved } = decision;
      const change: ConfigChangeRecord = { target: name, actor, at: 0, oldConfig: decision.oldConfig, newConfig: resolved.config };
      const keys = this.keys.circuit(name);
      const args = this.commonArgs(name, resolved.config, current.version);
      const raw = await this.call("bbConfigure", keys, [...args, JSON.stringify(next), JSON.stringify({ kind: "config", change })]);
      if (isStale(raw)) {
        if (attempt >= MAX_STALE_RETRIES) throw new StoreUnavailableError("circuit settings keep changing concurrently; retry");
        this.forget(name);
        continue;
      }
      this.forget(name);
      this.explicit.set(name, { version: raw.version as number, settings: next });
      await this.deliver(list<ScriptEvent>(raw.events));
      if (this.cluster) {
        // The script could not reach the stream's slot: tell the other replicas here.
        await this.guard(() => this.client.xadd(this.keys.events, "MAXLEN", "~", this.eventLogSize, "*", "c", name, "v", String(raw.version)));
      }
      const record = { ...change, at: raw.now as number };
      for (const l of this.configListeners) l(record);
      return this.viewOf(name, raw.view as ScriptView, resolved);
    }
  }

  async configurePattern(pattern: string, command: ConfigureCommand, actor: string): Promise<{ matchedCircuits: number }> {
    await this.start();
    const before = this.currentLayers();
    const stored: [string, ConfigSettings | undefined][] = [];
    for (const name of await this.scanNames(globPrefix(pattern), "explicit")) {
      if (globMatches(pattern, name)) stored.push([name, (await this.readExplicit(name)).settings]);
    }
    const rules = await this.updateRules((rules) => this.decisions.configurePattern(rules, pattern, command, stored));
    const after = this.decisions.layersWith(rules);
    let matched = 0;
    for (const name of await this.scanNames("")) {
      if (!globMatches(pattern, name)) continue;
      const explicit = this.decisions.explicitOf(name, (await this.readExplicit(name)).settings);
      const oldConfig = resolveConfig(before, name, explicit).config;
      const resolved = resolveConfig(after, name, explicit);
      if (resolved.sources.includes(`pattern:${pattern}`)) matched += 1;
      if (sameConfig(oldConfig, resolved.config)) continue;
      const record: ConfigChangeRecord = { target: pattern, actor, at: await this.now(), oldConfig, newConfig: resolved.config };
      const keys = this.keys.circuit(name);
      await this.guard(async () => {
        await this.client.lpush(keys.history, JSON.stringify({ kind: "config", change: record }));
        await this.client.ltrim(keys.history, 0, this.historyLimit - 1);
      });
      for (const l of this.configListeners) l(record);
    }
    return { matchedCircuits: matched };
  }

  // ---- watch -------------------------------------------------------------

  async watch(filter: WatchFilter, resumeToken: string | undefined, sink: (item: WatchItem) => void): Promise<WatchSubscription> {
    await this.start();
    const deliver = (e: StreamEvent): void => {
      if (matchesFilter(filter, e.circuit)) sink({ kind: "event", event: this.eventOf(e as unknown as ScriptEvent) });
    };
    if (resumeToken !== undefined && resumeToken !== "") {
      if (!isStreamId(resumeToken)) {
        throw new ResumeTokenError("malformed", "resume_token is not a token this server issued; pass an event_id or snapshot_complete.resume_token unchanged");
      }
      return this.guard(() => this.feed.follow(resumeToken, deliver, this.eventLogSize));
    }
    return this.guard(async () => {
      const position = await this.feed.position();
      const sub = await this.feed.follow(position, deliver, this.eventLogSize, async () => {
        const names = (await this.scanNames(filter.prefix)).concat(filter.circuits.filter((n) => !n.startsWith(filter.prefix)));
        const views: CircuitView[] = [];
        for (const name of [...new Set(names)].sort()) {
          if (!matchesFilter(filter, name)) continue;
          const view = await this.get(name);
          if (view !== undefined) views.push(view);
        }
        for (const status of views) sink({ kind: "snapshot", status });
        sink({ kind: "snapshot_complete", resumeToken: position });
      });
      return sub;
    });
  }

  /** Resolves once this replica has read every event written so far (watchers have them). */
  async settle(): Promise<void> {
    await this.start();
    await this.guard(() => this.feed.caughtUp());
  }

  onTransition(listener: (event: CircuitEvent) => void): () => void {
    this.transitionListeners.add(listener);
    return () => void this.transitionListeners.delete(listener);
  }

  onConfigChange(listener: (change: ConfigChangeRecord) => void): () => void {
    this.configListeners.add(listener);
    return () => void this.configListeners.delete(listener);
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
    await this.feed.stop();
    this.subscriber.disconnect();
  }

  // ---- internals ---------------------------------------------------------

  /** The store's time: Redis TIME (or the test clock). */
  private async now(): Promise<number> {
    if (this.testClock !== undefined) return this.testClock();
    const [s, us] = await this.guard(() => this.client.time());
    return Number(s) * 1000 + Math.floor(Number(us) / 1000);
  }

  private currentLayers(): ConfigLayers {
    return this.decisions.layersWith(this.runtimeRules);
  }

  /** The circuit's config as this replica knows it, and the explicit-settings version it rests on. */
  private resolvedNow(name: string): ResolvedConfig & { version: number } {
    let r = this.resolved.get(name);
    if (r === undefined) {
      const known = this.explicit.get(name);
      r = { ...this.decisions.resolve(this.runtimeRules, name, known?.settings), version: known?.version ?? 0 };
      this.resolved.set(name, r);
    }
    return r;
  }

  private commonArgs(name: string, config: CircuitConfig, version: number): (string | number)[] {
    return [
      name,
      this.testClock === undefined ? "" : `@${this.testClock()}`,
      this.random(),
      version,
      this.idleTtlMs,
      this.historyLimit,
      this.eventLogSize,
      packConfig(config),
    ];
  }

  private async call(command: CommandName, keys: CircuitKeys, args: (string | number)[]): Promise<Record<string, unknown>> {
    const keyList = [keys.circuit, keys.probes, keys.reported, keys.history, keys.explicit];
    if (!this.cluster) keyList.push(this.keys.events);
    const fn = (this.client as unknown as Record<string, (...a: unknown[]) => Promise<string>>)[command]!;
    this.coalesceWrites();
    const json = await this.guard(() => fn.call(this.client, keyList.length, ...keyList, ...args));
    return JSON.parse(json) as Record<string, unknown>;
  }

  /**
   * Holds the command connection's writes until the end of this event-loop
   * turn (setImmediate: after the turn's I/O callbacks), so the scripts that
   * one turn's requests run leave in one write instead of one system call
   * each (under load a turn carries many Reports; the per-command write was
   * the largest single cost of a Report in the server's profile). Not in
   * Cluster mode, where commands go out on one connection per node.
   */
  private coalesceWrites(): void {
    if (this.corked !== undefined || this.cluster) return;
    const stream = (this.client as Redis).stream;
    if (stream === undefined || !stream.writable) return;
    stream.cork();
    this.corked = stream;
    setImmediate(() => {
      this.corked = undefined;
      stream.uncork();
    });
  }

  /** Runs a circuit command with this replica's config, retrying once the stored settings are fetched. */
  private async run(
    command: CommandName,
    name: string,
    extra: (string | number)[],
  ): Promise<Record<string, unknown> & { resolved: ResolvedConfig }> {
    await this.start();
    for (let attempt = 0; ; attempt++) {
      const resolved = this.resolvedNow(name);
      const raw = await this.call(command, this.keys.circuit(name), [...this.commonArgs(name, resolved.config, resolved.version), ...extra]);
      if (isStale(raw)) {
        if (attempt >= MAX_STALE_RETRIES) throw new StoreUnavailableError("circuit settings keep changing concurrently; retry");
        const s = raw.staleConfig;
        this.forget(name);
        this.explicit.set(name, { version: s.version, settings: s.settings === "" ? undefined : (JSON.parse(s.settings) as ConfigSettings) });
        continue;
      }
      await this.deliver(list<ScriptEvent>(raw.events));
      return { ...raw, resolved };
    }
  }

  /** Tells local listeners about this replica's transitions; in Cluster mode appends them to the stream first. */
  private async deliver(events: ScriptEvent[]): Promise<void> {
    if (events.length === 0) return;
    const publish = (e: ScriptEvent): void => {
      this.learn(e);
      const event = this.eventOf(e);
      for (const l of this.transitionListeners) l(event);
    };
    if (!this.cluster) {
      for (const e of events) publish(e);
      return;
    }
    // Awaited, so the caller's answer comes after its transitions are in the
    // stream, as in the other modes. Should this replica die between the
    // script and here, the state is right but watchers miss the event.
    for (const e of events) {
      const id = (await this.guard(() => this.client.xadd(this.keys.events, "MAXLEN", "~", this.eventLogSize, "*", "e", JSON.stringify(e)))) ?? "";
      // The history entry the script wrote has no id yet: give it this one
      // (found by generation, which is unique per transition of a circuit).
      await this.guard(() => this.client.eval(SET_HISTORY_EVENT_ID, 1, this.keys.circuit(e.circuit).history, e.generation, id));
      publish({ ...e, eventId: id });
    }
  }

  private eventOf(e: ScriptEvent): CircuitEvent {
    const event: CircuitEvent = {
      circuit: e.circuit,
      from: e.from,
      to: e.to,
      at: e.at,
      reason: e.reason,
      generation: e.generation,
      stats: exactStats(e.stats),
      eventId: e.eventId ?? "",
    };
    if (e.openUntil !== undefined) event.openUntil = e.openUntil;
    if (e.actor !== undefined) event.actor = e.actor;
    return event;
  }

  private viewOf(name: string, v: ScriptView, resolved?: ResolvedConfig): CircuitView {
    const r = resolved ?? this.resolvedNow(name);
    const view: CircuitView = {
      circuit: name,
      state: v.state,
      config: r.config,
      configSources: r.sources,
      stats: exactStats(v.stats),
      generation: v.generation,
      since: v.since,
    };
    if (v.openUntil !== undefined) view.openUntil = v.openUntil;
    return view;
  }

  private async readExplicit(name: string): Promise<Explicit> {
    const [v, s] = await this.guard(() => this.client.hmget(this.keys.circuit(name).explicit, "v", "s"));
    const explicit: Explicit = { version: v == null ? 0 : Number(v), settings: s == null || s === "" ? undefined : (JSON.parse(s) as ConfigSettings) };
    const known = this.explicit.get(name);
    if (known?.version !== explicit.version) this.forget(name);
    this.explicit.set(name, explicit);
    return explicit;
  }

  private async loadRules(): Promise<void> {
    const [v, s] = await this.guard(() => this.client.hmget(this.keys.rules, "v", "s"));
    const version = v == null ? 0 : Number(v);
    if (version > this.rulesVersion || (version === this.rulesVersion && this.runtimeRules.length === 0 && s != null)) {
      this.rulesVersion = version;
      this.runtimeRules = s == null ? [] : (JSON.parse(s) as PatternRule[]);
      this.resolved.clear();
      this.views.clear();
    }
  }

  /** Compare-and-set of the runtime rules, retried on a concurrent change; publishes the change. */
  private async updateRules(change: (rules: PatternRule[]) => PatternRule[]): Promise<PatternRule[]> {
    for (let attempt = 0; attempt < 10; attempt++) {
      await this.loadRules();
      const next = change(this.runtimeRules);
      const ok = await this.guard(() =>
        this.client.eval(
          `local v = tonumber(redis.call("HGET", KEYS[1], "v") or "0")
           if v ~= tonumber(ARGV[1]) then return 0 end
           redis.call("HSET", KEYS[1], "v", v + 1, "s", ARGV[2])
           return 1`,
          1,
          this.keys.rules,
          this.rulesVersion,
          JSON.stringify(next),
        ),
      );
      if (ok === 1) {
        this.rulesVersion += 1;
        this.runtimeRules = next;
        this.resolved.clear();
        this.views.clear();
        await this.guard(() => this.client.publish(this.keys.rulesChannel, String(this.rulesVersion)));
        return next;
      }
    }
    throw new StoreUnavailableError("pattern rules keep changing concurrently; retry");
  }

  /** Names of the circuits whose names start with `prefix`, from every master. */
  private async scanNames(prefix: string, kind: "circuit" | "explicit" = "circuit"): Promise<string[]> {
    const match = kind === "circuit" ? this.keys.scanPattern(prefix) : this.keys.explicitScanPattern(prefix);
    const nodes = "nodes" in this.client && this.cluster ? (this.client as Cluster).nodes("master") : [this.client as Redis];
    const names = new Set<string>();
    for (const node of nodes) {
      let cursor = "0";
      do {
        const [next, keys] = await this.guard(() => node.scan(cursor, "MATCH", match, "COUNT", 1000));
        cursor = next;
        for (const key of keys) {
          const name = kind === "circuit" ? this.keys.circuitOf(key) : this.keys.circuitOfExplicit(key);
          if (name !== undefined) names.add(name);
        }
      } while (cursor !== "0");
    }
    return [...names];
  }

  /** Maps connection failures to StoreUnavailableError; script errors stay as they are. */
  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof ResumeTokenError || err instanceof InvalidConfigError || err instanceof UnknownPresetError) throw err;
      if (isConnectionError(err)) {
        const status = this.client.status;
        throw new StoreUnavailableError(
          status === "ready"
            ? `Redis did not answer in time (${(err as Error).message}); retry shortly`
            : `Redis is unreachable (connection ${status}); the circuit state is there, retry shortly`,
        );
      }
      throw err;
    }
  }
}

/** The literal start of a glob: every name it matches starts with it. */
function globPrefix(pattern: string): string {
  const i = pattern.search(/[*?]/);
  return i < 0 ? pattern : pattern.slice(0, i);
}

function isStale(raw: Record<string, unknown>): raw is Record<string, unknown> & StaleConfigReply {
  return raw.staleConfig !== undefined;
}


