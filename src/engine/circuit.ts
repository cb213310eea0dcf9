/**
 * The circuit state machine: CLOSED → OPEN → HALF_OPEN → CLOSED, plus the
 * admin states FORCED_OPEN and DISABLED.
 *
 * Every function takes the circuit record, its resolved config and the time,
 * updates the record in place and returns what happened. Nothing here reads a
 * clock or a random source: `now` and `rand` come from the caller, so every
 * rule is testable without sleeping and the memory store, the Redis store's
 * Lua twin and the client SDK's local fallback agree step by step.
 *
 * Time-driven changes (OPEN → HALF_OPEN, an unreported probe timing out) are
 * applied lazily by {@link advance}, which every operation calls first; there
 * are no timers.
 *
 * Why one file of ~530 lines: it is one state machine. acquire, report,
 * advance, reset and force share the private steps (transition, open, grant,
 * deny) that keep generations, counters and permits consistent; splitting it
 * would export those steps and let a caller change state without them.
 */
import { type PermitRejectedError, permitRefusal } from "./errors.js";
import { circuitHash, decodePermit, encodePermit, newPermitStream, permitStreamEnded, type Permit, type PermitKind } from "./permit.js";
import { PERMIT_WINDOW_SLOTS, lookUpInWindow, pruneWindows, recordInWindow } from "./permit-window.js";
import type {
  Circuit,
  CircuitConfig,
  CircuitStats,
  DenyReason,
  Outcome,
  Principal,
  ReportDisposition,
  State,
  Transition,
  TransitionReason,
} from "./types.js";
import {
  emptyReporters,
  liveReporters,
  principalsOf,
  recordReporter,
  reporterOf,
  reporterQuorum,
  type ReporterEntry,
} from "./reporters.js";
import { emptyWindow, recordCall, windowCounts } from "./window.js";

/** Inputs every operation may need besides the record and config. */
export interface Tick {
  /** The current instant, ms since the epoch. */
  now: number;
  /** A uniform random number in [0, 1), used only to jitter open durations. */
  rand: number;
}

export type AcquireInput = Tick;

export interface AcquireResult {
  allowed: boolean;
  /** Set when allowed. */
  permit?: string;
  /** The state callers see (DISABLED when the config disables the circuit). */
  state: State;
  /** When denied: ms until asking again may succeed; 0 when unknown. */
  retryAfterMs: number;
  /** Why it was denied, or in shadow mode why it would have been. */
  reason?: DenyReason;
  /** Shadow mode let through a call that enforce mode would have denied. */
  shadowDenied: boolean;
  transitions: Transition[];
}

export interface ReportInput extends Tick {
  permit: string;
  outcome: Outcome;
  /** How long the call took; decides whether a success was slow. */
  durationMs: number;
  /** The dependency's own Retry-After hint; 0 when it gave none. */
  retryAfterMs: number;
  /** The reporter: the transitions this report drives carry it. Absent: they carry none. */
  principal?: Principal;
  /** Slots of a stream's permit window (permit-window.ts); default PERMIT_WINDOW_SLOTS. Tests make it small. */
  windowSlots?: number;
}

export interface ReportResult {
  state: State;
  disposition: ReportDisposition;
  /** The outcome that counts for this permit: this report's (RECORDED, STALE) or the first one's (DUPLICATE, CONFLICT). */
  recordedOutcome: Outcome;
  /** DUPLICATE or CONFLICT (kept for clients that predate `disposition`). */
  duplicate: boolean;
  /** STALE (kept for clients that predate `disposition`). */
  stale: boolean;
  transitions: Transition[];
}

/** A new CLOSED circuit with clean counters. */
export function newCircuit(name: string, now: number): Circuit {
  return {
    name,
    hash: circuitHash(name),
    phase: { state: "CLOSED" },
    generation: 0,
    since: now,
    lastUsed: now,
    consecutiveFailures: 0,
    reopenCount: 0,
    window: emptyWindow(),
    reporters: emptyReporters(),
    totals: { successes: 0, failures: 0, timeouts: 0, ignored: 0, rejections: 0 },
    reported: new Map(),
    windows: new Map(),
    // No stream until the first grant, which starts one (grant: older than any permit_ttl).
    issuer: { stream: "", next: 0, since: Number.NEGATIVE_INFINITY },
  };
}

