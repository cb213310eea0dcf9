/**
 * Watch resume tokens and message kinds over gRPC, on the memory store with
 * a manual clock and a 10-entry event log: the exact message sequence with
 * its resume tokens, heartbeats carrying the watcher's whole-log position
 * (the quiet watcher), filter-bound tokens, config changes and evictions on
 * the stream. The Redis side is in test/e2e/replicas.test.ts.
 */
import { status as Status } from "@grpc/grpc-js";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { RemovalCause, State, type WatchResponse } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { CallError, nextWithin } from "../support/grpc-client.js";
import { useTestServer } from "../support/use-test-server.js";

const { server, client } = useTestServer({
  env: {
    BREAKERBOX_EVENT_LOG_SIZE: "10",
    BREAKERBOX_WATCH_HEARTBEAT_SECONDS: "1",
    CIRCUIT_BREAKER_FAILURE_THRESHOLD: "1",
  },
});

type Stream = { it: AsyncIterator<WatchResponse>; cancel: () => void };

function watch(request: { circuits?: string[]; prefix?: string; resumeToken?: string }): Stream {
  const s = client.stream("watch", request);
  return { it: s.messages[Symbol.asyncIterator](), cancel: s.cancel };
}

/** A message as "kind circuit detail", for exact sequence assertions. */
function describeMessage(m: WatchResponse): string {
  switch (m.kind.case) {
    case "snapshot":
      return `snapshot ${m.kind.value.circuit} ${State[m.kind.value.state]}`;
    case "event":
      return `event ${m.kind.value.circuit} ${State[m.kind.value.fromState]}->${State[m.kind.value.toState]}`;
    case "configChange":
      return `config_change ${m.kind.value.circuit} by ${m.kind.value.actor} threshold ${m.kind.value.oldConfig?.failureThreshold}->${m.kind.value.newConfig?.failureThreshold}`;
    case "circuitRemoved":
      return `circuit_removed ${m.kind.value.circuit} ${RemovalCause[m.kind.value.cause]}`;
    default:
      return m.kind.case ?? "unknown";
  }
}

/** The next `n` messages. */
async function take(s: Stream, n: number, what: string): Promise<WatchResponse[]> {
  const out: WatchResponse[] = [];
  for (let i = 0; i < n; i++) out.push(await nextWithin(s.it, 5000, `${what} (message ${i + 1})`));
  return out;
}

/** Moves the manual clock past the heartbeat interval and reads the heartbeat that follows. */
async function heartbeat(s: Stream, what: string): Promise<WatchResponse> {
  server.clock.advance(1_000);
  const m = await nextWithin(s.it, 5000, what);
  expect(m.kind.case, what).toBe("heartbeat");
  return m;
}

async function failure(s: Stream): Promise<CallError> {
  const err = await s.it.next().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CallError);
  return err as CallError;
}

async function trip(circuit: string): Promise<void> {
  const a = await client.call("acquire", { circuit });
  await client.call("report", { circuit, permit: a.permit, outcome: 2 });
}

