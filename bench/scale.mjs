// Breakerbox at fleet scale (issue 13, items 4 and 7): a Redis holding N idle
// circuits (default 1,000,000) made by the Redis store's own scripts, some
// OPEN, and a Breakerbox replica on it; prints each figure beside its target:
//   - ListCircuits(state=OPEN) p50/p99 over the gRPC API (target p99 <= 20 ms)
//   - a Watch snapshot of the prefix holding 100,000 circuits, circuits/s
//     over gRPC (target >= 20,000/s)
//   - Redis bytes per idle circuit, indexes included (target <= 512 B):
//     INFO used_memory delta / N, and MEMORY USAGE of each key kind
// then runs the fleet sub-benches when present, printing "not present" when a
// script is absent from this checkout: bench/redis-script-cost.mjs (Redis µs
// per Report script: the ceiling of Reports/s on one hot circuit, whose keys
// are on one shard), bench/hot-circuit.mjs (Reports end to end on 100
// circuits and on one hot circuit, beside item 1's targets) and
// bench/watch-fanout.mjs (10,000 watchers over 2 replicas).
//
// Usage (after `npm run build`; Node 24: `npm exec -- node bench/scale.mjs`):
//   node bench/scale.mjs [--circuits N] [--open K] [--list-calls C]
//        [--redis-port P --skip-build] [--keep-redis] [--no-subbenches]
//   --circuits N     circuits to build (default 1000000; e.g. 20000 for a CI-size run)
//   --open K         circuits tripped OPEN by real failures (default 1000, at most N)
//   --list-calls C   ListCircuits(state=OPEN) calls timed (default 200)
//   --redis-port P   use the redis-server already on 127.0.0.1:P (not started or stopped here)
//   --skip-build     with --redis-port: the circuits are there from an earlier --keep-redis run
//   --keep-redis     leave the redis-server this script started running (prints its port)
//   --no-subbenches  skip the sub-benches (below)
//   --watchers W     watchers for bench/watch-fanout.mjs (default 10000)
//   --cpu-prof DIR   run the replica with node --cpu-prof, writing its profile into DIR
// Names: "g<NN>.tool-<NNNNNNN>", 100,000 per group, so prefix "g00." holds
// min(N, 100,000) circuits: the Watch snapshot's prefix.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { fromBinary, toBinary, create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { Redis } from "ioredis";
import {
  CircuitService,
  ListCircuitsRequestSchema,
  ListCircuitsResponseSchema,
  State,
  WatchRequestSchema,
} from "../dist/gen/ts/breakerbox/v1/breakerbox_pb.js";
import { loadConfig } from "../dist/src/config/index.js";
import { connectRedis } from "../dist/src/store/redis/connection.js";
import { createRedisStore } from "../dist/src/store/redis/redis-store.js";

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const repoDir = path.resolve(benchDir, "..");

function parseArgs(argv) {
  const o = { circuits: 1_000_000, open: 1000, listCalls: 200, redisPort: undefined, skipBuild: false, keepRedis: false, subbenches: true, cpuProf: undefined, watchers: 10_000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) throw new Error(`${a} needs a whole number`);
      return v;
    };
    if (a === "--circuits") o.circuits = num();
    else if (a === "--open") o.open = num();
    else if (a === "--list-calls") o.listCalls = num();
    else if (a === "--redis-port") o.redisPort = num();
    else if (a === "--skip-build") o.skipBuild = true;
    else if (a === "--keep-redis") o.keepRedis = true;
    else if (a === "--no-subbenches") o.subbenches = false;
    else if (a === "--cpu-prof") o.cpuProf = argv[++i];
    else if (a === "--watchers") o.watchers = num();
    else throw new Error(`unknown argument ${a}`);
  }
  if (o.skipBuild && o.redisPort === undefined) throw new Error("--skip-build needs --redis-port (a redis-server kept by --keep-redis)");
  o.open = Math.min(o.open, o.circuits);
  return o;
}

