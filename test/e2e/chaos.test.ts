/**
 * Chaos with real processes (issue 11, deliverable 8): three Breakerbox
 * replicas (node dist/src/main.js) on one real redis-server, under steady
 * agent traffic (test/support/chaos-traffic.ts: agents doing Acquire → Report
 * with a seeded mix of SUCCESS and FAILURE on circuits that trip and recover
 * in a fraction of a second, spread across the replicas, and one Watch per
 * replica), while the faults below happen one after another:
 *
 *   (a) SIGKILL of one replica, then a fresh process in its place;
 *   (b) Redis restarted without persistence (every key lost, same port);
 *   (c) Redis frozen with SIGSTOP for 2 s, then SIGCONT.
 *
 * After each fault:
 *   - no replica crashed (but the one killed): still running, nothing on
 *     stderr, no fatal log line;
 *   - no over-granted probe: counted from the Acquire answers (probe permits
 *     carry circuit generation and expiry; see probeOvergrants for exactly
 *     what is counted), and from every Watch message's stats
 *     (half_open_in_flight never above half_open_max_calls). Probes hold
 *     their slot longer than other calls, so the slots fill up and agents
 *     are denied HALF_OPEN_FULL before the first fault (waited for): with
 *     acquire.lua granting one probe too many, this check fails;
 *   - every call answered OK or a documented code (Acquire: UNAVAILABLE while
 *     the store is away; Report: also FAILED_PRECONDITION for a permit the
 *     store no longer knows), and every replica answers an Acquire with OK
 *     once the fault is over: polled, bounded by a timeout that names it;
 *   - all replicas agree on every circuit (GetState: state, generation,
 *     resolved config and its sources, or NOT_FOUND on all) once the
 *     traffic pauses; the time from the end of the fault to agreement is
 *     recorded and printed, and asserted against the issue's 2 s only with
 *     CONVERGE_MARGIN_MS (below) on top.
 * After (b) a fresh replica, started once Redis is back, is the witness of
 * what Redis holds: the three must agree with it too (pattern rules Redis no
 * longer has must be gone from them).
 *
 * The traffic's random choices come from TEST_SEED (printed); the
 * interleaving of real processes is not replayable, so the seed fixes what
 * each agent does, not when.
 */
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CircuitStatus } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { State } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { mulberry32, seedLabel, TEST_SEED } from "../conformance/random.js";
import { ChaosTraffic, concurrentProbeGrants, probeOvergrants, type ReplicaSlots } from "../support/chaos-traffic.js";
import { CallError } from "../support/grpc-client.js";
import { startRedis, type RedisServer } from "../support/redis-servers.js";
import { startReplica, stopReplicas, waitFor, type Replica } from "../support/replicas.js";

const HALF_OPEN_MAX_CALLS = 2;
/** Circuits under a pattern rule (failure_threshold 3), and circuits on the defaults (failure_threshold 2). */
const RULE_PATTERN = "chaos.rule.*";
const CIRCUITS = ["chaos.rule.0", "chaos.rule.1", "chaos.plain.0", "chaos.plain.1"] as const;
const FAILURE_RATE: Record<string, number> = { "chaos.rule.0": 0.5, "chaos.rule.1": 0.2, "chaos.plain.0": 0.4, "chaos.plain.1": 0.1 };

/** Bound on each poll after a fault: a replica answering, traffic resuming, agreement. Each names what it waited for. */
const POLL_TIMEOUT_MS = 30_000;
/**
 * Per fault: longer than its waits together: the fault itself (a replica's start, bounded at 30 s;
 * Redis's restart, 20 s; the 2 s pause) and three polls (answers, traffic, agreement).
 */
const FAULT_TEST_TIMEOUT_MS = 5 * POLL_TIMEOUT_MS;
/** Case (b) adds the witness replica's start (30 s) and its agreement poll. */
const WITNESS_EXTRA_MS = 2 * POLL_TIMEOUT_MS;
/**
 * The issue asks that replicas agree within 2 s of Redis being back. This
 * test measures from the end of the fault, through every replica answering
 * and the traffic reaching each replica again, to the pause of the traffic
 * and the first GetState round in which all agree: on a 2-core machine
 * shared with other suites each of those steps can take seconds that are
 * not the replicas' convergence, so the assertion allows this margin on top
 * of 2 s. The printed figures are the measurement; a replica that never
 * converges fails on POLL_TIMEOUT_MS naming the circuits it disagrees on.
 */
