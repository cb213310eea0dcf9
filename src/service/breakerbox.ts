/**
 * The Breakerbox service: transport-free handlers for every RPC. Each
 * validates its input (naming the bad field), then calls the store. It knows
 * nothing of grpc-js, Connect or protobuf; src/server adapts it.
 */
import { type ForceTarget, type Outcome, type State, circuitNameProblem, patternProblem } from "../engine/index.js";
import type {
  AcquireDecision,
  CircuitStore,
  CircuitView,
  HistoryEntry,
  PatternRuleChange,
  PatternRuleRecord,
  ReportAck,
} from "../store/store.js";
import { CircuitCapError } from "../store/store-errors.js";
import { formatHistoryPosition, parseHistoryPosition } from "../store/history-page.js";
import { type ConfigureRequest, judgeConfigure } from "./configure-request.js";
import { principalOf, requireAgentInstanceId } from "./agent-instance.js";
import { runBatch, type BatchResult } from "./batch-report.js";
import { CircuitNotFoundError, InvalidArgumentError } from "./errors.js";
import { effectivePageSize, readPageToken, writePageToken } from "./paging.js";
import { type RulePage, pageOfRules } from "./rule-pages.js";
import type { StatusPoller } from "./status-poller.js";
import { WatchHub, type WatchMessage, type WatchOptions } from "./watch-hub.js";

/** The caller of an RPC, as the transport established it. */
export interface Caller {
  /** Who is calling, for history and logs: the API key's name, or "anonymous" when access control is off. */
  actor: string;
  /**
   * The request's agent_instance_id (Acquire, AcquireAny, Report): which
   * instance of the agent is calling, as it declares. Taken from that field
   * and no other; empty or absent when it declared none. With `actor` it is
   * the Principal of what the call causes.
   */
  agentInstanceId?: string;
}

export interface ReportRequest {
  circuit: string;
  permit: string;
  outcome: Outcome | undefined;
  durationMs: number;
  retryAfterMs: number;
}

/** One report and who sends it: what BatchReport's decode makes of each item. */
export interface ReportCall {
  request: ReportRequest;
  caller: Caller;
}

export interface AcquireAnyResult {
  /** The admitting candidate, if any. */
  chosen?: { circuit: string; decision: AcquireDecision };
  /** Candidates that denied, in the order tried. */
  denials: { circuit: string; decision: AcquireDecision }[];
  /** When none admitted: the soonest known retry_after, 0 when none is known. */
  retryAfterMs: number;
}

export interface ListRequest {
  prefix: string;
  state: State | undefined;
  pageSize: number;
  pageToken: string;
}

export interface ListResult {
  circuits: CircuitView[];
  nextPageToken: string;
}

export interface HistoryRequest {
  circuit: string;
  pageSize: number;
  pageToken: string;
}

export interface HistoryResult {
  /** Newest first. */
  entries: HistoryEntry[];
  nextPageToken: string;
}

export interface ConfigureResult {
  status?: CircuitView;
  matchedCircuits: number;
  /** For a pattern target: the rule as written. */
  rule?: PatternRuleRecord;
}

/** ForceState's target as sent: the pin, and the deprecated state (undefined when unset). */
export interface ForceStateRequest {
  circuit: string;
  pin: ForceTarget | undefined;
  state: State | undefined;
}

export interface WatchRequest {
  circuits: string[];
  prefix: string;
  resumeToken: string;
  /** Live status every this many ms: 0 = off, else {@link MIN_STATUS_INTERVAL_MS} to {@link MAX_STATUS_INTERVAL_MS}. */
  statusIntervalMs?: number;
}

export interface BreakerboxOptions extends WatchOptions {
  store: CircuitStore;
}

/** AcquireAny takes 1 to this many candidates. */
export const MAX_ACQUIRE_ANY_CANDIDATES = 16;
/** BatchReport takes 1 to this many reports. */
export const MAX_BATCH_REPORTS = 100;
const MAX_WATCH_CIRCUITS = 1000;
/**
 * Shortest Watch status interval: every interval costs one read of the
 * watched circuits per stream, so a dashboard cannot turn Watch into a tight
 * poll of the store.
 */