const GROUP = 100_000;
const nameOf = (i) => `g${String(Math.floor(i / GROUP)).padStart(2, "0")}.tool-${String(i).padStart(7, "0")}`;
const log = (m) => process.stderr.write(`[scale] ${m}\n`);

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function startRedis() {
  const port = await freePort();
  const dir = await mkdtemp(path.join(tmpdir(), "bb-scale-"));
  const child = spawn("redis-server", ["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no", "--dir", dir], {
    stdio: ["ignore", "ignore", "inherit"],
    detached: false,
  });
  const until = Date.now() + 10_000;
  for (;;) {
    if (spawnSync("redis-cli", ["-p", String(port), "ping"], { encoding: "utf8" }).stdout?.trim() === "PONG") break;
    if (Date.now() > until) throw new Error("redis-server did not answer PING within 10 s");
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, port };
}

/** The environment the builder and the replica share: the same config, so the circuits are as the replica makes them. */
function envFor(opts, port) {
  const env = { ...process.env, LOG_LEVEL: "silent", BREAKERBOX_GRPC_PORT: "0", BREAKERBOX_HTTP_PORT: "0" };
  for (const k of ["REDIS_SENTINELS", "REDIS_CLUSTER_NODES"]) delete env[k];
  env.REDIS_URL = `redis://127.0.0.1:${port}`;
  env.BREAKERBOX_MAX_CIRCUITS = String(Math.max(1_000_000, opts.circuits) + 10_000);
  return env;
}

function storeOf(env) {
  const config = loadConfig(env);
  const clients = connectRedis(config.store.connection, { commandTimeoutMs: 60_000, onError: () => {} });
  const store = createRedisStore({
    layers: config.layers,
    circuits: config.circuits,
    idleTtlMs: config.idleTtlMs,
    maxCircuits: config.maxCircuits,
    eventLogSize: config.eventLogSize,
    historyLimit: config.historyLimit,
    ...clients,
    keyPrefix: config.store.keyPrefix,
    commandTimeoutMs: 60_000,
    announceRemovals: false,
  });
  return { store, clients, keyPrefix: config.store.keyPrefix };
}

/** Creates circuits [from, to) with Acquire (acquire.lua), `inFlight` at a time. */
async function build(store, from, to, inFlight = 1000) {
  let next = from;
  let done = 0;
  const t0 = performance.now();
  let lastLog = t0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= to) return;
      const d = await store.acquire(nameOf(i));
      if (!d.allowed) throw new Error(`Acquire of ${nameOf(i)} refused: ${JSON.stringify(d)}`);
      done++;
      if (performance.now() - lastLog > 10_000) {
        lastLog = performance.now();
        log(`built ${from + done} / ${to} (${Math.round(done / ((lastLog - t0) / 1000))}/s)`);
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return (performance.now() - t0) / 1000;
}

/** Trips `k` circuits spread over the name range OPEN by reporting failures until they open. */
async function tripOpen(store, n, k) {
  const names = Array.from({ length: k }, (_, j) => nameOf(Math.floor(((j + 0.5) * n) / k)));
  await Promise.all(
    names.map(async (name) => {
      for (let attempt = 0; attempt < 1000; attempt++) {
        const d = await store.acquire(name);
        if (!d.allowed) return;
        const ack = await store.report(name, { permit: d.permit, outcome: "FAILURE", durationMs: 5, retryAfterMs: 0 });
        if (ack.state === "OPEN") return;
      }
      throw new Error(`${name} did not open after 1000 failures`);
    }),
  );
  return names;
}

function startReplica(env, cpuProf) {
  const nodeArgs = cpuProf === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", cpuProf];
  const child = spawn(process.execPath, [...nodeArgs, path.join(benchDir, "server.mjs")], { cwd: repoDir, env, stdio: ["pipe", "pipe", "inherit"] });
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      if (line.startsWith('{"ready"')) resolve({ child, exited, info: JSON.parse(line) });
      else process.stderr.write(`server: ${line}\n`);
    });
    exited.then(({ code, signal }) => reject(new Error(`server exited before listening (code ${code}, signal ${signal})`)));
  });
}

const methodPath = (m) => `/${CircuitService.typeName}/${m.name}`;

