#!/usr/bin/env node
// Watch fan-out latency (issue 13, item 2): how long after a tripping
// Report's answer every watcher has the OPEN event.
//
// Starts a redis-server of its own (free port, no persistence), R replica
// processes (node dist/src/main.js with REDIS_URL; or one replica on the
// memory store with --memory), and K client processes (this file with
// --child) that open W/K Watch streams each over a few HTTP/2 connections,
// spread over the replicas. Once every stream has its snapshot_complete, the
// parent trips a circuit (Acquire, then Report FAILURE with a failure
// threshold of 1) per round and records, per watcher, the time from the
// Report's answer to the OPEN event's arrival (one host clock:
// performance.timeOrigin + performance.now() in every process). Prints
// p50/p99/max per round and over all rounds, how many watchers saw each
// event, and the CPU the replicas, Redis and the clients used in the round.
// Stops everything it started.
//
//   npm run build && npm exec -- node bench/watch-fanout.mjs                # 10,000 watchers, 4 clients, 2 replicas
//   npm exec -- node bench/watch-fanout.mjs --watchers 1000 --rounds 5
//   npm exec -- node bench/watch-fanout.mjs --filter distinct              # every stream its own filter (its own tokens)
//   npm exec -- node bench/watch-fanout.mjs --dist /work/main/dist         # another build (e.g. before a change)
//
// Needs dist/ and redis-server on PATH. Everything shares this machine's
// cores: read the CPU columns and the load average with the latencies.
import { fork, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync, readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startRedis } from "./processes.mjs";

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const repoDir = path.dirname(benchDir);
const now = () => performance.timeOrigin + performance.now();

const { values } = parseArgs({
  options: {
    watchers: { type: "string", default: "10000" },
    clients: { type: "string", default: "4" },
    conns: { type: "string", default: "4" }, // HTTP/2 connections per client process, spread over the replicas
    replicas: { type: "string", default: "2" },
    rounds: { type: "string", default: "5" },
    filter: { type: "string", default: "prefix" }, // prefix: one filter for all; distinct: each stream its own
    memory: { type: "boolean", default: false }, // one replica on the memory store (no Redis)
    dist: { type: "string", default: path.join(repoDir, "dist") },
    "node-args": { type: "string", default: "" }, // extra node options for the replicas, e.g. --node-args="--cpu-prof --cpu-prof-dir=/tmp/prof"
    batch: { type: "string", default: "250" }, // streams a client opens at once (the next batch once these have their snapshots)
    child: { type: "boolean", default: false },
  },
});

const PREFIX = "fanout.";
const roundCircuit = (r) => `${PREFIX}r${r}`;

if (values.child) await runChild();
else await runParent();

// ---- client process ---------------------------------------------------------

