/**
 * Watch never goes blind, over gRPC against a real server: a snapshot of
 * 100,000 circuits (memory store) and 50,000 (a real redis-server) reaches a
 * client that stops reading in the middle of it, in full and in name order,
 * then snapshot_complete, then exactly the transitions made while it was not
 * reading; a watcher that stops reading while transitions keep coming gets a
 * heartbeat with a resume token before WATCHER_TOO_SLOW, and resuming with
 * it loses nothing.
 *
 * Circuits are created through the server's store (acquire, up to 500 at a
 * time) to keep the setup short; the stream itself goes through grpc-js and
 * HTTP/2 flow control. The client "stops reading" by not pulling its
 * iterator: grpc-js then stops reading the HTTP/2 stream, the server's
 * writes wait for 'drain', and the hub reads no further page of the snapshot.
 */
import type { CircuitStore } from "../../src/store/store.js";
import { describe, expect, it } from "vitest";
import type { Client } from "@connectrpc/connect";
import { type CircuitService, State, type WatchResponse } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { CallError, createCircuitClient, nextWithin, type CircuitClient } from "../support/grpc-client.js";
import { useRedis } from "../support/process-fixtures.js";
import { useTestServer, useTestServers } from "../support/use-test-server.js";
import { toggle } from "../support/toggle.js";

/** Per message: long, since a snapshot page read is slow on a loaded machine. */
const MESSAGE_MS = 60_000;

const nameOf = (i: number): string => `flow.${String(i).padStart(6, "0")}`;

/** Creates circuits flow.000000 … through the store, `parallel` at a time. */
async function createCircuits(store: CircuitStore, n: number, parallel: number): Promise<void> {
  for (let i = 0; i < n; i += parallel) {
    await Promise.all(Array.from({ length: Math.min(parallel, n - i) }, (_, j) => store.acquire(nameOf(i + j))));
  }
}

/** A Watch stream of every flow.* circuit, on either port. */
type Stream = { it: AsyncIterator<WatchResponse>; cancel: () => void };

function grpcStream(client: CircuitClient): Stream {
  const s = client.stream("watch", { prefix: "flow." });
  return { it: s.messages[Symbol.asyncIterator](), cancel: s.cancel };
}

function connectStream(connect: Client<typeof CircuitService>): Stream {
  const controller = new AbortController();
  return { it: connect.watch({ prefix: "flow." }, { signal: controller.signal })[Symbol.asyncIterator](), cancel: () => controller.abort() };
}

/** Like toggle, starting with whichever of FORCED_OPEN and CLOSED the circuit is not in, so each step is a transition. */
async function flip(store: CircuitStore, circuit: string, n: number): Promise<string[]> {
  return toggle(store, circuit, n, (await store.get(circuit))?.state === "FORCED_OPEN" ? 1 : 0);
}

const eventIdOf = (m: WatchResponse): string => (m.kind.case === "event" ? m.kind.value.eventId : `(${m.kind.case})`);

/**
 * Opens a Watch of every flow.* circuit, reads one snapshot message, stops
 * reading while `during` makes transitions, then reads the rest: every
 * snapshot in name order, snapshot_complete, then exactly those transitions.
 */
async function snapshotWhilePaused(open: () => Stream, store: CircuitStore, n: number): Promise<void> {
  const stream = open();
  const it = stream.it;
  try {
    const first = await nextWithin(it, MESSAGE_MS, "the first snapshot message");
    expect(first.kind.case === "snapshot" && first.kind.value.circuit).toBe(nameOf(0));
    // Not reading now. Transitions of the last circuit (its snapshot is not
    // read yet: the server is held by flow control) and of the first (sent).
    const last = nameOf(n - 1);
    const before = (await store.get(last))!.state;
    const ids = [...(await flip(store, last, 301)), ...(await flip(store, nameOf(0), 2))];
    expect(ids).toHaveLength(303);
    const after = (await store.get(last))!.state;
    expect(after).not.toBe(before);
    let snapshots = 1;
    for (let i = 1; i < n; i++) {
      const m = await nextWithin(it, MESSAGE_MS, `snapshot message ${i + 1} of ${n}`);
      if (m.kind.case !== "snapshot" || m.kind.value.circuit !== nameOf(i)) {
        throw new Error(`message ${i + 1}: expected the snapshot of ${nameOf(i)}, got ${m.kind.case} ${m.kind.case === "snapshot" ? m.kind.value.circuit : ""}`);
      }
      snapshots += 1;
      // Read after the transitions: the snapshot was still being read from the store page by page.
      if (i === n - 1) expect(m.kind.value.state).toBe(State[after]);
    }
    expect(snapshots).toBe(n);
    const complete = await nextWithin(it, MESSAGE_MS, "snapshot_complete");
    expect(complete.kind.case).toBe("snapshotComplete");
    const events: string[] = [];
    for (let i = 0; i < ids.length; i++) events.push(eventIdOf(await nextWithin(it, MESSAGE_MS, `event ${i + 1} of ${ids.length}`)));
    expect(events).toEqual(ids);
    // Nothing else was queued: the next message is the next transition.
    const [next] = await flip(store, nameOf(1), 1);
    expect(eventIdOf(await nextWithin(it, MESSAGE_MS, "the transition after"))).toBe(next);
  } finally {
    stream.cancel();
  }
}

