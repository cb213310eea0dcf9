/**
 * The circuit lifecycle over the network: a real server on free ports, driven
 * by @grpc/grpc-js (the canonical gRPC client) and by a Connect client, with
 * the store's clock moved by the test.
 */
import { durationFromMs, durationMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import {
  DenyReason,
  Outcome,
  State,
  type WatchResponse,
} from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { nextWithin } from "../support/grpc-client.js";
import { useTestServer } from "../support/use-test-server.js";

const { server, client, connect } = useTestServer();

/** Configures `circuit` with a small, readable config. */
async function configure(circuit: string, config: Record<string, unknown>): Promise<void> {
  await client.call("configure", { target: { case: "circuit", value: circuit }, config });
}

async function acquireAndReport(circuit: string, outcome: Outcome): Promise<State> {
  const a = await client.call("acquire", { circuit });
  expect(a.allowed).toBe(true);
  const r = await client.call("report", { circuit, permit: a.permit, outcome, duration: durationFromMs(5) });
  return r.state;
}

function transitions(messages: WatchResponse[]): string[] {
  return messages.flatMap((m) =>
    m.kind.case === "event" ? [`${State[m.kind.value.fromState]}->${State[m.kind.value.toState]}:${m.kind.value.reason}`] : [],
  );
}

describe("circuit lifecycle over gRPC", () => {
  it("goes CLOSED → OPEN → HALF_OPEN → CLOSED, and a watcher sees every transition in order", async () => {
    const circuit = "llm.lifecycle";
    await configure(circuit, {
      failureThreshold: 3,
      openDuration: durationFromMs(10_000),
      halfOpenMaxCalls: 2,
      successThreshold: 2,
    });
    const watch = client.stream("watch", { circuits: [circuit] });
    const it = watch.messages[Symbol.asyncIterator]();
    const seen: WatchResponse[] = [];
    const first = await nextWithin(it, 5000, "snapshot");
    expect(first.kind.case).toBe("snapshot");
    expect(first.kind.case === "snapshot" && first.kind.value.state).toBe(State.CLOSED);
    expect((await nextWithin(it, 5000, "snapshot_complete")).kind.case).toBe("snapshotComplete");

    expect(await acquireAndReport(circuit, Outcome.FAILURE)).toBe(State.CLOSED);
    expect(await acquireAndReport(circuit, Outcome.FAILURE)).toBe(State.CLOSED);
    expect(await acquireAndReport(circuit, Outcome.FAILURE)).toBe(State.OPEN);

    const denied = await client.call("acquire", { circuit });
    expect(denied).toMatchObject({ allowed: false, permit: "", state: State.OPEN, reason: DenyReason.OPEN });
    expect(durationMs(denied.retryAfter!)).toBe(10_000);

    server.clock.advance(9_999);
    expect((await client.call("acquire", { circuit })).allowed).toBe(false);
    server.clock.advance(1);

    const probe1 = await client.call("acquire", { circuit });
    const probe2 = await client.call("acquire", { circuit });
    const third = await client.call("acquire", { circuit });
    expect([probe1.allowed, probe2.allowed, third.allowed]).toEqual([true, true, false]);
    expect(probe1.state).toBe(State.HALF_OPEN);
    expect(third.reason).toBe(DenyReason.HALF_OPEN_FULL);

    const r1 = await client.call("report", { circuit, permit: probe1.permit, outcome: Outcome.SUCCESS });
    expect(r1.state).toBe(State.HALF_OPEN);
    const r2 = await client.call("report", { circuit, permit: probe2.permit, outcome: Outcome.SUCCESS });
    expect(r2.state).toBe(State.CLOSED);

    const status = (await client.call("getState", { circuit })).status!;
    expect(status.state).toBe(State.CLOSED);
    expect(status.stats!.windowCalls).toBe(0n);
    expect(status.stats!.consecutiveFailures).toBe(0);
    expect(status.stats!.totalFailures).toBe(3n);
    expect(status.stats!.totalSuccesses).toBe(2n);
    expect(status.stats!.totalRejections).toBe(3n);

    for (let i = 0; i < 3; i++) seen.push(await nextWithin(it, 5000, `event ${i + 1}`));
    expect(transitions(seen)).toEqual([
      "CLOSED->OPEN:consecutive_failures",
      "OPEN->HALF_OPEN:open_duration_elapsed",
      "HALF_OPEN->CLOSED:probes_succeeded",
    ]);
    const ids = seen.map((m) => (m.kind.case === "event" ? m.kind.value.eventId : ""));
    expect(new Set(ids).size).toBe(3);
    watch.cancel();
  });

  it("reopens with a backed-off open duration when a probe fails", async () => {
    const circuit = "tool.backoff";
    await configure(circuit, {
      failureThreshold: 1,
      openDuration: durationFromMs(1_000),
      backoffMultiplier: 2,
      maxOpenDuration: durationFromMs(3_000),
      halfOpenMaxCalls: 1,
      successThreshold: 1,
    });
    expect(await acquireAndReport(circuit, Outcome.FAILURE)).toBe(State.OPEN);
    const expected = [2_000, 3_000, 3_000]; // 1 s × 2, then × 4 capped at 3 s, and capped again
    let wait = 1_000;
    for (const next of expected) {
      server.clock.advance(wait);
      expect(await acquireAndReport(circuit, Outcome.FAILURE)).toBe(State.OPEN);
      const d = await client.call("acquire", { circuit });
      expect(durationMs(d.retryAfter!)).toBe(next);
      wait = next;
    }
    server.clock.advance(wait);
    expect(await acquireAndReport(circuit, Outcome.SUCCESS)).toBe(State.CLOSED);
    const history = await client.call("getHistory", { circuit });
    const reasons = history.entries.flatMap((e) => (e.entry.case === "transition" ? [e.entry.value.reason] : []));
    expect(reasons).toEqual([
      "probes_succeeded",
      "open_duration_elapsed",
      "probe_failed",
      "open_duration_elapsed",
      "probe_failed",
      "open_duration_elapsed",
      "probe_failed",
      "open_duration_elapsed",
      "consecutive_failures",
    ]);
    expect(history.entries.at(-1)!.entry.case).toBe("configChange");
  });

  it("AcquireAny admits through the first candidate that allows, and reports every denial before it", async () => {
    const down = "agent.primary";
    const up = "agent.secondary";
    await configure(down, { failureThreshold: 1, openDuration: durationFromMs(30_000) });
    expect(await acquireAndReport(down, Outcome.FAILURE)).toBe(State.OPEN);
    await client.call("forceState", { circuit: "agent.fenced", state: State.FORCED_OPEN });

    const res = await client.call("acquireAny", { circuits: ["agent.fenced", down, up, "agent.tertiary"] });
    expect(res.allowed).toBe(true);
    expect(res.circuit).toBe(up);
    expect(res.state).toBe(State.CLOSED);
    expect(res.permit).not.toBe("");
    expect(res.denials.map((d) => [d.circuit, State[d.state], DenyReason[d.reason]])).toEqual([
      ["agent.fenced", "FORCED_OPEN", "FORCED_OPEN"],
      [down, "OPEN", "OPEN"],
    ]);
    // The candidate after the chosen one was not touched.
    await expect(client.call("getState", { circuit: "agent.tertiary" })).rejects.toMatchObject({ code: 5 });
    const ack = await client.call("report", { circuit: up, permit: res.permit, outcome: Outcome.SUCCESS });
    expect(ack.duplicate).toBe(false);

    const none = await client.call("acquireAny", { circuits: ["agent.fenced", down] });
    expect(none.allowed).toBe(false);
    expect(none.denials).toHaveLength(2);
    expect(durationMs(none.retryAfter!)).toBe(30_000);
  });

  it("counts a retried Report once", async () => {
    const circuit = "db.retry";
    const a = await client.call("acquire", { circuit });
    const first = await client.call("report", { circuit, permit: a.permit, outcome: Outcome.FAILURE });
    const again = await client.call("report", { circuit, permit: a.permit, outcome: Outcome.FAILURE });
    expect([first.duplicate, again.duplicate]).toEqual([false, true]);
    const stats = (await client.call("getState", { circuit })).status!.stats!;
    expect(stats.totalFailures).toBe(1n);
    expect(stats.consecutiveFailures).toBe(1);
  });
});

describe("the same service over Connect", () => {
  it("drives a circuit open and reads it back with a Connect client", async () => {
    const circuit = "connect.client";
    await connect.configure({ target: { case: "circuit", value: circuit }, config: { failureThreshold: 2 } });
    for (let i = 0; i < 2; i++) {
      const a = await connect.acquire({ circuit });
      await connect.report({ circuit, permit: a.permit, outcome: Outcome.TIMEOUT });
    }
    const status = (await connect.getState({ circuit })).status!;
    expect(status.state).toBe(State.OPEN);
    expect(status.stats!.totalTimeouts).toBe(2n);
    expect(status.configSources).toEqual(["circuit", "defaults"]);
  });

  it("answers the README's curl example with Connect JSON", async () => {
    const res = await fetch(`${server.httpUrl}/breakerbox.v1.CircuitService/Acquire`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ circuit: "x" }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.allowed).toBe(true);
    expect(body.state).toBe("STATE_CLOSED");
    expect(typeof body.permit).toBe("string");
  });
});
