/**
 * The process settings in the environment (ports, host, limits, log level,
 * and the Redis, API-key and TLS variables their modules declare), and the
 * warnings for unknown names in our namespaces. Their ranges are this
 * module's own: the engine has no say in ports or limits.
 */
import * as z from "zod";
import { LOG_LEVELS, type LogLevel } from "../logger.js";
import { CIRCUIT_ENV_VARS } from "./circuit-env.js";
import { documented } from "./env-docs.js";
import { envText, integerVar, permitSecretVar, reject, secondsVar, type RawEnv } from "./env-vars.js";
import { API_KEYS_ENV_SHAPE } from "./keys.js";
import { REDIS_ENV_SHAPE } from "./redis.js";
import { TLS_ENV_SHAPE } from "./tls.js";

const SECONDS_PER_DAY = 86_400;
const DEFAULT_LOG_LEVEL: LogLevel = "info";

/** BREAKERBOX_MAX_WATCH_STREAMS's reference entry, apart from it so a change of its numbers touches only its line. */
const WATCH_STREAMS_DOC = {
  group: "limits",
  meaning:
    "Most long-lived streams open at once on one replica: `CircuitService.Watch` and `grpc.health.v1.Health.Watch` together. One more answers `RESOURCE_EXHAUSTED` with reason `TOO_MANY_WATCHERS` (metadata `limit`, `scope` `replica`; the message names this variable). Protects the replica's memory and tasks from watchers that never leave. An idle stream costs a few KB and an event is encoded once for every stream it goes to, so thousands per replica are the expected use (docs/benchmarks.md, \"Watch fan-out\": 10,000 watchers over two replicas); what bounds it is the fan-out work per event, which grows with the streams the event goes to.",
} as const;

/**
 * Process settings: every BREAKERBOX_* variable but BREAKERBOX_CONFIG, plus
 * LOG_LEVEL and REDIS_*. Each entry carries its row of the configuration
 * reference (env-docs.ts); integerVar and secondsVar derive the default and
 * range of theirs.
 */
