/**
 * The Breakerbox service: transport-free handlers for every RPC. Each
 * validates its input (naming the bad field), then calls the store. It knows
 * nothing of grpc-js, Connect or protobuf; src/server adapts it.
 */
import {
  type ConfigPatch,
  type ForceTarget,
  type Outcome,
  type State,
  circuitNameProblem,
  patternProblem,
  validatePatch,
} from "../engine/index.js";
import type { AcquireDecision, CircuitStore, CircuitView, HistoryEntry, ReportAck } from "../store/store.js";
import { CircuitNotFoundError, InvalidArgumentError } from "./errors.js";
import { WatchHub, type WatchMessage, type WatchOptions } from "./watch-hub.js";

/** The caller of an RPC, as the transport established it. */
export interface Caller {
  /** Who is calling, for history and logs: the API key's name, or "anonymous" when access control is off. */
  actor: string;
}

export interface ReportRequest {
  circuit: string;
  permit: string;
  outcome: Outcome | undefined;
  durationMs: number;
  retryAfterMs: number;
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

export interface ConfigureRequest {
  target: { kind: "circuit"; circuit: string } | { kind: "pattern"; pattern: string } | undefined;
  patch: ConfigPatch;
  preset: string;
  replace: boolean;
}

export interface ConfigureResult {
  status?: CircuitView;
  matchedCircuits: number;
}

export interface WatchRequest {
  circuits: string[];
  prefix: string;
  resumeToken: string;
  /** Live status every this many ms: 0 = off, else at least {@link MIN_STATUS_INTERVAL_MS}. */
  statusIntervalMs?: number;
}

export interface BreakerboxOptions extends WatchOptions {
  store: CircuitStore;
}

/** AcquireAny takes 1 to this many candidates. */
export const MAX_ACQUIRE_ANY_CANDIDATES = 16;
const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;
const DEFAULT_HISTORY_LIMIT = 100;
const MAX_HISTORY_LIMIT = 1000;
const MAX_WATCH_CIRCUITS = 1000;
/**
 * Shortest Watch status interval: every interval costs one read of the
 * watched circuits per stream, so a dashboard cannot turn Watch into a tight
 * poll of the store.
 */
export const MIN_STATUS_INTERVAL_MS = 1000;

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

  /** Acquire: allow or deny one call. A denial is an answer, not an error. */
  acquire(circuit: string): Promise<AcquireDecision> {
    requireCircuitName("circuit", circuit);
    return this.store.acquire(circuit);
  }

  /**
   * AcquireAny: tries the candidates in order and stops at the first that
   * admits; candidates after it are not touched (no permit taken, no
   * rejection counted).
   */
  async acquireAny(circuits: string[]): Promise<AcquireAnyResult> {
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
    const denials: AcquireAnyResult["denials"] = [];
    for (const circuit of circuits) {
      const decision = await this.store.acquire(circuit);
      if (decision.allowed) return { chosen: { circuit, decision }, denials, retryAfterMs: 0 };
      denials.push({ circuit, decision });
    }
    const known = denials.map((d) => d.decision.retryAfterMs).filter((ms) => ms > 0);
    return { denials, retryAfterMs: known.length === 0 ? 0 : Math.min(...known) };
  }

  /** Report: record one outcome. Retrying is safe (duplicate=true). */
  report(request: ReportRequest): Promise<ReportAck> {
    requireCircuitName("circuit", request.circuit);
    if (request.permit === "") throw new InvalidArgumentError("permit", "is required: pass the permit from AcquireResponse");
    if (request.outcome === undefined) {
      throw new InvalidArgumentError("outcome", "is required: one of OUTCOME_SUCCESS, OUTCOME_FAILURE, OUTCOME_TIMEOUT, OUTCOME_IGNORED");
    }
    if (!(request.durationMs >= 0)) throw new InvalidArgumentError("duration", "must not be negative");
    if (!(request.retryAfterMs >= 0)) throw new InvalidArgumentError("retry_after", "must not be negative");
    return this.store.report(request.circuit, {
      permit: request.permit,
      outcome: request.outcome,
      durationMs: request.durationMs,
      retryAfterMs: request.retryAfterMs,
    });
  }

  async getState(circuit: string): Promise<CircuitView> {
    requireCircuitName("circuit", circuit);
    const view = await this.store.get(circuit);
    if (view === undefined) throw new CircuitNotFoundError(circuit);
    return view;
  }

