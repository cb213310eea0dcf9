/**
 * BREAKERBOX_MAX_CONNECTION_AGE_SECONDS behind a plain L4 balancer: a grpc-js
 * client holds one HTTP/2 connection, so it keeps reaching the replica its
 * connection landed on. After a scale-up the balancer sends new connections
 * to the new replica; with a connection age the old replica sends GOAWAY and
 * the client's next call opens a new connection, which lands there. Two real
 * servers, a real TCP forwarder standing in for the balancer, a real client.
 */
import { afterAll, describe, expect, it } from "vitest";
import { createCircuitClient } from "../support/grpc-client.js";
import { waitFor } from "../support/replicas.js";
import { startForwarder, type Forwarder } from "../support/tcp-forwarder.js";
import { useTestServer } from "../support/use-test-server.js";

// Memory stores: each server knows only the circuits it was asked about, which says who served a call.
const env = { BREAKERBOX_MAX_CONNECTION_AGE_SECONDS: "1" };
const A = useTestServer({ env });
const B = useTestServer({ env });
let front: Forwarder | undefined;

afterAll(async () => {
  await front?.close();
});

async function knows(fixture: typeof A, circuit: string): Promise<boolean> {
  return fixture.client.call("getState", { circuit }).then(
    () => true,
    () => false,
  );
}

describe("max connection age", () => {
  it("moves a client that is busy on one replica to the replica a balancer now sends new connections to", async () => {
    front = await startForwarder();
    front.forwardTo(A.server.app.grpcPort);
    const agent = createCircuitClient(front.address);
    try {
      expect((await agent.call("acquire", { circuit: "age.0" })).allowed).toBe(true);
      expect([await knows(A, "age.0"), await knows(B, "age.0")]).toEqual([true, false]);

      // Scale-up: new connections now reach B. The agent keeps calling; every call must succeed.
      front.forwardTo(B.server.app.grpcPort);
      let n = 0;
      const moved = await waitFor(
        "a call of the agent to reach B",
        async () => {
          const circuit = `age.${++n}`;
          expect((await agent.call("acquire", { circuit })).allowed).toBe(true);
          return (await knows(B, circuit)) ? circuit : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 100 },
      );
      expect(await knows(A, moved)).toBe(false);
    } finally {
      agent.close();
    }
  }, 30_000);
});
