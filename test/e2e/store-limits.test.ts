/**
 * The store's bounds as an operator sets them: `node dist/src/main.js` on the
 * memory store with BREAKERBOX_MAX_CIRCUITS=2 and BREAKERBOX_IDLE_TTL_SECONDS=1.
 * The in-process test server builds its own store, so only a real process
 * shows that both variables reach the store src/app.ts builds.
 */
import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import type { WatchResponse } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { CallError, nextWithin } from "../support/grpc-client.js";
import { useReplica } from "../support/process-fixtures.js";

const server = useReplica({ BREAKERBOX_MAX_CIRCUITS: "2", BREAKERBOX_IDLE_TTL_SECONDS: "1" });

/** How long to wait for the 1 s idle TTL and the 1 s tick to remove a circuit: far more than they need. */
const REMOVAL_WAIT_MS = 30_000;

/** The next message that is not a heartbeat, before `deadline` (Date.now() ms). */
async function nextChange(it: AsyncIterator<WatchResponse>, deadline: number): Promise<WatchResponse> {
  for (;;) {
    const m = await nextWithin(it, Math.max(1, deadline - Date.now()), `a circuit_removed within ${REMOVAL_WAIT_MS} ms (idle TTL 1 s)`);
    if (m.kind.case !== "heartbeat") return m;
  }
}

describe("a memory-store process with BREAKERBOX_MAX_CIRCUITS=2 and BREAKERBOX_IDLE_TTL_SECONDS=1", () => {
  it("refuses a 3rd circuit with RESOURCE_EXHAUSTED naming the cap, evicts the unused two after the idle TTL, then has room", async () => {
    const { client } = server;
    expect((await client.call("acquire", { circuit: "cap.a" })).allowed).toBe(true);
    expect((await client.call("acquire", { circuit: "cap.b" })).allowed).toBe(true);
    const refused = await client.call("acquire", { circuit: "cap.c" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(CallError);
    expect((refused as CallError).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect((refused as CallError).details).toContain("cap of 2 circuits (BREAKERBOX_MAX_CIRCUITS)");

    // Whatever of cap.a and cap.b the snapshot still shows must be announced removed.
    const watch = client.stream("watch", { prefix: "cap." });
    try {
      const it = watch.messages[Symbol.asyncIterator]();
      const present: string[] = [];
      for (;;) {
        const m = await nextWithin(it, 10_000, "the Watch snapshot");
        if (m.kind.case === "snapshot") present.push(m.kind.value.circuit);
        if (m.kind.case === "snapshotComplete") break;
      }
      expect(present.every((c) => c === "cap.a" || c === "cap.b")).toBe(true);
      const removed: string[] = [];
      const deadline = Date.now() + REMOVAL_WAIT_MS;
      while (removed.length < present.length) {
        const m = await nextChange(it, deadline);
        expect(m.kind.case).toBe("circuitRemoved");
        if (m.kind.case === "circuitRemoved") removed.push(m.kind.value.circuit);
      }
      expect(removed.sort()).toEqual(present.sort());
    } finally {
      watch.cancel();
    }
    await expect(client.call("getState", { circuit: "cap.a" })).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    expect((await client.call("acquire", { circuit: "cap.c" })).allowed).toBe(true);
  }, 90_000);

  it("left no error in its log", () => {
    expect(server.problems()).toEqual([]);
  });
});