const CONVERGE_MARGIN_MS = 8_000;
const SECRET = "chaos-test-permit-secret-0123456789abcdef";

const seed = TEST_SEED;
process.stdout.write(`chaos: ${seedLabel(seed)} (replay the traffic's choices with TEST_SEED=${seed})\n`);

const env = (redis: RedisServer): Record<string, string> => ({
  REDIS_URL: redis.url,
  BREAKERBOX_PERMIT_SECRET: SECRET,
  BREAKERBOX_REDIS_TIMEOUT_SECONDS: "0.5",
  // Trip on consecutive failures only, reopen after 300 ms, close after 2 good probes of at most 2 at once.
  CIRCUIT_BREAKER_FAILURE_THRESHOLD: "2",
  CIRCUIT_BREAKER_FAILURE_RATE_THRESHOLD: "0",
  CIRCUIT_BREAKER_TIMEOUT_SECONDS: "0.3",
  CIRCUIT_BREAKER_MAX_TIMEOUT_SECONDS: "0.3",
  CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS: String(HALF_OPEN_MAX_CALLS),
  CIRCUIT_BREAKER_SUCCESS_THRESHOLD: "2",
  CIRCUIT_BREAKER_PERMIT_TTL_SECONDS: "5",
});

let redis: RedisServer;
const slots: ReplicaSlots = [undefined, undefined, undefined];
let traffic: ChaosTraffic;
const measured: string[] = [];

const live = (): Replica[] => slots.filter((r): r is Replica => r !== undefined);

beforeAll(async () => {
  redis = await startRedis();
  const started = await Promise.all([0, 1, 2].map(() => startReplica(env(redis))));
  started.forEach((r, i) => (slots[i] = r));
  await configureRule(started[0]!);
  traffic = new ChaosTraffic(slots, {
    circuits: CIRCUITS,
    failureRate: (c) => FAILURE_RATE[c] ?? 0,
    agents: 6,
    random: mulberry32(seed),
    halfOpenMaxCalls: HALF_OPEN_MAX_CALLS,
    watchPrefix: "chaos.",
  });
  traffic.start();
  // Not vacuous: before the first fault the traffic has had both probe slots of a circuit certainly
  // taken at once, and has asked for more while they were (HALF_OPEN_FULL denials).
  await waitFor(
    "two probes certainly out at once on some circuit, and 5 HALF_OPEN_FULL denials",
    () => concurrentProbeGrants(traffic.probes) > 0 && traffic.halfOpenFullDenials >= 5,
    {
      timeoutMs: POLL_TIMEOUT_MS,
      intervalMs: 200,
      describe: () => `${traffic.probes.length} probe grants, ${traffic.halfOpenFullDenials} HALF_OPEN_FULL denials, ${traffic.calls.length} calls`,
    },
  );
}, POLL_TIMEOUT_MS + 60_000);

afterAll(async () => {
  redis?.resume(); // a test that failed mid-pause leaves Redis frozen
  await traffic?.stop();
  process.stdout.write(
    `chaos: ${seedLabel(seed)}; ${traffic?.calls.length ?? 0} calls, ${traffic?.probes.length ?? 0} probe grants, ` +
      `${traffic?.halfOpenFullDenials ?? 0} HALF_OPEN_FULL denials, ${traffic?.watchMessages.join("/") ?? "-"} Watch messages per replica\n` +
      measured.map((m) => `chaos: ${m}\n`).join(""),
  );
  await stopReplicas();
  await redis?.stop();
}, 60_000);

async function configureRule(via: Replica): Promise<void> {
  await via.client.call("configure", {
    target: { case: "pattern", value: RULE_PATTERN },
    config: { failureThreshold: 3 },
  });
}

