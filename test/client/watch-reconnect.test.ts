/**
 * watch() across a restart of the service: the stream ends, reconnects are
 * refused for a while (UNAVAILABLE, bounded backoff), the new server does not
 * know the old resume token (OUT_OF_RANGE) so the SDK starts over with a fresh
 * snapshot, and transitions keep flowing to the same iterator.
 */
import { expect, it } from "vitest";
import { State as PbState } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { createBreakerbox, type WatchUpdate } from "@breakerbox/client";
import { nextWithin } from "../support/grpc-client.js";
import { startForwarder } from "../support/tcp-forwarder.js";
import { useTestServers } from "../support/use-test-server.js";

const servers = useTestServers();

async function untilComplete(it: AsyncIterator<WatchUpdate>, seen: WatchUpdate[]): Promise<void> {
  for (;;) {
    const u = await nextWithin(it, 10_000, "snapshot_complete");
    seen.push(u);
    if (u.type === "snapshot_complete") return;
  }
}

it("reconnects after the service restarts and keeps yielding transitions", async () => {
  const { server: first } = await servers.start();
  // The SDK's one address, kept by the test across the restart (no port freed and taken again).
  const front = await startForwarder();
  front.forwardTo(first.app.grpcPort);
  const c = "reconnect.one";
  const bb = createBreakerbox({ address: front.address, watchBackoff: { initialMs: 20, maxMs: 200 } });
  try {
    await bb.acquire(c);
    const it = bb.watch({ circuits: [c] });
    const seen: WatchUpdate[] = [];
    await untilComplete(it, seen);
    expect(seen.map((u) => u.type)).toEqual(["snapshot", "snapshot_complete"]);

    // The pending next() spans the restart.
    const pending = it.next();
    await first.stop();
    front.forwardTo(undefined);
    await new Promise((r) => setTimeout(r, 100)); // let a few reconnects be refused
    const { server: second, client: admin } = await servers.start();
    front.forwardTo(second.app.grpcPort);

    // Fresh snapshot from the new server (the circuit does not exist there yet).
    const r = await Promise.race([pending, new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no reconnect within 10 s")), 10_000))]);
    expect(r.done).toBe(false);
    expect(r.value).toMatchObject({ type: "snapshot_complete" });

    await admin.call("forceState", { circuit: c, state: PbState.FORCED_OPEN });
    expect(await nextWithin(it, 10_000, "transition")).toMatchObject({ type: "transition", circuit: c, from: "CLOSED", to: "FORCED_OPEN", reason: "forced_open" });
    await it.return!(undefined);
  } finally {
    bb.close();
    await front.close();
  }
});

it("throws non-transient errors (malformed resume token) instead of retrying", async () => {
  const { server } = await servers.start();
  const bb = createBreakerbox({ address: server.grpcAddress });
  try {
    const it = bb.watch({ circuits: ["x"], resumeToken: "garbage" });
    await expect(it.next()).rejects.toMatchObject({ name: "BreakerboxRpcError", codeName: "INVALID_ARGUMENT" });
  } finally {
    bb.close();
  }
});

it("close() ends a running watch", async () => {
  const { server } = await servers.start();
  const bb = createBreakerbox({ address: server.grpcAddress });
  const it = bb.watch({ circuits: ["y"] });
  await untilComplete(it, []);
  const pending = it.next();
  bb.close();
  expect(await pending).toEqual({ done: true, value: undefined });
});
