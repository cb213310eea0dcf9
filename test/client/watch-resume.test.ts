/**
 * The SDK's watch loop against a scripted transport: it reconnects with the
 * last WatchResponse.resume_token it received (a heartbeat's, or that of a
 * kind it does not know, included), yields config changes and removals, and
 * skips kinds it does not know.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { expect, it } from "vitest";
import {
  type WatchResponse,
  CircuitRemovedSchema,
  ConfigChangeSchema,
  HeartbeatSchema,
  RemovalCause,
  SnapshotCompleteSchema,
  WatchResponseSchema,
} from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { BreakerboxRpcError } from "../../clients/typescript/src/errors.js";
import type { Transport } from "../../clients/typescript/src/grpc-transport.js";
import { watchUpdates } from "../../clients/typescript/src/watch.js";
import type { WatchUpdate } from "@breakerbox/client";

const AT = Date.UTC(2026, 0, 1);

/** A transport whose Watch streams play `scripts` in turn, each ending with UNAVAILABLE; it records each request's resume token. */
function scriptedTransport(scripts: WatchResponse[][]): { transport: Transport; tokens: string[] } {
  const tokens: string[] = [];
  const transport = {
    watch(request: { resumeToken?: string }, signal: AbortSignal) {
      tokens.push(request.resumeToken ?? "");
      const script = scripts.shift() ?? [];
      return (async function* () {
        yield* script;
        if (scripts.length > 0) throw new BreakerboxRpcError(14, "UNAVAILABLE", "connection reset");
        // The last stream stays open until the watch ends.
        if (!signal.aborted) await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
      })();
    },
  } as unknown as Transport;
  return { transport, tokens };
}

it("reconnects with the last resume_token received, heartbeats and unknown kinds included, and yields config changes and removals", async () => {
  const unknownKind = create(WatchResponseSchema, { resumeToken: "t4" });
  // A kind from a newer server: the oneof case this SDK does not know.
  (unknownKind as unknown as { kind: { case: string; value: unknown } }).kind = { case: "somethingNew", value: {} };
  const { transport, tokens } = scriptedTransport([
    [
      create(WatchResponseSchema, { kind: { case: "snapshotComplete", value: create(SnapshotCompleteSchema, { resumeToken: "t1" }) }, resumeToken: "t1" }),
      create(WatchResponseSchema, {
        kind: { case: "configChange", value: create(ConfigChangeSchema, { circuit: "c", target: "c*", actor: "ops", at: timestampFromMs(AT) }) },
        resumeToken: "t2",
      }),
      create(WatchResponseSchema, { kind: { case: "heartbeat", value: create(HeartbeatSchema, { at: timestampFromMs(AT), resumeToken: "t3" }) }, resumeToken: "t3" }),
    ],
    [unknownKind],
    [
      create(WatchResponseSchema, {
        kind: { case: "circuitRemoved", value: create(CircuitRemovedSchema, { circuit: "c", cause: RemovalCause.IDLE_EVICTED, removalTime: timestampFromMs(AT) }) },
        resumeToken: "t5",
      }),
    ],
  ]);
  const closing = new AbortController();
  const it = watchUpdates({ circuits: ["c"] }, { transport, backoff: { initialMs: 1, maxMs: 1 }, closing: closing.signal, onTransition: () => undefined });
  const seen: WatchUpdate[] = [];
  for (let i = 0; i < 3; i++) seen.push((await it.next()).value as WatchUpdate);
  expect(seen.map((u) => ({ ...u, raw: undefined }))).toEqual([
    { type: "snapshot_complete", resumeToken: "t1", raw: undefined },
    { type: "config_change", circuit: "c", target: "c*", actor: "ops", at: AT, resumeToken: "t2", raw: undefined },
    { type: "circuit_removed", circuit: "c", cause: "idle_evicted", at: AT, resumeToken: "t5", raw: undefined },
  ]);
  // First connect without a token; then from the heartbeat's; then from the unknown kind's.
  expect(tokens).toEqual(["", "t3", "t4"]);
  closing.abort();
  expect(await it.next()).toEqual({ done: true, value: undefined });
});
