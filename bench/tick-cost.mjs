#!/usr/bin/env node
// The memory store's background tick with many circuits at rest (issue 11,
// finding 4): N circuits opened once and then left alone (HALF_OPEN, no probe
// out), on a manual clock. Prints the median cost of one tick with nothing
// due and of one eviction pass with nothing due (evictIdle), the slowest tick
// of a simulated week without traffic (where they are evicted, the one that
// evicts them all) and how many circuits are left after it.
//
//   npm run build && node bench/tick-cost.mjs                 # 100 000 circuits
//   node bench/tick-cost.mjs --circuits 20000 --dist /path/to/other/dist
//
// --dist points at another build (say, main's) to compare before and after.
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const repoDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { values: args } = parseArgs({
  options: {
    circuits: { type: "string", default: "100000" },
    ticks: { type: "string", default: "60" },
    dist: { type: "string", default: path.join(repoDir, "dist") },
    help: { type: "boolean", default: false },
  },
});
if (args.help) {
  console.log("node bench/tick-cost.mjs [--circuits N] [--ticks N] [--dist DIR]");
  process.exit(0);
}
const n = Number(args.circuits);
const ticks = Number(args.ticks);
const dist = path.resolve(args.dist);
const { createMemoryStore } = await import(pathToFileURL(path.join(dist, "src/store/memory.js")).href);
const engine = await import(pathToFileURL(path.join(dist, "src/engine/index.js")).href);

const DAY = 86_400_000;
let now = 1_700_000_000_000;
const store = createMemoryStore({
  layers: {
    defaults: engine.applyPatch(engine.BUILTIN_DEFAULTS, { failureThreshold: 1, openDurationMs: 10_000, jitter: 0 }),
    presets: engine.BUILTIN_PRESETS,
    rules: [],
  },
  clock: () => now,
  random: () => 0.5,
  tickIntervalMs: 0,
  idleTtlMs: DAY,
});

for (let i = 0; i < n; i++) {
  const name = `tick.${i}`;
  const d = await store.acquire(name);
  await store.report(name, { permit: d.permit, outcome: "FAILURE", durationMs: 1, retryAfterMs: 0 });
}
now += 10_000;
store.tick(); // every circuit turns HALF_OPEN, no probe out
const halfOpen = (await store.list({ prefix: "tick.", limit: 1, state: "HALF_OPEN" })).circuits.length;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
function timed(fn) {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const tickMs = [];
for (let i = 0; i < ticks; i++) {
  now += 1_000;
  tickMs.push(timed(() => store.tick()));
}
const evictMs = [];
for (let i = 0; i < 10; i++) evictMs.push(timed(() => store.evictIdle(now)));

// A week of 1 s ticks, simulated: every tick in time order would be 604 800
// calls, so step 60 s (the clock jumps; what is due is due either way).
const weekStart = now;
const weekTickMs = [];
while (now < weekStart + 7 * DAY) {
  now += 60_000;
  weekTickMs.push(timed(() => store.tick()));
}

const row = (label, value) => console.log(`${label.padEnd(44)} ${value}`);
row("node", process.version);
row("build", dist);
row("circuits (HALF_OPEN after opening once)", `${n}${halfOpen === 1 ? "" : " (list check failed)"}`);
row("tick, nothing due (median µs)", (median(tickMs) * 1000).toFixed(1));
row("evictIdle, nothing due (median µs)", (median(evictMs) * 1000).toFixed(1));
row("slowest tick of the simulated week (ms)", Math.max(...weekTickMs).toFixed(1));
row("circuits left after a week without traffic", store.size);
await store.close();
