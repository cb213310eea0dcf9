#!/usr/bin/env node
// Breakerbox benchmark: starts bench/server.mjs (Breakerbox on the memory
// store, or with --store redis on a redis-server of its own, plus the no-op
// service on the same grpc-js stack; --replicas N such servers), builds and
// runs the Go load generator (bench/loadgen) once per scenario against it/them,
// prints a table with every scenario's rate as a percentage of the no-op
// ceiling (and, on Redis, redis-benchmark's EVALSHA ceiling of the same run),
// writes bench/results/<timestamp>.json, and stops everything it started.
//
//   npm run bench                       # build dist/, then this with defaults
//   npm run bench -- --duration 20 --rounds 3
//   npm run bench -- --store redis --replicas 3
//   node bench/run.mjs --help
//
// Needs dist/ (npm run build; the npm script does it) and Go on PATH; with
// --store redis also redis-server, redis-cli and redis-benchmark.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import net from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const repoDir = path.dirname(benchDir);

const ALL_SCENARIOS = ["noop", "noop-async", "noop-acquire-reply", "acquire", "report", "acquire+report"];
const DEFAULT_SCENARIOS = "noop,acquire,report,acquire+report,noop-async,noop";

const USAGE = `usage: node bench/run.mjs [options]

  --scenarios LIST   comma-separated, run in this order (default ${DEFAULT_SCENARIOS})
                     noop            Noop/Ping: the grpc-js stack's ceiling (sync handler)
                     noop-async      Noop/PingAsync: same, async handler (one promise hop)
                     noop-acquire-reply
                                     Noop/PingAcquireReply: sync, answers the AcquireResponse an
                                     allowed Acquire answers (reply cost without service/store/engine)
                     acquire         CircuitService/Acquire over --circuits CLOSED circuits
                     report          CircuitService/Report SUCCESS, a fresh permit each
                                     (permits acquired before the warm-up)
                     acquire+report  one op = Acquire then Report of its permit (2 RPCs)
  --rounds N         repeat the scenario list N times on the same server; the
                     table shows medians (default 2)
  --duration S       measured seconds per scenario (default 5)
  --warmup S         warm-up seconds per scenario, not measured (default 2)
  --retries N        measure a scenario again, up to N times, when other
                     processes used more than --max-other cores meanwhile;
                     the least disturbed run counts (default 2)
  --max-other X      cores other processes may use during a run (default 0.1)
  --conns C          HTTP/2 connections (default 4)
  --workers N        closed-loop workers per connection; C×N calls in flight (default 16)
  --circuits K       distinct circuit names (default 100)
  --store S          memory (default) or redis: starts its own redis-server on a
                     free port (--save "" --appendonly no), gives the server(s)
                     REDIS_URL, measures redis-benchmark's EVALSHA ceiling
                     (a trivial script) on it, and stops it at the end
  --replicas N       N server processes (on the same Redis with --store redis);
                     the load generator's connections go round-robin over them
                     (default 1; --conns should be a multiple of N)
  --evalsha-requests N
                     requests for the redis-benchmark ceiling (default 200000)
  --no-pin           do not pin the server to CPU 0 and the load generator (and
                     redis-server) to CPU 1; with --replicas > 1 nothing is pinned
  --cpu-prof         run the server under node --cpu-prof; the profile goes to
                     bench/results/<timestamp>-prof/ and its summary is printed
  --node-args ARGS   extra node options for the server, space-separated, e.g.
                     --node-args=--max-semi-space-size=64
  --h2load           also measure Noop/Ping with h2load (nghttp2-client), as a
                     cross-check of the Go load generator
  --help`;

