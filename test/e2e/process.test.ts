/**
 * The real process, as `npm start` runs it (node dist/src/main.js, built by
 * `npm test` before the suites): start-up, refusal of a bad config, and a
 * graceful SIGTERM that ends Watch streams cleanly and exits 0.
 */
import { once } from "node:events";
import { status as Status } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { Outcome, State } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { nextWithin } from "../support/grpc-client.js";
import { spawnMain, startReplica, stopReplicas } from "../support/replicas.js";

afterEach(async () => {
  await stopReplicas();
});

describe("the breakerbox process", () => {
  it("serves, logs one line per transition, and on SIGTERM ends Watch streams with OK and exits 0", async () => {
    const s = await startReplica({ CIRCUIT_BREAKER_FAILURE_THRESHOLD: "2" });
    const client = s.client;
    const watch = client.stream("watch", {});
    const it = watch.messages[Symbol.asyncIterator]();
    expect((await nextWithin(it, 5000, "snapshot_complete")).kind.case).toBe("snapshotComplete");

    for (let i = 0; i < 2; i++) {
      const a = await client.call("acquire", { circuit: "proc.dep" });
      await client.call("report", { circuit: "proc.dep", permit: a.permit, outcome: Outcome.FAILURE });
    }
    const event = await nextWithin(it, 5000, "the OPEN event");
    expect(event.kind.case === "event" && event.kind.value.toState).toBe(State.OPEN);

    const streamStatus = new Promise<number>((resolve) => watch.call.on("status", (st) => resolve(st.code)));
    const exited = once(s.child, "exit");
    s.child.kill("SIGTERM");
    const [code, signal] = (await exited) as [number | null, string | null];
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(await streamStatus).toBe(Status.OK);

    const logged = s.logs();
    const transitions = logged.filter((l) => l.msg === "circuit transition");
    expect(transitions).toHaveLength(1);
    expect(transitions[0]).toMatchObject({
      level: "info",
      circuit: "proc.dep",
      from: "CLOSED",
      to: "OPEN",
      reason: "consecutive_failures",
      consecutiveFailures: 2,
    });
    // Nothing per request at info: the only info lines are start, transition, shutdown.
    expect(logged.filter((l) => l.level === "info").map((l) => l.msg)).toEqual([
      "breakerbox listening",
      "circuit transition",
      "shutting down",
      "stopped",
    ]);
  });

  it("refuses to start on a bad variable, naming it and what it accepts", async () => {
    const child = spawnMain({ CIRCUIT_BREAKER_FAILURE_RATE_THRESHOLD: "1.5", BREAKERBOX_GRPC_PORT: "70000" });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
    const [code] = (await once(child, "exit")) as [number];
    expect(code).toBe(2);
    expect(stderr).toContain("CIRCUIT_BREAKER_FAILURE_RATE_THRESHOLD: failure_rate_threshold must be a number from 0 to 1, got 1.5");
    expect(stderr).toContain("BREAKERBOX_GRPC_PORT");
  });
});
