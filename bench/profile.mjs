#!/usr/bin/env node
// Summarizes V8 CPU profiles (.cpuprofile, as written by `node --cpu-prof`,
// e.g. by `node bench/run.mjs --cpu-prof`): where the server's time went, by
// area (our code, grpc-js, protobuf-es, Node internals, GC, idle) and by
// function (self time, and total time for our own functions).
//
//   node bench/profile.mjs bench/results/<stamp>-prof [--top 30] [--skip S]
//
// --skip S leaves out the first S seconds of the profile (server start-up and
// module loading); bench/run.mjs --cpu-prof prints the value that skips to the
// first measured window.
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const repoDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

const { values, positionals } = parseArgs({
  options: { top: { type: "string", default: "30" }, skip: { type: "string", default: "0" } },
  allowPositionals: true,
});
const top = Number(values.top);
const skipUs = Number(values.skip) * 1e6;
if (positionals.length === 0) {
  process.stderr.write("usage: node bench/profile.mjs <dir or .cpuprofile>... [--top N]\n");
  process.exit(2);
}

const files = positionals.flatMap((p) =>
  statSync(p).isDirectory()
    ? readdirSync(p)
        .filter((f) => f.endsWith(".cpuprofile"))
        .map((f) => path.join(p, f))
    : [p],
);

function areaOf(url, name) {
  if (name === "(garbage collector)") return "GC";
  if (name === "(idle)") return "idle";
  if (name === "(program)") return "(program: native, not attributed)";
  if (url === "") return "native/builtins";
  if (url.includes("/dist/src/")) return `ours: ${url.slice(url.indexOf("/dist/src/") + 6).replace(/\.js$/, ".ts")}`;
  if (url.includes("/dist/gen/")) return "ours: gen/ (generated schemas)";
  if (url.includes("/bench/")) return "bench";
  if (url.includes("@grpc/grpc-js")) return "grpc-js";
  if (url.includes("@bufbuild/protobuf")) return "protobuf-es";
  if (url.includes("@connectrpc")) return "connect";
  if (url.includes("node_modules/")) return `node_modules: ${url.split("node_modules/")[1].split("/")[0]}`;
  if (url.startsWith("node:")) {
    const parts = url.slice(5).split("/");
    return `node: ${parts[0] === "internal" && parts.length > 1 ? parts[1].replace(/\.js$/, "") : parts[0]}`;
  }
  return url;
}

function shortUrl(url) {
  if (url.includes("/node_modules/")) return url.slice(url.lastIndexOf("/node_modules/") + 14);
  if (url.startsWith("file://")) return path.relative(repoDir, fileURLToPath(url));
  return url;
}

for (const file of files) {
  const profile = JSON.parse(readFileSync(file, "utf8"));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Sample weights: timeDeltas[i] is the time before sample i.
  const selfUs = new Map();
  const deltas = profile.timeDeltas;
  let at = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    at += deltas[i] ?? 0;
    if (at < skipUs) continue;
    const dt = deltas[i + 1] ?? 0;
    selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + dt);
  }
  let totalUs = 0;
  for (const v of selfUs.values()) totalUs += v;

  const byArea = new Map();
  const byFn = new Map();
  const inclusiveOurs = new Map();
  for (const [id, us] of selfUs) {
    const n = nodes.get(id);
    const { functionName, url, lineNumber } = n.callFrame;
    const name = functionName || "(anonymous)";
    const area = areaOf(url, name);
    byArea.set(area, (byArea.get(area) ?? 0) + us);
    const key = `${name}  ${shortUrl(url)}${url ? `:${lineNumber + 1}` : ""}`;
    byFn.set(key, (byFn.get(key) ?? 0) + us);
    // Total time of our functions: every distinct frame of ours on the stack.
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const f = nodes.get(cur).callFrame;
      if (!f.url.includes("/dist/src/")) continue;
      const k = `${f.functionName || "(anonymous)"}  ${shortUrl(f.url)}:${f.lineNumber + 1}`;
      if (seen.has(k)) continue;
      seen.add(k);
      inclusiveOurs.set(k, (inclusiveOurs.get(k) ?? 0) + us);
    }
  }
  const busyUs = totalUs - (byArea.get("idle") ?? 0);
  const pct = (us, of) => `${((100 * us) / of).toFixed(1).padStart(5)} %`;
  const sorted = (m) => [...m.entries()].sort((a, b) => b[1] - a[1]);

  console.log(`\n${file}: ${skipUs > 0 ? `after the first ${values.skip} s, ` : ""}${(totalUs / 1e6).toFixed(1)} s sampled, ${(busyUs / 1e6).toFixed(1)} s busy (percentages are of busy time)`);
  console.log("\nby area (self time):");
  for (const [area, us] of sorted(byArea)) {
    if (area === "idle") continue;
    console.log(`  ${pct(us, busyUs)}  ${area}`);
  }
  console.log(`\ntop ${top} functions by self time:`);
  for (const [key, us] of sorted(byFn).slice(0, top)) {
    if (key.startsWith("(idle)")) continue;
    console.log(`  ${pct(us, busyUs)}  ${key}`);
  }
  console.log(`\nour functions (dist/src) by total time (self + callees):`);
  for (const [key, us] of sorted(inclusiveOurs).slice(0, top)) {
    console.log(`  ${pct(us, busyUs)}  ${key}`);
  }
}
