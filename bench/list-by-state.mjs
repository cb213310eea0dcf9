// Measures one ListCircuits page by state (OPEN) and one unfiltered page on
// the Redis store with N circuits of which 10 are OPEN, and the same on the
// memory store: the cost of a page as the store grows.
// Usage: node bench/list-by-state.mjs [N=20000] [port=6391] [dist=dist]
//   (needs redis-server on PATH and `npm run build`; pass another build's
//   dist/ to measure it, e.g. main's, for a before/after)
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";

const n = Number(process.argv[2] ?? 20_000);
const port = Number(process.argv[3] ?? 6391);
const dist = pathToFileURL(resolve(process.argv[4] ?? "dist") + "/").href;
const { BUILTIN_DEFAULTS, BUILTIN_PRESETS } = await import(`${dist}src/engine/index.js`);
const { createRedisStore } = await import(`${dist}src/store/redis/redis-store.js`);
const { createMemoryStore } = await import(`${dist}src/store/memory.js`);

const layers = { defaults: { ...BUILTIN_DEFAULTS, failureThreshold: 1 }, presets: BUILTIN_PRESETS, rules: [] };
const name = (i) => `agent.tool-${String(i).padStart(7, "0")}`;

/** Creates n circuits, 10 of them OPEN, then times `runs` pages of each query (median ms). */
async function measure(store, runs) {
  const batch = 500;
  for (let i = 0; i < n; i += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, n - i) }, (_, j) => store.acquire(name(i + j))));
  }
  for (let k = 0; k < 10; k++) {
    const c = name(Math.floor(((k + 0.5) * n) / 10));
    const d = await store.acquire(c);
    await store.report(c, { permit: d.permit, outcome: "FAILURE", durationMs: 1, retryAfterMs: 0 });
  }
  const time = async (query) => {
    const ms = [];
    let found = 0;
    for (let r = 0; r < runs; r++) {
      const t = performance.now();
      found = (await store.list(query)).circuits.length;
      ms.push(performance.now() - t);
    }
    ms.sort((a, b) => a - b);
    return { medianMs: +ms[Math.floor(ms.length / 2)].toFixed(2), found };
  };
  return {
    openPage: await time({ prefix: "", state: "OPEN", limit: 100 }),
    firstPage: await time({ prefix: "", limit: 100 }),
  };
}

const server = spawn("redis-server", ["--port", String(port), "--save", "", "--appendonly", "no"], { stdio: "ignore" });
try {
  await sleep(300);
  const connect = () => new Redis({ port });
  const client = connect();
  const redisStore = createRedisStore({ client, duplicate: connect, cluster: false, layers, announceRemovals: false });
  await redisStore.start();
  const runs = n > 50_000 ? 3 : 5;
  const redis = await measure(redisStore, runs);
  await redisStore.close();
  client.disconnect();
  const memoryStore = createMemoryStore({ layers, tickIntervalMs: 0 });
  const memory = await measure(memoryStore, runs);
  await memoryStore.close();
  console.log(JSON.stringify({ circuits: n, dist: process.argv[4] ?? "dist", redis, memory }));
} finally {
  server.kill("SIGKILL");
}