describe("Watch resume tokens", () => {
  it("are set on every message after the snapshot, equal to the heartbeat's and snapshot_complete's own, and differ per position", async () => {
    await client.call("acquire", { circuit: "seq.a" });
    const s = watch({ prefix: "seq." });
    const first = await take(s, 2, "snapshot");
    await trip("seq.a");
    await client.call("configure", { target: { case: "circuit", value: "seq.a" }, config: { failureThreshold: 4 } });
    const live = await take(s, 2, "event and config change");
    const hb = await heartbeat(s, "heartbeat");
    const all = [...first, ...live, hb];
    expect(all.map(describeMessage)).toEqual([
      "snapshot seq.a CLOSED",
      "snapshotComplete",
      "event seq.a CLOSED->OPEN",
      "config_change seq.a by anonymous threshold 1->4",
      "heartbeat",
    ]);
    expect(all[0]!.resumeToken).toBe("");
    const tokens = all.slice(1).map((m) => m.resumeToken);
    expect(tokens.every((t) => /^[A-Za-z0-9_-]{20,}$/.test(t))).toBe(true);
    expect(all[1]!.kind.case === "snapshotComplete" && all[1]!.kind.value.resumeToken).toBe(tokens[0]);
    expect(hb.kind.case === "heartbeat" && hb.kind.value.resumeToken).toBe(tokens[3]);
    expect(new Set(tokens.slice(0, 3)).size).toBe(3);
    // Opaque: not the event id.
    expect(all[2]!.kind.case === "event" && all[2]!.kind.value.eventId).not.toBe(tokens[1]);
    s.cancel();

    // Resuming from the event's token: exactly the config change, no snapshot.
    const resumed = watch({ prefix: "seq.", resumeToken: tokens[1]! });
    const replay = await take(resumed, 1, "replayed config change");
    expect(replay.map(describeMessage)).toEqual(["config_change seq.a by anonymous threshold 1->4"]);
    expect(replay[0]!.resumeToken).toBe(tokens[2]);
    resumed.cancel();
  });

  it("a quiet watcher resumes from its heartbeat's token after more events on other circuits than the log keeps: no OUT_OF_RANGE, no snapshot, exactly the missed events", async () => {
    await client.call("acquire", { circuit: "quiet.a" });
    const s = watch({ circuits: ["quiet.a"] });
    const [, complete] = await take(s, 2, "snapshot");
    // 20 transitions of another circuit: twice what the log keeps.
    for (let i = 0; i < 10; i++) {
      await trip("busy.b");
      await client.call("reset", { circuit: "busy.b" });
    }
    const hb = await heartbeat(s, "the quiet watcher's heartbeat");
    s.cancel();
    await trip("quiet.a");
    await trip("busy.c");

    const expired = await failure(watch({ circuits: ["quiet.a"], resumeToken: complete!.resumeToken }));
    expect(expired.code).toBe(Status.OUT_OF_RANGE);
    const resumed = watch({ circuits: ["quiet.a"], resumeToken: hb.resumeToken });
    expect((await take(resumed, 1, "the missed event")).map(describeMessage)).toEqual(["event quiet.a CLOSED->OPEN"]);
    // Nothing else was missed: the next message is a heartbeat.
    expect((await heartbeat(resumed, "heartbeat after the replay")).kind.case).toBe("heartbeat");
    resumed.cancel();
  });

  it("are bound to the filter: another filter's token, or an event id, is INVALID_ARGUMENT", async () => {
    await client.call("acquire", { circuit: "bound.a" });
    const s = watch({ circuits: ["bound.a", "bound.b"] });
    const [, complete] = await take(s, 2, "snapshot");
    await trip("bound.a");
    const [event] = await take(s, 1, "event");
    s.cancel();
    const token = complete!.resumeToken;
    // The same filter, names in another order and repeated: accepted.
    const same = watch({ circuits: ["bound.b", "bound.a", "bound.b"], resumeToken: token });
    expect((await take(same, 1, "replay")).map(describeMessage)).toEqual(["event bound.a CLOSED->OPEN"]);
    same.cancel();
    for (const other of [{ circuits: ["bound.a"] }, { circuits: ["bound.a", "bound.b"], prefix: "bound." }, { prefix: "" }]) {
      const err = await failure(watch({ ...other, resumeToken: token }));
      expect(err.code, JSON.stringify(other)).toBe(Status.INVALID_ARGUMENT);
      expect(err.details).toContain("resume_token was issued for a Watch with other circuits or another prefix");
    }
    const eventId = event!.kind.case === "event" ? event!.kind.value.eventId : "";
    const raw = await failure(watch({ circuits: ["bound.a", "bound.b"], resumeToken: eventId }));
    expect(raw.code).toBe(Status.INVALID_ARGUMENT);
    expect(raw.details).toContain("resume_token is not a token this server issued");
  });

  it("sends circuit_removed when the memory store evicts an idle circuit, replayed on resume", async () => {
    await client.call("acquire", { circuit: "evict.a" });
    const s = watch({ prefix: "evict." });
    const [, complete] = await take(s, 2, "snapshot");
    server.clock.advance(86_400_000); // the store's default idle TTL
    expect(server.store.evictIdle()).toBeGreaterThanOrEqual(1);
    const [removed] = await take(s, 1, "circuit_removed");
    expect(describeMessage(removed!)).toBe("circuit_removed evict.a IDLE_EVICTED");
    expect(removed!.kind.case === "circuitRemoved" && timestampMs(removed!.kind.value.removalTime!)).toBe(server.clock.now());
    expect(removed!.resumeToken).not.toBe("");
    s.cancel();
    const resumed = watch({ prefix: "evict.", resumeToken: complete!.resumeToken });
    expect((await take(resumed, 1, "replayed removal")).map(describeMessage)).toEqual(["circuit_removed evict.a IDLE_EVICTED"]);
    resumed.cancel();
  });
});
