// Measures one shared Watch status round (src/service/status-poller.ts) on
// the Redis store: N circuits, W status watchers (half on every circuit, half
// on the prefix), C circuits changed before each round. Reports per round the
// wall time and the Redis commands it caused (INFO commandstats: EVALSHA
// calls, i.e. scripts run, and every command including those run inside
// scripts). The store runs on a test clock moved an hour per round, so
// circuits changed in an earlier round are past their window.
// Usage: node bench/status-rounds.mjs [N=100000] [W=20] [C=5] [rounds=5] [dist=dist]
//   (needs redis-server on PATH and `npm run build`; pass another build's
//   dist/ to measure it, e.g. main's, for a before/after)
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Redis } from "ioredis";
import { startRedis } from "./processes.mjs";

const n = Number(process.argv[2] ?? 100_000);
const watchers = Number(process.argv[3] ?? 20);
const changedPerRound = Number(process.argv[4] ?? 5);
const rounds = Number(process.argv[5] ?? 5);
const distArg = process.argv[6] ?? "dist";
const dist = pathToFileURL(resolve(distArg) + "/").href;
const { BUILTIN_DEFAULTS, BUILTIN_PRESETS } = await import(`${dist}src/engine/index.js`);
const { createRedisStore } = await import(`${dist}src/store/redis/redis-store.js`);
const { StatusPoller } = await import(`${dist}src/service/status-poller.js`);

const HOUR = 3_600_000;
const layers = { defaults: { ...BUILTIN_DEFAULTS, failureThreshold: 1_000_000, failureRateThreshold: 0 }, presets: BUILTIN_PRESETS, rules: [] };
const name = (i) => `agent.tool-${String(i).padStart(7, "0")}`;

const redis = await startRedis();
const port = redis.port;
try {
  const connect = () => new Redis({ port });
  const client = connect();
  const admin = connect();
  let now = Date.now();
  const store = createRedisStore({ client, duplicate: connect, cluster: false, layers, announceRemovals: false, testClock: () => now });
  await store.start();
  for (let i = 0; i < n; i += 1000) await Promise.all(Array.from({ length: Math.min(1000, n - i) }, (_, j) => store.acquire(name(i + j))));

  let t = 0;
  // Room for every circuit in one round, so the first (full) round completes.
  const poller = new StatusPoller(store, { maxBacklog: 4 * n, now: () => t });
  let sent = 0;
  for (let w = 0; w < watchers; w++) {
    const hooks = { live: () => true, unread: () => 0, send: () => { sent += 1; sub.taken(); } };
    const sub = poller.subscribe({ circuits: [], prefix: w % 2 === 0 ? "" : "agent." }, HOUR, hooks);
  }
  const commands = async () => {
    const info = await admin.info("commandstats");
    let all = 0;
    let evalsha = 0;
    for (const m of info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) {
      // The bench's own INFO and the event reader's blocking XREAD are not the round's.
      if (m[1] === "info" || m[1] === "xread") continue;
      all += Number(m[2]);
      if (m[1] === "evalsha" || m[1] === "eval") evalsha += Number(m[2]);
    }
    return { all, evalsha };
  };
  const round = async () => {
    now += HOUR;
    t += HOUR;
    const before = await commands();
    const sentBefore = sent;
    const start = performance.now();
    await poller.round();
    const ms = performance.now() - start;
    const after = await commands();
    return { ms: +ms.toFixed(1), scripts: after.evalsha - before.evalsha, commands: after.all - before.all, sent: sent - sentBefore };
  };
  const first = await round();
  const steady = [];
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < changedPerRound; k++) {
      const c = name(Math.floor(((k + 0.5 + r / rounds) * n) / changedPerRound) % n);
      const d = await store.acquire(c);
      await store.report(c, { permit: d.permit, outcome: "FAILURE", durationMs: 1, retryAfterMs: 0 });
    }
    steady.push(await round());
  }
  const ms = steady.map((r) => r.ms).sort((a, b) => a - b);
  console.log(JSON.stringify({ dist: distArg, circuits: n, watchers, changedPerRound, first, rounds: steady, medianMs: ms[Math.floor(ms.length / 2)] }));
  await store.close();
  client.disconnect();
  admin.disconnect();
} finally {
  redis.child.kill("SIGKILL");
}
