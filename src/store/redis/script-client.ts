/**
 * The typed client of the command connection: one method per Lua script, its
 * arguments in the order the script's header lists them, its reply decoded
 * into a declared type (script-replies.ts), plus the few plain commands the
 * store sends (history and stream appends, TIME). It holds the connection's
 * writes until the end of each event-loop turn (see coalesceWrites), and maps
 * connection failures to StoreUnavailableError.
 */
import type { Cluster, Redis } from "ioredis";
import type { CircuitConfig, ConfigSettings, ForceTarget, Outcome, PermitKind, Principal } from "../../engine/index.js";
import type { ConfigChangeRecord } from "../store.js";
import { CircuitCapError } from "../store-errors.js";
import type { KeySpace } from "./keys.js";
import { packConfig } from "./lua-config.js";
import {
  type AcquireReply,
  type ConfigureReply,
  type ReportReply,
  type ScriptEvent,
  type StaleConfig,
  type ViewReply,
  decodeAcquireReply,
  decodeConfigureReply,
  decodeReportBatchReply,
  decodeReportReply,
  decodeViewReply,
} from "./script-replies.js";
import { type CircuitCommand, type PageCommand, type RemovalCommand, type SingleKeyCommand, defineCommands } from "./scripts.js";
import { type Guard, createGuard } from "./unavailable.js";

/** Which circuit a command runs on, with the config this replica resolved for it and the settings version it rests on. */
export interface CircuitCall {
  name: string;
  config: CircuitConfig;
  version: number;
}

/** report.lua's arguments: the permit's parts (already checked for shape and circuit) and the outcome. */
export interface ReportArgs {
  permit: string;
  generation: number;
  kind: PermitKind;
  expiresAt: number;
  /** The permit's stream and number; undefined for a legacy permit (remembered by body in the reported zset). */
  stream: string | undefined;
  seq: number | undefined;
  /** Slots of a stream's window (lua/includes/permit-window.lua). */
  windowSlots: number;
  outcome: Outcome;
  durationMs: number;
  retryAfterMs: number;
  /** The reporter; absent: the transitions it drives carry no principal. */
  principal: Principal | undefined;
}

export interface ScriptClientOptions {
  client: Redis | Cluster;
  keys: KeySpace;
  /** Cluster mode: the scripts cannot reach the event stream (6 keys instead of 7). */
  cluster: boolean;
  idleTtlMs: number;
  historyLimit: number;
  eventLogSize: number;
  random: () => number;
  /** Replaces Redis TIME in the scripts (tests only). */
  testClock: (() => number) | undefined;
  /** Most circuits the store holds (BREAKERBOX_MAX_CIRCUITS); undefined: no cap. */
  maxCircuits: number | undefined;
  /**
   * Cluster mode, where no script can count the store: whether this
   * replica's latest count (circuit-index.ts) says the store is at its cap.
   */
  clusterFull: () => boolean;
}

/** One circuit's reports in a report page: the circuit with its resolved config, and its reports in order. */
export interface ReportGroup {
  call: CircuitCall;
  reports: readonly ReportArgs[];
}

