/**
 * Reporter quorum: who reported a circuit's recent failures and slow calls,
 * and whether enough distinct reporters did for a rule to open the circuit
 * (`min_distinct_reporters`).
 *
 * A reporter is a Principal (API key name plus the agent_instance_id the
 * caller declared); a Report with no principal counts as one unnamed reporter
 * ("", ""). Per circuit the engine keeps two lists, most recent first, of at
 * most MAX_TRACKED_REPORTERS distinct reporters each: who reported failures
 * (FAILURE, TIMEOUT) and who reported slow calls, each with the start of the
 * window bucket of that reporter's latest one. So memory per circuit is
 * bounded whatever the number of reporters, and since the field is at most
 * MAX_TRACKED_REPORTERS, "at least N distinct reporters" is exact: a reporter
 * dropped from a full list is older than every one kept.
 *
 * - In the window (failure_rate, slow_call_rate): a reporter counts while the
 *   bucket of its latest failure (slow call) is live, by the window's own
 *   rule (window.ts windowCounts).
 * - In the run (consecutive_failures): the reporters of the failures since
 *   the last counted non-failure. They are always the first `run` entries of
 *   the failure list (every failure moves its reporter to the front, and a
 *   success ends the run), so one number keeps the run's reporter count.
 *
 * The Lua twin is in src/store/redis/lua/includes/engine.lua (reporters_*).
 */
import type { CircuitConfig, Principal } from "./types.js";

/** The most distinct reporters a list keeps, the most a transition names, and min_distinct_reporters' maximum. */
export const MAX_TRACKED_REPORTERS = 16;

/** One reporter and the start of the window bucket of its latest failure (or slow call). */
export interface ReporterEntry {
  keyName: string;
  agentInstanceId: string;
  start: number;
}

/** A circuit's reporter lists (part of its counters: cleared with the window). */
export interface Reporters {
  /** Reporters of failures, most recent first, at most MAX_TRACKED_REPORTERS. */
  failures: ReporterEntry[];
  /** How many of `failures`, from the front, reported failures in the current consecutive run. */
  run: number;
  /** Reporters of slow calls, most recent first, at most MAX_TRACKED_REPORTERS. */
  slow: ReporterEntry[];
}

/** Empty lists, as a new circuit and cleared counters have. */
export function emptyReporters(): Reporters {
  return { failures: [], run: 0, slow: [] };
}

/** The reporter of a Report: its principal, or the unnamed reporter. */
export function reporterOf(principal: Principal | undefined): Principal {
  return { keyName: principal?.keyName ?? "", agentInstanceId: principal?.agentInstanceId ?? "" };
}

/**
 * Moves `who` to the front of `list` with bucket start `start` (adding it,
 * and dropping the oldest entry of a full list). Returns the index it had,
 * -1 when it was not in the list.
 */
function noteReporter(list: ReporterEntry[], who: Principal, start: number): number {
  const at = list.findIndex((e) => e.keyName === who.keyName && e.agentInstanceId === who.agentInstanceId);
  if (at >= 0) list.splice(at, 1);
  list.unshift({ keyName: who.keyName, agentInstanceId: who.agentInstanceId, start });
  if (list.length > MAX_TRACKED_REPORTERS) list.pop();
  return at;
}

/**
 * Records one counted outcome (the same calls window.ts recordCall counts):
 * a failure moves its reporter to the front of the failure list and into the
 * run; any other outcome ends the run, and a slow one moves its reporter to
 * the front of the slow list. `start` is the start of the bucket the call
 * was counted in.
 */
export function recordReporter(r: Reporters, who: Principal, start: number, failed: boolean, slow: boolean): void {
  if (failed) {
    const was = noteReporter(r.failures, who, start);
    // A reporter already in the run stays in it; any other one joins it.
    if (was < 0 || was >= r.run) r.run = Math.min(r.run + 1, r.failures.length);
    return;
  }
  r.run = 0;
  if (slow) noteReporter(r.slow, who, start);
}

/** The entries of `list` whose bucket is still in the window at `now` (the rule of windowCounts). */
export function liveReporters(list: readonly ReporterEntry[], windowMs: number, now: number): ReporterEntry[] {
  const oldest = now - windowMs;
  return list.filter((e) => e.start > oldest && e.start <= now);
}

/**
 * The distinct reporters a rule needs before it may open the circuit:
 * min_distinct_reporters, where 0 and 1 both mean one, and a value above
 * MAX_TRACKED_REPORTERS (stored before the bound existed) means the bound.
 */
export function reporterQuorum(config: CircuitConfig): number {
  return Math.min(MAX_TRACKED_REPORTERS, Math.max(1, config.minDistinctReporters));
}

/** The principals of `entries`, as a transition names them. */
export function principalsOf(entries: readonly ReporterEntry[]): Principal[] {
  return entries.map((e) => ({ keyName: e.keyName, agentInstanceId: e.agentInstanceId }));
}