/** A client process: opens its streams when told, reports readiness and arrival times over IPC. */
async function runChild() {
  const grpc = await import("@grpc/grpc-js");
  const { create, fromBinary, toBinary } = await import("@bufbuild/protobuf");
  const pb = await import(path.join(repoDir, "dist/gen/ts/breakerbox/v1/breakerbox_pb.js"));
  const identity = (b) => b;
  /** Arrival time of each round's OPEN event, per stream. */
  const arrivals = new Map();
  const errors = [];
  let ready = 0;
  let received = 0;
  let retries = 0;
  process.on("message", (msg) => {
    if (msg.type === "open") open(msg);
    else if (msg.type === "collect") {
      const times = arrivals.get(msg.circuit) ?? [];
      process.send({ type: "arrivals", circuit: msg.circuit, times, errors: errors.splice(0), retries });
    } else if (msg.type === "cpu") process.send({ type: "cpu", cpu: process.cpuUsage() });
    else if (msg.type === "exit") process.exit(0);
  });
  process.send({ type: "started" });
  if (process.env.WATCH_FANOUT_DEBUG) setInterval(() => process.stderr.write(`client ${process.pid}: ${ready} ready, ${errors.length} errors (${errors[0] ?? ""}), ${retries} reopened after UNAVAILABLE, ${received} messages\n`), 5000).unref();

  /**
   * Opens the streams in batches of `batch`, each batch once the one before
   * has its snapshots: 10,000 snapshots at once on a small shared host make
   * the replicas' Redis reads time out. A stream refused UNAVAILABLE (Redis
   * too slow: the client is told to retry shortly) is opened again, as a
   * client would.
   */
  function open({ addrs, streams, conns, first, rounds, filter, batch }) {
    const clients = [];
    for (let c = 0; c < conns; c++) {
      // A local subchannel pool: each Client its own HTTP/2 connection.
      clients.push(new grpc.Client(addrs[c % addrs.length], grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 }));
    }
    const roundNames = Array.from({ length: rounds }, (_, r) => roundCircuit(r));
    let opened = 0;
    /** Streams of the current batch without their snapshot_complete yet. */
    let pending = 0;
    const openOne = (i) => {
      const n = first + i;
      const request = filter === "distinct" ? { circuits: [...roundNames, `${PREFIX}w${n}`] } : { prefix: PREFIX };
      const body = Buffer.from(toBinary(pb.WatchRequestSchema, create(pb.WatchRequestSchema, request)));
      const call = clients[i % conns].makeServerStreamRequest("/breakerbox.v1.CircuitService/Watch", identity, identity, body, new grpc.Metadata(), {});
      let complete = false;
      call.on("data", (raw) => {
        received += 1;
        const m = fromBinary(pb.WatchResponseSchema, raw);
        if (m.kind.case === "snapshotComplete") {
          complete = true;
          ready += 1;
          pending -= 1;
          if (ready === streams) process.send({ type: "ready" });
          else if (pending === 0) nextBatch();
        } else if (m.kind.case === "event" && m.kind.value.toState === pb.State.OPEN) {
          const at = now();
          let list = arrivals.get(m.kind.value.circuit);
          if (list === undefined) arrivals.set(m.kind.value.circuit, (list = []));
          list.push(at);
        }
      });
      call.on("error", (err) => {
        if (!complete && err.code === grpc.status.UNAVAILABLE) {
          retries += 1;
          setTimeout(() => openOne(i), 200);
        } else errors.push(`${err.code} ${err.details}`);
      });
    };
    const nextBatch = () => {
      const end = Math.min(streams, opened + batch);
      pending = end - opened;
      while (opened < end) openOne(opened++);
    };
    nextBatch();
  }
}

// ---- parent -----------------------------------------------------------------

function fail(msg) {
  process.stderr.write(`bench/watch-fanout: ${msg}\n`);
  process.exit(1);
}

/** Starts one replica; resolves with its addresses once it logs "breakerbox listening". */
async function startReplica(redisPort, watchers) {
  const nodeArgs = values["node-args"].split(" ").filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, path.join(values.dist, "src/main.js")], {
    env: {
      PATH: process.env.PATH ?? "",
      ...(redisPort === undefined ? {} : { REDIS_URL: `redis://127.0.0.1:${redisPort}` }),
      BREAKERBOX_GRPC_PORT: "0",
      BREAKERBOX_HTTP_PORT: "0",
      BREAKERBOX_MAX_WATCH_STREAMS: String(watchers + 10),
      CIRCUIT_BREAKER_FAILURE_THRESHOLD: "1",
      CIRCUIT_BREAKER_TIMEOUT_SECONDS: "3600",
      CIRCUIT_BREAKER_MAX_TIMEOUT_SECONDS: "7200",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  const info = await new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`replica exited (${code}) before listening`)));
    lines.on("line", (line) => {
      try {
        const l = JSON.parse(line);
        if (l.msg === "breakerbox listening") resolve(l);
      } catch {
        // not a log line
      }
    });
  });
  return { child, grpc: info.grpc, http: info.http };
}

