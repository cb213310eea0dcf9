/**
 * The shared status poller over the Redis store, which has no change feed
 * yet (HANDOFF-status-poller.md): 20 streams still cost one listing per
 * round, not 20.
 */
import { afterEach, describe, expect, it } from "vitest";
import { StatusPoller, type StatusStreamHooks, type StatusSubscription } from "../../src/service/status-poller.js";
import type { CircuitStore, CircuitView, ListQuery } from "../../src/store/store.js";
import { openRedisStore, useRedisServer } from "../support/redis-store-fixture.js";

const redis = useRedisServer();
const HOUR = 3_600_000;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function call(store: CircuitStore, name: string, outcome: "SUCCESS" | "FAILURE"): Promise<void> {
  const d = await store.acquire(name);
  expect(d.allowed).toBe(true);
  await store.report(name, { permit: d.permit!, outcome, durationMs: 1, retryAfterMs: 0 });
}

describe("StatusPoller on the Redis store", () => {
  it("lists once per round for 20 streams, and gives each exactly the circuit that changed", async () => {
    const opened = await openRedisStore(redis());
    cleanups.push(() => opened.close());
    const store = opened.store;
    for (const name of ["dash.a", "dash.b", "dash.c"]) await call(store, name, "SUCCESS");
    const lists: string[] = [];
    const gets: string[] = [];
    const counted: CircuitStore = Object.create(store) as CircuitStore;
    counted.list = (query: ListQuery) => {
      lists.push(query.prefix ?? "");
      return store.list(query);
    };
    counted.get = (name: string) => {
      gets.push(name);
      return store.get(name);
    };
    let t = 0;
    const p = new StatusPoller(counted, { maxBacklog: 10_000, now: () => t });
    const streams = Array.from({ length: 20 }, () => {
      const got: CircuitView[] = [];
      const s: StatusStreamHooks & { got: CircuitView[]; sub?: StatusSubscription } = {
        got,
        live: () => true,
        unread: () => 0,
        send: (view) => {
          got.push(view);
          s.sub!.taken();
        },
      };
      s.sub = p.subscribe({ circuits: [], prefix: "dash." }, HOUR, s);
      cleanups.push(() => p.unsubscribe(s.sub!));
      return s;
    });

    t += HOUR;
    await p.round();
    expect(lists).toEqual(["dash."]);
    expect(streams.map((s) => s.got.map((v) => v.circuit))).toEqual(streams.map(() => ["dash.a", "dash.b", "dash.c"]));

    await call(store, "dash.b", "SUCCESS");
    t += HOUR;
    await p.round();
    expect([lists, gets]).toEqual([["dash.", "dash."], []]);
    expect(streams.map((s) => s.got.slice(3).map((v) => `${v.circuit}:${v.stats.totalSuccesses}`))).toEqual(streams.map(() => ["dash.b:2"]));
  });
});
