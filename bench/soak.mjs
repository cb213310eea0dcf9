#!/usr/bin/env node
// Soak against the circuit cap (issue 11, deliverable 8): starts the built
// server (`dist/src/main.js`, memory store) with a small BREAKERBOX_MAX_CIRCUITS
// and a short idle TTL, drives agent traffic with ever-new circuit names
// (Acquire, then Report; one circuit in four fails once and opens, so it
// goes OPEN → HALF_OPEN and must be evicted from there) for --duration, and
// samples the server's memory from /metrics (process_resident_memory_bytes,
// nodejs_heap_size_used_bytes) every --sample seconds. Prints a table and a
// verdict: once the cap is reached (the first Acquire refused with
// RESOURCE_EXHAUSTED) and the store has turned over once (one idle TTL more:
// every circuit held then was created at the cap), memory must be flat. The
// samples from then on are cut in thirds; the last third's mean RSS and its
// heap floor (the lowest heap used, i.e. after a major GC: heap used between
// GCs is mostly garbage and saws up and down) may be no more than
// --tolerance above the first third's.
// Not a test: it takes minutes and its figures depend on the machine.
//
//   npm run build && node_modules/.bin/node bench/soak.mjs          # 10 minutes, cap 50 000
//   node_modules/.bin/node bench/soak.mjs --duration 120 --cap 20000 --idle 30
//
// The server runs on the same Node as this script (process.execPath).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const repoDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "600" },
    cap: { type: "string", default: "50000" },
    idle: { type: "string", default: "60" },
    sample: { type: "string", default: "5" },
    concurrency: { type: "string", default: "8" },
    tolerance: { type: "string", default: "0.1" },
    help: { type: "boolean", default: false },
  },
});
if (args.help) {
  console.log("node bench/soak.mjs [--duration s] [--cap N] [--idle s] [--sample s] [--concurrency N] [--tolerance fraction]");
  process.exit(0);
}
const durationMs = Number(args.duration) * 1000;
const sampleMs = Number(args.sample) * 1000;
const concurrency = Number(args.concurrency);
const tolerance = Number(args.tolerance);

const main = path.join(repoDir, "dist/src/main.js");
if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first`);
const { createClient, ConnectError, Code } = await import("@connectrpc/connect");
const { createGrpcTransport } = await import("@connectrpc/connect-node");
const pb = await import(pathToFileURL(path.join(repoDir, "dist/gen/ts/breakerbox/v1/breakerbox_pb.js")).href);

// ---- the server --------------------------------------------------------------

const server = spawn(process.execPath, [main], {
  env: {
    PATH: process.env.PATH ?? "",
    BREAKERBOX_GRPC_PORT: "0",
    BREAKERBOX_HTTP_PORT: "0",
    BREAKERBOX_MAX_CIRCUITS: args.cap,
    BREAKERBOX_IDLE_TTL_SECONDS: args.idle,
    CIRCUIT_BREAKER_FAILURE_THRESHOLD: "1",
    CIRCUIT_BREAKER_TIMEOUT_SECONDS: "5",
  },
  stdio: ["ignore", "pipe", "inherit"],
});
const stopServer = () => {
  if (server.exitCode === null && server.signalCode === null) server.kill("SIGTERM");
};
process.on("exit", stopServer);
process.on("SIGINT", () => process.exit(130));

const listening = await new Promise((resolve, reject) => {
  let buffer = "";
  const timer = setTimeout(() => reject(new Error("no \"breakerbox listening\" line within 30 s")), 30_000);
  server.stdout.on("data", (chunk) => {
    buffer += chunk.toString("utf8");
    for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try {
        const entry = JSON.parse(line);
        if (entry.msg === "breakerbox listening") {
          clearTimeout(timer);
          resolve({ grpc: String(entry.grpc), http: `http://${String(entry.http)}` });
        } else if (entry.level === "error" || entry.level === "fatal" || entry.level >= 50) {
          console.error(`server: ${line}`);
        }
      } catch {
        console.error(`server: ${line}`);
      }
    }
  });
  server.once("exit", (code, signal) => reject(new Error(`server exited with ${code ?? signal} before listening`)));
});
server.once("exit", (code, signal) => {
  console.error(`server exited with ${code ?? signal} during the soak`);
  process.exit(1);
});

// ---- traffic -------------------------------------------------------------------

const client = createClient(pb.CircuitService, createGrpcTransport({ baseUrl: `http://${listening.grpc}` }));
const counts = { acquired: 0, capped: 0, denied: 0, reports: 0, errors: 0 };
const firstError = new Map();
let next = 0;
let capReachedAt;
const started = Date.now();
const until = started + durationMs;