  /** ListCircuits: one page in name order. The page token is the last name, base64url-encoded. */
  async listCircuits(request: ListRequest): Promise<ListResult> {
    if (request.pageSize > MAX_PAGE_SIZE) {
      throw new InvalidArgumentError("page_size", `is ${request.pageSize}; at most ${MAX_PAGE_SIZE} (0 means ${DEFAULT_PAGE_SIZE})`);
    }
    let after: string | undefined;
    if (request.pageToken !== "") {
      after = Buffer.from(request.pageToken, "base64url").toString("utf8");
      if (circuitNameProblem(after) !== undefined) {
        throw new InvalidArgumentError("page_token", "is not a token from ListCircuitsResponse.next_page_token; pass it unchanged");
      }
    }
    const limit = request.pageSize === 0 ? DEFAULT_PAGE_SIZE : request.pageSize;
    const query = { prefix: request.prefix, limit, ...(after === undefined ? {} : { after }), ...(request.state === undefined ? {} : { state: request.state }) };
    const page = await this.store.list(query);
    const last = page.circuits[page.circuits.length - 1];
    const nextPageToken = page.more && last !== undefined ? Buffer.from(last.circuit, "utf8").toString("base64url") : "";
    return { circuits: page.circuits, nextPageToken };
  }

  async getHistory(circuit: string, limit: number): Promise<HistoryEntry[]> {
    requireCircuitName("circuit", circuit);
    if (limit > MAX_HISTORY_LIMIT) {
      throw new InvalidArgumentError("limit", `is ${limit}; at most ${MAX_HISTORY_LIMIT} (0 means ${DEFAULT_HISTORY_LIMIT})`);
    }
    const entries = await this.store.history(circuit, limit === 0 ? DEFAULT_HISTORY_LIMIT : limit);
    if (entries === undefined) throw new CircuitNotFoundError(circuit);
    return entries;
  }

  async reset(circuit: string, caller: Caller): Promise<CircuitView> {
    requireCircuitName("circuit", circuit);
    const view = await this.store.reset(circuit, caller.actor);
    if (view === undefined) throw new CircuitNotFoundError(circuit);
    return view;
  }

  forceState(circuit: string, state: State | undefined, caller: Caller): Promise<CircuitView> {
    requireCircuitName("circuit", circuit);
    if (state !== "FORCED_OPEN" && state !== "DISABLED" && state !== "CLOSED") {
      throw new InvalidArgumentError(
        "state",
        `must be STATE_FORCED_OPEN, STATE_DISABLED or STATE_CLOSED (to release)${state === undefined ? "" : `, got STATE_${state}`}`,
      );
    }
    return this.store.force(circuit, state as ForceTarget, caller.actor);
  }

  async configure(request: ConfigureRequest, caller: Caller): Promise<ConfigureResult> {
    const target = request.target;
    if (target === undefined) throw new InvalidArgumentError("target", "is required: set circuit or pattern");
    const issues = validatePatch(request.patch);
    if (issues.length > 0) {
      const first = issues[0]!;
      const violations = issues.map((i) => ({ field: `config.${i.field}`, description: i.message }));
      throw new InvalidArgumentError(`config.${first.field}`, issues.map((i) => i.message.replace(`${i.field} `, "")).join("; "), violations);
    }
    if (Object.keys(request.patch).length === 0 && request.preset === "" && !request.replace) {
      throw new InvalidArgumentError("config", "sets no field; set at least one config field, a preset, or replace=true");
    }
    const command = {
      patch: request.patch,
      replace: request.replace,
      ...(request.preset === "" ? {} : { preset: request.preset }),
    };
    if (target.kind === "circuit") {
      requireCircuitName("circuit", target.circuit);
      const status = await this.store.configureCircuit(target.circuit, command, caller.actor);
      return { status, matchedCircuits: 1 };
    }
    const problem = patternProblem(target.pattern);
    if (problem !== undefined) throw new InvalidArgumentError("pattern", problem);
    return this.store.configurePattern(target.pattern, command, caller.actor);
  }

  /**
   * Watch: snapshot (or replay after resume_token), then events, with
   * heartbeats, and with `statusIntervalMs` the live status of each circuit
   * that changed, at most once per interval. The stream ends when `signal`
   * aborts or the service shuts down.
   */
  watch(request: WatchRequest, signal: AbortSignal): AsyncIterable<WatchMessage> {
    if (request.circuits.length > MAX_WATCH_CIRCUITS) {
      throw new InvalidArgumentError("circuits", `has ${request.circuits.length} names; at most ${MAX_WATCH_CIRCUITS} (use prefix for more)`);
    }
    request.circuits.forEach((name, i) => requireCircuitName(`circuits[${i}]`, name));
    const statusIntervalMs = request.statusIntervalMs ?? 0;
    if (!(statusIntervalMs === 0 || statusIntervalMs >= MIN_STATUS_INTERVAL_MS)) {
      throw new InvalidArgumentError(
        "status_interval",
        `is ${statusIntervalMs} ms; use 0 (no status messages) or at least ${MIN_STATUS_INTERVAL_MS / 1000}s`,
      );
    }
    return this.watches.open(
      { circuits: request.circuits, prefix: request.prefix },
      request.resumeToken === "" ? undefined : request.resumeToken,
      signal,
      { statusIntervalMs },
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