function parseOptions() {
  const { values } = parseArgs({
    options: {
      scenarios: { type: "string", default: DEFAULT_SCENARIOS },
      rounds: { type: "string", default: "2" },
      duration: { type: "string", default: "5" },
      warmup: { type: "string", default: "2" },
      retries: { type: "string", default: "2" },
      "max-other": { type: "string", default: "0.1" },
      conns: { type: "string", default: "4" },
      workers: { type: "string", default: "16" },
      circuits: { type: "string", default: "100" },
      store: { type: "string", default: "memory" },
      replicas: { type: "string", default: "1" },
      "evalsha-requests": { type: "string", default: "200000" },
      "no-pin": { type: "boolean", default: false },
      "cpu-prof": { type: "boolean", default: false },
      h2load: { type: "boolean", default: false },
      "node-args": { type: "string", default: "" },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const num = (name, min) => {
    const v = Number(values[name]);
    if (!Number.isFinite(v) || v < min) fail(`--${name} must be a number >= ${min}, got ${values[name]}`);
    return v;
  };
  const scenarios = values.scenarios.split(",").map((s) => s.trim()).filter(Boolean);
  for (const s of scenarios) {
    if (!ALL_SCENARIOS.includes(s)) fail(`unknown scenario ${JSON.stringify(s)}; known: ${ALL_SCENARIOS.join(", ")}`);
  }
  if (values.store !== "memory" && values.store !== "redis") fail(`--store must be memory or redis, got ${values.store}`);
  return {
    scenarios,
    store: values.store,
    replicas: Math.floor(num("replicas", 1)),
    evalshaRequests: Math.floor(num("evalsha-requests", 1)),
    rounds: Math.floor(num("rounds", 1)),
    retries: Math.floor(num("retries", 0)),
    maxOther: num("max-other", 0),
    duration: num("duration", 0.1),
    warmup: num("warmup", 0),
    conns: Math.floor(num("conns", 1)),
    workers: Math.floor(num("workers", 1)),
    circuits: Math.floor(num("circuits", 1)),
    // Several replicas on 2 cores: no layout is fair, let the scheduler share.
    pin: !values["no-pin"] && Math.floor(Number(values.replicas)) === 1,
    cpuProf: values["cpu-prof"],
    h2load: values.h2load,
    nodeArgs: values["node-args"].split(/\s+/).filter(Boolean),
  };
}

function fail(message) {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

function log(message) {
  process.stderr.write(`${message}\n`);
}

function which(cmd) {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).stdout.trim() || undefined;
}

/** `taskset -c CPU` prefix when pinning is on and possible. */
function pinned(opts, cpu, argv) {
  if (!opts.pin || os.availableParallelism() < 2 || which("taskset") === undefined) return argv;
  return ["taskset", "-c", String(cpu), ...argv];
}

function machineInfo() {
  let cpuModel = os.cpus()[0]?.model ?? "unknown";
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m) cpuModel = m[1].trim();
  } catch {}
  const goVersion = spawnSync("go", ["version"], { encoding: "utf8" }).stdout?.trim();
  const git = (args) => spawnSync("git", args, { cwd: repoDir, encoding: "utf8" }).stdout?.trim();
  const pkg = (name) => {
    try {
      return JSON.parse(readFileSync(path.join(repoDir, "node_modules", name, "package.json"), "utf8")).version;
    } catch {
      return undefined;
    }
  };
  return {
    nproc: os.availableParallelism(),
    cpuModel,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.version,
    go: goVersion,
    grpcJs: pkg("@grpc/grpc-js"),
    protobufEs: pkg("@bufbuild/protobuf"),
    commit: git(["rev-parse", "--short", "HEAD"]),
    dirty: (git(["status", "--porcelain", "--", "src", "gen"]) ?? "") !== "",
  };
}

/** Share of all CPUs busy over `ms`, from /proc/stat (Linux), or undefined. */
async function machineBusy(ms) {
  const read = () => {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = line[3] + (line[4] ?? 0);
    const total = line.reduce((a, b) => a + b, 0);
    return { idle, total };
  };
  try {
    const a = read();
    await new Promise((r) => setTimeout(r, ms));
    const b = read();
    return 1 - (b.idle - a.idle) / (b.total - a.total);
  } catch {
    return undefined;
  }
}

function buildLoadgen() {
  if (which("go") === undefined) fail("Go is not on PATH; the load generator (bench/loadgen) is written in Go");
  const out = path.join(benchDir, ".bin", "loadgen");
  const r = spawnSync("go", ["build", "-o", out, "."], {
    cwd: path.join(benchDir, "loadgen"),
    env: { ...process.env, CGO_ENABLED: "0" },
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (r.status !== 0) fail("go build of bench/loadgen failed");
  return out;
}

/** A free TCP port on 127.0.0.1 (bound, read, released). */
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

function redisCli(port, args) {
  return spawnSync("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], { encoding: "utf8" });
}

/**
 * Starts a throw-away redis-server (no persistence) on a free port, pinned
 * with the load generator to CPU 1 when pinning is on; resolves once it
 * answers PING.
 */
async function startRedis(opts) {
  for (const cmd of ["redis-server", "redis-cli", "redis-benchmark"]) {
    if (which(cmd) === undefined) fail(`${cmd} is not on PATH (apt-get install -y redis-server redis-tools)`);
  }
  const port = await freePort();
  const argv = pinned(opts, 1, ["redis-server", "--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no", "--protected-mode", "no"]);
  const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "ignore", "inherit"] });
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  let gone = false;
  exited.then(() => (gone = true));
  const until = Date.now() + 10_000;
  for (;;) {
    if (gone) throw new Error("redis-server exited at start");
    if (redisCli(port, ["ping"]).stdout?.trim() === "PONG") break;
    if (Date.now() > until) throw new Error("redis-server did not answer PING within 10 s");
    await new Promise((r) => setTimeout(r, 50));
  }
  const version = /redis_version:(\S+)/.exec(redisCli(port, ["info", "server"]).stdout ?? "")?.[1];
  return { child, exited, port, pid: child.pid, url: `redis://127.0.0.1:${port}`, version };
}

async function stopRedis(redis) {
  redis.child.kill("SIGTERM");
  const timer = setTimeout(() => redis.child.kill("SIGKILL"), 10_000);
  const r = await redis.exited;
  clearTimeout(timer);
  return r;
}

/**
 * redis-benchmark's EVALSHA ceiling: SCRIPT LOAD of `return 1`, then
 * EVALSHA <sha> 0 from 50 clients, no pipelining. Run while the Breakerbox
 * servers are idle; pinned to CPU 0 (the server's core) when pinning is on.
 */
function runEvalshaCeiling(opts, redis) {
  const sha = redisCli(redis.port, ["script", "load", "return 1"]).stdout?.trim();
  if (!/^[0-9a-f]{40}$/.test(sha ?? "")) throw new Error(`SCRIPT LOAD failed: ${sha}`);
  const args = ["-h", "127.0.0.1", "-p", String(redis.port), "-n", String(opts.evalshaRequests), "-c", "50", "-P", "1", "--csv", "EVALSHA", sha, "0"];
  const argv = pinned(opts, 0, ["redis-benchmark", ...args]);
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", maxBuffer: 16 << 20 });
  // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
  const row = (r.stdout ?? "").trim().split("\n").pop()?.split(",").map((c) => c.replace(/"/g, ""));
  const rps = Number(row?.[1]);
  if (r.status !== 0 || !Number.isFinite(rps) || rps <= 0) {
    log(`redis-benchmark failed (exit ${r.status}):\n${r.stdout ?? ""}${r.stderr ?? ""}`);
    return undefined;
  }
  return {
    scenario: "EVALSHA (redis-benchmark)",
    command: `redis-benchmark ${args.join(" ").replace(sha, "<sha of 'return 1'>")}`,
    rpc_per_s: rps,
    p50_ms: Number(row[4]),
    p99_ms: Number(row[6]),
  };
}

/** Starts bench/server.mjs; resolves once it prints its ports. */
function startServer(opts, profDir, storeEnv) {
  const nodeArgs = [...opts.nodeArgs];
  if (profDir !== undefined) nodeArgs.push("--cpu-prof", "--cpu-prof-dir", profDir);
  const argv = pinned(opts, 0, [process.execPath, ...nodeArgs, path.join(benchDir, "server.mjs")]);
  const env = { ...process.env, LOG_LEVEL: "silent", BREAKERBOX_GRPC_PORT: "0", BREAKERBOX_HTTP_PORT: "0" };
  // The store is the runner's choice, not the caller's environment's.
  for (const name of ["REDIS_URL", "REDIS_SENTINELS", "REDIS_CLUSTER_NODES"]) delete env[name];
  const child = spawn(argv[0], argv.slice(1), {
    cwd: repoDir,
    env: { ...env, ...storeEnv },
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    // The first line starting with {"ready" has the ports; anything else the
    // server prints (e.g. with --node-args=--trace-gc) goes to our stderr.
    const lines = createInterface({ input: child.stdout });
    let ready = false;
    lines.on("line", (line) => {
      if (!ready && line.startsWith('{"ready"')) {
        ready = true;
        resolve({ child, info: JSON.parse(line), exited });
      } else {
        process.stderr.write(`server: ${line}\n`);
      }
    });
    exited.then(({ code, signal }) => reject(new Error(`bench server exited before listening (code ${code}, signal ${signal})`)));
  });
}

async function stopServer(server) {
  server.child.kill("SIGTERM");
  const timer = setTimeout(() => server.child.kill("SIGKILL"), 15_000);
  const r = await server.exited;
  clearTimeout(timer);
  return r;
}

function runLoadgen(opts, loadgen, addr, serverPid, scenario, auxPid) {
  const args = [
    `-addr=${addr}`,
    `-scenario=${scenario}`,
    `-conns=${opts.conns}`,
    `-workers=${opts.workers}`,
    `-warmup=${opts.warmup}s`,
    `-duration=${opts.duration}s`,
    `-circuits=${opts.circuits}`,
    `-server-pid=${serverPid}`,
    ...(auxPid === undefined ? [] : [`-aux-pid=${auxPid}`]),
  ];
  const argv = pinned(opts, 1, [loadgen, ...args]);
  const r = spawnSync(argv[0], argv.slice(1), {
    env: { ...process.env, GOMAXPROCS: "1" },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) throw new Error(`loadgen ${scenario} failed (exit ${r.status})`);
  return JSON.parse(r.stdout.trim().split("\n").pop());
}

/** Noop/Ping with h2load: gRPC framing by hand (5-byte prefix + AcquireRequest). */
function runH2load(opts, addr, resultsDir) {
  const h2load = which("h2load");
  if (h2load === undefined) {
    log("h2load not found (apt-get install -y nghttp2-client); skipping the cross-check");
    return undefined;
  }
  const name = Buffer.from("bench.c000");
  const message = Buffer.concat([Buffer.from([0x0a, name.length]), name]); // AcquireRequest{circuit}
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  const body = path.join(resultsDir, "h2load-ping.bin");
  writeFileSync(body, frame);
  const args = [
    "-c", String(opts.conns),
    "-m", String(opts.workers),
    "-D", `${Math.round(opts.duration * 1000)}ms`,
    "--warm-up-time", `${Math.round(opts.warmup * 1000)}ms`,
    "-d", body,
    "-H", "content-type: application/grpc",
    "-H", "te: trailers",
    `http://${addr}/breakerbox.bench.v1.Noop/Ping`,
  ];
  const argv = pinned(opts, 1, [h2load, ...args]);
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", maxBuffer: 16 << 20 });
  const out = r.stdout ?? "";
  const finished = /finished in [\d.]+\w*, ([\d.]+) req\/s/.exec(out);
  const requests = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
  const reqTime = /time for request:\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)/.exec(out);
  if (r.status !== 0 || finished === null) {
    log(`h2load failed (exit ${r.status}):\n${out}${r.stderr ?? ""}`);
    return undefined;
  }
  return {
    scenario: "noop (h2load)",
    command: `h2load ${args.join(" ")}`,
    rpc_per_s: Number(finished[1]),
    done: requests ? Number(requests[3]) : undefined,
    succeeded: requests ? Number(requests[4]) : undefined,
    errors: requests ? Number(requests[5]) + Number(requests[6]) : undefined,
    mean: reqTime?.[3],
    max: reqTime?.[2],
  };
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function pad(text, width, left = false) {
  const t = String(text);
  return left ? t.padEnd(width) : t.padStart(width);
}

function fmtInt(x) {
  return Math.round(x).toLocaleString("en-US");
}

/** Server CPU per RPC in µs, or undefined without CPU figures. */
function usPerRpc(r) {
  return r.server_cpu && r.rpc_per_s ? (r.server_cpu / r.rpc_per_s) * 1e6 : undefined;
}

/**
 * Per scenario: medians over rounds, the range of RPC/s, and the share of the
 * no-op ceiling two ways, each taken against the noop runs of the same round
 * (so slow drifts of the machine cancel) and then the median over rounds:
 * - by rate: RPC/s ÷ noop RPC/s (the target's measure);
 * - by server CPU per RPC: noop µs/RPC ÷ this µs/RPC, which other processes
 *   on the machine disturb less.
 */
function summarize(results) {
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const refs = new Map(); // round -> { rpc, us }
  for (const round of new Set(results.map((r) => r.round))) {
    const noops = results.filter((r) => r.round === round && r.scenario === "noop");
    if (noops.length === 0) continue;
    const us = noops.map(usPerRpc).filter((x) => x !== undefined);
    refs.set(round, { rpc: mean(noops.map((r) => r.rpc_per_s)), us: us.length === 0 ? undefined : mean(us) });
  }
  const byScenario = new Map();
  for (const r of results) {
    if (!byScenario.has(r.scenario)) byScenario.set(r.scenario, []);
    byScenario.get(r.scenario).push(r);
  }
  const noop = byScenario.get("noop");
  const ceiling = noop === undefined ? undefined : median(noop.map((r) => r.rpc_per_s));
  const rows = [];
  for (const [scenario, runs] of byScenario) {
    const us = runs.map(usPerRpc).filter((x) => x !== undefined);
    const rate = [];
    const cpu = [];
    for (const r of runs) {
      const ref = refs.get(r.round);
      if (ref === undefined) continue;
      rate.push((100 * r.rpc_per_s) / ref.rpc);
      const u = usPerRpc(r);
      if (ref.us !== undefined && u !== undefined) cpu.push((100 * ref.us) / u);
    }
    rows.push({
      scenario,
      runs: runs.length,
      rpc_per_s: median(runs.map((r) => r.rpc_per_s)),
      rpc_per_s_min: Math.min(...runs.map((r) => r.rpc_per_s)),
      rpc_per_s_max: Math.max(...runs.map((r) => r.rpc_per_s)),
      ops_per_s: median(runs.map((r) => r.ops_per_s)),
      unit: runs[0].unit,
      p50_ms: median(runs.map((r) => r.p50_ms)),
      p90_ms: median(runs.map((r) => r.p90_ms)),
      p99_ms: median(runs.map((r) => r.p99_ms)),
      errors: runs.reduce((a, r) => a + r.errors, 0),
      server_cpu: median(runs.map((r) => r.server_cpu ?? 0)),
      aux_cpu: median(runs.map((r) => r.aux_cpu ?? 0)),
      loadgen_cpu: median(runs.map((r) => r.loadgen_cpu ?? 0)),
      other_cpu: Math.max(...runs.map((r) => r.other_cpu ?? 0)),
      server_us_per_rpc: us.length === 0 ? undefined : median(us),
      pct_of_noop: scenario === "noop" ? 100 : rate.length === 0 ? undefined : median(rate),
      pct_of_noop_cpu: scenario === "noop" ? 100 : cpu.length === 0 ? undefined : median(cpu),
    });
  }
  return { ceiling, rows };
}

const pctText = (x) => (x === undefined ? "" : `${x.toFixed(1)} %`);

function printTable(summary, h2, evalsha) {
  const head = ["scenario", "RPC/s", "ops/s", "p50 ms", "p90 ms", "p99 ms", "errors", "srv CPU", "srv µs/RPC", "redis CPU", "other CPU", "% noop", "% noop CPU"];
  const w = [25, 15, 7, 6, 6, 6, 6, 7, 10, 9, 9, 7, 10];
  const line = (cells) => cells.map((c, i) => pad(c, w[i], i === 0)).join("  ").trimEnd();
  const out = [line(head), line(w.map((n) => "-".repeat(n)))];
  for (const r of summary.rows) {
    const rate = r.runs > 1 ? `${fmtInt(r.rpc_per_s)} (${r.runs})` : fmtInt(r.rpc_per_s);
    out.push(
      line([
        r.scenario,
        rate,
        r.unit === "op" ? fmtInt(r.ops_per_s) : "",
        r.p50_ms.toFixed(2),
        r.p90_ms.toFixed(2),
        r.p99_ms.toFixed(2),
        r.errors,
        r.server_cpu ? r.server_cpu.toFixed(2) : "",
        r.server_us_per_rpc === undefined ? "" : r.server_us_per_rpc.toFixed(1),
        r.aux_cpu ? r.aux_cpu.toFixed(2) : "",
        r.other_cpu.toFixed(2),
        pctText(r.pct_of_noop),
        pctText(r.pct_of_noop_cpu),
      ]),
    );
    if (r.runs > 1) {
      out.push(line([`  range`, `${fmtInt(r.rpc_per_s_min)}–${fmtInt(r.rpc_per_s_max)}`]));
    }
  }
  if (h2 !== undefined) {
    const pct = summary.ceiling === undefined ? undefined : (100 * h2.rpc_per_s) / summary.ceiling;
    out.push(line([h2.scenario, fmtInt(h2.rpc_per_s), "", "", "", "", h2.errors ?? "", "", "", "", "", pctText(pct)]));
  }
  if (evalsha !== undefined) {
    const pct = summary.ceiling === undefined ? undefined : (100 * evalsha.rpc_per_s) / summary.ceiling;
    out.push(line([evalsha.scenario, fmtInt(evalsha.rpc_per_s), "", evalsha.p50_ms.toFixed(2), "", evalsha.p99_ms.toFixed(2), "", "", "", "", "", pctText(pct)]));
  }
  return out.join("\n");
}

async function main() {
  const opts = parseOptions();
  if (!existsSync(path.join(repoDir, "dist", "src", "app.js"))) {
    fail("dist/ is missing: run `npm run build` first (`npm run bench` does)");
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const resultsDir = path.join(benchDir, "results");
  mkdirSync(resultsDir, { recursive: true });
  const profDir = opts.cpuProf ? path.join(resultsDir, `${stamp}-prof`) : undefined;

  const machine = machineInfo();
  log(`bench: ${machine.nproc} CPUs (${machine.cpuModel}), node ${machine.node}, ${machine.go}`);
  const busy = await machineBusy(1000);
  if (busy !== undefined) {
    log(`bench: machine ${(busy * 100).toFixed(0)} % busy before starting`);
    if (busy > 0.1) log("bench: WARNING: other processes are using the CPU; numbers will be low and noisy");
  }

  log("bench: building the load generator");
  const loadgen = buildLoadgen();

  let redis;
  if (opts.store === "redis") {
    redis = await startRedis(opts);
    machine.redis = redis.version;
    log(`bench: redis-server ${redis.version} pid ${redis.pid} on port ${redis.port}${opts.pin ? " (CPU 1, with the load generator)" : ""}`);
  }
  const storeEnv = redis === undefined ? {} : { REDIS_URL: redis.url };

  const serverStartedAt = Date.now();
  const servers = [];
  try {
    for (let i = 0; i < opts.replicas; i++) servers.push(await startServer(opts, profDir, storeEnv));
  } catch (err) {
    for (const s of servers) await stopServer(s);
    if (redis !== undefined) await stopRedis(redis);
    throw err;
  }
  const server = servers[0];
  let firstWindowAt;
  const addr = servers.map((s) => `${s.info.host}:${s.info.grpcPort}`).join(",");
  const serverPids = servers.map((s) => s.info.pid).join(",");
  for (const s of servers) {
    if (s.info.store !== opts.store) log(`bench: WARNING: server pid ${s.info.pid} runs the ${s.info.store} store, not ${opts.store}`);
  }
  log(
    `bench: ${servers.length} server(s), ${opts.store} store, pid ${serverPids} on ${addr}` +
      (opts.pin ? " (server on CPU 0, load generator on CPU 1)" : " (not pinned)"),
  );
  if (opts.replicas > 1 && opts.conns % opts.replicas !== 0) {
    log(`bench: WARNING: ${opts.conns} connections do not divide evenly over ${opts.replicas} replicas`);
  }

  const results = [];
  let h2;
  let evalsha;
  let failure;
  try {
    for (let round = 1; round <= opts.rounds; round++) {
      for (const scenario of opts.scenarios) {
        log(`bench: round ${round}/${opts.rounds}: ${scenario} (${opts.warmup} s warm-up, ${opts.duration} s measured)`);
        firstWindowAt ??= Date.now() + opts.warmup * 1000;
        let r = runLoadgen(opts, loadgen, addr, serverPids, scenario, redis?.pid);
        // Other processes on a shared machine steal the server's core in
        // bursts: measure again, and keep the least disturbed run.
        for (let retry = 1; retry <= opts.retries && (r.other_cpu ?? 0) > opts.maxOther; retry++) {
          log(`bench:   disturbed (other processes used ${r.other_cpu} cores); measuring again (${retry}/${opts.retries})`);
          const again = runLoadgen(opts, loadgen, addr, serverPids, scenario, redis?.pid);
          again.retries = retry;
          if ((again.other_cpu ?? 0) < (r.other_cpu ?? 0)) r = again;
        }
        r.round = round;
        results.push(r);
        log(
          `bench:   ${fmtInt(r.rpc_per_s)} RPC/s, p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, errors ${r.errors}, ` +
            `server${servers.length > 1 ? "s" : ""} ${r.server_cpu} cores, ` +
            (redis === undefined ? "" : `redis ${r.aux_cpu ?? 0} cores, `) +
            `others ${r.other_cpu} cores` +
            (r.pool_size ? `, pool ${r.pool_size} permits filled in ${r.pool_fill_s} s` : "") +
            (r.pool_ran_dry ? `, POOL RAN DRY after ${r.measured_s} s` : ""),
        );
      }
    }
    if (opts.h2load) {
      log("bench: noop with h2load");
      h2 = runH2load(opts, `${server.info.host}:${server.info.grpcPort}`, resultsDir);
    }
    if (redis !== undefined) {
      log(`bench: EVALSHA ceiling with redis-benchmark (${opts.evalshaRequests} requests, 50 clients, servers idle)`);
      evalsha = runEvalshaCeiling(opts, redis);
      if (evalsha !== undefined) log(`bench:   ${fmtInt(evalsha.rpc_per_s)} EVALSHA/s, p50 ${evalsha.p50_ms} ms, p99 ${evalsha.p99_ms} ms`);
    }
  } catch (err) {
    failure = err;
  }
  const exits = [];
  for (const s of servers) exits.push(await stopServer(s));
  const exit = exits.length === 1 ? exits[0] : exits;
  const redisExit = redis === undefined ? undefined : await stopRedis(redis);
  if (failure !== undefined) throw failure;

  const summary = summarize(results);
  const command = `node bench/run.mjs ${process.argv.slice(2).join(" ")}`.trim();
  const file = path.join(resultsDir, `${stamp}.json`);
  writeFileSync(
    file,
    `${JSON.stringify({ at: new Date().toISOString(), command, options: opts, machine, busyBefore: busy, summary, h2load: h2, evalsha, results, serverExit: exit, redisExit }, null, 2)}\n`,
  );

  console.log("");
  console.log(printTable(summary, h2, evalsha));
  console.log("");
  console.log(
    `in flight: ${opts.conns} connections × ${opts.workers} workers = ${opts.conns * opts.workers}; ` +
      `${opts.warmup} s warm-up + ${opts.duration} s measured per scenario; ${opts.circuits} circuits; ` +
      `${opts.store} store, ${opts.replicas} server${opts.replicas > 1 ? "s" : ""}` +
      (opts.pin ? " (server on CPU 0, load generator" + (redis ? " and redis-server" : "") + " on CPU 1)" : " (not pinned)"),
  );
  console.log("RPC/s for acquire+report counts both RPCs (ops/s × 2); its latency is per op (Acquire then Report).");
  console.log(
    "srv CPU: cores the server(s) used in the measured window (summed over replicas; 1.00 = one core); srv µs/RPC: their CPU time per RPC;\n" +
      "redis CPU: cores redis-server used (not counted in other CPU);\n" +
      "other CPU: cores used by everything else on the machine (max over runs; above 0.10 the numbers are disturbed);\n" +
      "% noop: RPC/s ÷ the same round's noop RPC/s; % noop CPU: noop µs/RPC ÷ this µs/RPC; medians over rounds.\n" +
      "RPC/s (n): median of n runs; range: slowest–fastest run.",
  );
  const disturbed = summary.rows.filter((r) => r.other_cpu > 0.1);
  if (disturbed.length > 0) {
    console.log(
      `WARNING: other processes used up to ${Math.max(...disturbed.map((r) => r.other_cpu)).toFixed(2)} cores during ` +
        `${disturbed.map((r) => r.scenario).join(", ")}: those numbers are low and noisy; rerun on a quiet machine.`,
    );
  }
  if (summary.ceiling !== undefined) {
    for (const [scenario, name, goal] of [["acquire", "Acquire", 90], ["report", "Report", 70]]) {
      const row = summary.rows.find((r) => r.scenario === scenario);
      if (row === undefined || row.pct_of_noop === undefined) continue;
      const ok = row.pct_of_noop >= goal;
      console.log(
        `target: ${name} ≥ ${goal} % of noop RPC/s: ${row.pct_of_noop.toFixed(1)} % ${ok ? "(met)" : "(NOT met)"}` +
          (row.pct_of_noop_cpu === undefined ? "" : `; by server CPU per RPC: ${row.pct_of_noop_cpu.toFixed(1)} %`),
      );
    }
  }
  console.log(`results: ${path.relative(repoDir, file)}`);
  if (profDir !== undefined) {
    const skip = Math.max(0, Math.floor(((firstWindowAt ?? serverStartedAt) - serverStartedAt) / 1000));
    console.log(`cpu profile: ${path.relative(repoDir, profDir)}/`);
    console.log(`  summary from the first measured window on: node bench/profile.mjs ${path.relative(repoDir, profDir)} --skip ${skip}`);
  }
}

main().catch((err) => {
  process.stderr.write(`bench: ${err?.stack ?? err}\n`);
  process.exit(1);
});