/**
 * The state callers see: a config with enabled=false makes a circuit DISABLED,
 * except one an admin forced open (the more specific order wins).
 */
export function visibleState(c: Circuit, config: CircuitConfig): State {
  return config.enabled || c.phase.state === "FORCED_OPEN" ? c.phase.state : "DISABLED";
}

/** Counters of the circuit at `now`. */
export function statsOf(c: Circuit, config: CircuitConfig, now: number): CircuitStats {
  const w = windowCounts(c.window, config.windowMs, now);
  const half = c.phase.state === "HALF_OPEN" ? c.phase : undefined;
  return {
    windowCalls: w.calls,
    windowFailures: w.failures,
    windowSlowCalls: w.slow,
    failureRate: w.calls === 0 ? 0 : w.failures / w.calls,
    slowCallRate: w.calls === 0 ? 0 : w.slow / w.calls,
    consecutiveFailures: c.consecutiveFailures,
    halfOpenInFlight: half?.probes.length ?? 0,
    halfOpenSuccesses: half?.successes ?? 0,
    totalSuccesses: c.totals.successes,
    totalFailures: c.totals.failures,
    totalTimeouts: c.totals.timeouts,
    totalIgnored: c.totals.ignored,
    totalRejections: c.totals.rejections,
    reopenCount: c.reopenCount,
  };
}

/**
 * How long the circuit stays OPEN when it opens now: open_duration grown by
 * backoff_multiplier per re-opening, spread by ±jitter, capped at
 * max_open_duration (a cap is a cap, jitter included), and at least the
 * dependency's Retry-After hint (itself capped at max_open_duration, so a
 * bogus hint cannot lock a circuit out for a year).
 */
export function openDurationFor(config: CircuitConfig, reopenCount: number, rand: number, hintMs: number): number {
  const grown = Math.min(config.maxOpenDurationMs, config.openDurationMs * config.backoffMultiplier ** reopenCount);
  const jittered = Math.min(config.maxOpenDurationMs, grown * (1 + config.jitter * (2 * rand - 1)));
  const hint = Math.min(Math.max(0, hintMs), config.maxOpenDurationMs);
  return Math.max(1, Math.round(Math.max(jittered, hint)));
}

function transition(
  c: Circuit,
  config: CircuitConfig,
  now: number,
  to: Circuit["phase"],
  reason: TransitionReason,
): Transition {
  const from = c.phase.state;
  c.phase = to;
  c.generation += 1;
  c.since = now;
  const t: Transition = {
    circuit: c.name,
    from,
    to: to.state,
    at: now,
    reason,
    generation: c.generation,
    stats: statsOf(c, config, now),
  };
  if (to.state === "OPEN") t.openUntil = to.openUntil;
  return t;
}

function clearCounters(c: Circuit): void {
  c.window = emptyWindow();
  c.reporters = emptyReporters();
  c.consecutiveFailures = 0;
  c.reopenCount = 0;
}

function open(
  c: Circuit,
  config: CircuitConfig,
  tick: Tick,
  reason: TransitionReason,
  hintMs: number,
): Transition {
  const openUntil = tick.now + openDurationFor(config, c.reopenCount, tick.rand, hintMs);
  return transition(c, config, tick.now, { state: "OPEN", openUntil }, reason);
}

function reopenFromHalfOpen(
  c: Circuit,
  config: CircuitConfig,
  tick: Tick,
  reason: TransitionReason,
  hintMs: number,
): Transition {
  c.reopenCount += 1;
  return open(c, config, tick, reason, hintMs);
}

/**
 * Applies the changes that time alone causes, as of `tick.now`: an OPEN
 * circuit whose open duration has passed turns HALF_OPEN; in HALF_OPEN, a
 * probe permit not reported within permit_ttl counts as a TIMEOUT, frees its
 * slot and re-opens the circuit. Idempotent; cheap when nothing is due.
 */