function unary(client, method, reqSchema, resSchema, init) {
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(
      methodPath(method),
      (m) => Buffer.from(toBinary(reqSchema, m)),
      (b) => fromBinary(resSchema, b),
      create(reqSchema, init),
      (err, res) => (err ? reject(err) : resolve(res)),
    ),
  );
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

async function measureListOpen(client, calls, expectOpen) {
  const ms = [];
  let found = 0;
  for (let c = 0; c < calls; c++) {
    const t = performance.now();
    const res = await unary(client, CircuitService.method.listCircuits, ListCircuitsRequestSchema, ListCircuitsResponseSchema, { state: State.OPEN, pageSize: 100 });
    ms.push(performance.now() - t);
    found = res.circuits.length;
  }
  ms.sort((a, b) => a - b);
  return { p50: pct(ms, 50), p99: pct(ms, 99), found, expected: Math.min(100, expectOpen) };
}

/**
 * Opens Watch(prefix) over gRPC and times the snapshot, from the call to
 * snapshot_complete. The messages are not decoded, only told apart by their
 * first byte (the WatchResponse oneof's tag: 0x0a snapshot, field 1; 0x1a
 * snapshot_complete, field 3): the figure is the replica's, not this
 * process's protobuf decoding, which on this machine is as costly as the
 * replica's encoding.
 */
function measureSnapshot(client, prefix) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let first;
    let count = 0;
    const call = client.makeServerStreamRequest(
      methodPath(CircuitService.method.watch),
      (m) => Buffer.from(toBinary(WatchRequestSchema, m)),
      (b) => b,
      create(WatchRequestSchema, { prefix }),
    );
    call.on("data", (m) => {
      if (m[0] === 0x0a) {
        first ??= performance.now();
        count++;
      } else if (m[0] === 0x1a) {
        const end = performance.now();
        call.cancel();
        resolve({ count, seconds: (end - t0) / 1000, firstMessageMs: (first ?? end) - t0 });
      }
    });
    call.on("error", (e) => {
      if (e.code !== grpc.status.CANCELLED) reject(e);
    });
  });
}

async function memoryFigures(redis, keyPrefix, n, sample) {
  const info = await redis.info("memory");
  const used = Number(/used_memory:(\d+)/.exec(info)[1]);
  const per = {};
  for (const suffix of ["", ":p", ":r", ":h", ":x"]) {
    let bytes = 0;
    let present = 0;
    for (const i of sample) {
      const b = await redis.call("MEMORY", "USAGE", `${keyPrefix}{${nameOf(i)}}${suffix}`, "SAMPLES", "0");
      if (b !== null) {
        bytes += Number(b);
        present++;
      }
    }
    per[suffix === "" ? "hash" : suffix] = present === 0 ? "absent" : `${Math.round(bytes / present)} B (in ${present}/${sample.length})`;
  }
  let touched = 0;
  for (const k of ["names", "expiry", "touched", "OPEN"]) {
    const b = await redis.call("MEMORY", "USAGE", `${keyPrefix}idx:${k}`, "SAMPLES", "0");
    per[`idx:${k}`] = b === null ? "absent" : `${(Number(b) / 1048576).toFixed(1)} MiB total, ${(Number(b) / n).toFixed(0)} B/circuit`;
    if (k === "touched" && b !== null) touched = Number(b);
  }
  return { used, per, touched };
}

/**
 * Waits until the replica's start-up reads are over: its metrics tracker
 * snapshots every circuit (src/metrics/circuit-states.ts), which would
 * otherwise run under the measurements. Done when the breakerbox_circuit_state
 * gauge (one 1 per circuit the tracker knows, "_other" aggregated) adds up
 * to `n`; answers the seconds since `since`.
 */
async function synced(httpPort, n, since) {
  for (;;) {
    const text = await fetch(`http://127.0.0.1:${httpPort}/metrics`).then((r) => r.text(), () => "");
    let known = 0;
    for (const m of text.matchAll(/^breakerbox_circuit_state\{[^}]*\} (\S+)$/gm)) known += Number(m[1]);
    if (known >= n) return (performance.now() - since) / 1000;
    if (performance.now() - since > 30 * 60_000) throw new Error(`the replica knows ${known} of ${n} circuits after 30 minutes`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** CPU seconds (user + system) a process has used, from /proc (Linux). */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return Number.NaN;
  }
}