/** The scripts, typed. Every method may reject with StoreUnavailableError. */
export interface ScriptClient {
  readonly guard: Guard;
  /** `permitId`: the body's tail, `<stream>.<seq>` (permit-streams.ts). */
  acquire(call: CircuitCall, circuitHash: string, permitId: string): Promise<AcquireReply | StaleConfig>;
  report(call: CircuitCall, args: ReportArgs): Promise<ReportReply | StaleConfig>;
  /** report-batch.lua: several reports of one circuit in one call, applied in order; one reply each. */
  reportBatch(call: CircuitCall, args: readonly ReportArgs[]): Promise<ReportReply[] | StaleConfig>;
  /**
   * report-page.lua: the report batches of several circuits, each as
   * reportBatch(call, reports) answers it, in one script call. Not in Cluster mode.
   */
  reportPage(groups: readonly ReportGroup[]): Promise<(ReportReply[] | StaleConfig)[]>;
  /** read.lua: the view, and with `history` its whole retained history (newest first). */
  read(call: CircuitCall, what: "view" | "history"): Promise<ViewReply | StaleConfig>;
  /**
   * read-page.lua: the views of several circuits, each as read(call, "view")
   * answers it, in one script call. Not in Cluster mode.
   */
  readPage(calls: readonly CircuitCall[]): Promise<(ViewReply | StaleConfig)[]>;
  admin(call: CircuitCall, action: "reset" | ForceTarget, actor: string): Promise<ViewReply | StaleConfig>;
  configure(call: CircuitCall, settings: ConfigSettings, change: ConfigChangeRecord): Promise<ConfigureReply | StaleConfig>;
  /** Cluster mode: stamps a transition's stream id into its history entry. */
  setHistoryEventId(circuit: string, generation: number, eventId: string): Promise<void>;
  /** Stores `rules` if the stored rules are still at `version`; answers whether it did. */
  setRules(version: number, rulesJson: string): Promise<boolean>;
  /** data-epoch.lua: the stored data epoch, `candidate` when there was none (this call stored it). */
  dataEpoch(candidate: string): Promise<string>;
  /** Cluster mode: appends a transition to the event stream (the script could not); answers its stream id. */
  appendEvent(event: ScriptEvent): Promise<string>;
  /** Cluster mode: appends the marker telling every replica that a circuit's settings are now at `version`. */
  appendConfigMarker(circuit: string, version: number): Promise<void>;
  /**
   * Records a config change of a circuit made outside configure.lua (a
   * pattern rule changed its config): in its history and in the event stream
   * for watchers (append-config-change.lua; in Cluster mode the stream entry
   * follows the script). Not a use of the circuit: its idle expiry stays, and
   * the history gets the circuit's remaining time. Answers false, recording
   * nothing, when the circuit is gone (it expired since it was listed).
   */
  appendConfigChange(circuit: string, change: ConfigChangeRecord): Promise<boolean>;
  /**
   * Cluster mode: appends the stream entry of a config change configure.lua
   * recorded in history (the script could not reach the stream's slot).
   */
  streamConfigChange(circuit: string, change: ConfigChangeRecord): Promise<void>;
  /**
   * announce-removal.lua: writes the "rm" stream entry for a circuit whose
   * hash expired, unless another replica did or the circuit exists again;
   * answers whether this call wrote it. Not in Cluster mode.
   */
  announceRemoval(circuit: string): Promise<boolean>;
  /** Redis TIME in ms. */
  time(): Promise<number>;
  /** True when the circuit exists; reads it without applying due transitions (unlike read.lua). */
  exists(circuit: string): Promise<boolean>;
}

/** What a creating script answers, writing nothing, when the store is at its cap (lua/includes/indexes.lua). */
const CAP_REACHED = '{"capReached":true}';

/** report.lua's one-letter permit kinds. */
const KIND_CODE: Readonly<Record<PermitKind, string>> = { closed: "c", probe: "p", shadow: "s", disabled: "d" };

type ScriptFunction = (...args: (string | number)[]) => Promise<unknown>;

/** A page script's distinct configs, numbered from 1 in order of first use. */
class ConfigNumbers {
  private readonly numbers = new Map<string, number>();
  get size(): number {
    return this.numbers.size;
  }
  numberOf(config: CircuitConfig): number {
    const packed = packConfig(config);
    let n = this.numbers.get(packed);
    if (n === undefined) this.numbers.set(packed, (n = this.numbers.size + 1));
    return n;
  }
  packed(): string[] {
    return [...this.numbers.keys()];
  }
}

/** report.lua's ARGV[9..19] (report-batch.lua's first eleven per report). */
function reportArgs(a: ReportArgs): (string | number)[] {
  const args = [a.permit, a.generation, KIND_CODE[a.kind], a.expiresAt, a.outcome, a.durationMs, a.retryAfterMs];
  args.push(a.principal?.keyName ?? "", a.principal?.agentInstanceId ?? "", a.seq ?? "", a.windowSlots);
  return args;
}

/**
 * Appends one report's thirteen arguments of a batch (includes/report-one.lua
 * report_batch): report.lua's eleven, its permit's stream (the window key is
 * the circuit's window prefix and the stream) and its own random, as it
 * would get alone (the jitter of an open it drives).
 */
function pushBatchedReport(out: (string | number)[], a: ReportArgs, random: () => number): void {
  out.push(...reportArgs(a), a.stream ?? "", random());
}