export function advance(c: Circuit, config: CircuitConfig, tick: Tick): Transition[] {
  const out: Transition[] = [];
  const phase = c.phase;
  if (phase.state === "OPEN" && tick.now >= phase.openUntil) {
    out.push(transition(c, config, tick.now, { state: "HALF_OPEN", probes: [], successes: 0 }, "open_duration_elapsed"));
  } else if (phase.state === "HALF_OPEN" && phase.probes.length > 0) {
    const expired = phase.probes.find((p) => p.expiresAt <= tick.now);
    if (expired !== undefined) {
      // No need to remember the permit as reported: it is past its expiry, so
      // a later Report of it is refused as expired (report checks expiry first).
      c.totals.timeouts += 1;
      c.totals.failures += 1;
      out.push(reopenFromHalfOpen(c, config, tick, "probe_timeout", 0));
    }
  }
  return out;
}

/**
 * The outcome that counted for `permit` if it was reported before,
 * "forgotten" when its stream's window no longer reaches it, else undefined.
 * Looks only: remember() records.
 */
function firstOutcome(c: Circuit, permit: Permit, input: ReportInput): Outcome | "forgotten" | undefined {
  if (permit.stream === undefined) return c.reported.get(input.permit)?.outcome;
  const answer = lookUpInWindow(c.windows, permit.stream, permit.seq, input.windowSlots ?? PERMIT_WINDOW_SLOTS);
  return answer.kind === "repeated" ? answer.first : answer.kind === "forgotten" ? "forgotten" : undefined;
}

/** Records `permit` as reported with `input.outcome`, until it expires. */
function remember(c: Circuit, permit: Permit, input: ReportInput): void {
  if (permit.stream === undefined) c.reported.set(input.permit, { expiresAt: permit.expiresAt, outcome: input.outcome });
  else recordInWindow(c.windows, permit.stream, permit.seq, permit.expiresAt, input.outcome, input.windowSlots ?? PERMIT_WINDOW_SLOTS);
}

/** Forgets reported legacy permits that have expired (a Report of one is refused as expired anyway). */
function pruneReported(c: Circuit, now: number): void {
  for (const [id, reported] of c.reported) {
    if (reported.expiresAt > now) break;
    c.reported.delete(id);
  }
}

/**
 * Decides one call. CLOSED and DISABLED allow; OPEN and FORCED_OPEN deny;
 * HALF_OPEN allows while fewer than half_open_max_calls probes are out. In
 * shadow mode every denial except FORCED_OPEN (an operator's explicit order)
 * becomes an allow marked shadowDenied, whose outcome counts in the totals
 * only.
 */
export function acquire(c: Circuit, config: CircuitConfig, input: AcquireInput): AcquireResult {
  const transitions = advance(c, config, input);
  c.lastUsed = input.now;
  const phase = c.phase;
  if (!config.enabled && phase.state !== "FORCED_OPEN") return grant(c, config, input, transitions, "disabled");
  switch (phase.state) {
    case "CLOSED":
      return grant(c, config, input, transitions, "closed");
    case "DISABLED":
      return grant(c, config, input, transitions, "disabled");
    case "FORCED_OPEN":
      return deny(c, config, input, transitions, "FORCED_OPEN", 0);
    case "OPEN":
      return deny(c, config, input, transitions, "OPEN", Math.max(0, phase.openUntil - input.now));
    case "HALF_OPEN":
      if (phase.probes.length < config.halfOpenMaxCalls) return grant(c, config, input, transitions, "probe");
      return deny(c, config, input, transitions, "HALF_OPEN_FULL", 0);
    default: {
      const never: never = phase;
      throw new Error(`unhandled phase ${JSON.stringify(never)}`);
    }
  }
}

