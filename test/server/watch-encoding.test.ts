/**
 * Watch fan-out encoded once (src/server/watch-encoding.ts): a log entry's
 * `kind` is serialized once and every stream gets those bytes with its own
 * resume_token. Checked on the wire (raw gRPC frames): each stream gets
 * exactly its own messages, each byte-for-byte what toBinary writes; streams
 * of one filter get identical bytes, streams of other filters the same event
 * with their own token.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CircuitEventSchema, State, WatchRequestSchema, type WatchResponse, WatchResponseSchema } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { BUILTIN_DEFAULTS, BUILTIN_PRESETS } from "../../src/engine/index.js";
import { createCircuitServiceImpl } from "../../src/server/circuit-service.js";
import { createGrpcServer, type GrpcServer } from "../../src/server/grpc.js";
import { encodeWatchResponse, sharedWatchKind } from "../../src/server/watch-encoding.js";
import { Breakerbox } from "../../src/service/breakerbox.js";
import { createMemoryStore, type MemoryStore } from "../../src/store/memory.js";
import { connect, grpc } from "../support/grpc-call.js";
import { nextWithin } from "../support/grpc-client.js";

const WATCH = "/breakerbox.v1.CircuitService/Watch";
const identity = (b: Buffer): Buffer => b;

/** A Watch stream whose messages are the raw bytes of each WatchResponse. */
function rawWatch(client: grpc.Client, request: { circuits?: string[]; prefix?: string; resumeToken?: string }) {
  const body = Buffer.from(toBinary(WatchRequestSchema, create(WatchRequestSchema, request)));
  const call = client.makeServerStreamRequest(WATCH, identity, identity, body, new grpc.Metadata(), {});
  return { it: (call as AsyncIterable<Buffer>)[Symbol.asyncIterator](), cancel: () => call.cancel() };
}

/** The next `n` raw messages, each checked to be exactly what toBinary writes for it. */
async function takeRaw(s: ReturnType<typeof rawWatch>, n: number, what: string): Promise<{ raw: Buffer; m: WatchResponse }[]> {
  const out: { raw: Buffer; m: WatchResponse }[] = [];
  for (let i = 0; i < n; i++) {
    const raw = await nextWithin(s.it, 5000, `${what} (message ${i + 1})`);
    const m = fromBinary(WatchResponseSchema, raw);
    expect(Buffer.from(toBinary(WatchResponseSchema, m)).equals(raw), `${what} message ${i + 1} is toBinary's bytes`).toBe(true);
    out.push({ raw, m });
  }
  return out;
}

function describeMessage(m: WatchResponse): string {
  switch (m.kind.case) {
    case "snapshot":
      return `snapshot ${m.kind.value.circuit}`;
    case "event":
      return `event ${m.kind.value.circuit} ${State[m.kind.value.toState]}`;
    default:
      return m.kind.case ?? "unknown";
  }
}