/** redis-server's CPU seconds (INFO cpu: used_cpu_user + used_cpu_sys). */
async function redisCpu(redis) {
  const info = await redis.info("cpu");
  return Number(/used_cpu_user:([\d.]+)/.exec(info)[1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)[1]);
}

/** Runs bench/<script> if this checkout has it; with `capture`, answers its stdout (also printed). */
function runSubbench(script, args, capture = false) {
  const file = path.join(benchDir, script);
  if (!existsSync(file)) {
    console.log(`${script.padEnd(44)} not present in this checkout`);
    return undefined;
  }
  log(`running ${script} ${args.join(" ")}`);
  const r = spawnSync(process.execPath, [file, ...args], {
    cwd: repoDir,
    stdio: ["ignore", capture ? "pipe" : "inherit", "inherit"],
    encoding: "utf8",
    timeout: 30 * 60_000,
  });
  if (capture) process.stdout.write(r.stdout ?? "");
  if (r.status !== 0) console.log(`${script.padEnd(44)} exited with ${r.status ?? r.signal}`);
  return r.stdout ?? undefined;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const started = new Date();
  let redisProc;
  let port = opts.redisPort;
  if (port === undefined) {
    redisProc = await startRedis();
    port = redisProc.port;
  }
  const env = envFor(opts, port);
  const redis = new Redis({ port });
  const version = /redis_version:(\S+)/.exec(await redis.info("server"))[1];
  log(`Node ${process.version}, redis-server ${version} on port ${port}, ${opts.circuits} circuits`);
  let replica;
  try {
    const usedBefore = Number(/used_memory:(\d+)/.exec(await redis.info("memory"))[1]);
    let buildSeconds;
    let openNames;
    const { store, clients, keyPrefix } = storeOf(env);
    // The store's connection queues nothing while it connects (enableOfflineQueue: false).
    if (clients.client.status !== "ready") await new Promise((resolve) => clients.client.once("ready", resolve));
    await store.start();
    if (!opts.skipBuild) {
      buildSeconds = await build(store, 0, opts.circuits);
      log(`built ${opts.circuits} circuits in ${buildSeconds.toFixed(1)} s`);
    }
    // Bytes per idle circuit: before any is tripped (an OPEN circuit holds its window and history).
    const sample = Array.from({ length: Math.min(200, opts.circuits) }, (_, j) => Math.floor(((j + 0.37) * opts.circuits) / Math.min(200, opts.circuits)));
    const mem = await memoryFigures(redis, keyPrefix, opts.circuits, sample);
    const perCircuit = opts.skipBuild ? undefined : (mem.used - usedBefore) / opts.circuits;

    const replicaStart = performance.now();
    replica = await startReplica(env, opts.cpuProf);
    const resyncSeconds = await synced(replica.info.httpPort, opts.circuits, replicaStart);
    log(`replica's start-up snapshot for the state gauge (every circuit) took ${resyncSeconds.toFixed(1)} s`);
    // Tripped now, through the builder (another replica, as in a fleet), so
    // they are still OPEN (open duration 60 s) while ListCircuits is timed;
    // with --skip-build this re-opens those that went HALF_OPEN since.
    const t = performance.now();
    openNames = await tripOpen(store, opts.circuits, opts.open);
    log(`tripped ${openNames.length} OPEN in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    await store.close();
    clients.client.disconnect();
    const addr = `127.0.0.1:${replica.info.grpcPort}`;
    const client = new grpc.Client(addr, grpc.credentials.createInsecure(), { "grpc.max_receive_message_length": 64 << 20 });
    // Warm-up: the replica's first calls load scripts and settings.
    await measureListOpen(client, 5, opts.open);
    const list = await measureListOpen(client, opts.listCalls, opts.open);
    const snapshotSize = Math.min(GROUP, opts.circuits);
    const cpuBefore = { replica: cpuSeconds(replica.child.pid), redis: await redisCpu(redis) };
    const snap = await measureSnapshot(client, "g00.");
    const snapCpu = { replica: cpuSeconds(replica.child.pid) - cpuBefore.replica, redis: (await redisCpu(redis)) - cpuBefore.redis };
    client.close();

    const row = (what, value, target, ok) => console.log(`${what.padEnd(44)} ${String(value).padEnd(30)} target ${target.padEnd(12)} ${ok === undefined ? "" : ok ? "ok" : "MISSED"}`);
    console.log(`\nBreakerbox scale bench: ${opts.circuits} circuits, ${opts.open} OPEN; Node ${process.version}; redis ${version}; started ${started.toISOString()}`);
    if (buildSeconds !== undefined) row("build (Acquire through acquire.lua, 1000 in flight)", `${buildSeconds.toFixed(1)} s (${Math.round(opts.circuits / buildSeconds)}/s)`, "-");
    row("replica start: metrics snapshot of every circuit", `${resyncSeconds.toFixed(1)} s (${Math.round(opts.circuits / resyncSeconds)}/s)`, "-");
    row("ListCircuits(state=OPEN, 100) p50", `${list.p50.toFixed(2)} ms`, "-");
    row("ListCircuits(state=OPEN, 100) p99", `${list.p99.toFixed(2)} ms (${list.found} returned)`, "<= 20 ms", list.p99 <= 20 && list.found === list.expected);
    const rate = snap.count / snap.seconds;
    row(`Watch snapshot of ${snapshotSize} (prefix g00.)`, `${Math.round(rate)} circuits/s (${snap.seconds.toFixed(2)} s)`, ">= 20000/s", rate >= 20_000 && snap.count === snapshotSize);
    row("  replica CPU per snapshot circuit", `${((snapCpu.replica * 1e6) / snap.count).toFixed(1)} µs (${Math.round(snap.count / snapCpu.replica)}/s per core)`, "-");
    row("  redis-server CPU per snapshot circuit", `${((snapCpu.redis * 1e6) / snap.count).toFixed(1)} µs (${Math.round(snap.count / snapCpu.redis)}/s per core)`, "-");
    if (perCircuit !== undefined) {
      row("Redis bytes per circuit just created (used_memory)", `${Math.round(perCircuit)} B`, "-");
      // idx:touched (the Watch status feed) names a circuit until 1 h 5 min after its last change,
      // when the feed's read trims it: an idle circuit has no entry there.
      const idle = perCircuit - mem.touched / opts.circuits;
      row("Redis bytes per idle circuit (no idx:touched entry)", `${Math.round(idle)} B`, "<= 512 B", idle <= 512);
    }
    for (const [k, v] of Object.entries(mem.per)) row(`  MEMORY USAGE ${k}`, v, "-");
    console.log(`  used_memory ${(mem.used / 1048576).toFixed(0)} MiB; keys ${await redis.dbsize()}`);

    if (opts.subbenches) {
      // Each on a redis-server of its own (these figures do not depend on the store's size).
      console.log("");
      const cost = runSubbench("redis-script-cost.mjs", ["20000", "2", String(await freePort())], true);
      const us = cost === undefined ? [] : [...cost.matchAll(/"reportScriptUsPerCall":([\d.]+)/g)].map((m) => Number(m[1]));
      if (us.length > 0) {
        const best = Math.min(...us);
        row("Report script, Redis µs per call (best round)", `${best} µs`, "-");
        row("  so Reports/s per shard per hot circuit", `at most ~${Math.round(1e6 / best)}/s`, "-");
      }
      runSubbench("hot-circuit.mjs", []);
      runSubbench("watch-fanout.mjs", ["--watchers", String(opts.watchers)]);
    }
  } finally {
    if (replica !== undefined) {
      replica.child.kill("SIGTERM");
      await replica.exited;
    }
    redis.disconnect();
    if (redisProc !== undefined) {
      if (opts.keepRedis) log(`redis-server left running on port ${port} (pid ${redisProc.child.pid}); reuse with --redis-port ${port} --skip-build`);
      else redisProc.child.kill("SIGKILL");
    }
  }
  if (opts.keepRedis && redisProc !== undefined) redisProc.child.unref();
}

await main();