/** Hands out a permit (module-level, not a closure: this is the hot path). */
function grant(
  c: Circuit,
  config: CircuitConfig,
  input: AcquireInput,
  transitions: Transition[],
  kind: PermitKind,
  shadowDenied = false,
  reason?: DenyReason,
): AcquireResult {
  const expiresAt = input.now + config.permitTtlMs;
  if (permitStreamEnded(c.issuer.since, input.now, config.permitTtlMs)) {
    c.issuer = { stream: newPermitStream(), next: 0, since: input.now };
  }
  const seq = c.issuer.next++;
  const permit = encodePermit({ circuitHash: c.hash, generation: c.generation, kind, expiresAt, stream: c.issuer.stream, seq });
  if (kind === "probe" && c.phase.state === "HALF_OPEN") c.phase.probes.push({ id: permit, expiresAt });
  const r: AcquireResult = { allowed: true, permit, state: visibleState(c, config), retryAfterMs: 0, shadowDenied, transitions };
  if (reason !== undefined) r.reason = reason;
  return r;
}

/** Refuses a call, or in shadow mode lets it through marked shadowDenied (FORCED_OPEN always refuses). */
function deny(
  c: Circuit,
  config: CircuitConfig,
  input: AcquireInput,
  transitions: Transition[],
  reason: DenyReason,
  retryAfterMs: number,
): AcquireResult {
  c.totals.rejections += 1;
  if (config.mode === "shadow" && reason !== "FORCED_OPEN") return grant(c, config, input, transitions, "shadow", true, reason);
  return { allowed: false, state: c.phase.state, retryAfterMs, reason, shadowDenied: false, transitions };
}

/** A refusal carrying the due transitions report() had already applied. */
function refusedAfter(transitions: Transition[], err: PermitRejectedError): PermitRejectedError {
  err.transitions = transitions;
  return err;
}

function isFailure(outcome: Outcome): boolean {
  return outcome === "FAILURE" || outcome === "TIMEOUT";
}

function countTotals(c: Circuit, outcome: Outcome): void {
  switch (outcome) {
    case "SUCCESS":
      c.totals.successes += 1;
      break;
    case "FAILURE":
      c.totals.failures += 1;
      break;
    case "TIMEOUT":
      c.totals.failures += 1;
      c.totals.timeouts += 1;
      break;
    case "IGNORED":
      c.totals.ignored += 1;
      break;
  }
}

/** Records a counted outcome in the window, the consecutive-failure run and the reporter lists. */
function countWindow(c: Circuit, config: CircuitConfig, input: ReportInput): void {
  const failed = isFailure(input.outcome);
  const slow = !failed && config.slowCallDurationMs > 0 && input.durationMs > config.slowCallDurationMs;
  const start = recordCall(c.window, config.windowMs, input.now, failed, slow);
  recordReporter(c.reporters, reporterOf(input.principal), start, failed, slow);
  c.consecutiveFailures = failed ? c.consecutiveFailures + 1 : 0;
}

/**
 * `t`, a transition the report `input` drove, attributed to its reporter;
 * an OPEN one also names the reporters whose failures opened it (omitted
 * when none are known).
 */
function drivenBy(input: ReportInput, t: Transition, failureReporters?: Principal[]): Transition {
  if (input.principal !== undefined) t.principal = input.principal;
  if (failureReporters !== undefined && failureReporters.length > 0) t.failureReporters = failureReporters;
  return t;
}

/** A CLOSED-state rule that says the circuit must open, and the reporters whose failures (slow calls) it counted. */
interface Trip {
  reason: TransitionReason;
  reporters: ReporterEntry[];
}

/**
 * Which CLOSED-state rule, if any, says the circuit must open now. Each rule
 * also needs min_distinct_reporters distinct reporters among what it
 * counted: the failures of the current run (consecutive_failures), the
 * failures in the window (failure_rate), the slow calls in the window
 * (slow_call_rate). A rule short of its quorum lets the next rule decide.
 */
