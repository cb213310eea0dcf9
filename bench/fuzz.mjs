#!/usr/bin/env node
/**
 * The long fuzz run (not a test): the generator and checks of
 * test/e2e/fuzz.test.ts (bench/fuzz-gen.mjs, fuzz-run.mjs,
 * fuzz-invariants.mjs) for `--iterations` cases against the built server,
 * started here with the memory store (or `--redis-url`), or against a
 * running one (`--grpc host:port --http http://host:port`, with
 * `--admin-key`). Prints the seed, the answers per port and code, the
 * violations grouped by kind, and the invariant check; exits 1 on any
 * violation. Needs `npm run build`.
 *
 *   node bench/fuzz.mjs --iterations 1000000 [--seed 123] [--redis-url redis://...]
 */
import { spawn } from "node:child_process";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { CircuitService } from "../dist/gen/ts/breakerbox/v1/breakerbox_pb.js";
import { ErrorInfoSchema } from "../dist/gen/ts/google/rpc/error_details_pb.js";
import { StatusSchema } from "../dist/gen/ts/google/rpc/status_pb.js";
import { checkInvariants } from "./fuzz-invariants.mjs";
import { runFuzz } from "./fuzz-run.mjs";

const { values } = parseArgs({
  options: {
    iterations: { type: "string", default: "100000" },
    seed: { type: "string" },
    grpc: { type: "string" },
    http: { type: "string" },
    "admin-key": { type: "string" },
    "redis-url": { type: "string" },
  },
});

const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 32) : Number(values.seed) >>> 0;
const iterations = Number(values.iterations);
const ADMIN_KEY = values["admin-key"] ?? "admin-fuzz-bench-key-0123456789";
const AGENT_KEY = "agent-fuzz-bench-key-0123456789";

/** Starts `node dist/src/main.js` on free ports; resolves with its addresses once it listens. */
function startServer() {
  const main = fileURLToPath(new URL("../dist/src/main.js", import.meta.url));
  const child = spawn(process.execPath, [main], {
    env: {
      PATH: process.env.PATH ?? "",
      BREAKERBOX_GRPC_PORT: "0",
      BREAKERBOX_HTTP_PORT: "0",
      BREAKERBOX_LOG_LEVEL: "warn",
      BREAKERBOX_API_KEYS: `fuzz-agent:agent:${AGENT_KEY},fuzz-admin:admin:${ADMIN_KEY}`,
      ...(values["redis-url"] === undefined ? {} : { REDIS_URL: values["redis-url"] }),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const errorLines = [];
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    let buffer = "";
    child.stdout.on("data", (chunk) => {
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        let entry;
        try {
          entry = JSON.parse(line);
        } catch {
          entry = { level: "raw", msg: line };
        }
        if (entry.msg === "breakerbox listening") resolve({ child, grpc: String(entry.grpc), http: `http://${entry.http}`, errorLines, stderr: () => stderr });
        else if (entry.level === "error" || entry.level === "fatal" || entry.level === "raw" || entry.level === 50 || entry.level === 60) errorLines.push(line);
      }
    });
    child.once("exit", (code, signal) => reject(new Error(`server exited with ${code ?? signal}: ${stderr}`)));
  });
}

const server = values.grpc === undefined ? await startServer() : { grpc: values.grpc, http: values.http, errorLines: [], stderr: () => "" };
console.log(`fuzz: seed ${seed} (replay: --seed ${seed}), ${iterations} cases against gRPC ${server.grpc}, HTTP ${server.http}`);
const started = Date.now();
const result = await runFuzz({
  service: CircuitService,
  statusSchema: StatusSchema,
  errorInfoSchema: ErrorInfoSchema,
  seed,
  iterations,
  grpcAddress: server.grpc,
  httpUrl: server.http,
  authorization: { admin: ADMIN_KEY, agent: AGENT_KEY },
  probeEvery: 1000,
  maxViolations: 1000,
  onProgress: (done) => {
    if (done % 10_000 === 0) console.log(`  ${done} cases, ${((Date.now() - started) / 1000).toFixed(0)} s`);
  },
});
const seconds = (Date.now() - started) / 1000;
console.log(`\n${iterations} cases in ${seconds.toFixed(1)} s (${(iterations / seconds).toFixed(0)}/s)`);
console.log("answers per port and code:");
for (const [key, n] of Object.entries(result.counts).sort()) console.log(`  ${key.padEnd(36)} ${n}`);
console.log(`liveness probes answered: ${result.probes.answered}/${result.probes.sent}`);
console.log(`violations: ${result.violationCount}`);
for (const [kind, { count, first, label, method }] of Object.entries(result.kinds)) console.log(`  ${count}× ${kind}\n     first: case ${first}, ${method} (${label})`);
for (const f of result.probes.failures) console.log(`  liveness probe after case ${f.at}: gRPC health ${f.grpcHealth}, /healthz ${f.healthz}`);
const invariants = await checkInvariants({ httpUrl: server.http, headers: { authorization: `Bearer ${ADMIN_KEY}` } });
console.log(`invariants: ${invariants.checked} circuits and ${invariants.transitions} transitions checked, ${invariants.problems.length} problems`);
for (const p of invariants.problems.slice(0, 50)) console.log(`  ${p}`);
const crashed = server.child !== undefined && server.child.exitCode !== null;
console.log(`server: ${crashed ? `EXITED with ${server.child.exitCode}` : "running"}; error log lines: ${server.errorLines.length}; stderr: ${server.stderr().trim() === "" ? "empty" : server.stderr().trim().slice(0, 500)}`);
for (const l of server.errorLines.slice(0, 10)) console.log(`  ${l.slice(0, 300)}`);
server.child?.kill("SIGTERM");
const failed = result.violationCount > 0 || invariants.problems.length > 0 || crashed || server.errorLines.length > 0 || result.probes.answered !== result.probes.sent;
process.exit(failed ? 1 : 0);
