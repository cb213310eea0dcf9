/**
 * The per-circuit invariants the fuzz run must leave intact, read back over
 * Connect JSON on the HTTP port (every circuit by ListCircuits, each one's
 * whole retained history by GetHistory):
 * - the state is a real one; OPEN has open_until and no other state has;
 * - window counters are consistent: failures and slow calls at most calls,
 *   failure_rate = failures / calls;
 * - HALF_OPEN holds at most half_open_max_calls probes;
 * - a CLOSED, enabled circuit with failure_threshold > 0 has fewer
 *   consecutive failures than the threshold (else a report should have
 *   tripped it), when its whole history is retained and holds no config
 *   change (a later, lower threshold trips nothing by itself);
 * - when the whole history is retained (fewer entries than the 100 kept):
 *   the transitions chain (each from_state is the previous to_state, from
 *   CLOSED), their generations count 1, 2, ..., and the last one's
 *   generation and to_state are the circuit's generation and state (a
 *   circuit with enabled: false reads DISABLED unless FORCED_OPEN).
 */

/** How many history entries a circuit keeps (docs/design.md §Paging, "Trimming to the newest 100"). */
const HISTORY_KEPT = 100;

const TERMINAL_STATES = new Set(["STATE_CLOSED", "STATE_OPEN", "STATE_HALF_OPEN", "STATE_FORCED_OPEN", "STATE_DISABLED"]);

async function call(httpUrl, headers, method, body) {
  const res = await fetch(`${httpUrl}/breakerbox.v1.CircuitService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  const json = await res.json();
  if (res.status !== 200) throw new Error(`${method} ${JSON.stringify(body)}: HTTP ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const num = (v) => Number(v ?? 0);

/** The problems of one circuit's status given its history (newest first), as strings. */
export function circuitProblems(status, entries) {
  const out = [];
  const name = status.circuit;
  const state = status.state ?? "STATE_UNSPECIFIED";
  const stats = status.stats ?? {};
  const config = status.config ?? {};
  const say = (what) => out.push(`${JSON.stringify(name.length > 60 ? `${name.slice(0, 60)}…` : name)}: ${what}`);
  if (!TERMINAL_STATES.has(state)) say(`state ${state}`);
  if ((state === "STATE_OPEN") !== (status.openUntil !== undefined)) say(`${state} with open_until ${status.openUntil}`);
  const calls = num(stats.windowCalls);
  const failures = num(stats.windowFailures);
  if (failures > calls || num(stats.windowSlowCalls) > calls) say(`window ${JSON.stringify(stats)}`);
  const rate = calls === 0 ? 0 : failures / calls;
  if (Math.abs(num(stats.failureRate) - rate) > 1e-9) say(`failure_rate ${stats.failureRate}, window says ${rate}`);
  if (state === "STATE_HALF_OPEN" && num(stats.halfOpenInFlight) > num(config.halfOpenMaxCalls)) {
    say(`${stats.halfOpenInFlight} probes in flight, half_open_max_calls ${config.halfOpenMaxCalls}`);
  }
  if (entries === undefined || entries.length >= HISTORY_KEPT) return out;
  const changed = entries.some((e) => e.configChange !== undefined);
  const threshold = num(config.failureThreshold);
  if (state === "STATE_CLOSED" && config.enabled !== false && threshold > 0 && !changed && num(stats.consecutiveFailures) >= threshold) {
    say(`CLOSED with ${stats.consecutiveFailures} consecutive failures, failure_threshold ${threshold}`);
  }
  const transitions = entries.filter((e) => e.transition !== undefined).map((e) => e.transition).reverse();
  let previous = "STATE_CLOSED";
  transitions.forEach((t, i) => {
    if ((t.fromState ?? "STATE_UNSPECIFIED") !== previous) say(`transition ${i + 1} from ${t.fromState}, previous to_state ${previous}`);
    if (num(t.generation) !== i + 1) say(`transition ${i + 1} has generation ${t.generation}`);
    previous = t.toState ?? "STATE_UNSPECIFIED";
  });
  if (num(status.generation) !== transitions.length) say(`generation ${status.generation}, ${transitions.length} transitions in history`);
  // enabled: false makes any circuit but a FORCED_OPEN one read DISABLED without a transition (docs/design.md).
  const expected = config.enabled === false && previous !== "STATE_FORCED_OPEN" ? "STATE_DISABLED" : previous;
  if (expected !== state) say(`state ${state}, last transition to ${previous}${config.enabled === false ? " (enabled: false)" : ""}`);
  return out;
}

/** A circuit's whole retained history, newest first. */
async function history(httpUrl, headers, circuit) {
  const entries = [];
  let pageToken = "";
  do {
    const h = await call(httpUrl, headers, "GetHistory", { circuit, pageSize: 1000, pageToken });
    entries.push(...(h.entries ?? []));
    pageToken = h.nextPageToken ?? "";
  } while (pageToken !== "");
  return entries;
}

/** Reads every circuit and its history; resolves with the circuits checked, the transitions read and every problem found. */
export async function checkInvariants({ httpUrl, headers = {} }) {
  const problems = [];
  let checked = 0;
  let transitions = 0;
  let pageToken = "";
  do {
    const page = await call(httpUrl, headers, "ListCircuits", { pageSize: 1000, pageToken });
    for (const listed of page.circuits ?? []) {
      // The 1 s tick may move a circuit between reads: read its history, its
      // state, and its history again, until the two histories agree.
      let status;
      let entries;
      for (let attempt = 0; attempt < 5; attempt++) {
        const before = await history(httpUrl, headers, listed.circuit);
        status = (await call(httpUrl, headers, "GetState", { circuit: listed.circuit })).status;
        entries = await history(httpUrl, headers, listed.circuit);
        if (before.length === entries.length) break;
      }
      problems.push(...circuitProblems(status, entries));
      transitions += entries.filter((e) => e.transition !== undefined).length;
      checked++;
    }
    pageToken = page.nextPageToken ?? "";
  } while (pageToken !== "");
  return { checked, transitions, problems };
}
