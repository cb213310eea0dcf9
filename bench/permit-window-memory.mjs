// Redis memory one circuit's keys take after N Reports (SUCCESS, fresh
// permits, all within one permit_ttl): the permit dedupe window
// (docs/design.md, Reports). Sums MEMORY USAGE of every key of the circuit on
// a fresh redis-server. Prints one JSON line.
// Usage: node bench/permit-window-memory.mjs [N=420000] [port: default a free one]
//        (needs redis-server on PATH and npm run build; N = 14 000/s × 30 s by default)
import { Redis } from "ioredis";
import { BUILTIN_DEFAULTS, BUILTIN_PRESETS } from "../dist/src/engine/index.js";
import { createRedisStore } from "../dist/src/store/redis/redis-store.js";
import { startRedis } from "./processes.mjs";

const n = Number(process.argv[2] ?? 420_000);
const redis = await startRedis(process.argv[3] === undefined ? undefined : Number(process.argv[3]));
const port = redis.port;
try {
  const connect = () => new Redis({ port });
  const client = connect();
  const store = createRedisStore({
    client,
    duplicate: connect,
    cluster: false,
    layers: {
      defaults: { ...BUILTIN_DEFAULTS, failureThreshold: 0, failureRateThreshold: 0, slowCallDurationMs: 0, permitTtlMs: 600_000 },
      presets: BUILTIN_PRESETS,
      rules: [],
    },
  });
  await store.start();
  const name = "bench.hot";
  const started = Date.now();
  for (let done = 0; done < n; ) {
    const batch = Math.min(1_000, n - done);
    const permits = await Promise.all(Array.from({ length: batch }, () => store.acquire(name)));
    await Promise.all(permits.map((p) => store.report(name, { permit: p.permit, outcome: "SUCCESS", durationMs: 1, retryAfterMs: 0 })));
    done += batch;
  }
  const keys = await client.keys(`bb:{${name}}*`);
  const perKey = {};
  let bytes = 0;
  for (const key of keys) {
    const b = Number(await client.call("MEMORY", "USAGE", key, "SAMPLES", "0"));
    perKey[key.replace(`bb:{${name}}`, "") || "(hash)"] = b;
    bytes += b;
  }
  console.log(JSON.stringify({ reports: n, keys: keys.length, bytes, bytesPerReport: Number((bytes / n).toFixed(3)), seconds: (Date.now() - started) / 1000, perKey }));
  await store.close();
  client.disconnect();
} finally {
  redis.child.kill();
}