async function agent() {
  while (Date.now() < until) {
    const n = next++;
    const circuit = `soak.${n.toString(36)}`;
    try {
      const d = await client.acquire({ circuit });
      if (!d.allowed) {
        counts.denied += 1;
        continue;
      }
      counts.acquired += 1;
      const outcome = n % 4 === 0 ? pb.Outcome.FAILURE : pb.Outcome.SUCCESS;
      await client.report({ circuit, permit: d.permit, outcome });
      counts.reports += 1;
    } catch (e) {
      const err = ConnectError.from(e);
      if (err.code === Code.ResourceExhausted) {
        counts.capped += 1;
        capReachedAt ??= Date.now();
      } else {
        counts.errors += 1;
        if (!firstError.has(err.code)) firstError.set(err.code, err.message);
      }
    }
  }
}

// ---- samples -----------------------------------------------------------------

function metric(text, name) {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(" ") + 1));
}

const samples = [];
async function sample() {
  const text = await (await fetch(`${listening.http}/metrics`)).text();
  samples.push({
    t: Date.now() - started,
    rss: metric(text, "process_resident_memory_bytes"),
    heap: metric(text, "nodejs_heap_size_used_bytes"),
    atCap: capReachedAt !== undefined,
    ...counts,
  });
  const s = samples.at(-1);
  const mb = (b) => (b / 1048576).toFixed(1).padStart(8);
  console.log(
    `${(s.t / 1000).toFixed(0).padStart(6)} s ${mb(s.rss)} ${mb(s.heap)} ${String(s.acquired).padStart(10)} ${String(s.capped).padStart(10)} ${s.atCap ? "   at cap" : ""}`,
  );
}

console.log(`node ${process.version}; cap ${args.cap}, idle TTL ${args.idle} s, ${concurrency} agents, ${args.duration} s, a sample every ${args.sample} s`);
console.log(`${"time".padStart(8)} ${"RSS MB".padStart(8)} ${"heap MB".padStart(8)} ${"acquired".padStart(10)} ${"capped".padStart(10)}`);
await sample();
const sampler = setInterval(() => void sample().catch((e) => console.error(`sample failed: ${e.message}`)), sampleMs);
await Promise.all(Array.from({ length: concurrency }, agent));
clearInterval(sampler);
await sample();

// ---- verdict -------------------------------------------------------------------

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const settledFrom = capReachedAt === undefined ? Infinity : capReachedAt - started + Number(args.idle) * 1000;
const settled = samples.filter((s) => s.t >= settledFrom);
console.log(
  `\n${counts.acquired} acquired, ${counts.reports} reported, ${counts.capped} refused at the cap (RESOURCE_EXHAUSTED), ${counts.denied} denied, ${counts.errors} other errors`,
);
for (const [code, message] of firstError) console.log(`  first error with code ${Code[code]}: ${message}`);
let flat = false;
if (settled.length < 6) {
  console.log(`verdict: INCONCLUSIVE: only ${settled.length} samples one idle TTL after the cap was reached (need 6); run longer`);
} else {
  const third = Math.floor(settled.length / 3);
  const first = settled.slice(0, third);
  const last = settled.slice(-third);
  const mb = (b) => `${(b / 1048576).toFixed(1)} MB`;
  const pct = (x) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)} %`;
  const rssFirst = mean(first.map((s) => s.rss));
  const rssLast = mean(last.map((s) => s.rss));
  const floorFirst = Math.min(...first.map((s) => s.heap));
  const floorLast = Math.min(...last.map((s) => s.heap));
  flat = rssLast / rssFirst - 1 <= tolerance && floorLast / floorFirst - 1 <= tolerance;
  console.log(`cap reached after ${((capReachedAt - started) / 1000).toFixed(0)} s; settled (one idle TTL later) from ${(settledFrom / 1000).toFixed(0)} s: ${settled.length} samples, thirds of ${third}`);
  console.log(`RSS mean: first third ${mb(rssFirst)}, last third ${mb(rssLast)} (${pct(rssLast / rssFirst - 1)})`);
  console.log(`heap floor: first third ${mb(floorFirst)}, last third ${mb(floorLast)} (${pct(floorLast / floorFirst - 1)})`);
  console.log(`verdict: ${flat ? "FLAT" : "GROWING"} (tolerance ${pct(tolerance)})`);
}
server.removeAllListeners("exit");
stopServer();
process.exit(flat && counts.errors === 0 ? 0 : 1);