async function waitReady(http) {
  for (let i = 0; i < 200; i++) {
    const status = await fetch(`http://${http}/readyz`).then((r) => r.status, () => 0);
    if (status === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  fail("replica not ready");
}

/** CPU seconds a process has run, all its threads (GC helpers too), from /proc/<pid>/task/<tid>/schedstat: ns, where stat has 10 ms ticks. */
function cpuSeconds(pid) {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        // the thread ended meanwhile
      }
    }
    return ns / 1e9;
  } catch {
    return NaN;
  }
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function runParent() {
  const watchers = Number(values.watchers);
  const clientCount = Number(values.clients);
  const rounds = Number(values.rounds);
  const replicaCount = values.memory ? 1 : Number(values.replicas);
  const grpc = await import("@grpc/grpc-js");
  const { create, fromBinary, toBinary } = await import("@bufbuild/protobuf");
  const pb = await import(path.join(repoDir, "dist/gen/ts/breakerbox/v1/breakerbox_pb.js"));

  const started = [];
  const stopAll = async () => {
    for (const p of started.reverse()) {
      if (p.exitCode !== null || p.signalCode !== null) continue;
      const exited = once(p, "exit");
      p.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    }
  };
  process.on("SIGINT", () => void stopAll().then(() => process.exit(130)));
  process.on("SIGTERM", () => void stopAll().then(() => process.exit(143)));
  // However the parent ends, nothing it started outlives it.
  process.on("exit", () => {
    for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  });
  try {
    const load = os.loadavg().map((x) => x.toFixed(2)).join(" ");
    process.stdout.write(
      `watch-fanout: ${watchers} watchers, ${clientCount} client processes × ${values.conns} connections, ${replicaCount} replica(s) on ${values.memory ? "the memory store" : "one Redis"}, filter ${values.filter}, dist ${values.dist}\n` +
        `host: ${os.cpus().length} cores, load average ${load} at start, ${new Date().toISOString()}, node ${process.version}\n`,
    );
    const redis = values.memory ? undefined : await startRedis();
    if (redis !== undefined) started.push(redis.child);
    const replicas = [];
    for (let r = 0; r < replicaCount; r++) {
      const replica = await startReplica(redis?.port, watchers);
      started.push(replica.child);
      replicas.push(replica);
    }
    await Promise.all(replicas.map((r) => waitReady(r.http)));

    // The circuits exist before the streams open (each stream's snapshot lists them).
    const client = new grpc.Client(replicas[0].grpc, grpc.credentials.createInsecure());
    const unary = (method, reqSchema, resSchema, request) =>
      new Promise((resolve, reject) =>
        client.makeUnaryRequest(
          `/breakerbox.v1.CircuitService/${method}`,
          (m) => Buffer.from(toBinary(reqSchema, m)),
          (b) => fromBinary(resSchema, b),
          create(reqSchema, request),
          new grpc.Metadata(),
          { deadline: Date.now() + 10_000 },
          (err, res) => (err ? reject(err) : resolve(res)),
        ),
      );
    for (let r = 0; r < rounds; r++) await unary("Acquire", pb.AcquireRequestSchema, pb.AcquireResponseSchema, { circuit: roundCircuit(r) });

    const children = [];
    const per = Math.ceil(watchers / clientCount);
    const openStart = now();
    for (let c = 0; c < clientCount; c++) {
      const streams = Math.min(per, watchers - c * per);
      if (streams <= 0) break;
      const child = fork(fileURLToPath(import.meta.url), ["--child"], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
      started.push(child);
      const [msg] = await once(child, "message");
      if (msg.type !== "started") fail("client did not start");
      // Each client's connections alternate over the replicas, offset per client.
      const addrs = replicas.map((_, i) => replicas[(i + c) % replicas.length].grpc);
      child.send({ type: "open", addrs, streams, conns: Number(values.conns), first: c * per, rounds, filter: values.filter, batch: Number(values.batch) });
      children.push({ child, streams });
    }
    const expect = (child, type) =>
      new Promise((resolve) => {
        const on = (msg) => {
          if (msg.type !== type) return;
          child.off("message", on);
          resolve(msg);
        };
        child.on("message", on);
      });
    await Promise.all(children.map((c) => expect(c.child, "ready")));
    process.stdout.write(`all ${watchers} streams have snapshot_complete after ${((now() - openStart) / 1000).toFixed(1)} s\n`);

    const serverPids = replicas.map((r) => r.child.pid);
    const all = [];
    const rows = [];
    for (let r = 0; r < rounds; r++) {
      await new Promise((res) => setTimeout(res, 500)); // let the previous round settle
      const circuit = roundCircuit(r);
      const serverCpu0 = serverPids.map(cpuSeconds);
      const redisCpu0 = redis === undefined ? 0 : cpuSeconds(redis.child.pid);
      const clientCpu0 = children.map((c) => cpuSeconds(c.child.pid));
      const { permit } = await unary("Acquire", pb.AcquireRequestSchema, pb.AcquireResponseSchema, { circuit });
      const sentAt = now();
      const ack = await unary("Report", pb.ReportRequestSchema, pb.ReportResponseSchema, { circuit, permit, outcome: pb.Outcome.FAILURE });
      const answeredAt = now();
      if (ack.state !== pb.State.OPEN) fail(`round ${r}: Report left ${circuit} in state ${pb.State[ack.state]}, not OPEN`);
      // Wait until every watcher has it (or 10 s), asking the clients.
      let results;
      const deadline = answeredAt + 10_000;
      for (;;) {
        await new Promise((res) => setTimeout(res, 100));
        results = await Promise.all(children.map((c) => (c.child.send({ type: "collect", circuit }), expect(c.child, "arrivals"))));
        const seen = results.reduce((n, x) => n + x.times.length, 0);
        if (seen >= watchers || now() > deadline) break;
      }
      const serverCpu = serverPids.map((pid, i) => cpuSeconds(pid) - serverCpu0[i]);
      const redisCpu = redis === undefined ? 0 : cpuSeconds(redis.child.pid) - redisCpu0;
      const clientCpu = children.map((c, i) => cpuSeconds(c.child.pid) - clientCpu0[i]);
      const latencies = results.flatMap((x) => x.times.map((t) => t - answeredAt)).sort((a, b) => a - b);
      const errors = results.flatMap((x) => x.errors);
      all.push(...latencies);
      const fromSent = latencies.map((l) => l + (answeredAt - sentAt));
      rows.push({
        round: r,
        seen: latencies.length,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        max: latencies.at(-1) ?? NaN,
        reportMs: answeredAt - sentAt,
        p99Sent: percentile(fromSent, 99),
        serverCpu: serverCpu.map((s) => s.toFixed(3)).join("+"),
        redisCpu: redisCpu.toFixed(3),
        clientCpu: clientCpu.reduce((a, b) => a + b, 0).toFixed(3),
        errors: errors.length === 0 ? "" : `${errors.length} errors, e.g. ${errors[0]}`,
      });
    }
    client.close();
    process.stdout.write("\n(ms from the Report's answer; Report ms: its round trip; p99 sent: from the Report's sending)\nround  saw event        p50 ms   p99 ms   max ms  Report ms  p99 sent   replica CPU s   redis CPU s   client CPU s (all)\n");
    for (const row of rows) {
      process.stdout.write(
        `${String(row.round).padStart(5)}  ${`${row.seen}/${watchers}`.padEnd(13)} ${row.p50.toFixed(1).padStart(8)} ${row.p99.toFixed(1).padStart(8)} ${row.max.toFixed(1).padStart(8)} ${row.reportMs.toFixed(1).padStart(10)} ${row.p99Sent.toFixed(1).padStart(9)}   ${row.serverCpu.padStart(13)}   ${row.redisCpu.padStart(11)}   ${row.clientCpu.padStart(12)}  ${row.errors}\n`,
      );
    }
    all.sort((a, b) => a - b);
    const roundP99 = rows.map((r) => r.p99).sort((a, b) => a - b);
    process.stdout.write(
      `all rounds: ${all.length}/${watchers * rounds} arrivals, p50 ${percentile(all, 50).toFixed(1)} ms, p99 ${percentile(all, 99).toFixed(1)} ms, max ${all.at(-1)?.toFixed(1)} ms; per-round p99 ${roundP99[0].toFixed(1)}–${roundP99.at(-1).toFixed(1)} ms\n` +
        `load average at end: ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}\n`,
    );
    for (const c of children) c.child.send({ type: "exit" });
  } finally {
    await stopAll();
  }
}
