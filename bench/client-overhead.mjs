#!/usr/bin/env node
// What a guarded call costs each client: starts one Breakerbox (memory store,
// dist/, free ports on loopback), runs the overhead bench of every client
// against it in turn (TypeScript, Python sync and asyncio, Go), prints a
// table and writes bench/results/<timestamp>-client-overhead.json.
//
//   npm run build && node bench/client-overhead.mjs [--only typescript,python,go]
//
// Each client's bench prints one JSON line per client flavour with p50/p99 in
// microseconds of: the function called directly, the same function through
// the guarded call (run/Run), the raw Acquire RPC (the round trip a guarded
// call cannot avoid), and the guarded call on a circuit known OPEN. The goal
// (issue 12): guarded - direct <= one Acquire round trip; ~0 when known OPEN.
// Needs the Python client venv (scripts/install-python-client.sh) and Go.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const repo = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({ options: { only: { type: "string", default: "typescript,python,go" } } });
const wanted = new Set(values.only.split(","));

/** How each client's bench is run, given the server's gRPC address. */
const BENCHES = {
  typescript: (address) => [process.execPath, [path.join(repo, "bench/client-overhead/typescript.mjs"), address], repo],
  python: (address) => [
    path.join(repo, ".tools/python-client-venv/bin/python"),
    [path.join(repo, "bench/client-overhead/python_overhead.py"), address],
    repo,
  ],
  go: (address) => ["go", ["run", ".", address], path.join(repo, "bench/client-overhead/go")],
};

function startServer() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repo, "dist/src/main.js")], {
      env: { ...process.env, BREAKERBOX_HOST: "127.0.0.1", BREAKERBOX_GRPC_PORT: "0", BREAKERBOX_HTTP_PORT: "0", LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    createInterface({ input: child.stdout }).on("line", (line) => {
      try {
        const entry = JSON.parse(line);
        if (entry.msg === "breakerbox listening") resolve({ child, grpc: entry.grpc });
      } catch {
        // not a log line
      }
    });
    child.once("exit", (code) => reject(new Error(`breakerbox exited (code ${code}); run npm run build first`)));
  });
}

const server = await startServer();
const results = [];
try {
  for (const [name, command] of Object.entries(BENCHES)) {
    if (!wanted.has(name)) continue;
    const [bin, args, cwd] = command(server.grpc);
    console.error(`== ${name}: ${bin} ${args.join(" ")}`);
    const run = spawnSync(bin, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], timeout: 600_000 });
    if (run.status !== 0) throw new Error(`${name} bench failed (exit ${run.status ?? run.signal})`);
    for (const line of run.stdout.split("\n")) if (line.startsWith("{")) results.push(JSON.parse(line));
  }
} finally {
  server.child.kill("SIGTERM");
}

const us = (v) => v.toFixed(1);
console.log("\nclient            runtime                 calls   direct p50  guarded p50/p99   overhead p50  Acquire RTT p50/p99  known OPEN p50/p99 (us)");
for (const r of results) {
  console.log(
    [
      r.client.padEnd(17),
      String(r.runtime).slice(0, 22).padEnd(23),
      String(r.calls).padStart(6),
      us(r.direct_us.p50).padStart(11),
      `${us(r.guarded_us.p50)}/${us(r.guarded_us.p99)}`.padStart(17),
      us(r.guarded_us.p50 - r.direct_us.p50).padStart(14),
      `${us(r.acquire_rtt_us.p50)}/${us(r.acquire_rtt_us.p99)}`.padStart(20),
      `${us(r.open_guarded_us.p50)}/${us(r.open_guarded_us.p99)}`.padStart(19),
    ].join(" "),
  );
}
const dir = path.join(repo, "bench/results");
mkdirSync(dir, { recursive: true });
const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, "-")}-client-overhead.json`);
writeFileSync(file, JSON.stringify({ node: process.version, cpus: os.cpus().length, results }, null, 2));
console.log(`\nwritten ${path.relative(repo, file)}`);
