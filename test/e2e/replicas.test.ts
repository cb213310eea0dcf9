/**
 * Three Breakerbox processes (node dist/src/main.js) on one real
 * redis-server behave as one circuit: grpc-js clients over the network, one
 * per replica, and real time (durations of about a second, set per circuit
 * with Configure). Each test uses its own circuit.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { status as Status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import {
  type CircuitConfigSchema,
  type CircuitStatus,
  DenyReason,
  Outcome,
  State,
  type WatchResponse,
} from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { decodePermit, splitPermit } from "../../src/engine/index.js";
import { lateBound } from "../support/fixture.js";
import { nextWithin, type CircuitClient } from "../support/grpc-client.js";
import { useRedis, useReplicas } from "../support/process-fixtures.js";
import { waitFor } from "../support/replicas.js";

const redis = useRedis();
// Defaults for circuits nobody configures; every test configures its own.
// A short event log and heartbeat for the quiet-watcher test (Redis trims the stream by whole nodes of 100 entries).
const replicas = useReplicas(3, () => ({
  REDIS_URL: redis.url,
  CIRCUIT_BREAKER_TIMEOUT_SECONDS: "1",
  CIRCUIT_BREAKER_PERMIT_TTL_SECONDS: "1",
  BREAKERBOX_EVENT_LOG_SIZE: "10",
  BREAKERBOX_WATCH_HEARTBEAT_SECONDS: "1",
}));
const [A, B, C] = replicas.map((r, i) => lateBound(`replica ${"ABC"[i]}'s client`, () => r.client)) as [
  CircuitClient,
  CircuitClient,
  CircuitClient,
];

type ConfigInit = MessageInitShape<typeof CircuitConfigSchema>;

async function configure(via: CircuitClient, circuit: string, config: ConfigInit): Promise<CircuitStatus> {
  return (await via.call("configure", { target: { case: "circuit", value: circuit }, config })).status!;
}

async function status(via: CircuitClient, circuit: string): Promise<CircuitStatus> {
  return (await via.call("getState", { circuit })).status!;
}

/** Acquire (must be allowed) and Report `outcome` through one replica; the Report's answer. */
async function call(via: CircuitClient, circuit: string, outcome: Outcome) {
  const a = await via.call("acquire", { circuit });
  expect(a.allowed, `Acquire of ${circuit} allowed`).toBe(true);
  return via.call("report", { circuit, permit: a.permit, outcome, duration: durationFromMs(3) });
}

/** Polls GetState on `via` until the circuit is in `state` (reads apply due transitions). */
async function waitForState(via: CircuitClient, circuit: string, state: State, timeoutMs = 10_000): Promise<CircuitStatus> {
  let last: CircuitStatus | undefined;
  return waitFor(
    `${circuit} to be ${State[state]}`,
    async () => {
      last = await status(via, circuit);
      return last.state === state ? last : undefined;
    },
    { timeoutMs, intervalMs: 50, describe: () => (last === undefined ? "no answer" : State[last.state]) },
  );
}

/** The next Watch message that is not a heartbeat. */
async function nextMessage(it: AsyncIterator<WatchResponse>, what: string, ms = 10_000): Promise<WatchResponse> {
  for (;;) {
    const m = await nextWithin(it, ms, what);
    if (m.kind.case !== "heartbeat") return m;
  }
}

/** The next Watch message, which must be an event; as "FROM->TO:reason", its id and the message's resume token. */
async function nextEvent(it: AsyncIterator<WatchResponse>, what: string): Promise<{ t: string; id: string; token: string }> {
  const m = await nextMessage(it, what);
  if (m.kind.case !== "event") throw new Error(`expected ${what} as an event, got ${m.kind.case}: ${JSON.stringify(m.kind.value)}`);
  const e = m.kind.value;
  return { t: `${State[e.fromState]}->${State[e.toState]}:${e.reason}`, id: e.eventId, token: m.resumeToken };
}

/** Orders Redis stream ids. */
function streamIdLess(a: string, b: string): boolean {
  const [am, as] = a.split("-").map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split("-").map(BigInt) as [bigint, bigint];
  return am < bm || (am === bm && as < bs);
}