function tripOf(c: Circuit, config: CircuitConfig, now: number): Trip | undefined {
  const quorum = reporterQuorum(config);
  if (config.failureThreshold > 0 && c.consecutiveFailures >= config.failureThreshold) {
    const run = c.reporters.failures.slice(0, c.reporters.run);
    if (quorum <= 1 || run.length >= quorum) return { reason: "consecutive_failures", reporters: run };
  }
  const w = windowCounts(c.window, config.windowMs, now);
  if (w.calls < config.minimumCalls || w.calls === 0) return undefined;
  if (config.failureRateThreshold > 0 && w.failures / w.calls >= config.failureRateThreshold) {
    const live = liveReporters(c.reporters.failures, config.windowMs, now);
    if (quorum <= 1 || live.length >= quorum) return { reason: "failure_rate", reporters: live };
  }
  if (config.slowCallDurationMs > 0 && w.slow / w.calls >= config.slowCallRateThreshold) {
    const live = liveReporters(c.reporters.slow, config.windowMs, now);
    if (quorum <= 1 || live.length >= quorum) return { reason: "slow_call_rate", reporters: live };
  }
  return undefined;
}

/**
 * Records the outcome of a call made under `input.permit`.
 *
 * Throws {@link PermitRejectedError} (with the due transitions it applied
 * first, in `transitions`) for a token that is not a permit, was
 * issued for another circuit, is past its permit_ttl (even one reported
 * before), or is a probe this circuit no longer knows. A permit already
 * counted changes nothing and answers DUPLICATE (same outcome as the first
 * report) or CONFLICT (another outcome; the first stands), with the first
 * outcome as recordedOutcome: the circuit remembers a reported permit until
 * the permit expires. A permit from an older generation (issued before the
 * last transition, e.g. a slow call started before the circuit opened) is
 * counted in the totals but drives no transition and answers STALE. The
 * transitions a report drives carry `input.principal`; those time made due
 * first carry none.
 */
export function report(c: Circuit, config: CircuitConfig, input: ReportInput): ReportResult {
  const permit = decodePermit(input.permit);
  if (permit === undefined) {
    throw permitRefusal.malformed();
  }
  if (permit.circuitHash !== c.hash) {
    throw permitRefusal.foreign(c.name);
  }
  if (permit.generation > c.generation) {
    throw permitRefusal.notIssued(c.name);
  }
  const transitions = advance(c, config, input);
  pruneReported(c, input.now);
  pruneWindows(c.windows, input.now);
  c.lastUsed = input.now;
  // Expiry first: a permit past its permit_ttl is refused whether or not it was
  // reported before, so the answer does not depend on when `reported` was pruned.
  if (input.now >= permit.expiresAt) {
    throw refusedAfter(transitions, permitRefusal.expired(input.now - permit.expiresAt, config.permitTtlMs, c.name));
  }
  const first = firstOutcome(c, permit, input);
  if (first === "forgotten") {
    // Its stream issued more than the window's slots since: answered as expired (design.md, Reports).
    throw refusedAfter(transitions, permitRefusal.pastWindow(config.permitTtlMs, c.name));
  }
  if (first !== undefined) {
    const disposition = first === input.outcome ? "DUPLICATE" : "CONFLICT";
    return { state: visibleState(c, config), disposition, recordedOutcome: first, duplicate: true, stale: false, transitions };
  }
  const phase = c.phase;
  const current = permit.generation === c.generation;
  let probeIndex = -1;
  if (permit.kind === "probe" && current) {
    probeIndex = phase.state === "HALF_OPEN" ? phase.probes.findIndex((p) => p.id === input.permit) : -1;
    if (probeIndex < 0) {
      throw refusedAfter(transitions, permitRefusal.probeNotOutstanding(c.name));
    }
  }
  remember(c, permit, input);
  countTotals(c, input.outcome);
  const done = (stale: boolean): ReportResult => ({
    state: visibleState(c, config),
    disposition: stale ? "STALE" : "RECORDED",
    recordedOutcome: input.outcome,
    duplicate: false,
    stale,
    transitions,
  });

  if (phase.state === "HALF_OPEN" && probeIndex >= 0) phase.probes.splice(probeIndex, 1);
  if (input.outcome === "IGNORED") return done(!current);
  if (!current) return done(true);

  switch (permit.kind) {
    case "shadow":
      return done(false);
    case "disabled":
      countWindow(c, config, input);
      return done(false);
    case "closed": {
      countWindow(c, config, input);
      const trip = phase.state === "CLOSED" && config.enabled ? tripOf(c, config, input.now) : undefined;
      if (trip !== undefined) transitions.push(drivenBy(input, open(c, config, input, trip.reason, input.retryAfterMs), principalsOf(trip.reporters)));
      return done(false);
    }
    case "probe": {
      if (phase.state !== "HALF_OPEN") return done(false);
      if (isFailure(input.outcome)) {
        // A failed probe reopens whatever min_distinct_reporters says: it is one permit of few.
        const reason = input.outcome === "TIMEOUT" ? "probe_timeout" : "probe_failed";
        const reopened = reopenFromHalfOpen(c, config, input, reason, input.retryAfterMs);
        transitions.push(drivenBy(input, reopened, [reporterOf(input.principal)]));
        return done(false);
      }
      phase.successes += 1;
      if (phase.successes >= config.successThreshold) {
        clearCounters(c);
        transitions.push(drivenBy(input, transition(c, config, input.now, { state: "CLOSED" }, "probes_succeeded")));
      }
      return done(false);
    }
  }
}