describe("Watch fan-out encoding on the gRPC port", () => {
  let store: MemoryStore;
  let server: GrpcServer;
  let client: grpc.Client;

  beforeAll(async () => {
    store = createMemoryStore({ layers: { defaults: BUILTIN_DEFAULTS, presets: BUILTIN_PRESETS, rules: [] }, tickIntervalMs: 0 });
    server = createGrpcServer({ circuitService: createCircuitServiceImpl({ service: new Breakerbox({ store }) }), reflection: false });
    client = connect(await server.listen("127.0.0.1", 0));
  });

  afterAll(async () => {
    client.close();
    await server.shutdown(1000);
    await store.close();
  });

  it("gives each stream its own messages: one filter's streams the same bytes, another filter's its own token", async () => {
    await store.force("svc.a", "FORCED_OPEN", "test");
    const a = rawWatch(client, { prefix: "svc." });
    const b = rawWatch(client, { prefix: "svc." });
    const c = rawWatch(client, { circuits: ["svc.b"] });
    const [aStart, bStart, cStart] = await Promise.all([takeRaw(a, 2, "a"), takeRaw(b, 2, "b"), takeRaw(c, 1, "c")]);
    expect(aStart.map((x) => describeMessage(x.m))).toEqual(["snapshot svc.a", "snapshotComplete"]);
    expect(bStart.map((x) => describeMessage(x.m))).toEqual(["snapshot svc.a", "snapshotComplete"]);
    expect(cStart.map((x) => describeMessage(x.m))).toEqual(["snapshotComplete"]);
    const resumeAfterA = aStart[1]!.m.resumeToken;

    await store.force("svc.b", "FORCED_OPEN", "test");
    await store.force("svc.a", "CLOSED", "test");
    const [aLive, bLive, cLive] = await Promise.all([takeRaw(a, 2, "a"), takeRaw(b, 2, "b"), takeRaw(c, 1, "c")]);
    expect(aLive.map((x) => describeMessage(x.m))).toEqual(["event svc.b FORCED_OPEN", "event svc.a CLOSED"]);
    expect(cLive.map((x) => describeMessage(x.m))).toEqual(["event svc.b FORCED_OPEN"]);
    // Same filter, same entries: the very same bytes.
    expect(bLive.map((x) => x.raw.toString("hex"))).toEqual(aLive.map((x) => x.raw.toString("hex")));
    // Another filter: the same event, but the token is the stream's own.
    expect(cLive[0]!.m.kind).toEqual(aLive[0]!.m.kind);
    expect(cLive[0]!.m.resumeToken).not.toBe("");
    expect(cLive[0]!.m.resumeToken).not.toBe(aLive[0]!.m.resumeToken);

    // A stream resumed from an earlier point gets the same entries, with its filter's (here: the same) tokens.
    const d = rawWatch(client, { prefix: "svc.", resumeToken: resumeAfterA });
    const dReplay = await takeRaw(d, 2, "d");
    expect(dReplay.map((x) => x.raw.toString("hex"))).toEqual(aLive.map((x) => x.raw.toString("hex")));
    // Each stream's later messages are its own: C's filter still gets only svc.b.
    await store.force("svc.a", "FORCED_OPEN", "test");
    await store.force("svc.b", "CLOSED", "test");
    const [cNext, dNext] = await Promise.all([takeRaw(c, 1, "c"), takeRaw(d, 2, "d")]);
    expect(cNext.map((x) => describeMessage(x.m))).toEqual(["event svc.b CLOSED"]);
    expect(dNext.map((x) => describeMessage(x.m))).toEqual(["event svc.a FORCED_OPEN", "event svc.b CLOSED"]);
    for (const s of [a, b, c, d]) s.cancel();
  });
});

describe("encodeWatchResponse", () => {
  const event = () =>
    sharedWatchKind({
      case: "event",
      value: create(CircuitEventSchema, { circuit: "svc.a", eventId: "1-1", generation: 3n }),
    });

  it("writes toBinary's bytes for shared and unshared messages, with tokens of every length", () => {
    const kind = event();
    for (const token of ["", "t", "x".repeat(127), "y".repeat(128), "é".repeat(200)]) {
      const shared = create(WatchResponseSchema, { kind, resumeToken: token });
      expect(encodeWatchResponse(shared).equals(Buffer.from(toBinary(WatchResponseSchema, shared))), `token of ${token.length}`).toBe(true);
      const own = create(WatchResponseSchema, { kind: { case: "heartbeat", value: { resumeToken: token } }, resumeToken: token });
      expect(encodeWatchResponse(own).equals(Buffer.from(toBinary(WatchResponseSchema, own)))).toBe(true);
    }
  });

  it("hands the streams of one token the same Buffer, and another token its own bytes", () => {
    const kind = event();
    const first = encodeWatchResponse(create(WatchResponseSchema, { kind, resumeToken: "same" }));
    expect(encodeWatchResponse(create(WatchResponseSchema, { kind, resumeToken: "same" }))).toBe(first);
    const other = encodeWatchResponse(create(WatchResponseSchema, { kind, resumeToken: "other" }));
    expect(fromBinary(WatchResponseSchema, other).resumeToken).toBe("other");
    expect(fromBinary(WatchResponseSchema, first).resumeToken).toBe("same");
    // Back to the first token: its bytes again, not the other's.
    expect(fromBinary(WatchResponseSchema, encodeWatchResponse(create(WatchResponseSchema, { kind, resumeToken: "same" }))).resumeToken).toBe("same");
  });
});
