// Reports on Redis against issue 13's targets (item 1): runs bench/run.mjs
// with the Redis store twice, on 100 circuits and on one hot circuit (every
// Report of the fleet on one circuit, so on one Redis shard), and prints each
// figure beside its target:
//   - Report, % of the no-op RPC by server CPU      (target >= 70 %)
//   - Acquire, % of the no-op RPC by server CPU     (target >= 90 %)
//   - Redis CPU per Report at 64 in flight          (target <= 10 µs)
//   - one hot circuit: Reports/s per Redis core     (target >= 3 x 31,000: before batching,
//     13,950 Reports/s took 0.45 of a Redis core)
// The server is pinned to CPU 0, the load generator and redis-server to CPU 1
// (bench/run.mjs); a run disturbed by other processes is retried there.
//
// Usage (after `npm run build`): node bench/hot-circuit.mjs [--rounds N] [--duration S]
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { rounds: { type: "string", default: "2" }, duration: { type: "string", default: "5" } } });
/** Reports/s one Redis core took for one circuit before batching (13,950 at 0.45 core). */
const BEFORE_PER_CORE = 13_950 / 0.45;

function run(circuits) {
  const args = [path.join(benchDir, "run.mjs"), "--store", "redis", "--circuits", String(circuits), "--scenarios", "noop,report,acquire,noop", "--rounds", values.rounds, "--duration", values.duration];
  console.log(`hot-circuit: node ${args.map((a) => path.relative(process.cwd(), a) || a).join(" ")}`);
  const started = Date.now();
  const r = spawnSync(process.execPath, args, { stdio: ["ignore", "inherit", "inherit"] });
  if (r.status !== 0) throw new Error(`bench/run.mjs exited ${r.status}`);
  // The newest results file written since we started is this run's.
  const dir = path.join(benchDir, "results");
  const file = readdirSync(dir)
    .filter((f) => /^\d{4}-.*Z\.json$/.test(f))
    .map((f) => path.join(dir, f))
    .map((f) => ({ f, at: Date.parse(JSON.parse(readFileSync(f, "utf8")).at ?? 0) }))
    .filter((x) => x.at >= started)
    .sort((a, b) => b.at - a.at)[0];
  if (file === undefined) throw new Error("bench/run.mjs wrote no results file");
  const { summary, machine } = JSON.parse(readFileSync(file.f, "utf8"));
  const row = (s) => summary.rows.find((x) => x.scenario === s);
  return { node: machine.node, report: row("report"), acquire: row("acquire"), file: file.f };
}

const line = (what, value, target, met) => console.log(`  ${what.padEnd(46)} ${value.padStart(14)}   target ${target.padEnd(14)} ${met ? "met" : "NOT met"}`);
const results = [];
for (const circuits of [100, 1]) results.push({ circuits, ...run(circuits) });
console.log("");
console.log(`Reports on Redis (issue 13, item 1), Node ${results[0].node}:`);
for (const { circuits, report, acquire } of results) {
  const redisUs = (1e6 * report.aux_cpu) / report.rpc_per_s;
  console.log(`${circuits === 1 ? "one hot circuit" : `${circuits} circuits`}: ${Math.round(report.rpc_per_s)} Reports/s, server ${report.server_cpu.toFixed(2)} core, redis ${report.aux_cpu.toFixed(2)} core, other ${report.other_cpu.toFixed(2)} core`);
  line("Report, % of no-op by server CPU", `${report.pct_of_noop_cpu.toFixed(1)} %`, ">= 70 %", report.pct_of_noop_cpu >= 70);
  line("Acquire, % of no-op by server CPU", `${acquire.pct_of_noop_cpu.toFixed(1)} %`, ">= 90 %", acquire.pct_of_noop_cpu >= 90);
  line("Redis CPU per Report (64 in flight)", `${redisUs.toFixed(1)} µs`, "<= 10 µs", redisUs <= 10);
  if (circuits === 1) {
    const perCore = 1e6 / redisUs;
    line("hot circuit: Reports/s per Redis core", `${Math.round(perCore)}`, `>= ${Math.round(3 * BEFORE_PER_CORE)}`, perCore >= 3 * BEFORE_PER_CORE);
  }
}
