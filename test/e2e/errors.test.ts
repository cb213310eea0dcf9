/**
 * Every error code of docs/design.md §Errors, over the network with grpc-js, with
 * the message naming the field and what is accepted. Bad input must neither
 * crash the server nor touch a circuit.
 */
import { status as Status } from "@grpc/grpc-js";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { Outcome, State } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { CallError, nextWithin } from "../support/grpc-client.js";
import { waitFor } from "../support/replicas.js";
import { useTestServer } from "../support/use-test-server.js";
import { encodeWatchToken } from "../../src/service/watch-token.js";

const { server, client } = useTestServer({ env: { BREAKERBOX_MAX_WATCH_STREAMS: "2" } });

async function failure(p: Promise<unknown>): Promise<CallError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CallError) return e;
    throw e;
  }
  throw new Error("expected the call to fail");
}

describe("INVALID_ARGUMENT names the field and what is accepted", () => {
  const cases: [string, () => Promise<unknown>, string][] = [
    ["empty circuit", () => client.call("acquire", { circuit: "" }), "circuit is required"],
    [
      "malformed circuit",
      () => client.call("acquire", { circuit: "has space" }),
      'circuit "has space" must match ^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,199}$',
    ],
    [
      "circuit too long",
      () => client.call("getState", { circuit: "a".repeat(201) }),
      "circuit is 201 characters long; at most 200 are allowed",
    ],
    ["report without permit", () => client.call("report", { circuit: "c", outcome: Outcome.SUCCESS }), "permit is required"],
    ["report without outcome", () => client.call("report", { circuit: "c", permit: "p" }), "outcome is required"],
    ["unknown outcome", () => client.call("report", { circuit: "c", permit: "p", outcome: 42 as Outcome }), "outcome has unknown value 42"],
    [
      "negative duration",
      () => client.call("report", { circuit: "c", permit: "p", outcome: Outcome.SUCCESS, duration: durationFromMs(-5) }),
      "duration must not be negative",
    ],
    [
      "rate out of range",
      () => client.call("configure", { target: { case: "circuit", value: "c" }, config: { failureRateThreshold: 1.5 } }),
      "config.failure_rate_threshold must be a number from 0 to 1, got 1.5",
    ],
    [
      "max open below open",
      () =>
        client.call("configure", {
          target: { case: "circuit", value: "c" },
          config: { openDuration: durationFromMs(120_000), maxOpenDuration: durationFromMs(60_000) },
        }),
      "config.max_open_duration (60s) must be at least open_duration (120s)",
    ],
    [
      "unknown preset",
      () => client.call("configure", { target: { case: "circuit", value: "c" }, preset: "nope" }),
      'unknown preset "nope"; known presets: default, strict, lenient, fast_recovery, llm, io',
    ],
    ["configure without target", () => client.call("configure", { config: { failureThreshold: 2 } }), "target is required"],
    [
      "bad pattern",
      () => client.call("configure", { target: { case: "pattern", value: "agent.[a-z]" }, config: { failureThreshold: 2 } }),
      "pattern ",
    ],
    [
      "force to OPEN",
      () => client.call("forceState", { circuit: "c", state: State.OPEN }),
      "state must be STATE_FORCED_OPEN, STATE_DISABLED or STATE_CLOSED (to release), got STATE_OPEN",
    ],
    // page_size above 1000 is read as 1000 since v1 (test/e2e/paging.test.ts), no longer refused.
    [
      "page token this server did not write",
      () => client.call("listCircuits", { pageToken: "not-a-token" }),
      "page_token is not a next_page_token this server issued; pass it unchanged, or restart the listing without it",
    ],
    ["no candidates", () => client.call("acquireAny", { circuits: [] }), "circuits must name at least one candidate circuit"],
    [
      "repeated candidate",
      () => client.call("acquireAny", { circuits: ["a", "b", "a"] }),
      'circuits[2] repeats "a"; list each candidate once',
    ],
  ];

  it.each(cases)("%s", async (_label, call, message) => {
    const err = await failure(call());
    expect(err.code).toBe(Status.INVALID_ARGUMENT);
    expect(err.details).toContain(message);
  });

  it("leaves no circuit behind for rejected requests", async () => {
    const err = await failure(client.call("getState", { circuit: "c" }));
    expect(err.code).toBe(Status.NOT_FOUND);
  });
});

describe("NOT_FOUND for circuits that never existed", () => {
  it.each([
    ["GetState", () => client.call("getState", { circuit: "never.seen" })],
    ["Reset", () => client.call("reset", { circuit: "never.seen" })],
    ["GetHistory", () => client.call("getHistory", { circuit: "never.seen" })],
  ] as const)("%s", async (_label, call) => {
    const err = await failure(call());
    expect(err.code).toBe(Status.NOT_FOUND);
    expect(err.details).toBe('circuit "never.seen" does not exist (it was never used, or was evicted while idle and CLOSED)');
  });
});

