// Times the pieces of a Report inside Redis: the Redis commands a report
// script calls and the Lua steps it takes, each run N times in one EVAL (so
// the call and the script's set-up are paid once, not per piece) with the
// report scripts' own definitions (report-page.lua up to its loop), on a
// circuit that has taken 20 Reports. Prints µs per run of each piece, less
// an empty loop's, the best of --rounds. Independent of the network and of
// the server's event loop: tells where a script's time goes.
// Usage: node bench/report-lua-pieces.mjs [N=2000] [rounds=3]   (needs redis-server on PATH and npm run build)
import { Redis } from "ioredis";
import { BUILTIN_DEFAULTS, BUILTIN_PRESETS } from "../dist/src/engine/index.js";
import { packConfig } from "../dist/src/store/redis/lua-config.js";
import { loadLuaScript } from "../dist/src/store/redis/lua-loader.js";
import { createRedisStore } from "../dist/src/store/redis/redis-store.js";
import { GENERATED_INCLUDES } from "../dist/src/store/redis/scripts.js";
import { startRedis } from "./processes.mjs";

const n = Number(process.argv[2] ?? 2000);
const rounds = Number(process.argv[3] ?? 3);

// Each piece is Lua run n times; `now`, `idle_ttl_ms`, `history_limit`,
// `events_key` and `events_maxlen` are report-page.lua's, ARGV[7] the packed config.
const CIRCUIT = "bb:{x}";
const CTX = `{ name = "x", now = now, rand = 0.5, cfg = read_config(ARGV[7]), keys = { circuit = "${CIRCUIT}", probes = "${CIRCUIT}:p", reported = "${CIRCUIT}:r", history = "${CIRCUIT}:h", explicit = "${CIRCUIT}:x" }, out = {}, use = true }`;
const PIECES = {
  "HGET (settings version)": `redis.call("HGET", "${CIRCUIT}:x", "v")`,
  "TIME": `redis.call("TIME")`,
  "HGETALL (the circuit)": `redis.call("HGETALL", "${CIRCUIT}")`,
  "load_circuit (HGETALL and parse)": `local c = load_circuit("${CIRCUIT}", now)`,
  "load_circuit + save_circuit, nothing changed": `local c = load_circuit("${CIRCUIT}", now); save_circuit("${CIRCUIT}", c)`,
  "load_circuit + save_circuit, one field (HSET)": `local c = load_circuit("${CIRCUIT}", now); c.ts = c.ts + 1; save_circuit("${CIRCUIT}", c)`,
  "read_config (packed config)": `local cfg = read_config(ARGV[7])`,
  "ZREMRANGEBYSCORE (legacy permits)": `redis.call("ZREMRANGEBYSCORE", "${CIRCUIT}:r", "-inf", "(" .. (now + 1))`,
  "BITFIELD (permit slot and top)": `redis.call("BITFIELD", "${CIRCUIT}:w:s", "SET", "i64", 0, 5, "SET", "u4", "#21", 1)`,
  "PEXPIRE GT (permit window)": `redis.call("PEXPIRE", "${CIRCUIT}:w:s", 100000, "GT")`,
  "load_circuit + commit_step": `local c = load_circuit("${CIRCUIT}", now); local ctx = ${CTX}; commit_step(ctx, c, idle_ttl_ms, history_limit, events_key, events_maxlen)`,
  "cjson.encode (one reply)": `local e = cjson.encode({ state = "CLOSED", disposition = "RECORDED", recordedOutcome = "SUCCESS", duplicate = false, stale = false, events = {} })`,
};

const redis = await startRedis();
const client = new Redis({ port: redis.port });
try {
  const store = createRedisStore({
    client,
    duplicate: () => new Redis({ port: redis.port }),
    cluster: false,
    layers: { defaults: { ...BUILTIN_DEFAULTS }, presets: BUILTIN_PRESETS, rules: [] },
  });
  await store.start();
  for (let i = 0; i < 20; i++) {
    const d = await store.acquire("x");
    await store.report("x", { permit: d.permit, outcome: i % 4 === 0 ? "FAILURE" : "SUCCESS", durationMs: 5, retryAfterMs: 0 });
  }
  const source = loadLuaScript("report-page", { generated: GENERATED_INCLUDES });
  const head = source.slice(0, source.indexOf("local n_configs"));
  const indexes = ["bb:idx:names", "bb:idx:expiry", "bb:idx:touched", "bb:idx:OPEN", "bb:idx:HALF_OPEN", "bb:idx:FORCED_OPEN", "bb:idx:DISABLED"];
  const args = ["bb:", "", 86_400_000, 100, 10_000, 1, packConfig(BUILTIN_DEFAULTS), ""];
  const best = new Map();
  const time = async (body) => {
    await client.config("RESETSTAT");
    await client.eval(`${head}\nfor _i = 1, ${n} do\n${body}\nend\nreturn 1`, 8, "bb:events", ...indexes, ...args);
    const m = /cmdstat_eval:calls=(\d+),usec=(\d+)/.exec(await client.info("commandstats"));
    return Number(m[2]) / n;
  };
  for (let round = 0; round < rounds; round++) {
    for (const [name, body] of Object.entries({ empty: "local z = 0", ...PIECES })) best.set(name, Math.min(best.get(name) ?? Infinity, await time(body)));
  }
  const empty = best.get("empty");
  console.log(`µs per run, less an empty loop's (${empty.toFixed(3)} µs); best of ${rounds} rounds of ${n}; Node ${process.version}`);
  for (const name of Object.keys(PIECES)) console.log(`${(best.get(name) - empty).toFixed(2).padStart(7)}  ${name}`);
  await store.close();
} finally {
  client.disconnect();
  redis.child.kill();
}
