/**
 * The hub's resume tokens over a scripted store: tokens wrap the store's
 * positions and are bound to the filter, and a heartbeat's token (the
 * store's whole-log position for the watcher) is never sent while a matching
 * entry is still queued for the reader.
 */
import { describe, expect, it } from "vitest";
import { WatchHub, type WatchMessage } from "../../src/service/watch-hub.js";
import { decodeWatchToken, encodeWatchToken } from "../../src/service/watch-token.js";
import { ResumeTokenError, type CircuitStore, type WatchFilter, type WatchItem } from "../../src/store/store.js";

const FILTER: WatchFilter = { circuits: ["b", "a"], prefix: "p." };

/** A store whose single watch the test drives: `emit` hands an item to the hub, `position` is what the subscription reports. */
function scriptedStore() {
  const state = { sink: undefined as ((item: WatchItem) => void) | undefined, position: "0-0", resumedFrom: undefined as string | undefined };
  const store = {
    async watch(_filter: WatchFilter, resumeToken: string | undefined, sink: (item: WatchItem) => void) {
      state.sink = sink;
      state.resumedFrom = resumeToken;
      return { close: () => undefined, position: () => state.position };
    },
  } as unknown as CircuitStore;
  return { store, state };
}

function event(circuit: string, eventId: string): WatchItem {
  return { kind: "event", event: { circuit, from: "CLOSED", to: "OPEN", at: 0, reason: "consecutive_failures", generation: 1, eventId, stats: {} as never } };
}

describe("WatchHub resume tokens", () => {
  it("never sends a heartbeat while an entry is queued: the heartbeat's position is reached only after the reader took the entry", async () => {
    const { store, state } = scriptedStore();
    const hub = new WatchHub(store, { heartbeatMs: 20 });
    const controller = new AbortController();
    const it = hub.open(FILTER, encodeWatchToken(FILTER, "1-0"), controller.signal)[Symbol.asyncIterator]();
    const first = it.next(); // starts the stream
    await new Promise((r) => setTimeout(r, 5));
    expect(state.resumedFrom).toBe("1-0");
    state.sink!(event("a", "5-0"));
    state.position = "5-0";
    const messages: WatchMessage[] = [(await first).value];
    // The store delivers another matching entry and moves the watcher's
    // position past entries of other circuits; the reader is slow to take it.
    state.sink!(event("b", "6-0"));
    state.position = "7-0";
    await new Promise((r) => setTimeout(r, 100)); // several heartbeat periods
    messages.push((await it.next()).value, (await it.next()).value);
    expect(messages.map((m) => [m.kind, decodeWatchToken(FILTER, m.resumeToken)])).toEqual([
      ["event", "5-0"],
      ["event", "6-0"],
      ["heartbeat", "7-0"],
    ]);
    controller.abort();
    hub.shutdown();
  });

  it("refuses another filter's token as mismatch and a raw position as malformed, before subscribing", async () => {
    const { store, state } = scriptedStore();
    const hub = new WatchHub(store, {});
    for (const [token, problem] of [
      [encodeWatchToken({ circuits: ["a"], prefix: "p." }, "1-0"), "mismatch"],
      ["1-0", "malformed"],
      ["", "malformed"],
    ] as const) {
      const err = await hub
        .open(FILTER, token, new AbortController().signal)
        [Symbol.asyncIterator]()
        .next()
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err, token).toBeInstanceOf(ResumeTokenError);
      expect((err as ResumeTokenError).problem).toBe(problem);
    }
    expect(state.sink).toBeUndefined();
    // Order and repeats of the names do not change the filter.
    expect(decodeWatchToken({ circuits: ["a", "b", "a"], prefix: "p." }, encodeWatchToken(FILTER, "9-1"))).toBe("9-1");
  });
});
