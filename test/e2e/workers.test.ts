/**
 * BREAKERBOX_WORKERS=2 with real processes (node dist/src/main.js: a primary
 * and two forked workers) on a real redis-server: connections land on both
 * workers, the circuits are one state machine (Redis), /metrics sums the
 * workers, a killed worker is replaced, SIGTERM stops everything; and the
 * memory store is refused. Each gRPC client below is its own connection,
 * which the primary hands to the workers in turn.
 */
import { once } from "node:events";
import net from "node:net";
import * as grpc from "@grpc/grpc-js";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { afterAll, describe, expect, it } from "vitest";
import { DenyReason, Outcome, State } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { createCircuitClient, type CircuitClient } from "../support/grpc-client.js";
import { useRedis } from "../support/process-fixtures.js";
import { spawnMain, startReplica, stopReplicas, waitFor, type Replica } from "../support/replicas.js";
import { sampleValue, samplesOf, scrape } from "../metrics/exposition.js";

const redis = useRedis();
const clients: CircuitClient[] = [];

afterAll(async () => {
  for (const c of clients) c.close();
  await stopReplicas();
});

/** A new connection to the server: grpc-js shares one between clients of an address unless told not to. */
function connection(replica: Replica): CircuitClient {
  const c = createCircuitClient(replica.grpc, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 });
  clients.push(c);
  return c;
}