export const MIN_STATUS_INTERVAL_MS = 1000;
/**
 * Longest Watch status interval (1 h). The interval becomes a setInterval
 * delay, and Node turns any delay above 2^31-1 ms into 1 ms: without a
 * maximum, a huge interval was the tightest poll of all.
 */
export const MAX_STATUS_INTERVAL_MS = 3_600_000;

/** The Pin value names, for messages. */
const PIN_NAMES: Readonly<Record<ForceTarget, string>> = { FORCED_OPEN: "PIN_FORCED_OPEN", DISABLED: "PIN_DISABLED", CLOSED: "PIN_NONE" };

export type { ConfigureRequest } from "./configure-request.js";

function requireCircuitName(field: string, name: string): void {
  const problem = circuitNameProblem(name);
  if (problem !== undefined) throw new InvalidArgumentError(field, problem);
}

export class Breakerbox {
  private readonly store: CircuitStore;
  private readonly watches: WatchHub;

  constructor(options: BreakerboxOptions) {
    this.store = options.store;
    this.watches = new WatchHub(options.store, options);
  }

  /** The replica's shared Watch status rounds (their counters feed /metrics). */
  get statusPoller(): StatusPoller {
    return this.watches.poller;
  }

  /** Acquire: allow or deny one call. A denial is an answer, not an error. */
  acquire(circuit: string, caller: Caller): Promise<AcquireDecision> {
    requireCircuitName("circuit", circuit);
    requireAgentInstanceId("agent_instance_id", caller.agentInstanceId ?? "");
    return this.store.acquire(circuit);
  }

  /**
   * AcquireAny: tries the candidates in order and stops at the first that
   * admits; candidates after it are not touched (no permit taken, no
   * rejection counted).
   */
  async acquireAny(circuits: string[], caller: Caller): Promise<AcquireAnyResult> {
    if (circuits.length === 0) throw new InvalidArgumentError("circuits", "must name at least one candidate circuit");
    if (circuits.length > MAX_ACQUIRE_ANY_CANDIDATES) {
      throw new InvalidArgumentError("circuits", `has ${circuits.length} candidates; at most ${MAX_ACQUIRE_ANY_CANDIDATES} are allowed`);
    }
    const seen = new Set<string>();
    circuits.forEach((name, i) => {
      requireCircuitName(`circuits[${i}]`, name);
      if (seen.has(name)) throw new InvalidArgumentError(`circuits[${i}]`, `repeats ${JSON.stringify(name)}; list each candidate once`);
      seen.add(name);
    });
    requireAgentInstanceId("agent_instance_id", caller.agentInstanceId ?? "");
    const denials: AcquireAnyResult["denials"] = [];
    // A new candidate the store has no room for is passed over, so an existing
    // one later in the list still serves; the cap is the answer only when no
    // candidate let the call through.
    let capped: CircuitCapError | undefined;
    for (const circuit of circuits) {
      let decision;
      try {
        decision = await this.store.acquire(circuit);
      } catch (err) {
        if (!CircuitCapError.is(err)) throw err;
        capped ??= err;
        continue;
      }
      if (decision.allowed) return { chosen: { circuit, decision }, denials, retryAfterMs: 0 };
      denials.push({ circuit, decision });
    }
    if (capped !== undefined) throw capped;
    const known = denials.map((d) => d.decision.retryAfterMs).filter((ms) => ms > 0);
    return { denials, retryAfterMs: known.length === 0 ? 0 : Math.min(...known) };
  }

  /**
   * Report: record one outcome; the transitions it drives carry the caller's
   * principal. Retrying is safe (DUPLICATE, or CONFLICT for another outcome).
   * `field` prefixes the request field an InvalidArgumentError names
   * (BatchReport's "reports[3].").
   */
  report(request: ReportRequest, caller: Caller, field = ""): Promise<ReportAck> {
    requireCircuitName(`${field}circuit`, request.circuit);
    if (request.permit === "") throw new InvalidArgumentError(`${field}permit`, "is required: pass the permit from AcquireResponse");
    if (request.outcome === undefined) {
      throw new InvalidArgumentError(`${field}outcome`, "is required: one of OUTCOME_SUCCESS, OUTCOME_FAILURE, OUTCOME_TIMEOUT, OUTCOME_IGNORED");
    }
    if (!(request.durationMs >= 0)) throw new InvalidArgumentError(`${field}duration`, "must not be negative");
    if (!(request.retryAfterMs >= 0)) throw new InvalidArgumentError(`${field}retry_after`, "must not be negative");
    requireAgentInstanceId(`${field}agent_instance_id`, caller.agentInstanceId ?? "");
    return this.store.report(request.circuit, {
      permit: request.permit,
      outcome: request.outcome,
      durationMs: request.durationMs,
      retryAfterMs: request.retryAfterMs,
      principal: principalOf(caller.actor, caller.agentInstanceId),
    });
  }