describe("a Watch snapshot of 100,000 circuits (memory store)", () => {
  const { server, client, connect } = useTestServer();

  it("reaches a gRPC client that stops reading mid-snapshot: every snapshot in order, snapshot_complete, then exactly the transitions made meanwhile", async () => {
    await createCircuits(server.store, 100_000, 500);
    await snapshotWhilePaused(() => grpcStream(client), server.store, 100_000);
  }, 600_000);

  it("the same over Connect on the HTTP port (TCP backpressure; the snapshot is far larger than the socket buffers)", async () => {
    if (server.store.size < 100_000) await createCircuits(server.store, 100_000, 500); // run alone with -t
    await snapshotWhilePaused(() => connectStream(connect), server.store, 100_000);
  }, 600_000);
});

describe("a Watch snapshot of 50,000 circuits (Redis store)", () => {
  const redis = useRedis();
  const servers = useTestServers();

  it("reaches a client that stops reading mid-snapshot: every snapshot in order, snapshot_complete, then exactly the transitions made meanwhile", async () => {
    const { server, client } = await servers.start({ clock: "real", env: { REDIS_URL: redis.url } });
    // The store connects in the background: wait for it (each try is bounded by the Redis command timeout).
    for (let attempt = 1; ; attempt++) {
      const ok = await server.app.store.acquire(nameOf(0)).then(
        () => true,
        (e: unknown) => {
          if (attempt === 100) throw e;
          return false;
        },
      );
      if (ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await createCircuits(server.app.store, 50_000, 500);
    await snapshotWhilePaused(() => grpcStream(client), server.app.store, 50_000);
  }, 900_000);
});

describe("a watcher that stops reading while transitions keep coming", () => {
  const { server } = useTestServer({ env: { BREAKERBOX_EVENT_LOG_SIZE: "30000" } });

  it("gets a heartbeat with a resume token before WATCHER_TOO_SLOW, and resuming with it loses nothing", async () => {
    const client = createCircuitClient(server.grpcAddress);
    try {
      await server.store.acquire("slow");
      const stream = client.stream("watch", { circuits: ["slow"] });
      const it = stream.messages[Symbol.asyncIterator]();
      expect((await nextWithin(it, MESSAGE_MS, "snapshot")).kind.case).toBe("snapshot");
      expect((await nextWithin(it, MESSAGE_MS, "snapshot_complete")).kind.case).toBe("snapshotComplete");
      // Not reading: 12,000 transitions, beyond the 10,000 the hub queues.
      const ids = await toggle(server.store, "slow", 12_000);
      const received: WatchResponse[] = [];
      let error: unknown;
      try {
        for (;;) {
          const r = await it.next();
          if (r.done === true) break;
          received.push(r.value);
          if (received.length > 12_001) break;
        }
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(CallError);
      expect((error as CallError).details).toContain("watcher fell 10000 messages behind");
      const heartbeat = received[received.length - 1]!;
      expect(heartbeat.kind.case).toBe("heartbeat");
      const events = received.slice(0, -1).map(eventIdOf);
      // A prefix of the transitions, in order: the 10,000 queued, plus what the transport held.
      expect(events.length).toBeGreaterThanOrEqual(10_000);
      expect(events.length).toBeLessThan(12_000);
      expect(events).toEqual(ids.slice(0, events.length));
      expect(heartbeat.resumeToken).toBe(received[received.length - 2]!.resumeToken);

      const resumed = client.stream("watch", { circuits: ["slow"], resumeToken: heartbeat.resumeToken });
      const rit = resumed.messages[Symbol.asyncIterator]();
      const replay: string[] = [];
      for (let i = events.length; i < ids.length; i++) replay.push(eventIdOf(await nextWithin(rit, MESSAGE_MS, `replayed event ${i + 1}`)));
      expect(replay).toEqual(ids.slice(events.length));
      const [next] = await toggle(server.store, "slow", 1, 12_000);
      expect(eventIdOf(await nextWithin(rit, MESSAGE_MS, "the transition after the replay"))).toBe(next);
      resumed.cancel();
    } finally {
      client.close();
    }
  }, 300_000);
});
