/**
 * WatchRequest.status_interval over the network: a real server on free ports
 * with a manual store clock, a real @grpc/grpc-js client and a Connect
 * client. The status interval is real time (1 s, the minimum); the tests
 * wait for messages, never for fixed times.
 */
import { create } from "@bufbuild/protobuf";
import { DurationSchema, durationFromMs } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { Outcome, State, type WatchResponse } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { scrape, sampleValue } from "../metrics/exposition.js";
import { CallError, nextWithin } from "../support/grpc-client.js";
import { useTestServer } from "../support/use-test-server.js";

const { server, client, connect } = useTestServer();

async function report(circuit: string, outcome: Outcome): Promise<void> {
  const a = await client.call("acquire", { circuit });
  expect(a.allowed).toBe(true);
  await client.call("report", { circuit, permit: a.permit, outcome, duration: durationFromMs(3) });
}

function label(m: WatchResponse): string {
  switch (m.kind.case) {
    case "snapshot":
    case "status":
      return `${m.kind.case}:${m.kind.value.circuit}:${State[m.kind.value.state]}`;
    case "event":
      return `event:${State[m.kind.value.fromState]}->${State[m.kind.value.toState]}`;
    default:
      return m.kind.case ?? "empty";
  }
}

/** Reads messages (heartbeats skipped) until `done` holds for the last one. */
async function readUntil(
  it: AsyncIterator<WatchResponse>,
  seen: WatchResponse[],
  what: string,
  done: (m: WatchResponse) => boolean,
): Promise<WatchResponse> {
  for (;;) {
    const m = await nextWithin(it, 10_000, what);
    if (m.kind.case === "heartbeat") continue;
    seen.push(m);
    if (done(m)) return m;
  }
}

describe("Watch status_interval over gRPC", () => {
  it.each([
    [{ seconds: 0n, nanos: 500_000_000 }, "status_interval is 500 ms; use 0 (no status messages) or 1s to 3600s"],
    [{ seconds: -2n, nanos: 0 }, "status_interval is -2000 ms; use 0 (no status messages) or 1s to 3600s"],
    [{ seconds: 3600n, nanos: 1_000_000 }, "status_interval is 3600001 ms; use 0 (no status messages) or 1s to 3600s"],
    // Just above 2^31-1 ms, which setInterval once turned into a 1 ms poll of the store.
    [{ seconds: 2_147_484n, nanos: 0 }, "status_interval is 2147484000 ms; use 0 (no status messages) or 1s to 3600s"],
    [{ seconds: 315_576_000_000n, nanos: 0 }, "status_interval is 315576000000000 ms; use 0 (no status messages) or 1s to 3600s"],
    [
      { seconds: 1n, nanos: -5 },
      "status_interval is not a valid google.protobuf.Duration (nanos out of range or of the other sign)",
    ],
  ])("answers INVALID_ARGUMENT naming the field for %o", async (duration, message) => {
    const watch = client.stream("watch", { prefix: "x.", statusInterval: create(DurationSchema, duration) });
    const err = await nextWithin(watch.messages[Symbol.asyncIterator](), 5000, "an error").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CallError);
    expect((err as CallError).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((err as CallError).details).toBe(message);
  });

  it("accepts the longest interval, 3600 s", async () => {
    const watch = client.stream("watch", { prefix: "x.", statusInterval: durationFromMs(3_600_000) });
    try {
      const it = watch.messages[Symbol.asyncIterator]();
      await readUntil(it, [], "snapshot_complete", (m) => m.kind.case === "snapshotComplete");
    } finally {
      watch.cancel();
    }
  });

  it("streams counters between transitions, and the status read turns a due OPEN circuit HALF_OPEN", async () => {
    const circuit = "status.trip";
    await client.call("configure", {
      target: { case: "circuit", value: circuit },
      config: { failureThreshold: 3, failureRateThreshold: 0, openDuration: durationFromMs(30_000), successThreshold: 1 },
    });
    const watch = client.stream("watch", { circuits: [circuit], statusInterval: durationFromMs(1000) });
    const it = watch.messages[Symbol.asyncIterator]();
    const seen: WatchResponse[] = [];
    await readUntil(it, seen, "snapshot_complete", (m) => m.kind.case === "snapshotComplete");

    await report(circuit, Outcome.FAILURE);
    await report(circuit, Outcome.SUCCESS);
    // (A status round may fall between the two reports; wait for the one that counts both.)
    const counted = await readUntil(
      it,
      seen,
      "a status with two calls",
      (m) => m.kind.case === "status" && m.kind.value.stats?.windowCalls === 2n,
    );
    expect(counted.kind.case === "status" && counted.kind.value.stats).toMatchObject({
      windowCalls: 2n,
      windowFailures: 1n,
      failureRate: 0.5,
      totalSuccesses: 1n,
      totalFailures: 1n,
      totalRejections: 0n,
    });

    for (let i = 0; i < 3; i++) await report(circuit, Outcome.FAILURE);
    expect((await client.call("acquire", { circuit })).allowed).toBe(false);
    const opened = await readUntil(it, seen, "an OPEN status", (m) => m.kind.case === "status" && m.kind.value.state === State.OPEN);
    expect(opened.kind.case === "status" && opened.kind.value.stats?.totalRejections).toBe(1n);
    expect(opened.kind.case === "status" && opened.kind.value.openUntil?.seconds).toBe(
      BigInt((server.clock.now() + 30_000) / 1000),
    );

    // No traffic and no background tick in the test server: the status read
    // itself applies the due transition.
    server.clock.advance(30_000);
    await readUntil(it, seen, "a HALF_OPEN status", (m) => m.kind.case === "status" && m.kind.value.state === State.HALF_OPEN);
    watch.cancel();

    // Consecutive equal labels merged: a round may land between two reports.
    expect(seen.map(label).filter((l, i, all) => l !== all[i - 1])).toEqual([
      "snapshot:status.trip:CLOSED",
      "snapshotComplete",
      "status:status.trip:CLOSED",
      "event:CLOSED->OPEN",
      "status:status.trip:OPEN",
      "event:OPEN->HALF_OPEN",
      "status:status.trip:HALF_OPEN",
    ]);
    // The rounds read what the store's change feed named (it reaches the poller through the
    // metrics wrapper of the store), not every circuit each time.
    const e = await scrape(server.httpUrl);
    expect(sampleValue(e, "breakerbox_watch_status_changed_total", {})).toBeGreaterThan(0);
    expect(sampleValue(e, "breakerbox_watch_status_rounds_total", {})).toBeGreaterThan(sampleValue(e, "breakerbox_watch_status_full_reads_total", {})!);
  });

  it("works the same over Connect (what the dashboard uses)", async () => {
    const controller = new AbortController();
    await report("status.connect", Outcome.SUCCESS);
    const seen: string[] = [];
    try {
      for await (const m of connect.watch({ prefix: "status.connect", statusInterval: durationFromMs(1000) }, { signal: controller.signal })) {
        if (m.kind.case === "heartbeat") continue;
        seen.push(label(m));
        if (m.kind.case === "snapshotComplete") await report("status.connect", Outcome.FAILURE);
        if (m.kind.case === "status") break;
      }
    } finally {
      controller.abort();
    }
    expect(seen).toEqual(["snapshot:status.connect:CLOSED", "snapshotComplete", "status:status.connect:CLOSED"]);
  });
});
