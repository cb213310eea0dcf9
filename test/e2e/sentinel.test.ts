/**
 * A Sentinel failover under a real Breakerbox process: one master, one
 * replica and three sentinels (real processes); Breakerbox finds the master
 * through REDIS_SENTINELS / REDIS_SENTINEL_NAME. The master is SIGKILLed;
 * once the sentinels promote the replica, Breakerbox answers again through
 * the new master without a restart, and a circuit state that was written and
 * replicated before the kill is still there.
 *
 * What a failover can lose (not exercised here, see docs/operations.md):
 * Redis replication is asynchronous, so writes the old master acknowledged
 * but had not yet sent to the replica are gone after the promotion.
 */
import { durationFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { status as Status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { DenyReason, Outcome, State, type WatchResponse } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { CallError, nextWithin } from "../support/grpc-client.js";
import { useRedisSentinel, useReplica } from "../support/process-fixtures.js";
import { parseInfo } from "../support/redis-servers.js";
import { ServingStatus, waitFor } from "../support/replicas.js";

const sentinel = useRedisSentinel();
const replica = useReplica(() => ({
  REDIS_SENTINELS: sentinel.sentinels.map((s) => `${s.host}:${s.port}`).join(","),
  REDIS_SENTINEL_NAME: sentinel.name,
  BREAKERBOX_REDIS_TIMEOUT_SECONDS: "1",
}));

/** Polls the master's and the replica's INFO until the replica has everything the master wrote. */
async function waitForReplication(): Promise<void> {
  let last = "";
  await waitFor(
    "the replica to catch up with the master",
    async () => {
      const master = parseInfo(await sentinel.master.command("INFO", "replication"));
      const replica = parseInfo(await sentinel.replica.command("INFO", "replication"));
      const want = Number(master.get("master_repl_offset"));
      const have = Number(replica.get("slave_repl_offset"));
      last = `master_repl_offset ${want}, replica slave_repl_offset ${have}, link ${replica.get("master_link_status")}`;
      return have >= want && replica.get("master_link_status") === "up";
    },
    { timeoutMs: 10_000, intervalMs: 50, describe: () => last },
  );
}

describe("a Sentinel failover", () => {
  it("keeps answering through the new master, with the replicated circuit state intact", async () => {
    const c = replica.client;
    const circuit = "sentinel.dep";
    // Ready means connected through Sentinel to the master: a Configure before that answers UNAVAILABLE.
    await waitFor("the replica ready (/readyz 200)", async () => (await replica.readyz()).status === 200, { timeoutMs: 30_000, intervalMs: 100 });
    await c.call("configure", { target: { case: "circuit", value: circuit }, config: { failureThreshold: 2, openDuration: durationFromMs(120_000) } });
    for (let i = 0; i < 2; i++) {
      const a = await c.call("acquire", { circuit });
      await c.call("report", { circuit, permit: a.permit, outcome: Outcome.FAILURE, duration: durationFromMs(2) });
    }
    const before = (await c.call("getState", { circuit })).status!;
    expect(before.state).toBe(State.OPEN);

    const watch = c.stream("watch", { circuits: [circuit] });
    const it = watch.messages[Symbol.asyncIterator]();
    expect((await nextWithin(it, 5000, "snapshot")).kind.case).toBe("snapshot");
    expect((await nextWithin(it, 5000, "snapshot_complete")).kind.case).toBe("snapshotComplete");

    await waitForReplication();
    const killedAt = performance.now();
    await sentinel.killMaster();
    await sentinel.waitForFailover(30_000);
    const promotedAt = performance.now();

    let attempts = 0;
    let last = "";
    const failures = new Set<string>();
    const denied = await waitFor(
      "Acquire to answer through the new master",
      async () => {
        attempts += 1;
        try {
          return await c.call("acquire", { circuit });
        } catch (err) {
          last = err instanceof CallError ? err.message : String(err);
          failures.add(err instanceof CallError ? String(err.code) : last);
          return undefined;
        }
      },
      { timeoutMs: 20_000, intervalMs: 100, describe: () => `${attempts} attempts; last: ${last}` },
    );
    const answeredAt = performance.now();
    console.log(
      `sentinel failover: promotion seen ${(promotedAt - killedAt).toFixed(0)} ms after the kill; ` +
        `Acquire answered ${(answeredAt - promotedAt).toFixed(0)} ms after that (${(answeredAt - killedAt).toFixed(0)} ms after the kill, ${attempts} attempts)`,
    );

    // Until then every call failed fast with UNAVAILABLE (none hung: the client's deadline is 10 s).
    expect([...failures].filter((f) => f !== String(Status.UNAVAILABLE))).toEqual([]);

    // The state written and replicated before the kill survived.
    expect(denied).toMatchObject({ allowed: false, state: State.OPEN, reason: DenyReason.OPEN });
    const after = (await c.call("getState", { circuit })).status!;
    expect(after.state).toBe(State.OPEN);
    expect(after.generation).toBe(before.generation);
    expect(timestampMs(after.openUntil!)).toBe(timestampMs(before.openUntil!));
    expect(after.config).toMatchObject({ failureThreshold: 2, openDuration: { seconds: 120n } });
    expect(after.stats).toMatchObject({ consecutiveFailures: 2, totalFailures: 2n });

    // Writes go to the new master, and the watcher that stayed connected hears of them.
    expect((await c.call("reset", { circuit })).status!.state).toBe(State.CLOSED);
    let event: WatchResponse;
    do event = await nextWithin(it, 10_000, "the reset event after the failover");
    while (event.kind.case === "heartbeat");
    expect(event.kind.case === "event" && `${State[event.kind.value.fromState]}->${State[event.kind.value.toState]}:${event.kind.value.reason}`).toBe(
      "OPEN->CLOSED:reset",
    );
    watch.cancel();
    const history = (await c.call("getHistory", { circuit })).entries.flatMap((e) => (e.entry.case === "transition" ? [e.entry.value.reason] : []));
    expect(history).toEqual(["reset", "consecutive_failures"]);

    await waitFor("gRPC health SERVING", async () => (await replica.health()) === ServingStatus.SERVING, { timeoutMs: 10_000, intervalMs: 100 });
    expect(await replica.readyz()).toEqual({ status: 200, body: "ready" });
    expect(replica.problems()).toEqual([]);
  }, 120_000); // longer than its waits together: snapshot 10 s, replication 10 s, failover 30 s, Acquire 20 s, event 10 s, SERVING 10 s
});