  /**
   * BatchReport: 1 to {@link MAX_BATCH_REPORTS} reports, each decoded,
   * validated and applied on its own exactly as {@link report} (fields named
   * `reports[i].<field>`), reports of one circuit in request order. Results
   * come in request order: the ack, or the error Report would have thrown.
   * Throws only for the batch as a whole (no reports, too many), before
   * anything is applied. `decode` turns one transport message into the
   * request and its caller (whose agentInstanceId is that report's); it may
   * throw InvalidArgumentError naming `${field}<name>`.
   */
  batchReport<T>(reports: readonly T[], decode: (report: T, field: string) => ReportCall): Promise<BatchResult[]> {
    if (reports.length === 0) throw new InvalidArgumentError("reports", "must hold at least one report");
    if (reports.length > MAX_BATCH_REPORTS) {
      throw new InvalidArgumentError("reports", `has ${reports.length} reports; at most ${MAX_BATCH_REPORTS} per call`);
    }
    return runBatch(reports, decode, (call, field) => this.report(call.request, call.caller, field));
  }

  async getState(circuit: string): Promise<CircuitView> {
    requireCircuitName("circuit", circuit);
    const view = await this.store.get(circuit);
    if (view === undefined) throw new CircuitNotFoundError(circuit);
    return view;
  }

  /**
   * ListCircuits: one page in name order (page size per src/service/paging.ts).
   * The page token holds the page's last name, bound to the prefix and state:
   * the next page starts strictly after that name, so circuits created or
   * removed meanwhile never make one that exists throughout repeat or go
   * missing. Throws PageTokenError for a token from elsewhere.
   */
  async listCircuits(request: ListRequest): Promise<ListResult> {
    const scope = [request.prefix, request.state ?? ""];
    const after = readPageToken("circuits", scope, request.pageToken, (name) => (circuitNameProblem(name) === undefined ? name : undefined));
    const query = {
      prefix: request.prefix,
      limit: effectivePageSize(request.pageSize),
      ...(after === undefined ? {} : { after }),
      ...(request.state === undefined ? {} : { state: request.state }),
    };
    const page = await this.store.list(query);
    const last = page.circuits.at(-1);
    return { circuits: page.circuits, nextPageToken: writePageToken("circuits", scope, page.more ? last?.circuit : undefined) };
  }

  /**
   * GetHistory: one page of a circuit's history, newest first. The page
   * token holds the position of the page's last entry, bound to the circuit:
   * the next page continues with the entries older than it however many are
   * recorded meanwhile, and ends (empty, no token) if the circuit's history
   * restarted since (src/store/history-page.ts). Throws PageTokenError for a
   * token from elsewhere, CircuitNotFoundError when the circuit does not exist.
   */
  async getHistory(request: HistoryRequest): Promise<HistoryResult> {
    const { circuit } = request;
    requireCircuitName("circuit", circuit);
    const before = readPageToken("history", [circuit], request.pageToken, parseHistoryPosition);
    const page = await this.store.history(circuit, effectivePageSize(request.pageSize), before);
    if (page === undefined) throw new CircuitNotFoundError(circuit);
    const next = page.next === undefined ? undefined : formatHistoryPosition(page.next);
    return { entries: page.entries, nextPageToken: writePageToken("history", [circuit], next) };
  }

  async reset(circuit: string, caller: Caller): Promise<CircuitView> {
    requireCircuitName("circuit", circuit);
    const view = await this.store.reset(circuit, caller.actor);
    if (view === undefined) throw new CircuitNotFoundError(circuit);
    return view;
  }

