#!/usr/bin/env node
// BREAKERBOX_WORKERS scaling on this host: for each worker count, starts a
// redis-server of its own (free port, no persistence) and the real server
// (node dist/src/main.js with REDIS_URL and BREAKERBOX_WORKERS=N), runs the Go
// load generator (bench/loadgen) against it for Acquire and Report, and
// prints the rates, the CPU each side used, and the scaling factor against
// the first count. Stops everything it started.
//
//   npm run build && node bench/workers.mjs                  # workers 1 and 2
//   node bench/workers.mjs --counts 1,2,4 --duration 10 --conns 8
//
// Needs dist/, Go and redis-server on PATH. The load generator, Redis and
// the workers share this machine's cores: read the CPU columns before
// reading the factor (see the printed load average).
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startRedis } from "./processes.mjs";

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const repoDir = path.dirname(benchDir);

const { values } = parseArgs({
  options: {
    counts: { type: "string", default: "1,2" },
    scenarios: { type: "string", default: "acquire,report" },
    duration: { type: "string", default: "5" },
    warmup: { type: "string", default: "2" },
    conns: { type: "string", default: "4" },
    workers: { type: "string", default: "16" },
    circuits: { type: "string", default: "100" },
    "loadgen-procs": { type: "string", default: "1" },
  },
});
const counts = values.counts.split(",").map(Number);
const scenarios = values.scenarios.split(",");

function fail(msg) {
  process.stderr.write(`bench/workers: ${msg}\n`);
  process.exit(1);
}

function buildLoadgen() {
  const out = path.join(benchDir, ".bin", "loadgen");
  const r = spawnSync("go", ["build", "-o", out, "."], { cwd: path.join(benchDir, "loadgen"), stdio: "inherit" });
  if (r.status !== 0) fail("go build of bench/loadgen failed");
  return out;
}

/** Starts dist/src/main.js with `n` workers; resolves with its addresses once it logs "breakerbox listening". */
async function startServerListening(redisPort, n) {
  const child = spawn(process.execPath, [path.join(repoDir, "dist/src/main.js")], {
    env: {
      PATH: process.env.PATH ?? "",
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      BREAKERBOX_WORKERS: String(n),
      BREAKERBOX_GRPC_PORT: "0",
      BREAKERBOX_HTTP_PORT: "0",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  const info = await new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`server exited (${code}) before listening`)));
    lines.on("line", (line) => {
      try {
        const l = JSON.parse(line);
        if (l.msg === "breakerbox listening") resolve(l);
      } catch {
        // not a log line
      }
    });
  });
  lines.on("line", () => {}); // keep draining stdout
  return { child, grpc: info.grpc, http: info.http };
}

/** The server's pids: the process and (with workers) its children. */
function serverPids(pid) {
  let children = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
  } catch {
    // not Linux: CPU of the primary only
  }
  return [String(pid), ...children];
}

/** Waits until calls succeed on every worker (each connects to Redis after listening). */
async function waitReady(http) {
  for (let i = 0; i < 200; i++) {
    const rs = await Promise.all([0, 1, 2, 3].map(() => fetch(`http://${http}/readyz`, { headers: { connection: "close" } }).then((r) => r.status, () => 0)));
    if (rs.every((s) => s === 200)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  fail("server not ready");
}

function runLoadgen(loadgen, addr, pids, redisPid, scenario) {
  const args = [
    `-addr=${addr}`,
    `-scenario=${scenario}`,
    `-conns=${values.conns}`,
    `-workers=${values.workers}`,
    `-warmup=${values.warmup}s`,
    `-duration=${values.duration}s`,
    `-circuits=${values.circuits}`,
    `-server-pid=${pids.join(",")}`,
    `-aux-pid=${redisPid}`,
  ];
  const r = spawnSync(loadgen, args, {
    env: { ...process.env, GOMAXPROCS: values["loadgen-procs"] },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) throw new Error(`loadgen ${scenario} failed (exit ${r.status})`);
  return JSON.parse(r.stdout.trim().split("\n").pop());
}

const loadgen = buildLoadgen();
const load = os.loadavg().map((x) => x.toFixed(2)).join(" ");
process.stdout.write(`host: ${os.cpus().length} cores, load average ${load} (1/5/15 min) at start; node ${process.version}\n`);
const results = [];
for (const n of counts) {
  const redis = await startRedis();
  const server = await startServerListening(redis.port, n);
  try {
    await waitReady(server.http);
    const pids = serverPids(server.child.pid);
    for (const scenario of scenarios) {
      const r = runLoadgen(loadgen, server.grpc, pids, redis.child.pid, scenario);
      results.push({ workers: n, scenario, rpsPerSec: r.rpc_per_s, p99: r.p99_ms, errors: r.errors, serverCpu: r.server_cpu, redisCpu: r.aux_cpu, loadgenCpu: r.loadgen_cpu });
    }
  } finally {
    const exited = once(server.child, "exit");
    server.child.kill("SIGTERM");
    await exited;
    redis.child.kill("SIGTERM");
    await once(redis.child, "exit");
  }
}

process.stdout.write(`\nRedis store, ${values.conns} connections × ${values.workers} in flight, ${values.duration} s per run (load generator GOMAXPROCS=${values["loadgen-procs"]})\n`);
process.stdout.write("workers  scenario   calls/s    p99 ms  errors  server CPU  redis CPU  loadgen CPU  × vs first\n");
for (const r of results) {
  const base = results.find((b) => b.scenario === r.scenario && b.workers === counts[0]);
  const factor = base === undefined ? NaN : r.rpsPerSec / base.rpsPerSec;
  process.stdout.write(
    `${String(r.workers).padStart(7)}  ${r.scenario.padEnd(9)} ${r.rpsPerSec.toFixed(0).padStart(8)}  ${r.p99.toFixed(2).padStart(8)}  ${String(r.errors).padStart(6)}  ${(r.serverCpu ?? 0).toFixed(2).padStart(10)}  ${(r.redisCpu ?? 0).toFixed(2).padStart(9)}  ${(r.loadgenCpu ?? 0).toFixed(2).padStart(11)}  ${factor.toFixed(2).padStart(10)}\n`,
  );
}
process.stdout.write(`load average at end: ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}\n`);
