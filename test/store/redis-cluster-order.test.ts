/**
 * Redis Cluster mode (issue 11, finding 7): each replica appends a transition
 * to the event stream right after its script, so two replicas changing one
 * circuit can append them the wrong way round. Watchers (live and resuming)
 * and the metrics state tracker must never see the circuit's generation go
 * backwards. The appends are put out of order on purpose: one replica's
 * stream append is held until the other's is in.
 */
import { Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUILTIN_DEFAULTS, BUILTIN_PRESETS } from "../../src/engine/index.js";
import { CircuitStateTracker } from "../../src/metrics/circuit-states.js";
import { createRedisStore, type RedisStore } from "../../src/store/redis/redis-store.js";
import type { CircuitEvent } from "../../src/store/store.js";
import { startRedisCluster, type RedisCluster } from "../support/redis-servers.js";

let cluster: RedisCluster;
const clients: Cluster[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await cluster.stop();
});

function connect(): Cluster {
  const c = new Cluster(cluster.nodes);
  clients.push(c);
  return c;
}

async function replica(client: Cluster = connect()): Promise<RedisStore> {
  const store = createRedisStore({
    client,
    duplicate: connect,
    cluster: true,
    layers: { defaults: BUILTIN_DEFAULTS, presets: BUILTIN_PRESETS, rules: [] },
    keyPrefix: "ord:",
  });
  await store.start();
  return store;
}

describe("redis cluster: transitions appended out of order", () => {
  it("never hands a watcher, a resumed watcher or the state gauge a circuit's generation going backwards", { timeout: 60_000 }, async () => {
    // Replica A's transition appends wait at a gate the test opens.
    const aClient = connect();
    let reachGate!: () => void;
    const gateReached = new Promise<void>((r) => (reachGate = r));
    let openGate!: () => void;
    const gate = new Promise<void>((r) => (openGate = r));
    let holding = false;
    const xadd = aClient.xadd.bind(aClient) as (...args: unknown[]) => Promise<string | null>;
    aClient.xadd = (async (...args: unknown[]) => {
      if (holding && args.includes("e")) {
        reachGate();
        await gate;
      }
      return xadd(...args);
    }) as typeof aClient.xadd;
    const a = await replica(aClient);
    const b = await replica();
    const watching = await replica();

    await b.acquire("ord.c"); // generation 0, CLOSED
    const live: CircuitEvent[] = [];
    let token: string | undefined;
    const sub = await watching.watch({ circuits: ["ord.c"], prefix: "" }, undefined, (item) => {
      if (item.kind === "snapshot_complete") token = item.resumeToken;
      if (item.kind === "event") live.push(item.event);
    });
    const tracker = new CircuitStateTracker({ store: watching, resyncMs: 0 });
    tracker.start();
    await tracker.sync();
    expect(tracker.stateOf("ord.c")).toBe("CLOSED");

    // A forces the circuit open (generation 1), but its append waits; B resets it (generation 2) and appends first.
    holding = true;
    const forced = a.force("ord.c", "FORCED_OPEN", "alice");
    await gateReached;
    holding = false;
    await b.reset("ord.c", "bob");
    openGate();
    await forced;
    await watching.settle();
    // The gauge shows what the circuit is: CLOSED (generation 2), not the overtaken FORCED_OPEN.
    expect(tracker.stateOf("ord.c")).toBe("CLOSED");
    // Then a third transition, appended in order.
    await b.force("ord.c", "FORCED_OPEN", "bob");
    await watching.settle();

    const seen = (events: CircuitEvent[]) => events.map((e) => [e.generation, e.to]);
    // Generation 1 was overtaken by generation 2 in the stream: passed over, never delivered after it.
    expect(seen(live)).toEqual([
      [2, "CLOSED"],
      [3, "FORCED_OPEN"],
    ]);
    const replayed: CircuitEvent[] = [];
    const resumed = await watching.watch({ circuits: ["ord.c"], prefix: "" }, token, (item) => {
      if (item.kind === "event") replayed.push(item.event);
    });
    expect(seen(replayed)).toEqual(seen(live));
    expect(tracker.stateOf("ord.c")).toBe("FORCED_OPEN");
    // The circuit's history (in its own slot) has every transition.
    const history = (await watching.history("ord.c", 10))!.entries.flatMap((e) => (e.kind === "transition" ? [e.event.generation] : []));
    expect(history).toEqual([3, 2, 1]);

    resumed.close();
    sub.close();
    tracker.close();
    for (const s of [a, b, watching]) await s.close();
  });
});

describe("redis cluster: Watch status rounds", () => {
  it("offers no change feed (no store-wide key a script could record changes in): every status round reads in full", async () => {
    const store = await replica();
    expect(store.statusChanges).toBeUndefined();
    await store.close();
  });
});