  /**
   * ForceState: `pin` wins; the deprecated `state` is honoured when `pin` is
   * unset (STATE_CLOSED as PIN_NONE); both set must agree.
   */
  forceState(request: ForceStateRequest, caller: Caller): Promise<CircuitView> {
    requireCircuitName("circuit", request.circuit);
    const { pin, state } = request;
    if (state !== undefined && state !== "FORCED_OPEN" && state !== "DISABLED" && state !== "CLOSED") {
      throw new InvalidArgumentError("state", `must be STATE_FORCED_OPEN, STATE_DISABLED or STATE_CLOSED (to release), got STATE_${state}`);
    }
    if (pin === undefined && state === undefined) {
      throw new InvalidArgumentError("pin", "is required: PIN_FORCED_OPEN, PIN_DISABLED or PIN_NONE (to release)");
    }
    if (pin !== undefined && state !== undefined && pin !== state) {
      throw new InvalidArgumentError("pin", `is ${PIN_NAMES[pin]} but the deprecated state is STATE_${state}; set pin alone`);
    }
    return this.store.force(request.circuit, (pin ?? state) as ForceTarget, caller.actor);
  }

  /** Configure: one circuit's explicit settings, or a pattern rule (see configure-request.ts). */
  async configure(request: ConfigureRequest, caller: Caller): Promise<ConfigureResult> {
    const judged = judgeConfigure(request);
    if (judged.kind === "circuit") {
      const status = await this.store.configureCircuit(judged.circuit, judged.command, caller.actor);
      return { status, matchedCircuits: 1 };
    }
    return this.store.configurePattern(judged.pattern, judged.command, caller.actor);
  }

  /** ListPatternRules: one page of the rules in the order they are consulted. */
  async listPatternRules(pageSize: number, pageToken: string): Promise<RulePage> {
    // Judge the token before reading the store: a bad one costs no store call.
    if (pageToken !== "") pageOfRules([], pageSize, pageToken);
    return pageOfRules(await this.store.listPatternRules(), pageSize, pageToken);
  }

  /** DeletePatternRule: removes a runtime rule; its circuits fall back to the next rule, preset and defaults. */
  deletePatternRule(pattern: string, caller: Caller): Promise<PatternRuleChange> {
    const problem = patternProblem(pattern);
    if (problem !== undefined) throw new InvalidArgumentError("pattern", problem);
    return this.store.deletePatternRule(pattern, caller.actor);
  }

  /**
   * Watch: snapshot (or replay after resume_token), then events, with
   * heartbeats, and with `statusIntervalMs` the live status of each circuit
   * that changed, at most once per interval. The stream ends when `signal`
   * aborts or the service shuts down. `caller` (its key's name) counts
   * against the per-key stream limit, when one is set.
   */
  watch(request: WatchRequest, signal: AbortSignal, caller?: Caller): AsyncIterable<WatchMessage> {
    if (request.circuits.length > MAX_WATCH_CIRCUITS) {
      throw new InvalidArgumentError("circuits", `has ${request.circuits.length} names; at most ${MAX_WATCH_CIRCUITS} (use prefix for more)`);
    }
    request.circuits.forEach((name, i) => requireCircuitName(`circuits[${i}]`, name));
    const statusIntervalMs = request.statusIntervalMs ?? 0;
    if (!(statusIntervalMs === 0 || (statusIntervalMs >= MIN_STATUS_INTERVAL_MS && statusIntervalMs <= MAX_STATUS_INTERVAL_MS))) {
      throw new InvalidArgumentError(
        "status_interval",
        `is ${statusIntervalMs} ms; use 0 (no status messages) or ${MIN_STATUS_INTERVAL_MS / 1000}s to ${MAX_STATUS_INTERVAL_MS / 1000}s`,
      );
    }
    return this.watches.open(
      { circuits: request.circuits, prefix: request.prefix },
      request.resumeToken === "" ? undefined : request.resumeToken,
      signal,
      // The stream counts against the caller's key (when a per-key limit is set).
      { statusIntervalMs, ...(caller === undefined ? {} : { key: caller.actor }) },
    );
  }

  /** Liveness of the store, for health checks. */
  health(): { ready: boolean; reason?: string } {
    return this.store.health();
  }

  /** Ends every Watch stream cleanly and refuses new ones. */
  shutdown(): void {
    this.watches.shutdown();
  }
}
