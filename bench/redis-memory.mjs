// Measures Redis memory per circuit: creates N circuits through the Redis
// store on a fresh redis-server and reads INFO memory before and after.
// Usage: node bench/redis-memory.mjs [N=100000] [port=6390]   (needs redis-server on PATH, npm run build)
import { spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { BUILTIN_DEFAULTS, BUILTIN_PRESETS } from "../dist/src/engine/index.js";
import { createRedisStore } from "../dist/src/store/redis/redis-store.js";

const n = Number(process.argv[2] ?? 100_000);
const port = Number(process.argv[3] ?? 6390);
const server = spawn("redis-server", ["--port", String(port), "--save", "", "--appendonly", "no"], { stdio: "ignore" });
try {
  await sleep(300);
  const connect = () => new Redis({ port });
  const client = connect();
  const used = async () => Number(/used_memory:(\d+)/.exec(await client.info("memory"))[1]);
  const store = createRedisStore({
    client,
    duplicate: connect,
    cluster: false,
    layers: { defaults: { ...BUILTIN_DEFAULTS }, presets: BUILTIN_PRESETS, rules: [] },
  });
  await store.start();
  const before = await used();
  const batch = 200;
  for (let i = 0; i < n; i += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, n - i) }, (_, j) => store.acquire(`agent.tool-${i + j}`)));
  }
  const afterCreate = await used();
  // A circuit in use: one reported call in its window and its reported-permit set.
  for (let i = 0; i < n; i += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, n - i) }, async (_, j) => {
        const name = `agent.tool-${i + j}`;
        const d = await store.acquire(name);
        await store.report(name, { permit: d.permit, outcome: "SUCCESS", durationMs: 10, retryAfterMs: 0 });
      }),
    );
  }
  const afterUse = await used();
  const keys = await client.dbsize();
  console.log(JSON.stringify({
    circuits: n,
    keys,
    bytesPerCircuitCreated: Math.round((afterCreate - before) / n),
    bytesPerCircuitWithOneReport: Math.round((afterUse - before) / n),
    totalMiB: +((afterUse - before) / 1048576).toFixed(1),
  }));
  await store.close();
  client.disconnect();
} finally {
  server.kill("SIGKILL");
}
