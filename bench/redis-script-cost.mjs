// Measures the Redis-side cost of the Report script: the µs redis-server
// spends per EVALSHA (INFO commandstats), for N Reports of fresh permits
// (SUCCESS, 8 in flight) through the Redis store, on a fresh redis-server.
// Independent of the load generator and of the server's event loop, so it
// tells a change in the Lua scripts from machine noise far better than the
// end-to-end runner. Prints one JSON line per round; compare two checkouts
// by running each alternately.
// Usage: node bench/redis-script-cost.mjs [N=20000] [rounds=3] [port: default a free one] [circuits=100] [inFlight=8]
//        (needs redis-server on PATH and npm run build)
// With batched Reports (report-coalescer.ts) one EVALSHA may carry several
// reports: reportScriptUsPerReport is the µs per Report.
import { Redis } from "ioredis";
import { BUILTIN_DEFAULTS, BUILTIN_PRESETS } from "../dist/src/engine/index.js";
import { createRedisStore } from "../dist/src/store/redis/redis-store.js";
import { startRedis } from "./processes.mjs";

const n = Number(process.argv[2] ?? 20_000);
const rounds = Number(process.argv[3] ?? 3);
const redis = await startRedis(process.argv[4] === undefined ? undefined : Number(process.argv[4]));
const port = redis.port;
const circuits = Number(process.argv[5] ?? 100);
const inFlight = Number(process.argv[6] ?? 8);
try {
  const connect = () => new Redis({ port });
  const client = connect();
  const store = createRedisStore({
    client,
    duplicate: connect,
    cluster: false,
    layers: { defaults: { ...BUILTIN_DEFAULTS }, presets: BUILTIN_PRESETS, rules: [] },
  });
  await store.start();
  const evalsha = async () => {
    const m = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(await client.info("commandstats"));
    return m === null ? { calls: 0, usec: 0 } : { calls: Number(m[1]), usec: Number(m[2]) };
  };
  for (let round = 1; round <= rounds; round++) {
    const permits = [];
    for (let i = 0; i < n; i++) {
      const circuit = `bench.c${i % circuits}`;
      permits.push([circuit, (await store.acquire(circuit)).permit]);
    }
    await client.config("RESETSTAT");
    await Promise.all(
      Array.from({ length: inFlight }, async (_, w) => {
        for (let i = w; i < n; i += inFlight) {
          const [circuit, permit] = permits[i];
          await store.report(circuit, { permit, outcome: "SUCCESS", durationMs: 12, retryAfterMs: 0 });
        }
      }),
    );
    const { calls, usec } = await evalsha();
    console.log(JSON.stringify({ round, reports: n, circuits, inFlight, evalshaCalls: calls, reportScriptUsPerCall: Number((usec / calls).toFixed(2)), reportScriptUsPerReport: Number((usec / n).toFixed(2)) }));
  }
  await store.close();
  client.disconnect();
} finally {
  redis.child.kill();
}