/** A config as `field=value` pairs, durations in ms: short enough for a failure message. */
function compact(config: CircuitStatus["config"]): string {
  return Object.entries(config ?? {})
    .filter(([k]) => k !== "$typeName")
    .map(([k, v]) => {
      const d = v as { seconds?: bigint; nanos?: number } | undefined;
      return `${k}=${typeof v === "object" && d !== undefined ? `${Number(d.seconds ?? 0n) * 1000 + (d.nanos ?? 0) / 1e6}ms` : String(v)}`;
    })
    .join(" ");
}

/** What must be equal on every replica: state, generation, resolved config and sources; or the error code. */
async function view(r: Replica, circuit: string): Promise<string> {
  try {
    const s: CircuitStatus = (await r.client.call("getState", { circuit })).status!;
    return `${State[s.state]} gen ${s.generation} config ${compact(s.config)} sources ${s.configSources.join(",")}`;
  } catch (err) {
    if (err instanceof CallError) return `error ${err.code} ${err.details}`;
    throw err;
  }
}

/** The circuits on which `replicas` disagree, with each one's view under its name; empty when all agree. */
async function disagreements(replicas: Replica[], names: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const circuit of CIRCUITS) {
    const views = await Promise.all(replicas.map((r) => view(r, circuit)));
    if (views.some((v) => v.startsWith("error 14 "))) return [`${circuit}: a replica answered UNAVAILABLE`];
    if (new Set(views).size > 1) out.push(`${circuit}: ${views.map((v, i) => `[${names[i]}] ${v}`).join(" | ")}`);
  }
  return out;
}

/** No replica crashed: every one in `slots` is running, with nothing on stderr and no fatal line. */
function expectNoCrash(): void {
  for (const [i, r] of slots.entries()) {
    expect(r, `replica slot ${i} is filled`).toBeDefined();
    const fatal = r!.logs().filter((l) => l.level === "fatal" || l.level === "raw");
    expect({ slot: i, exit: r!.child.exitCode ?? r!.child.signalCode, stderr: r!.stderr(), fatal }).toEqual({
      slot: i,
      exit: null,
      stderr: "",
      fatal: [],
    });
  }
}

/** Every answer so far is OK or a documented code for its method. */
function expectDocumentedCodes(): void {
  const allowed: Record<string, string[]> = { acquire: ["OK", "UNAVAILABLE"], report: ["OK", "UNAVAILABLE", "FAILED_PRECONDITION"] };
  const odd = traffic.calls.filter((c) => !allowed[c.method]!.includes(c.code));
  expect(odd.slice(0, 10), `${odd.length} calls answered an undocumented code`).toEqual([]);
}

function expectNoOvergrant(): void {
  const over = probeOvergrants(traffic.probes, HALF_OPEN_MAX_CALLS);
  expect(
    over.slice(0, 5).map((o) => ({ circuit: o.grant.circuit, generation: o.grant.generation, grant: o.grant.body, outstanding: o.outstanding.map((p) => p.body) })),
    `probe grants beyond half_open_max_calls ${HALF_OPEN_MAX_CALLS} (of ${traffic.probes.length})`,
  ).toEqual([]);
  expect(traffic.watchOverflows.slice(0, 5), "Watch messages with half_open_in_flight above half_open_max_calls").toEqual([]);
}

/** Every check after a fault but agreement: no crash, documented codes, no over-granted probe, agreement in time. */
function expectSound(convergedMs: number): void {
  expectNoCrash();
  expectDocumentedCodes();
  expectNoOvergrant();
  expect(convergedMs, `ms from the end of the fault to agreement (2 s asked, ${CONVERGE_MARGIN_MS} ms margin)`).toBeLessThanOrEqual(
    2_000 + CONVERGE_MARGIN_MS,
  );
}

/**
 * The checks after a fault that ended at `endedAt` (performance.now()):
 * every replica answers Acquire OK, the traffic reaches each replica again,
 * then (traffic paused) all replicas agree on every circuit. Returns the ms
 * from the end of the fault to agreement.
 */