describe("three replicas on one Redis", () => {
  it("opens on a failure burst spread over all three, and all three then deny with OPEN", async () => {
    const circuit = "rep.burst";
    await configure(A, circuit, { failureThreshold: 5, openDuration: durationFromMs(60_000) });
    const plan: [CircuitClient, string][] = [
      [A, "A"],
      [A, "A"],
      [B, "B"],
      [B, "B"],
      [C, "C"],
    ];
    const states: string[] = [];
    for (const [via, name] of plan) states.push(`${name}:${State[(await call(via, circuit, Outcome.FAILURE)).state]}`);
    expect(states).toEqual(["A:CLOSED", "A:CLOSED", "B:CLOSED", "B:CLOSED", "C:OPEN"]);

    // A replica may grant CLOSED permits from its local view until the OPEN
    // event reaches it (milliseconds; bounded by VIEW_TTL_MS): poll, bounded.
    for (const [via, name] of [[A, "A"], [B, "B"], [C, "C"]] as const) {
      const d = await waitFor(
        `replica ${name} to deny ${circuit}`,
        async () => {
          const a = await via.call("acquire", { circuit });
          return a.allowed ? undefined : a;
        },
        { timeoutMs: 5000, intervalMs: 20 },
      );
      expect(d).toMatchObject({ allowed: false, permit: "", state: State.OPEN, reason: DenyReason.OPEN });
    }
    const s = await status(B, circuit);
    expect(s.state).toBe(State.OPEN);
    expect(s.stats).toMatchObject({ consecutiveFailures: 5, totalFailures: 5n, totalRejections: 3n, windowCalls: 5n, windowFailures: 5n });
    const history = (await C.call("getHistory", { circuit })).entries;
    expect(history[0]?.entry.case === "transition" && history[0].entry.value).toMatchObject({
      fromState: State.CLOSED,
      toState: State.OPEN,
      reason: "consecutive_failures",
    });
  });

  it("in HALF_OPEN, 300 concurrent Acquires over the three grant exactly half_open_max_calls permits", async () => {
    const circuit = "rep.halfopen";
    await configure(A, circuit, {
      failureThreshold: 1,
      openDuration: durationFromMs(1_000),
      halfOpenMaxCalls: 3,
      successThreshold: 3,
      permitTtl: durationFromMs(30_000),
    });
    expect((await call(A, circuit, Outcome.FAILURE)).state).toBe(State.OPEN);
    await waitForState(B, circuit, State.HALF_OPEN);

    const clients = [A, B, C];
    const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => clients[i % 3]!.call("acquire", { circuit })));
    const granted = answers.filter((a) => a.allowed);
    const denied = answers.filter((a) => !a.allowed);
    expect(granted).toHaveLength(3);
    expect(new Set(granted.map((a) => a.permit)).size).toBe(3);
    expect(granted.every((a) => a.state === State.HALF_OPEN && decodePermit(splitPermit(a.permit)?.body ?? "")?.kind === "probe")).toBe(true);
    expect(denied).toHaveLength(297);
    expect(denied.every((a) => a.state === State.HALF_OPEN && a.reason === DenyReason.HALF_OPEN_FULL)).toBe(true);

    const s = await status(C, circuit);
    expect(s.state).toBe(State.HALF_OPEN);
    expect(s.stats).toMatchObject({ halfOpenInFlight: 3, totalRejections: 297n });

    // The three probes succeed (through different replicas) and close it.
    const reports = await Promise.all(granted.map((g, i) => clients[i]!.call("report", { circuit, permit: g.permit, outcome: Outcome.SUCCESS })));
    expect(reports.map((r) => r.duplicate)).toEqual([false, false, false]);
    expect((await status(A, circuit)).state).toBe(State.CLOSED);
  });

  it("frees the slot of a probe whose agent vanished after permit_ttl, counting it as TIMEOUT", async () => {
    const circuit = "rep.vanished";
    await configure(A, circuit, {
      failureThreshold: 1,
      openDuration: durationFromMs(1_000),
      halfOpenMaxCalls: 1,
      successThreshold: 1,
      // Short, with room for a loaded machine between taking the probe and the next Acquire.
      permitTtl: durationFromMs(2_000),
    });
    expect((await call(A, circuit, Outcome.FAILURE)).state).toBe(State.OPEN);
    await waitForState(B, circuit, State.HALF_OPEN);

    // The agent on A takes the only probe slot and is never heard from again.
    const probe = await A.call("acquire", { circuit });
    expect(probe).toMatchObject({ allowed: true, state: State.HALF_OPEN });
    const expiresAt = decodePermit(splitPermit(probe.permit)!.body)!.expiresAt;
    expect(await B.call("acquire", { circuit })).toMatchObject({ allowed: false, state: State.HALF_OPEN, reason: DenyReason.HALF_OPEN_FULL });

    let last: CircuitStatus | undefined;
    const timedOut = await waitFor(
      "the vanished probe to count as a timeout",
      async () => {
        last = await status(C, circuit);
        return last.stats!.totalTimeouts === 1n ? last : undefined;
      },
      { timeoutMs: 10_000, describe: () => JSON.stringify(last?.stats, (_, v: unknown) => (typeof v === "bigint" ? String(v) : v)) },
    );
    expect(timedOut.stats).toMatchObject({ totalTimeouts: 1n, totalFailures: 2n, reopenCount: 1 });

    const transitions = (await B.call("getHistory", { circuit })).entries
      .flatMap((e) => (e.entry.case === "transition" ? [e.entry.value] : []))
      .reverse();
    expect(transitions.slice(0, 3).map((e) => `${State[e.fromState]}->${State[e.toState]}:${e.reason}`)).toEqual([
      "CLOSED->OPEN:consecutive_failures",
      "OPEN->HALF_OPEN:open_duration_elapsed",
      "HALF_OPEN->OPEN:probe_timeout",
    ]);
    // Not before the permit expired (Redis time on both sides).
    expect(timestampMs(transitions[2]!.at!)).toBeGreaterThanOrEqual(expiresAt);
    expect(transitions[2]!.stats).toMatchObject({ totalTimeouts: 1n });

    // The vanished agent's late Report is refused, and counts nothing more.
    await expect(B.call("report", { circuit, permit: probe.permit, outcome: Outcome.SUCCESS })).rejects.toMatchObject({
      code: Status.FAILED_PRECONDITION,
    });
    // The slot is free again: after the reopened period another agent gets the probe and closes the circuit.
    await waitForState(C, circuit, State.HALF_OPEN);
    const next = await C.call("acquire", { circuit });
    expect(next).toMatchObject({ allowed: true, state: State.HALF_OPEN });
    expect((await C.call("report", { circuit, permit: next.permit, outcome: Outcome.SUCCESS })).state).toBe(State.CLOSED);
    expect((await status(A, circuit)).stats).toMatchObject({ totalTimeouts: 1n, totalFailures: 2n, totalSuccesses: 1n });
  });

  it("counts a Report retried on another replica once", async () => {
    const circuit = "rep.retry";
    await configure(A, circuit, { failureThreshold: 5 });
    const a = await A.call("acquire", { circuit });
    const first = await A.call("report", { circuit, permit: a.permit, outcome: Outcome.FAILURE });
    const onB = await B.call("report", { circuit, permit: a.permit, outcome: Outcome.FAILURE });
    const onC = await C.call("report", { circuit, permit: a.permit, outcome: Outcome.SUCCESS });
    expect([first.duplicate, onB.duplicate, onC.duplicate]).toEqual([false, true, true]);
    expect((await status(C, circuit)).stats).toMatchObject({
      totalFailures: 1n,
      totalSuccesses: 0n,
      consecutiveFailures: 1,
      windowCalls: 1n,
    });

    // The same Report sent to all three at once: exactly one counts.
    const b = await B.call("acquire", { circuit });
    const racing = await Promise.all([A, B, C].map((via) => via.call("report", { circuit, permit: b.permit, outcome: Outcome.FAILURE })));
    expect(racing.filter((r) => !r.duplicate)).toHaveLength(1);
    expect((await status(A, circuit)).stats).toMatchObject({ totalFailures: 2n, consecutiveFailures: 2, windowCalls: 2n });
  });

  it("applies a Configure made through A to the live circuit on B and C, keeping its counters", async () => {
    const circuit = "rep.configure";
    await configure(A, circuit, { failureThreshold: 3, openDuration: durationFromMs(60_000) });
    // B and C learn the circuit's settings (version 1) on their first calls.
    expect((await call(B, circuit, Outcome.FAILURE)).state).toBe(State.CLOSED);
    expect((await call(C, circuit, Outcome.FAILURE)).state).toBe(State.CLOSED);

    const changed = await configure(A, circuit, { failureThreshold: 5 });
    expect(changed.config!.failureThreshold).toBe(5);
    expect(changed.stats!.consecutiveFailures).toBe(2);

    for (const via of [B, C]) {
      const s = await status(via, circuit);
      expect(s.state).toBe(State.CLOSED);
      expect(s.config).toMatchObject({ failureThreshold: 5, openDuration: { seconds: 60n } });
      expect(s.stats).toMatchObject({ consecutiveFailures: 2, totalFailures: 2n });
    }
    // Under the old threshold (3) this third failure would open it; under the new one it counts on.
    const third = await call(C, circuit, Outcome.FAILURE);
    expect(third.state).toBe(State.CLOSED);
    expect((await status(B, circuit)).stats!.consecutiveFailures).toBe(3);
    expect((await call(B, circuit, Outcome.FAILURE)).state).toBe(State.CLOSED);
    expect((await call(C, circuit, Outcome.FAILURE)).state).toBe(State.OPEN);
    const s = await status(A, circuit);
    expect(s.stats).toMatchObject({ consecutiveFailures: 5, totalFailures: 5n });

    const history = (await B.call("getHistory", { circuit })).entries;
    const changes = history.flatMap((e) => (e.entry.case === "configChange" ? [e.entry.value] : []));
    expect(changes.map((c) => [c.oldConfig!.failureThreshold, c.newConfig!.failureThreshold])).toEqual([
      [3, 5],
      [5, 3], // the first Configure: from the env default (5) to 3
    ]);
  });

  it("delivers a transition made through A to watchers on B and C in order, and replays exactly what a reconnecting watcher missed", async () => {
    const circuit = "rep.watch";
    await configure(A, circuit, {
      failureThreshold: 1,
      openDuration: durationFromMs(1_000),
      halfOpenMaxCalls: 1,
      successThreshold: 1,
      permitTtl: durationFromMs(10_000),
    });
    const openWatch = async (via: CircuitClient, label: string) => {
      const w = via.stream("watch", { circuits: [circuit] });
      const it = w.messages[Symbol.asyncIterator]();
      const snap = await nextMessage(it, `${label}: snapshot`);
      expect(snap.kind.case === "snapshot" && snap.kind.value.state).toBe(State.CLOSED);
      expect((await nextMessage(it, `${label}: snapshot_complete`)).kind.case).toBe("snapshotComplete");
      return { w, it };
    };
    const onB = await openWatch(B, "B");
    const onC = await openWatch(C, "C");

    // CLOSED → OPEN → HALF_OPEN → CLOSED, all through A.
    expect((await call(A, circuit, Outcome.FAILURE)).state).toBe(State.OPEN);
    const probe = await waitFor(
      "A to grant a probe once open_duration has passed",
      async () => {
        const a = await A.call("acquire", { circuit });
        return a.allowed ? a : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    expect(probe.state).toBe(State.HALF_OPEN);
    expect((await A.call("report", { circuit, permit: probe.permit, outcome: Outcome.SUCCESS })).state).toBe(State.CLOSED);

    const expected = ["CLOSED->OPEN:consecutive_failures", "OPEN->HALF_OPEN:open_duration_elapsed", "HALF_OPEN->CLOSED:probes_succeeded"];
    const seenB: { t: string; id: string; token: string }[] = [];
    const seenC: { t: string; id: string; token: string }[] = [];
    for (let i = 0; i < 3; i++) seenB.push(await nextEvent(onB.it, `B: event ${i + 1}`));
    for (let i = 0; i < 3; i++) seenC.push(await nextEvent(onC.it, `C: event ${i + 1}`));
    expect(seenB.map((e) => e.t)).toEqual(expected);
    expect(seenC.map((e) => e.t)).toEqual(expected);
    expect(seenC.map((e) => e.id)).toEqual(seenB.map((e) => e.id));
    // Same filter, same position: the same token on every replica.
    expect(seenC.map((e) => e.token)).toEqual(seenB.map((e) => e.token));
    expect(streamIdLess(seenB[0]!.id, seenB[1]!.id) && streamIdLess(seenB[1]!.id, seenB[2]!.id)).toBe(true);

    // B's watcher goes away; two transitions happen through A meanwhile.
    onB.w.cancel();
    const resumeToken = seenB[2]!.token;
    expect((await call(A, circuit, Outcome.FAILURE)).state).toBe(State.OPEN);
    expect((await A.call("reset", { circuit })).status!.state).toBe(State.CLOSED);
    const missed = [await nextEvent(onC.it, "C: missed event 1"), await nextEvent(onC.it, "C: missed event 2")];
    expect(missed.map((e) => e.t)).toEqual(["CLOSED->OPEN:consecutive_failures", "OPEN->CLOSED:reset"]);

    // B reconnects with its last resume_token (was: its last event_id, no longer a token): exactly the two missed events, no snapshot, then live ones.
    const again = B.stream("watch", { circuits: [circuit], resumeToken });
    const it = again.messages[Symbol.asyncIterator]();
    const replayed = [await nextMessage(it, "B: replayed event 1"), await nextMessage(it, "B: replayed event 2")];
    expect(replayed.map((m) => m.kind.case)).toEqual(["event", "event"]);
    expect(replayed.map((m) => (m.kind.case === "event" ? m.kind.value.eventId : ""))).toEqual(missed.map((e) => e.id));
    // The next thing on the resumed stream is the next live transition, not a repeat.
    await A.call("forceState", { circuit, state: State.FORCED_OPEN });
    const live = await nextEvent(it, "B: the live FORCED_OPEN event");
    expect(live.t).toBe("CLOSED->FORCED_OPEN:forced_open");
    expect(await nextEvent(onC.it, "C: the live FORCED_OPEN event")).toEqual(live);
    again.cancel();
    onC.w.cancel();
  });

  it("a quiet watcher on B resumes on C from its heartbeat's token after more transitions of other circuits than the stream keeps, then sees config changes in order", async () => {
    const quiet = "rep.quiet";
    await configure(A, quiet, { failureThreshold: 1, openDuration: durationFromMs(60_000) });
    const w = B.stream("watch", { circuits: [quiet] });
    const it = w.messages[Symbol.asyncIterator]();
    expect((await nextMessage(it, "quiet: snapshot")).kind.case).toBe("snapshot");
    const complete = await nextMessage(it, "quiet: snapshot_complete");
    expect(complete.kind.case).toBe("snapshotComplete");

    // 300 transitions of another circuit, through A (the stream keeps ~10, trimmed by whole nodes).
    for (let i = 0; i < 150; i++) {
      await A.call("forceState", { circuit: "rep.busy", state: State.FORCED_OPEN });
      await A.call("forceState", { circuit: "rep.busy", state: State.CLOSED });
    }
    // Once B has read a transition made after them, every heartbeat created later is past them too.
    const marker = B.stream("watch", { circuits: ["rep.marker"] });
    const markerIt = marker.messages[Symbol.asyncIterator]();
    expect((await nextMessage(markerIt, "marker: snapshot_complete")).kind.case).toBe("snapshotComplete");
    await A.call("forceState", { circuit: "rep.marker", state: State.FORCED_OPEN });
    expect((await nextEvent(markerIt, "marker: its event")).t).toBe("CLOSED->FORCED_OPEN:forced_open");
    marker.cancel();
    let heartbeat: WatchResponse | undefined;
    for (let beats = 0; beats < 2; ) {
      const m = await nextWithin(it, 5_000, "quiet: heartbeat");
      expect(m.kind.case, "the quiet watcher gets nothing but heartbeats").toBe("heartbeat");
      expect(m.kind.case === "heartbeat" && m.kind.value.resumeToken).toBe(m.resumeToken);
      heartbeat = m;
      beats += 1;
    }
    w.cancel();
    expect(heartbeat!.resumeToken).not.toBe(complete.resumeToken);

    expect((await call(A, quiet, Outcome.FAILURE)).state).toBe(State.OPEN);
    await A.call("forceState", { circuit: "rep.busy", state: State.FORCED_OPEN });

    // The snapshot's position was trimmed away; the heartbeat's was not.
    const expired = C.stream("watch", { circuits: [quiet], resumeToken: complete.resumeToken });
    await expect(expired.messages[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: Status.OUT_OF_RANGE });
    const otherFilter = C.stream("watch", { circuits: [quiet, "rep.busy"], resumeToken: heartbeat!.resumeToken });
    await expect(otherFilter.messages[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: Status.INVALID_ARGUMENT });

    const again = C.stream("watch", { circuits: [quiet], resumeToken: heartbeat!.resumeToken });
    const resumed = again.messages[Symbol.asyncIterator]();
    expect((await nextEvent(resumed, "C: the missed event")).t).toBe("CLOSED->OPEN:consecutive_failures");
    // Live: a config change through A, then a reset, in order on C.
    await configure(A, quiet, { failureThreshold: 2 });
    await A.call("reset", { circuit: quiet });
    const change = await nextMessage(resumed, "C: the config change");
    expect(change.kind.case).toBe("configChange");
    if (change.kind.case === "configChange") {
      expect(change.kind.value).toMatchObject({ circuit: quiet, target: quiet });
      expect([change.kind.value.oldConfig?.failureThreshold, change.kind.value.newConfig?.failureThreshold]).toEqual([1, 2]);
    }
    expect(change.resumeToken).not.toBe("");
    expect((await nextEvent(resumed, "C: the reset")).t).toBe("OPEN->CLOSED:reset");
    again.cancel();
  });

  it("left no error in any replica's log and every replica still running", () => {
    for (const [i, r] of replicas.entries()) expect(r.problems(), `replica ${"ABC"[i]}`).toEqual([]);
  });
});
