/**
 * The process settings in the environment (ports, host, limits, log level,
 * and the Redis, API-key and TLS variables their modules declare), and the
 * warnings for unknown names in our namespaces. Their ranges are this
 * module's own: the engine has no say in ports or limits.
 */
import * as z from "zod";
import { LOG_LEVELS, type LogLevel } from "../logger.js";
import { CIRCUIT_ENV_VARS } from "./circuit-env.js";
import { envText, integerVar, permitSecretVar, reject, secondsVar, type RawEnv } from "./env-vars.js";
import { API_KEYS_ENV_SHAPE } from "./keys.js";
import { REDIS_ENV_SHAPE } from "./redis.js";
import { TLS_ENV_SHAPE } from "./tls.js";

const SECONDS_PER_DAY = 86_400;

/** Process settings: every BREAKERBOX_* variable but BREAKERBOX_CONFIG, plus LOG_LEVEL and REDIS_*. */
export const processEnvSchema = z.object({
  BREAKERBOX_GRPC_PORT: integerVar(0, 65_535, 50_051),
  BREAKERBOX_HTTP_PORT: integerVar(0, 65_535, 8080),
  BREAKERBOX_HOST: envText.transform((text, ctx) => {
    if (text === undefined) return undefined; // the default depends on the API keys, see loadConfig
    if (/\s/.test(text)) {
      return reject(ctx, text, `must be a host name or IP address to bind (e.g. 127.0.0.1, 0.0.0.0, ::), got ${JSON.stringify(text)}`);
    }
    return text;
  }),
  BREAKERBOX_HTTP_ALLOWED_HOSTS: envText.transform((text, ctx) => {
    if (text === undefined) return undefined; // the default depends on BREAKERBOX_HOST, see http-origin.ts
    const names = text.split(",").map((n) => n.trim());
    const bad = names.find((n) => n !== "*" && !/^(\[[0-9a-fA-F:.]+\]|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*|[A-Za-z0-9.-]+)$/.test(n));
    if (bad !== undefined) {
      return reject(ctx, text, `must be comma-separated host names or IP addresses without ports, or *, got ${JSON.stringify(bad)}`);
    }
    return names;
  }),
  BREAKERBOX_HTTP_CORS_ORIGINS: envText.transform((text, ctx) => {
    if (text === undefined) return [];
    const origins = text.split(",").map((o) => o.trim());
    const bad = origins.find((o) => !/^https?:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$/.test(o));
    if (bad !== undefined) {
      return reject(ctx, text, `must be comma-separated origins like https://dash.example.com or http://localhost:3000 (scheme, host, optional port; no path), got ${JSON.stringify(bad)}`);
    }
    return origins;
  }),
  LOG_LEVEL: envText.transform((text, ctx): LogLevel => {
    if (text === undefined) return "info";
    const level = LOG_LEVELS.find((l) => l === text.toLowerCase());
    return level ?? reject(ctx, text, `must be one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(text)}`);
  }),
  // At most a week: eviction is memory hygiene (an evicted circuit comes back
  // CLOSED on next use), and a week stays under Node's 24.8-day timer limit,
  // so a store may schedule its sweep with setTimeout.
  BREAKERBOX_IDLE_TTL_SECONDS: secondsVar(1, 7 * SECONDS_PER_DAY, SECONDS_PER_DAY),
  BREAKERBOX_MAX_CIRCUITS: integerVar(1, 100_000_000, 1_000_000),
  BREAKERBOX_MAX_WATCH_STREAMS: integerVar(1, 100_000, 1000),
  BREAKERBOX_MAX_WATCH_STREAMS_PER_KEY: integerVar(1, 100_000, 100),
  BREAKERBOX_WATCH_HEARTBEAT_SECONDS: secondsVar(1, 3600, 15),
  BREAKERBOX_SHUTDOWN_GRACE_SECONDS: secondsVar(0, 300, 5),
  // A plain (L4) load balancer pins each agent's HTTP/2 connection to one replica; an age
  // makes clients reconnect, and so spread, after a scale-up. 0 = never.
  BREAKERBOX_MAX_CONNECTION_AGE_SECONDS: secondsVar(0, 7 * SECONDS_PER_DAY, 300),
  // 0 = no limit: calls and Watch streams on an aged connection run until they end.
  BREAKERBOX_MAX_CONNECTION_AGE_GRACE_SECONDS: secondsVar(0, 7 * SECONDS_PER_DAY, 0),
  BREAKERBOX_EVENT_LOG_SIZE: integerVar(1, 1_000_000, 10_000),
  BREAKERBOX_HISTORY_LIMIT: integerVar(1, 10_000, 100),
  BREAKERBOX_METRICS_MAX_CIRCUITS: integerVar(0, 100_000, 1000),
  BREAKERBOX_METRICS_RESYNC_SECONDS: secondsVar(0, 7 * SECONDS_PER_DAY, 300),
  // 64: past a few per core, more processes only add Redis connections and context switches.
  BREAKERBOX_WORKERS: integerVar(1, 64, 1),
  BREAKERBOX_PERMIT_SECRET: permitSecretVar(),
  BREAKERBOX_PERMIT_SECRET_PREVIOUS: permitSecretVar(),
  ...REDIS_ENV_SHAPE,
  ...API_KEYS_ENV_SHAPE,
  ...TLS_ENV_SHAPE,
});

/** The process settings as parsed; its *_SECONDS entries hold milliseconds. */
export type ProcessVars = z.output<typeof processEnvSchema>;

/** The config file's variable: read apart from the schema above, so a bad port does not hide the file's problems. */
export const CONFIG_FILE_VAR = "BREAKERBOX_CONFIG";

/** Every variable the config reads, for spotting typos in our namespaces. */
const KNOWN_VARS = new Set<string>([
  ...Object.keys(processEnvSchema.shape),
  CONFIG_FILE_VAR,
  ...Object.values(CIRCUIT_ENV_VARS),
]);

/**
 * Variables the example agents and SDK docs read (docs/clients.md). They share
 * the prefix, and users export them in the terminal that also starts the
 * server, so they are not typos worth a warning.
 */
const CLIENT_VARS = new Set(["BREAKERBOX_ADDRESS", "BREAKERBOX_API_KEY"]);

/** One warning per BREAKERBOX_* or CIRCUIT_BREAKER_* variable this module does not know, with the likely intended name. */
export function unknownVarWarnings(env: RawEnv): string[] {
  const warnings: string[] = [];
  for (const name of Object.keys(env)) {
    if (!(name.startsWith("BREAKERBOX_") || name.startsWith("CIRCUIT_BREAKER_")) || KNOWN_VARS.has(name)) continue;
    if (CLIENT_VARS.has(name)) continue;
    const hint = closest(name, KNOWN_VARS);
    warnings.push(`${name}: unknown variable, ignored${hint === undefined ? "" : `; did you mean ${hint}?`}`);
  }
  return warnings.sort();
}

/**
 * The known name `name` most likely misspells: one it is a prefix of
 * (CIRCUIT_BREAKER_TIMEOUT), else the nearest by edit distance if close.
 */
function closest(name: string, known: Iterable<string>): string | undefined {
  for (const candidate of known) if (candidate.startsWith(name)) return candidate;
  let best: string | undefined;
  let bestDistance = Math.max(3, Math.floor(name.length / 4)) + 1;
  for (const candidate of known) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