async function afterFault(fault: string, endedAt: number): Promise<number> {
  const answered = new Set<number>();
  const lastAnswer = new Map<number, string>();
  await waitFor(
    `every replica to answer Acquire with OK after ${fault}`,
    async () => {
      await Promise.all(
        slots.map(async (r, i) => {
          if (answered.has(i)) return;
          try {
            if ((await r!.client.call("acquire", { circuit: `chaos-ping.${i}` })).allowed) answered.add(i);
          } catch (err) {
            lastAnswer.set(i, err instanceof Error ? err.message : String(err));
          }
        }),
      );
      return answered.size === slots.length;
    },
    {
      timeoutMs: POLL_TIMEOUT_MS,
      describe: () => slots.map((_, i) => `replica ${i}: ${answered.has(i) ? "OK" : (lastAnswer.get(i) ?? "no answer")}`).join(", "),
    },
  );
  const answeredMs = performance.now() - endedAt;
  const from = traffic.calls.length;
  await waitFor(
    `agent traffic to get 5 OK answers from every replica after ${fault}`,
    () => slots.every((_, i) => traffic.okCallsOn(i, from) >= 5),
    { timeoutMs: POLL_TIMEOUT_MS, describe: () => slots.map((_, i) => `replica ${i}: ${traffic.okCallsOn(i, from)} OK`).join(", ") },
  );
  const convergedMs = await agreement(`the three replicas to agree on every circuit after ${fault}`, live());
  measured.push(`${fault}: every replica answered OK ${answeredMs.toFixed(0)} ms after it ended; all agreed ${(convergedMs - endedAt).toFixed(0)} ms after it ended`);
  return convergedMs - endedAt;
}

/** Pauses the traffic and polls until `replicas` agree on every circuit (named `what`); performance.now() of the agreement. */
async function agreement(what: string, replicas: Replica[], names = replicas.map((_, i) => `replica ${i}`)): Promise<number> {
  await traffic.pause();
  let last: string[] = [];
  try {
    await waitFor(what, async () => (last = await disagreements(replicas, names)).length === 0, {
      timeoutMs: POLL_TIMEOUT_MS,
      intervalMs: 20,
      describe: () => last.join("; "),
    });
    return performance.now();
  } finally {
    traffic.unpause();
  }
}

describe(`chaos: three replicas on one Redis under agent traffic (${seedLabel(seed)})`, () => {
  it(
    "(a) SIGKILL of a replica and its restart: no crash, no over-granted probe, all answer and agree",
    async () => {
      const victim = 1;
      const killed = slots[victim]!;
      slots[victim] = undefined;
      traffic.dropWatch(victim);
      const exited = new Promise((r) => killed.child.once("exit", r));
      killed.child.kill("SIGKILL");
      await exited;
      await killed.stop(); // closes its clients; it is gone already
      slots[victim] = await startReplica(env(redis));
      expectSound(await afterFault("a replica's SIGKILL and restart", performance.now()));
    },
    FAULT_TEST_TIMEOUT_MS,
  );

  it(
    "(b) Redis restarted without persistence: no crash, no over-granted probe, all answer and agree with a fresh replica",
    async () => {
      traffic.bumpIncarnation();
      await redis.kill();
      await redis.restart(); // same port, empty: --save "" and no appendonly
      const backAt = performance.now();
      expectSound(await afterFault("Redis's restart without persistence", backAt));
      // What Redis holds now, as a replica that never saw the old data resolves it: the three must
      // have dropped what Redis lost (the pattern rule among it).
      const witness = await startReplica(env(redis));
      try {
        await agreement("the three replicas to agree with a replica started after Redis's restart without persistence", [witness, ...live()], [
          "fresh replica",
          "replica 0",
          "replica 1",
          "replica 2",
        ]);
      } finally {
        await witness.stop(0);
      }
    },
    FAULT_TEST_TIMEOUT_MS + WITNESS_EXTRA_MS,
  );

  it(
    "(c) Redis paused with SIGSTOP for 2 s: no crash, no over-granted probe, all answer and agree",
    async () => {
      redis.pause();
      await new Promise((r) => setTimeout(r, 2_000));
      redis.resume();
      expectSound(await afterFault("a 2 s SIGSTOP of Redis", performance.now()));
    },
    FAULT_TEST_TIMEOUT_MS,
  );
});