describe("FAILED_PRECONDITION for permits that cannot be reported", () => {
  it("refuses a string that is not a permit", async () => {
    await client.call("acquire", { circuit: "permits.a" });
    const err = await failure(client.call("report", { circuit: "permits.a", permit: "made-up", outcome: Outcome.FAILURE }));
    expect(err.code).toBe(Status.FAILED_PRECONDITION);
    expect(err.details).toContain("permit is not a Breakerbox permit");
  });

  it("refuses a permit of another circuit", async () => {
    const other = await client.call("acquire", { circuit: "permits.other" });
    await client.call("acquire", { circuit: "permits.b" });
    const err = await failure(client.call("report", { circuit: "permits.b", permit: other.permit, outcome: Outcome.FAILURE }));
    expect(err.code).toBe(Status.FAILED_PRECONDITION);
    expect(err.details).toBe('permit was issued for another circuit, not "permits.b"');
  });

  it("refuses an expired permit and counts nothing", async () => {
    const circuit = "permits.expired";
    await client.call("configure", { target: { case: "circuit", value: circuit }, config: { permitTtl: durationFromMs(1_000) } });
    const a = await client.call("acquire", { circuit });
    server.clock.advance(1_000);
    const err = await failure(client.call("report", { circuit, permit: a.permit, outcome: Outcome.FAILURE }));
    expect(err.code).toBe(Status.FAILED_PRECONDITION);
    expect(err.details).toMatch(/^permit expired 0 ms ago \(permit_ttl is 1000 ms/);
    const stats = (await client.call("getState", { circuit })).status!.stats!;
    expect(stats.totalFailures).toBe(0n);
  });

  it("refuses a report on a circuit that does not exist", async () => {
    const a = await client.call("acquire", { circuit: "permits.c" });
    const err = await failure(client.call("report", { circuit: "permits.never", permit: a.permit, outcome: Outcome.SUCCESS }));
    expect(err.code).toBe(Status.FAILED_PRECONDITION);
  });
});

describe("Watch limits", () => {
  it("refuses a malformed resume token with INVALID_ARGUMENT and a stale one with OUT_OF_RANGE", async () => {
    const bad = client.stream("watch", { resumeToken: "not-a-token" });
    const e1 = await failure(bad.messages[Symbol.asyncIterator]().next());
    expect(e1.code).toBe(Status.INVALID_ARGUMENT);
    // A well-formed token of a log position from an earlier run (raw positions are refused as malformed).
    const stale = client.stream("watch", { resumeToken: encodeWatchToken({ circuits: [], prefix: "" }, "00000000-1") });
    const e2 = await failure(stale.messages[Symbol.asyncIterator]().next());
    expect(e2.code).toBe(Status.OUT_OF_RANGE);
    expect(e2.details).toContain("watch again without resume_token");
  });

  it("bounds concurrent streams with RESOURCE_EXHAUSTED and frees the slot when a stream ends", async () => {
    const a = client.stream("watch", { prefix: "w." });
    const b = client.stream("watch", { prefix: "w." });
    const ia = a.messages[Symbol.asyncIterator]();
    const ib = b.messages[Symbol.asyncIterator]();
    expect((await nextWithin(ia, 5000, "a's snapshot_complete")).kind.case).toBe("snapshotComplete");
    expect((await nextWithin(ib, 5000, "b's snapshot_complete")).kind.case).toBe("snapshotComplete");
    const c = client.stream("watch", { prefix: "w." });
    const err = await failure(c.messages[Symbol.asyncIterator]().next());
    expect(err.code).toBe(Status.RESOURCE_EXHAUSTED);
    expect(err.details).toContain("BREAKERBOX_MAX_WATCH_STREAMS");

    a.cancel();
    // The server frees the slot once it sees the cancellation; poll until it does.
    await waitFor(
      "a new Watch to open once the server freed the cancelled stream's slot",
      async () => {
        const d = client.stream("watch", { prefix: "w." });
        try {
          return (await nextWithin(d.messages[Symbol.asyncIterator](), 5000, "d's first message")).kind.case === "snapshotComplete";
        } catch (e) {
          if (!(e instanceof CallError) || e.code !== Status.RESOURCE_EXHAUSTED) throw e;
          return false;
        } finally {
          d.cancel();
        }
      },
      { timeoutMs: 20_000, intervalMs: 20 },
    );
    b.cancel();
  });
});