/** Creates the client and registers the scripts on the connection. */
export function createScriptClient(options: ScriptClientOptions): ScriptClient {
  const { client, keys, cluster } = options;
  defineCommands(client);
  const guard = createGuard(client);
  // defineCommand adds one method per script to the client.
  const scripts = client as unknown as Record<CircuitCommand | SingleKeyCommand | RemovalCommand | PageCommand, ScriptFunction>;
  let corked: Redis["stream"] | undefined;

  /**
   * Holds the command connection's writes until the end of this event-loop
   * turn (setImmediate: after the turn's I/O callbacks), so the scripts that
   * one turn's requests run leave in one write instead of one system call
   * each (under load a turn carries many Reports; the per-command write was
   * the largest single cost of a Report in the server's profile). Not in
   * Cluster mode, where commands go out on one connection per node.
   */
  const coalesceWrites = (): void => {
    if (corked !== undefined || cluster) return;
    const stream = (client as Redis).stream;
    if (stream === undefined || !stream.writable) return;
    stream.cork();
    corked = stream;
    setImmediate(() => {
      corked = undefined;
      stream.uncork();
    });
  };

  /**
   * Runs a circuit script: its keys, the shared ARGV[1..8] (includes/prelude.lua), then `extra`.
   * `stream`: the permit stream whose window key a Report reads (KEYS[6]); "" names none.
   */
  const run = async (command: CircuitCommand, call: CircuitCall, extra: (string | number)[], stream = ""): Promise<unknown> => {
    const k = keys.circuit(call.name);
    const keyList = [k.circuit, k.probes, k.reported, k.history, k.explicit, k.window + stream];
    if (!cluster) keyList.push(keys.events, ...keys.indexes);
    const shared = [
      call.name,
      options.testClock === undefined ? "" : `@${options.testClock()}`,
      options.random(),
      call.version,
      options.idleTtlMs,
      options.historyLimit,
      options.eventLogSize,
      packConfig(call.config),
    ];
    coalesceWrites();
    // The cap goes last, after the command's own arguments (includes/indexes reads ARGV[#ARGV]).
    const reply = await guard(() => scripts[command].call(client, keyList.length, ...keyList, ...shared, ...extra, capArg()));
    if (reply === CAP_REACHED) throw new CircuitCapError(call.name, options.maxCircuits ?? 0);
    return reply;
  };

  /**
   * Runs a page script (read-page.lua, report-page.lua): the event stream and
   * the index keys, the shared arguments, each distinct config once (a
   * page's circuits mostly share one), then the per-circuit arguments; the
   * cap argument "" (a page creates no circuit). One reply per circuit.
   */
  const runPage = async (command: PageCommand, configs: ConfigNumbers, perCircuit: (string | number)[]): Promise<unknown[]> => {
    const clock = options.testClock === undefined ? "" : `@${options.testClock()}`;
    const args = [keys.prefix, clock, options.idleTtlMs, options.historyLimit, options.eventLogSize, configs.size, ...configs.packed(), ...perCircuit, ""];
    coalesceWrites();
    return (await guard(() => scripts[command].call(client, keys.events, ...keys.indexes, ...args))) as unknown[];
  };

  /**
   * lua/includes/indexes.lua cap_refusal's argument: "<n>" counts the store
   * in the script (single server, Sentinel), "full" refuses creation
   * (Cluster, from this replica's count), "" lets it be.
   */
  const capArg = (): string => {
    if (options.maxCircuits === undefined) return "";
    if (!cluster) return String(options.maxCircuits);
    return options.clusterFull() ? "full" : "";
  };

  /** The "cc" stream entry includes/config-history.lua writes, from this replica (Cluster mode). */
  const streamConfigChange = async (circuit: string, change: ConfigChangeRecord): Promise<void> => {
    const entry = JSON.stringify({ kind: "config", change });
    await guard(() => client.xadd(keys.events, "MAXLEN", "~", options.eventLogSize, "*", "cc", circuit, "h", entry));
  };

  return {
    guard,
    acquire: async (call, circuitHash, permitId) => decodeAcquireReply(await run("bbAcquire", call, [circuitHash, permitId])),
    report: async (call, a) => decodeReportReply(await run("bbReport", call, reportArgs(a), a.stream)),
    async reportBatch(call, list) {
      // KEYS[6] is the circuit's window prefix (no stream).
      const extra: (string | number)[] = [list.length];
      for (const a of list) pushBatchedReport(extra, a, options.random);
      return decodeReportBatchReply(await run("bbReportBatch", call, extra), list.length);
    },
    read: async (call, what) => decodeViewReply(await run("bbRead", call, [what])),
    async readPage(calls) {
      if (cluster) throw new Error("readPage is not available in Cluster mode");
      const configs = new ConfigNumbers();
      const perCircuit: (string | number)[] = [];
      for (const call of calls) perCircuit.push(call.name, call.version, configs.numberOf(call.config), options.random());
      const replies = await runPage("bbReadPage", configs, perCircuit);
      return replies.map(decodeViewReply);
    },
    async reportPage(groups) {
      if (cluster) throw new Error("reportPage is not available in Cluster mode");
      const configs = new ConfigNumbers();
      const perCircuit: (string | number)[] = [];
      for (const { call, reports } of groups) {
        perCircuit.push(call.name, call.version, configs.numberOf(call.config), reports.length);
        for (const a of reports) pushBatchedReport(perCircuit, a, options.random);
      }
      const replies = await runPage("bbReportPage", configs, perCircuit);
      if (replies.length !== groups.length) throw new Error(`reportPage answered ${replies.length} replies to ${groups.length} circuits`);
      return replies.map((r, i) => decodeReportBatchReply(r, groups[i]!.reports.length));
    },
    admin: async (call, action, actor) => decodeViewReply(await run("bbAdmin", call, [action, actor])),
    configure: async (call, settings, change) =>
      decodeConfigureReply(await run("bbConfigure", call, [JSON.stringify(settings), JSON.stringify({ kind: "config", change })])),
    async setHistoryEventId(circuit, generation, eventId) {
      await guard(() => scripts.bbSetHistoryEventId.call(client, keys.circuit(circuit).history, generation, eventId));
    },
    async setRules(version, rulesJson) {
      return (await guard(() => scripts.bbSetRules.call(client, keys.rules, version, rulesJson))) === 1;
    },
    async dataEpoch(candidate) {
      return String(await guard(() => scripts.bbDataEpoch.call(client, keys.rules, candidate)));
    },
    async appendEvent(event) {
      return (await guard(() => client.xadd(keys.events, "MAXLEN", "~", options.eventLogSize, "*", "e", JSON.stringify(event)))) ?? "";
    },
    async appendConfigMarker(circuit, version) {
      await guard(() => client.xadd(keys.events, "MAXLEN", "~", options.eventLogSize, "*", "c", circuit, "v", String(version)));
    },
    async appendConfigChange(circuit, change) {
      const k = keys.circuit(circuit);
      const keyList = cluster ? [k.circuit, k.history] : [k.circuit, k.history, keys.events];
      const entry = JSON.stringify({ kind: "config", change });
      const recorded = await guard(() =>
        scripts.bbAppendConfigChange.call(client, keyList.length, ...keyList, circuit, entry, options.historyLimit, options.eventLogSize),
      );
      if (recorded === null) return false;
      if (cluster) await streamConfigChange(circuit, change);
      return true;
    },
    streamConfigChange: (circuit, change) => streamConfigChange(circuit, change),
    async exists(circuit) {
      return (await guard(() => client.exists(keys.circuit(circuit).circuit))) === 1;
    },
    async announceRemoval(circuit) {
      const k = keys.circuit(circuit);
      // The marker outlives every replica's handling of one notification and
      // no re-created circuit's next expiry (see the script).
      const markerMs = Math.max(1, Math.floor(options.idleTtlMs / 2));
      const clock = options.testClock === undefined ? "" : `@${options.testClock()}`;
      const reply = await guard(() =>
        scripts.bbAnnounceRemoval.call(client, k.circuit, k.removalMarker, keys.events, ...keys.indexes, circuit, markerMs, options.eventLogSize, clock),
      );
      return reply === 1;
    },
    async time() {
      const [s, us] = await guard(() => client.time());
      return Number(s) * 1000 + Math.floor(Number(us) / 1000);
    },
  };
}