export const processEnvSchema = z.object({
  BREAKERBOX_GRPC_PORT: integerVar(0, 65_535, 50_051, {
    group: "server",
    meaning: "Port of the gRPC listener (grpc-js: the hot path, health, reflection). `0` picks a free port.",
  }),
  BREAKERBOX_HTTP_PORT: integerVar(0, 65_535, 8080, {
    group: "server",
    meaning: "Port of the HTTP listener (Connect, gRPC-Web, `/metrics`, `/healthz`, `/readyz`, dashboard). `0` picks a free port.",
  }),
  BREAKERBOX_HOST: documented(
    envText.transform((text, ctx) => {
      if (text === undefined) return undefined; // the default depends on the API keys, see loadConfig
      if (/\s/.test(text)) {
        return reject(ctx, text, `must be a host name or IP address to bind (e.g. 127.0.0.1, 0.0.0.0, ::), got ${JSON.stringify(text)}`);
      }
      return text;
    }),
    {
      group: "server",
      default: "`0.0.0.0` with API keys, `127.0.0.1` without",
      accepted: "a host name or IP address, no spaces",
      meaning:
        "Address both listeners bind. Without API keys the default accepts local connections only (and says so at start); setting a non-loopback address with no keys starts but warns that anyone who can reach the ports can change every circuit.",
    },
  ),
  BREAKERBOX_HTTP_ALLOWED_HOSTS: documented(
    envText.transform((text, ctx) => {
      if (text === undefined) return undefined; // the default depends on BREAKERBOX_HOST, see http-origin.ts
      const names = text.split(",").map((n) => n.trim());
      const bad = names.find((n) => n !== "*" && !/^(\[[0-9a-fA-F:.]+\]|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*|[A-Za-z0-9.-]+)$/.test(n));
      if (bad !== undefined) {
        return reject(ctx, text, `must be comma-separated host names or IP addresses without ports, or *, got ${JSON.stringify(bad)}`);
      }
      return names;
    }),
    {
      group: "access",
      default: "`localhost,127.0.0.1,::1` when `BREAKERBOX_HOST` is loopback, any host otherwise",
      accepted: "comma-separated host names or IP addresses, no ports (IPv6 with or without brackets); `*` = any",
      meaning:
        "Host names the HTTP port answers to; a request naming another host gets 403 (not `/healthz`, `/readyz`). Stops DNS rebinding from reaching a keyless loopback server from a browser. Behind a proxy or under a DNS name on loopback, add that name. See [security.md](security.md).",
    },
  ),
  BREAKERBOX_HTTP_CORS_ORIGINS: documented(
    envText.transform((text, ctx) => {
      if (text === undefined) return [];
      const origins = text.split(",").map((o) => o.trim());
      const bad = origins.find((o) => !/^https?:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$/.test(o));
      if (bad !== undefined) {
        return reject(ctx, text, `must be comma-separated origins like https://dash.example.com or http://localhost:3000 (scheme, host, optional port; no path), got ${JSON.stringify(bad)}`);
      }
      return origins;
    }),
    {
      group: "access",
      default: "none",
      accepted: "comma-separated origins, `http(s)://host[:port]`, no path",
      meaning:
        "Web origins whose scripts may call the HTTP port cross-origin (CORS headers, preflight). Any other cross-origin browser call gets 403; the dashboard, served by the server itself, needs nothing here.",
    },
  ),
  LOG_LEVEL: documented(
    envText.transform((text, ctx): LogLevel => {
      if (text === undefined) return DEFAULT_LOG_LEVEL;
      const level = LOG_LEVELS.find((l) => l === text.toLowerCase());
      return level ?? reject(ctx, text, `must be one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(text)}`);
    }),
    {
      group: "server",
      default: `\`${DEFAULT_LOG_LEVEL}\``,
      accepted: `${LOG_LEVELS.map((l) => `\`${l}\``).join(", ")} (any case)`,
      meaning: "Least severe level logged. Logs are JSON lines on stdout.",
    },
  ),
  // At most a week: eviction is memory hygiene (an evicted circuit comes back
  // CLOSED on next use), and a week stays under Node's 24.8-day timer limit,
  // so a store may schedule its sweep with setTimeout.
  BREAKERBOX_IDLE_TTL_SECONDS: secondsVar(1, 7 * SECONDS_PER_DAY, SECONDS_PER_DAY, {
    group: "limits",
    defaultNote: "1 day",
    meaning:
      "A circuit unused this long (no Acquire, Report or admin write of it) is forgotten once it is CLOSED or HALF_OPEN with no probe out, to bound memory. An OPEN circuit turns HALF_OPEN at the end of its open duration, so one nobody uses is gone at most open duration + this after its last use (Redis: with a probe left unreported, up to `max_open_duration` later than that). FORCED_OPEN and DISABLED circuits are operators' orders and never evicted (only admin keys can pin). A forgotten circuit comes back CLOSED with its resolved config on next use.",
  }),
  BREAKERBOX_MAX_CIRCUITS: integerVar(1, 100_000_000, 1_000_000, {
    group: "limits",
    meaning:
      "Most circuits the store holds (all replicas together on Redis). A call that would create one more (an `Acquire` or `AcquireAny` candidate, or `ForceState` or `Configure` of a new name; `Report` never creates one) answers `RESOURCE_EXHAUSTED` with reason `CIRCUIT_CAP_REACHED` and changes nothing; existing circuits keep working, and idle ones are evicted (`BREAKERBOX_IDLE_TTL_SECONDS`), which makes room again. Protects the store's memory from an agent inventing names.",
  }),
  // Sized for thousands of watchers per replica: a stream costs a few KB and
  // an event is encoded once for all of them (docs/benchmarks.md, Watch fan-out).
  BREAKERBOX_MAX_WATCH_STREAMS: integerVar(1, 1_000_000, 20_000, WATCH_STREAMS_DOC),
  BREAKERBOX_MAX_WATCH_STREAMS_PER_KEY: integerVar(1, 100_000, 100, {
    group: "limits",
    meaning:
      "Most `Watch` streams one API key holds open at once on one replica, so one key (one agent, or a leak in one) cannot take every stream of the replica. One more answers `RESOURCE_EXHAUSTED` `TOO_MANY_WATCHERS` (metadata `limit`, `scope` `key`). Applies only when API keys are configured: without keys every caller is the same anonymous caller (a per-address count would mean nothing behind a proxy or NAT, and the keyless default listens on loopback only), so the replica limit is the bound.",
  }),
  BREAKERBOX_WATCH_HEARTBEAT_SECONDS: secondsVar(1, 3600, 15, {
    group: "limits",
    meaning: "A `Watch` stream with nothing to say sends a heartbeat this often, so proxies keep it open and clients notice a dead connection.",
  }),
  BREAKERBOX_SHUTDOWN_GRACE_SECONDS: secondsVar(0, 300, 5, {
    group: "server",
    meaning: "On shutdown, how long to wait for in-flight calls and streams before closing them.",
  }),
  // A plain (L4) load balancer pins each agent's HTTP/2 connection to one replica; an age
  // makes clients reconnect, and so spread, after a scale-up. 0 = never.
  BREAKERBOX_MAX_CONNECTION_AGE_SECONDS: secondsVar(0, 7 * SECONDS_PER_DAY, 300, {
    group: "server",
    acceptedNote: "`0` = never",
    meaning:
      "After this long (±10 %) the gRPC port sends a client connection GOAWAY: the client's next call opens a new connection, so agents behind a plain (L4) load balancer spread over replicas added since they connected. See [operations.md](operations.md#connection-balancing).",
  }),
  // 0 = no limit: calls and Watch streams on an aged connection run until they end.
  BREAKERBOX_MAX_CONNECTION_AGE_GRACE_SECONDS: secondsVar(0, 7 * SECONDS_PER_DAY, 0, {
    group: "server",
    defaultNote: "no limit",
    meaning:
      "How long calls and `Watch` streams on an aged connection may go on before they are cancelled. `0`: until they end (a `Watch` keeps its connection; new calls move).",
  }),
  BREAKERBOX_EVENT_LOG_SIZE: integerVar(1, 1_000_000, 10_000, {
    group: "limits",
    meaning: "Transition events kept so a reconnecting watcher can resume from its token without missing any.",
  }),
  BREAKERBOX_HISTORY_LIMIT: integerVar(1, 10_000, 100, {
    group: "limits",
    meaning: "Entries (transitions and config changes) kept in each circuit's history.",
  }),
  BREAKERBOX_METRICS_MAX_CIRCUITS: integerVar(0, 100_000, 1000, {
    group: "metrics",
    meaning:
      "Circuits that get their own `circuit` label in `/metrics`. The first this many circuits a replica meets keep their label for the life of the process; every later one is counted under `circuit=\"_other\"`. `0` puts every circuit under `_other`. See [operations.md](operations.md#metrics).",
  }),
  BREAKERBOX_METRICS_RESYNC_SECONDS: secondsVar(0, 7 * SECONDS_PER_DAY, 300, {
    group: "metrics",
    meaning:
      "How often the `breakerbox_circuit_state` gauge re-reads every circuit from the store, on top of following every transition. Picks up what no transition announces (a circuit disabled by config, one created on another replica that has not changed state yet). `0` = never. Each resync reads every circuit once (in Redis mode: one read per circuit).",
  }),
  // 64: past a few per core, more processes only add Redis connections and context switches.
  BREAKERBOX_WORKERS: integerVar(1, 64, 1, {
    group: "server",
    acceptedNote: "above 1 only with the Redis store (the memory store refuses to start: each worker would hold its own circuits)",
    meaning:
      "Server processes sharing both ports on this host. `1`: this process serves. Above 1: this process is a primary that forks that many workers (Node's `cluster` module; each runs both listeners, connections are handed out in turn), restarts one that dies (backoff 0.1 s doubling to 10 s), logs `breakerbox listening` once, and on SIGTERM/SIGINT stops them all (each with `BREAKERBOX_SHUTDOWN_GRACE_SECONDS`). Port `0` picks one free port for all. `/metrics` on any worker answers the sum over all workers (state gauges as one), plus `breakerbox_worker_rpcs_total{pid}`. Watch-stream limits apply per worker. Worth it only when the server's CPU, not Redis, is the limit: see [benchmarks.md](benchmarks.md).",
  }),
  BREAKERBOX_PERMIT_SECRET: permitSecretVar({
    group: "access",
    default: "unset: memory store a random one per process; Redis store one generated once and kept in Redis (`<prefix>permit-secret`), shared by every replica",
    meaning:
      "Key of the HMAC that signs permits, so an agent cannot make one up or alter one. Replicas sharing a store must share it. Never logged. Overrides the config file's `permit_secret`. See [design.md](design.md#permits).",
  }),
  BREAKERBOX_PERMIT_SECRET_PREVIOUS: permitSecretVar({
    group: "access",
    default: "unset",
    meaning:
      "While rotating `BREAKERBOX_PERMIT_SECRET`: the old secret, still accepted on reported permits (new ones are signed with the current). Keep it for at least one `permit_ttl` after every replica runs the new secret, then remove it. Overrides the config file's `permit_secret_previous`. See [operations.md](operations.md#rotating-the-permit-secret).",
  }),
  ...REDIS_ENV_SHAPE,
  ...API_KEYS_ENV_SHAPE,
  ...TLS_ENV_SHAPE,
});

/** The process settings as parsed; its *_SECONDS entries hold milliseconds. */
export type ProcessVars = z.output<typeof processEnvSchema>;

/** The config file's variable: read apart from the schema above, so a bad port does not hide the file's problems. */
export const CONFIG_FILE_VAR = "BREAKERBOX_CONFIG";

/** How {@link CONFIG_FILE_VAR} is read. */
export const configFileVar = documented(envText, {
  group: "server",
  default: "unset",
  accepted: "path to a `.yaml`, `.yml` or `.json` file",
  meaning: "The config file: presets, pattern rules, per-circuit settings, API keys, permit secrets ([below](#config-file)).",
});

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

