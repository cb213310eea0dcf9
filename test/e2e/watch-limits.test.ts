/**
 * Watch stream limits over both ports: per API key (when keys are
 * configured) as well as per replica, and grpc.health.v1 Health.Watch
 * streams counted against the replica's limit. Each refusal is
 * RESOURCE_EXHAUSTED TOO_MANY_WATCHERS with ErrorInfo metadata `limit` and
 * `scope`; a slot frees when its stream ends.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import type { WatchResponse } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { Health } from "../../gen/ts/grpc/health/v1/health_pb.js";
import { connect as connectGrpc, grpc, serverStream } from "../support/grpc-call.js";
import { useTestServer } from "../support/use-test-server.js";
import type { TestServerFixture } from "../support/use-test-server.js";

const KEY_A = "agent-a-key-0123456789";
const KEY_B = "agent-b-key-0123456789";
const KEYS = `a:agent:${KEY_A},b:agent:${KEY_B}`;

type Opened = { first: WatchResponse; close: () => void };

/** Opens a Connect Watch with `key` (or none) and reads its first message (snapshot_complete of an empty prefix). */
async function openWatch(fixture: TestServerFixture, key: string | undefined): Promise<Opened> {
  const controller = new AbortController();
  const headers: Record<string, string> = key === undefined ? {} : { authorization: `Bearer ${key}` };
  const it = fixture.connect.watch({ prefix: "none." }, { headers, signal: controller.signal })[Symbol.asyncIterator]();
  try {
    const r = await it.next();
    if (r.done === true) throw new Error("the stream ended at once");
    return { first: r.value, close: () => controller.abort() };
  } catch (e) {
    controller.abort();
    throw e;
  }
}

/** The refusal of one more Watch: code, ErrorInfo reason and metadata, and the message. */
async function refusal(fixture: TestServerFixture, key: string | undefined): Promise<{ code: Code; reason: string; metadata: Record<string, string>; message: string }> {
  const err = await openWatch(fixture, key).then(
    (opened) => {
      opened.close();
      throw new Error("the stream was not refused");
    },
    (e: unknown) => ConnectError.from(e),
  );
  const [info] = err.findDetails(ErrorInfoSchema);
  return { code: err.code, reason: info?.reason ?? "", metadata: { ...info?.metadata }, message: err.rawMessage };
}

/** Opens one more stream once the server has seen an earlier one end (it frees the slot when it notices). */
async function openAfterRelease(fixture: TestServerFixture, key: string | undefined): Promise<Opened> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await openWatch(fixture, key);
    } catch (e) {
      if (attempt === 200 || ConnectError.from(e).code !== Code.ResourceExhausted) throw e;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

describe("Watch streams per API key", () => {
  const fixture = useTestServer({
    env: { BREAKERBOX_API_KEYS: KEYS, BREAKERBOX_MAX_WATCH_STREAMS: "10", BREAKERBOX_MAX_WATCH_STREAMS_PER_KEY: "2" },
  });

  it("a key holding its limit is refused with scope key; another key is not; a closed stream frees the key's slot", async () => {
    const a1 = await openWatch(fixture, KEY_A);
    const a2 = await openWatch(fixture, KEY_A);
    expect([a1.first.kind.case, a2.first.kind.case]).toEqual(["snapshotComplete", "snapshotComplete"]);
    const refused = await refusal(fixture, KEY_A);
    expect(refused).toEqual({
      code: Code.ResourceExhausted,
      reason: "TOO_MANY_WATCHERS",
      metadata: { limit: "2", scope: "key" },
      message: 'too many Watch streams for API key "a" (2, BREAKERBOX_MAX_WATCH_STREAMS_PER_KEY); close unused streams or share one',
    });
    const b1 = await openWatch(fixture, KEY_B);
    expect(b1.first.kind.case).toBe("snapshotComplete");
    a1.close();
    const a3 = await openAfterRelease(fixture, KEY_A);
    expect(a3.first.kind.case).toBe("snapshotComplete");
    for (const s of [a2, a3, b1]) s.close();
  }, 60_000);
});

describe("Watch streams without API keys", () => {
  const fixture = useTestServer({ env: { BREAKERBOX_MAX_WATCH_STREAMS: "3", BREAKERBOX_MAX_WATCH_STREAMS_PER_KEY: "1" } });

  it("have no per-key limit (every caller is the one anonymous caller): the replica limit is the bound, scope replica", async () => {
    const open = [await openWatch(fixture, undefined), await openWatch(fixture, undefined), await openWatch(fixture, undefined)];
    expect(await refusal(fixture, undefined)).toEqual({
      code: Code.ResourceExhausted,
      reason: "TOO_MANY_WATCHERS",
      metadata: { limit: "3", scope: "replica" },
      message: "too many Watch streams on this replica (3, BREAKERBOX_MAX_WATCH_STREAMS); close unused streams or watch with a prefix",
    });
    for (const s of open) s.close();
  }, 60_000);
});

describe("Health.Watch streams", () => {
  const fixture = useTestServer({ env: { BREAKERBOX_MAX_WATCH_STREAMS: "2" } });

  it("count against the replica's stream limit, and are refused past it with RESOURCE_EXHAUSTED TOO_MANY_WATCHERS", async () => {
    const client = connectGrpc(Number(fixture.server.grpcAddress.split(":")[1]));
    const healthWatch = (): grpc.ClientReadableStream<unknown> => serverStream(client, Health.method.watch, { service: "" });
    try {
      const h1 = healthWatch();
      const firstStatus = await new Promise((resolve, reject) => {
        h1.once("data", resolve);
        h1.once("error", reject);
      });
      expect(firstStatus).toMatchObject({ status: 1 }); // SERVING
      const w1 = await openWatch(fixture, undefined);
      // Two streams held: a third CircuitService.Watch and a third Health.Watch are refused.
      expect(await refusal(fixture, undefined)).toMatchObject({ reason: "TOO_MANY_WATCHERS", metadata: { limit: "2", scope: "replica" } });
      const h2 = healthWatch();
      const refused = await new Promise<grpc.ServiceError>((resolve, reject) => {
        h2.once("data", () => reject(new Error("the third stream was served")));
        h2.once("error", resolve);
      });
      expect(refused.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(refused.details).toContain("BREAKERBOX_MAX_WATCH_STREAMS");
      // The health stream's slot frees when it ends.
      h1.cancel();
      const w2 = await openAfterRelease(fixture, undefined);
      expect(w2.first.kind.case).toBe("snapshotComplete");
      w1.close();
      w2.close();
    } finally {
      client.close();
    }
  }, 60_000);
});
