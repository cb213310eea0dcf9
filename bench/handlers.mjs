#!/usr/bin/env node
// In-process cost of each RPC's own work, without the transport: decode the
// request bytes (protobuf-es), run the CircuitService handler (service, memory
// store, engine), encode the response, exactly as the grpc-js adapter does,
// but in a loop with no sockets, HTTP/2 or grpc-js. Timed in CPU time
// (process.cpuUsage), so other processes on the machine disturb it little.
//
// Subtracting noop's cost gives what Breakerbox adds per RPC on top of the
// stack; with the stack's own cost per RPC from bench/run.mjs (srv µs/RPC of
// noop) that predicts Acquire's share of the ceiling:
//   predicted % of noop = noop µs/RPC ÷ (noop µs/RPC + added µs)
//
//   npm run build && node bench/handlers.mjs [--calls 200000] [--trials 5] [--stack-us 45]
//
// To see where one handler's time goes:
//   node --cpu-prof --cpu-prof-dir /tmp/prof bench/handlers.mjs --only report && node bench/profile.mjs /tmp/prof
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { createContextValues } from "@connectrpc/connect";
import { parseArgs } from "node:util";
import { loadConfig } from "../dist/src/config/index.js";
import { createCircuitServiceImpl } from "../dist/src/server/circuit-service.js";
import { Breakerbox } from "../dist/src/service/breakerbox.js";
import { createMemoryStore } from "../dist/src/store/memory.js";
import {
  AcquireRequestSchema,
  AcquireResponseSchema,
  Outcome,
  ReportRequestSchema,
  ReportResponseSchema,
} from "../dist/gen/ts/breakerbox/v1/breakerbox_pb.js";
import { NoopService } from "./noop-service.mjs";

const { values } = parseArgs({
  options: {
    calls: { type: "string", default: "200000" },
    trials: { type: "string", default: "5" },
    circuits: { type: "string", default: "100" },
    "stack-us": { type: "string" },
    only: { type: "string" },
  },
});
const calls = Number(values.calls);
const trials = Number(values.trials);
const circuits = Number(values.circuits);

const config = loadConfig({ LOG_LEVEL: "silent" });
const store = createMemoryStore({
  layers: config.layers,
  circuits: config.circuits,
  idleTtlMs: config.idleTtlMs,
  eventLogSize: config.eventLogSize,
  historyLimit: config.historyLimit,
  tickIntervalMs: 0,
});
const service = new Breakerbox({ store, maxWatchers: config.maxWatchers, heartbeatMs: config.heartbeatMs });
// The bare handlers: the interceptors the listeners add (access control, error
// boundary, RPC timing; see src/app.ts) are not included.
const impl = createCircuitServiceImpl({ service });
// Acquire and Report read only the caller from the context (for the
// reporter's principal): an empty value set gives them the default caller,
// as a call without access control has.
const ctx = { values: createContextValues() };

const PingResponseSchema = NoopService.method.ping.output;
const names = Array.from({ length: circuits }, (_, i) => `bench.c${String(i).padStart(3, "0")}`);
const acquireBytes = names.map((circuit) => toBinary(AcquireRequestSchema, create(AcquireRequestSchema, { circuit })));

function reportBytes(circuit, permit) {
  return toBinary(
    ReportRequestSchema,
    create(ReportRequestSchema, { circuit, permit, outcome: Outcome.SUCCESS, duration: { seconds: 0n, nanos: 12_000_000 } }),
  );
}

/** One RPC as the adapter runs it: decode, handler, encode. */
const scenarios = {
  async noop(i) {
    fromBinary(AcquireRequestSchema, acquireBytes[i % circuits]);
    toBinary(PingResponseSchema, create(PingResponseSchema));
  },
  async "noop-async"(i) {
    fromBinary(AcquireRequestSchema, acquireBytes[i % circuits]);
    const res = await (async () => create(PingResponseSchema))();
    toBinary(PingResponseSchema, res);
  },
  async acquire(i) {
    const req = fromBinary(AcquireRequestSchema, acquireBytes[i % circuits]);
    const res = await impl.acquire(req, ctx);
    toBinary(AcquireResponseSchema, res);
  },
  // Report needs fresh permits: prepared (acquired and encoded) outside the timing.
  report: {
    async prepare(n) {
      const bytes = new Array(n);
      for (let i = 0; i < n; i++) {
        const circuit = names[i % circuits];
        const res = await impl.acquire(create(AcquireRequestSchema, { circuit }), ctx);
        bytes[i] = reportBytes(circuit, res.permit);
      }
      return bytes;
    },
    async run(i, prepared) {
      const req = fromBinary(ReportRequestSchema, prepared[i]);
      const res = await impl.report(req, ctx);
      toBinary(ReportResponseSchema, res);
    },
  },
};

async function trial(name, n) {
  const s = scenarios[name];
  const prepared = typeof s === "function" ? undefined : await s.prepare(n);
  const fn = typeof s === "function" ? s : (i) => s.run(i, prepared);
  const before = process.cpuUsage();
  for (let i = 0; i < n; i++) await fn(i);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / n;
}

const only = values.only?.split(",");
for (const name of Object.keys(scenarios)) if (only !== undefined && name !== "noop" && !only.includes(name)) delete scenarios[name];
const results = {};
for (const name of Object.keys(scenarios)) await trial(name, Math.min(calls, 50_000)); // warm-up (JIT)
for (let t = 0; t < trials; t++) {
  for (const name of Object.keys(scenarios)) {
    (results[name] ??= []).push(await trial(name, calls));
  }
}
await store.close();
// Acquire+Report is one of each: per RPC, their mean.
if (results.acquire && results.report) {
  results["acquire+report"] = results.acquire.map((a, i) => (a + results.report[i]) / 2);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const noopUs = median(results.noop);
const stackUs = values["stack-us"] === undefined ? undefined : Number(values["stack-us"]);
console.log(`CPU µs per RPC in-process (median of ${trials} trials × ${calls} calls; acquire+report: mean of the two, per RPC):`);
console.log(`${"scenario".padEnd(16)}${"µs/RPC".padStart(8)}${"added vs noop".padStart(15)}${stackUs ? "   predicted % of noop (stack " + stackUs + " µs/RPC)" : ""}`);
for (const [name, xs] of Object.entries(results)) {
  const us = median(xs);
  const added = us - noopUs;
  const predicted = stackUs === undefined ? "" : `${((100 * stackUs) / (stackUs + added)).toFixed(1).padStart(8)} %`;
  console.log(`${name.padEnd(16)}${us.toFixed(2).padStart(8)}${added.toFixed(2).padStart(15)}   ${predicted}`);
}
console.log(JSON.stringify({ calls, trials, circuits, us_per_rpc: Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)])) }));
