/**
 * watch({ statusIntervalMs }) against a real in-process Breakerbox (gRPC,
 * memory store, manual clock shared with the SDK). The status interval is
 * real time (1 s, the minimum); the test waits for updates, never for fixed
 * times. After each Report it reads exactly the updates that Report causes
 * before making the next, so a status round cannot fall between two Reports
 * and the sequence of updates is exact.
 */
import { describe, expect, it } from "vitest";
import type { WatchUpdate } from "@breakerbox/client";
import { nextWithin } from "../support/grpc-client.js";
import { useTestServer } from "../support/use-test-server.js";

const { server, sdk: bb } = useTestServer({
  env: { CIRCUIT_BREAKER_FAILURE_THRESHOLD: "2", CIRCUIT_BREAKER_TIMEOUT_SECONDS: "30" },
  sdk: true,
});

const boom = () => Promise.reject(new Error("boom"));

/** The parts of an update this test pins down (raw messages carry more). */
function summary(u: WatchUpdate): Record<string, unknown> {
  switch (u.type) {
    case "snapshot":
    case "status": {
      const s = u.raw.stats;
      return {
        type: u.type,
        circuit: u.circuit,
        state: u.state,
        generation: u.generation,
        since: u.since,
        openUntil: u.openUntil,
        calls: `${s?.totalSuccesses} ok, ${s?.totalFailures} failed, ${s?.consecutiveFailures} in a row`,
      };
    }
    case "transition":
      return { type: u.type, circuit: u.circuit, from: u.from, to: u.to, reason: u.reason, generation: u.generation, at: u.at, openUntil: u.openUntil };
    case "snapshot_complete":
      return { type: u.type };
    default:
      return { type: u.type };
  }
}

describe("watch statusIntervalMs", () => {
  it("yields the circuit's live status after each change, besides the transitions; without the option, no status", async () => {
    const c = "status.sdk";
    expect(await bb.run(c, async () => "ok")).toBe("ok"); // the circuit exists before the watch: one success
    expect(await bb.flush(5000)).toBe(true); // delivered before the snapshot reads it
    const t0 = server.clock.now();

    const live = bb.watch({ circuits: [c], statusIntervalMs: 1000 });
    const plain = bb.watch({ circuits: [c] });
    const seen: WatchUpdate[] = [];
    const next = async (what: string): Promise<void> => {
      seen.push(await nextWithin(live, 10_000, what));
    };
    const plainSeen: WatchUpdate[] = [];
    const nextPlain = async (what: string): Promise<void> => {
      plainSeen.push(await nextWithin(plain, 10_000, what));
    };
    try {
      await next("snapshot");
      await next("snapshot_complete");
      // A watch opens its stream on the first next(): read the plain one's snapshot now.
      await nextPlain("plain snapshot");
      await nextPlain("plain snapshot_complete");

      await expect(bb.run(c, boom)).rejects.toThrow("boom");
      await next("the status after the first failure");

      await expect(bb.run(c, boom)).rejects.toThrow("boom"); // the second in a row opens the circuit
      await next("the transition to OPEN");
      await next("the OPEN status");

      // Denied locally (the watch taught the SDK): nothing changes at the service, no status.
      await expect(bb.run(c, async () => "ok")).rejects.toMatchObject({ local: true, retryAfterMs: 30_000 });

      // No traffic: the status read itself turns the circuit HALF_OPEN once its open time is over.
      server.clock.advance(30_000);
      await next("the transition to HALF_OPEN");
      await next("the HALF_OPEN status");

      const closed = { circuit: c, state: "CLOSED", generation: 0, since: t0, openUntil: undefined };
      const opened = { circuit: c, state: "OPEN", generation: 1, since: t0, openUntil: t0 + 30_000 };
      const halfOpen = { circuit: c, state: "HALF_OPEN", generation: 2, since: t0 + 30_000, openUntil: undefined };
      expect(seen.map(summary)).toEqual([
        { type: "snapshot", ...closed, calls: "1 ok, 0 failed, 0 in a row" },
        { type: "snapshot_complete" },
        { type: "status", ...closed, calls: "1 ok, 1 failed, 1 in a row" },
        { type: "transition", circuit: c, from: "CLOSED", to: "OPEN", reason: "consecutive_failures", generation: 1, at: t0, openUntil: t0 + 30_000 },
        { type: "status", ...opened, calls: "1 ok, 2 failed, 2 in a row" },
        { type: "transition", circuit: c, from: "OPEN", to: "HALF_OPEN", reason: "open_duration_elapsed", generation: 2, at: t0 + 30_000, openUntil: undefined },
        { type: "status", ...halfOpen, calls: "1 ok, 2 failed, 2 in a row" }, // counters reset only when it closes,
      ]);

      // The same changes on a watch without statusIntervalMs: snapshot and transitions only.
      await nextPlain("plain transition to OPEN");
      await nextPlain("plain transition to HALF_OPEN");
      expect(plainSeen.map((u) => (u.type === "transition" ? `${u.type} ${u.from}->${u.to}` : u.type))).toEqual([
        "snapshot",
        "snapshot_complete",
        "transition CLOSED->OPEN",
        "transition OPEN->HALF_OPEN",
      ]);
    } finally {
      await live.return?.(undefined);
      await plain.return?.(undefined);
    }
  });

  it("refuses an interval under 1 s: the first next() throws INVALID_ARGUMENT naming status_interval", async () => {
    const it = bb.watch({ circuits: ["status.bad"], statusIntervalMs: 500 });
    await expect(it.next()).rejects.toMatchObject({
      name: "BreakerboxRpcError",
      codeName: "INVALID_ARGUMENT",
      details: "status_interval is 500 ms; use 0 (no status messages) or 1s to 3600s",
    });
  });
});