/** The worker pids in /metrics (breakerbox_worker_rpcs_total{pid}) with what each served. */
async function workerRpcs(replica: Replica): Promise<Map<number, number>> {
  const e = await scrape(replica.http);
  return new Map(samplesOf(e, "breakerbox_worker_rpcs_total").map((s) => [Number(s.labels["pid"]), s.value]));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function startWorkers(): Promise<Replica> {
  const replica = await startReplica({ REDIS_URL: redis.url, BREAKERBOX_WORKERS: "2" });
  // Listening comes before each worker reaches Redis: wait until a call on fresh connections succeeds.
  await waitFor(
    "both workers to reach Redis",
    async () => {
      const probes = await Promise.allSettled([0, 1, 2, 3].map(() => connection(replica).call("acquire", { circuit: "wk.probe" })));
      return probes.every((p) => p.status === "fulfilled");
    },
    { timeoutMs: 20_000, intervalMs: 100 },
  );
  return replica;
}

describe("BREAKERBOX_WORKERS=2 on Redis", () => {
  let server: Replica;

  it("logs one listening line with the ports, and spreads connections over two worker pids whose counts /metrics sums exactly", async () => {
    server = await startWorkers();
    const listening = server.logs().filter((l) => l.msg === "breakerbox listening");
    expect(listening).toHaveLength(1);
    expect(listening[0]).toMatchObject({ store: "redis", workers: 2 });
    const before = await workerRpcs(server);

    const conns = Array.from({ length: 8 }, () => connection(server));
    const perConnection = 5;
    await Promise.all(
      conns.map(async (c) => {
        for (let i = 0; i < perConnection; i++) {
          const a = await c.call("acquire", { circuit: "wk.spread" });
          expect(a.allowed).toBe(true);
          await c.call("report", { circuit: "wk.spread", permit: a.permit, outcome: Outcome.SUCCESS, duration: durationFromMs(1) });
        }
      }),
    );
    const calls = conns.length * perConnection;

    const e = await scrape(server.http);
    expect(sampleValue(e, "breakerbox_calls_total", { circuit: "wk.spread", outcome: "SUCCESS" })).toBe(calls);
    const after = new Map(samplesOf(e, "breakerbox_worker_rpcs_total").map((s) => [Number(s.labels["pid"]), s.value]));
    expect(after.size).toBe(2);
    const pids = [...after.keys()];
    expect(pids).not.toContain(server.child.pid);
    // Each worker answered some of the Acquires and Reports; together exactly all of them.
    const served = pids.map((pid) => (after.get(pid) ?? 0) - (before.get(pid) ?? 0));
    for (const n of served) expect(n).toBeGreaterThan(0);
    expect(served[0]! + served[1]!).toBe(2 * calls);
  }, 60_000);

  it("is one state machine: failures reported through several connections trip the circuit exactly once, seen OPEN on both workers", async () => {
    const c = "wk.trip";
    await connection(server).call("configure", {
      target: { case: "circuit", value: c },
      config: { failureThreshold: 3, openDuration: durationFromMs(60_000) },
    });
    const conns = [connection(server), connection(server), connection(server)];
    const permits = await Promise.all(conns.map((conn) => conn.call("acquire", { circuit: c })));
    for (const p of permits) expect(p.allowed).toBe(true);
    await Promise.all(conns.map((conn, i) => conn.call("report", { circuit: c, permit: permits[i]!.permit, outcome: Outcome.FAILURE, duration: durationFromMs(1) })));

    // Fresh connections, so both workers answer: every one says OPEN.
    for (let i = 0; i < 4; i++) {
      const a = await connection(server).call("acquire", { circuit: c });
      expect({ allowed: a.allowed, state: a.state, reason: a.reason }).toEqual({ allowed: false, state: State.OPEN, reason: DenyReason.OPEN });
    }
    const e = await scrape(server.http);
    expect(sampleValue(e, "breakerbox_transitions_total", { circuit: c, from: "CLOSED", to: "OPEN" })).toBe(1);
    expect(sampleValue(e, "breakerbox_calls_total", { circuit: c, outcome: "FAILURE" })).toBe(3);
    expect(sampleValue(e, "breakerbox_circuit_state", { circuit: c, state: "OPEN" })).toBe(1);
    expect(sampleValue(e, "breakerbox_circuit_state", { circuit: c, state: "CLOSED" })).toBe(0);
  }, 60_000);

  it("shows a circuit's failure rate once, taken from one worker (each reads it from Redis), not summed over them", async () => {
    const c = "wk.rate";
    // Fresh connections, so both workers serve some of the calls and give the circuit its label.
    for (const outcome of [Outcome.FAILURE, Outcome.SUCCESS, Outcome.FAILURE, Outcome.SUCCESS]) {
      const conn = connection(server);
      const a = await conn.call("acquire", { circuit: c });
      await conn.call("report", { circuit: c, permit: a.permit, outcome, duration: durationFromMs(1) });
    }
    // Each worker refreshes the rate at most once a second: wait for the scrape that has it.
    let last: number | undefined;
    await waitFor(
      `${c}'s failure rate to read 0.5`,
      async () => (last = sampleValue(await scrape(server.http), "breakerbox_circuit_failure_rate", { circuit: c })) === 0.5,
      { timeoutMs: 15_000, intervalMs: 100, describe: () => String(last) },
    );
  }, 60_000);

  it("replaces a worker killed with SIGKILL, and keeps serving", async () => {
    const pids = [...(await workerRpcs(server)).keys()];
    expect(pids).toHaveLength(2);
    const [victim, survivor] = pids as [number, number];
    process.kill(victim, "SIGKILL");

    const replaced = await waitFor(
      "the primary to fork a replacement",
      async () => {
        const now = [...(await workerRpcs(server)).keys()];
        return now.length === 2 && now.includes(survivor) && !now.includes(victim) ? now : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    expect(alive(victim)).toBe(false);
    const died = server.logs().filter((l) => l.msg?.startsWith("worker exited unexpectedly"));
    expect(died).toHaveLength(1);
    expect(died[0]).toMatchObject({ level: "error", pid: victim, signal: "SIGKILL" });

    // The new worker serves too (once it reaches Redis): fresh connections all succeed.
    const fresh = replaced.find((p) => p !== survivor)!;
    await waitFor(
      "calls on fresh connections to succeed",
      async () => {
        const r = await Promise.allSettled([0, 1, 2, 3].map(() => connection(server).call("acquire", { circuit: "wk.after-kill" })));
        return r.every((x) => x.status === "fulfilled" && x.value.allowed);
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    expect((await workerRpcs(server)).get(fresh)).toBeGreaterThan(0);
  }, 60_000);

  it("stops the primary and every worker on SIGTERM, within the grace, exit code 0", async () => {
    const pids = [...(await workerRpcs(server)).keys()];
    const { code, signal } = await server.stop(10_000); // SIGKILL only past 10 s: the grace is 5 s
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    for (const pid of pids) expect(alive(pid), `worker ${pid} still running`).toBe(false);
    const msgs = server.logs().map((l) => l.msg);
    expect(msgs.filter((m) => m === "stopped")).toHaveLength(3); // two workers, then the primary
    expect(msgs.at(-1)).toBe("stopped");
    // Nothing went wrong but the one kill the test made.
    expect(server.problems().filter((p) => !p.includes("worker exited unexpectedly"))).toEqual([]);
  }, 30_000);
});

describe("BREAKERBOX_WORKERS=2 when a worker cannot start", () => {
  it("exits 1 with one fatal line instead of restarting workers that fail the same way", async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const child = spawnMain({ REDIS_URL: redis.url, BREAKERBOX_WORKERS: "2", BREAKERBOX_GRPC_PORT: String(port) });
      let stdout = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
      const [code] = (await once(child, "exit")) as [number];
      expect(code).toBe(1);
      const msgs = stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => (JSON.parse(l) as { level: string; msg: string }));
      expect(msgs.filter((m) => m.level === "fatal").map((m) => m.msg)).toEqual(["a worker exited before all were listening; stopping"]);
      expect(msgs.map((m) => m.msg)).not.toContain("breakerbox listening");
    } finally {
      taken.close();
    }
  }, 30_000);
});

describe("BREAKERBOX_WORKERS with the memory store", () => {
  it("refuses to start, naming the variable and why", async () => {
    const child = spawnMain({ BREAKERBOX_WORKERS: "2" });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
    const [code] = (await once(child, "exit")) as [number];
    expect(code).toBe(2);
    expect(stderr).toContain(
      "BREAKERBOX_WORKERS: 2 workers need the Redis store (set REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES): with the memory store each worker would hold its own circuits",
    );
  });
});
