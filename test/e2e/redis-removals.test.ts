/**
 * Idle removals on the Redis store over gRPC: two Breakerbox processes on
 * one real redis-server with a 1 s idle TTL. A CLOSED circuit left alone
 * expires in Redis and a watcher on each replica receives circuit_removed
 * for it exactly once, with a resume token that replays it; an OPEN circuit
 * never expires. A replica on a redis-server that refuses CONFIG logs one
 * warning saying how to turn the notifications on, and serves.
 */
import { durationFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { Outcome, RemovalCause, type WatchResponse } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { lateBound, useFixture } from "../support/fixture.js";
import { nextWithin, type CircuitClient } from "../support/grpc-client.js";
import { useRedis, useReplica, useReplicas } from "../support/process-fixtures.js";
import { startRedis } from "../support/redis-servers.js";

const redis = useRedis();
const replicas = useReplicas(2, () => ({
  REDIS_URL: redis.url,
  BREAKERBOX_IDLE_TTL_SECONDS: "1",
  BREAKERBOX_WATCH_HEARTBEAT_SECONDS: "1",
  CIRCUIT_BREAKER_FAILURE_THRESHOLD: "1",
  CIRCUIT_BREAKER_TIMEOUT_SECONDS: "600",
}));
const locked = useFixture("a redis-server refusing CONFIG", () => startRedis({ args: ["--rename-command", "CONFIG", ""] }), (r) => r.stop());
const onLocked = useReplica(() => ({ REDIS_URL: locked.url }));
const [A, B] = replicas.map((r, i) => lateBound(`replica ${"AB"[i]}'s client`, () => r.client)) as [CircuitClient, CircuitClient];

/** Every non-heartbeat message that arrives within `ms`. */
async function messagesWithin(it: AsyncIterator<WatchResponse>, ms: number): Promise<WatchResponse[]> {
  const out: WatchResponse[] = [];
  const until = Date.now() + ms;
  for (;;) {
    const left = until - Date.now();
    if (left <= 0) return out;
    const m = await nextWithin(it, left, "a message").catch(() => undefined);
    if (m === undefined) return out;
    if (m.kind.case !== "heartbeat") out.push(m);
  }
}

/** The next message that is not a heartbeat, within `ms` (failing with `what`). */
async function nextNonHeartbeat(it: AsyncIterator<WatchResponse>, ms: number, what: string): Promise<WatchResponse> {
  for (;;) {
    const m = await nextWithin(it, ms, what);
    if (m.kind.case !== "heartbeat") return m;
  }
}

function describeMessage(m: WatchResponse): string {
  return m.kind.case === "circuitRemoved" ? `circuit_removed ${m.kind.value.circuit} ${RemovalCause[m.kind.value.cause]}` : (m.kind.case ?? "unknown");
}

describe("two replicas on one Redis, idle removals", () => {
  it("tell a watcher on each replica once that an idle CLOSED circuit expired, replayed on resume; an OPEN one stays", async () => {
    const usedAt = Date.now();
    await A.call("acquire", { circuit: "idle.closed" });
    const open = await A.call("acquire", { circuit: "idle.open" });
    await A.call("report", { circuit: "idle.open", permit: open.permit, outcome: Outcome.FAILURE, duration: durationFromMs(3) });
    const onA = A.stream("watch", { prefix: "idle." });
    const onB = B.stream("watch", { circuits: ["idle.closed", "idle.open"] });
    const itA = onA.messages[Symbol.asyncIterator]();
    const itB = onB.messages[Symbol.asyncIterator]();
    const snapshotA = [await nextWithin(itA, 5000, "A snapshot"), await nextWithin(itA, 5000, "A snapshot"), await nextWithin(itA, 5000, "A complete")];
    for (let i = 0; i < 3; i++) await nextWithin(itB, 5000, "B snapshot");
    expect(snapshotA.map((m) => m.kind.case)).toEqual(["snapshot", "snapshot", "snapshotComplete"]);
    // The idle TTL is 1 s: wait (bounded, named) for the announcement, however slow the machine,
    // then give a second announcement two more seconds to show up too.
    const [firstA, firstB] = await Promise.all([
      nextNonHeartbeat(itA, 20_000, "A: the circuit_removed of idle.closed"),
      nextNonHeartbeat(itB, 20_000, "B: the circuit_removed of idle.closed"),
    ]);
    const [gotA, gotB] = await Promise.all([messagesWithin(itA, 2_000), messagesWithin(itB, 2_000)]);
    expect([firstA, ...gotA].map(describeMessage)).toEqual(["circuit_removed idle.closed IDLE_EVICTED"]);
    expect([firstB, ...gotB].map(describeMessage)).toEqual(["circuit_removed idle.closed IDLE_EVICTED"]);
    const removed = firstA;
    const at = removed.kind.case === "circuitRemoved" ? timestampMs(removed.kind.value.removalTime!) : 0;
    // Not before the idle TTL since its last use (Redis's clock and ours are the machine's), not in the future.
    expect(at).toBeGreaterThanOrEqual(usedAt + 1_000 - 50);
    expect(at).toBeLessThan(Date.now() + 1_000);
    expect(removed.resumeToken).not.toBe("");
    onA.cancel();
    onB.cancel();
    expect((await B.call("getState", { circuit: "idle.open" })).status?.circuit).toBe("idle.open");

    const resumed = B.stream("watch", { prefix: "idle.", resumeToken: snapshotA[2]!.resumeToken });
    const itR = resumed.messages[Symbol.asyncIterator]();
    // The replay comes first, then the live stream, whose first message here is a heartbeat (1 s):
    // nothing else was replayed.
    const replayed = await nextNonHeartbeat(itR, 10_000, "the replayed circuit_removed of idle.closed");
    expect(describeMessage(replayed)).toBe("circuit_removed idle.closed IDLE_EVICTED");
    expect(replayed.resumeToken).toBe(removed.resumeToken);
    expect((await nextWithin(itR, 10_000, "the heartbeat after the replay")).kind.case).toBe("heartbeat");
    resumed.cancel();
  }, 90_000); // longer than its waits together (snapshots 30 s, announcements 20 s, replay 20 s)

  it("left no error in either replica's log, nor a warning about notifications", () => {
    for (const [i, r] of replicas.entries()) {
      expect(r.problems(), `replica ${"AB"[i]}`).toEqual([]);
      expect(r.lines.filter((l) => l.includes("notify-keyspace-events"))).toEqual([]);
    }
  });
});

describe("a replica on a Redis that refuses CONFIG", () => {
  it("logs one warning saying removals may not be announced and how to enable them, and serves", async () => {
    expect((await onLocked.client.call("acquire", { circuit: "locked.a" })).allowed).toBe(true);
    // (The other warning is access control being off.)
    const warnings = onLocked.logs().filter((l) => l.level === "warn" && String(l.msg).includes("CONFIG"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      msg: expect.stringContaining("idle circuit removals are announced to watchers only if the server already publishes expired-key events; set notify-keyspace-events Ex"),
      err: expect.stringContaining("unknown command"),
    });
    expect(onLocked.problems()).toEqual([]);
  });
});