/**
 * Reset: CLOSED with clean counters and the base open duration, from any
 * state (FORCED_OPEN and DISABLED included). Always a transition, even from
 * CLOSED, so permits issued before it become stale.
 */
export function reset(c: Circuit, config: CircuitConfig, now: number): Transition {
  c.lastUsed = now;
  clearCounters(c);
  return transition(c, config, now, { state: "CLOSED" }, "reset");
}

/** The admin targets of ForceState: pin FORCED_OPEN or DISABLED, or release to CLOSED. */
export type ForceTarget = "FORCED_OPEN" | "DISABLED" | "CLOSED";

/**
 * ForceState. FORCED_OPEN and DISABLED pin the circuit there from any state.
 * CLOSED releases a pinned circuit to CLOSED with clean counters; on a
 * circuit that is not pinned it does nothing (use reset to close an open
 * circuit). Returns undefined when the circuit is already where asked.
 */
export function force(c: Circuit, config: CircuitConfig, now: number, target: ForceTarget): Transition | undefined {
  // An admin write is a use, even one that changes nothing (Redis: admin.lua commits as any command).
  c.lastUsed = now;
  const state = c.phase.state;
  if (target === "CLOSED") {
    if (state !== "FORCED_OPEN" && state !== "DISABLED") return undefined;
    clearCounters(c);
    return transition(c, config, now, { state: "CLOSED" }, "released");
  }
  if (state === target) return undefined;
  return transition(c, config, now, { state: target }, target === "FORCED_OPEN" ? "forced_open" : "disabled");
}

/**
 * Whether an idle circuit may be forgotten at `now`: unused for `idleMs`
 * (used: acquire, report, reset, force, and the store's Configure of this
 * circuit; reads and advance() are not uses) and CLOSED, or HALF_OPEN with no
 * probe out. Call advance() first: an OPEN circuit is not evictable, but time
 * turns it HALF_OPEN at its open_until, so one nobody uses is gone at
 * max(last use + idleMs, open_until). A HALF_OPEN circuit whose probe is out
 * waits for the probe's outcome or timeout (which reopens it). Forgetting
 * such a circuit lets the next call through as CLOSED, as a HALF_OPEN circuit
 * would let a probe through: after a whole idle TTL without a call, the
 * dependency is as unknown as a new one. FORCED_OPEN and DISABLED are an
 * operator's orders and never evicted (only admin keys can pin, so their
 * number is bounded by what operators do).
 */
export function isEvictable(c: Circuit, now: number, idleMs: number): boolean {
  if (now - c.lastUsed < idleMs) return false;
  const phase = c.phase;
  return phase.state === "CLOSED" || (phase.state === "HALF_OPEN" && phase.probes.length === 0);
}
