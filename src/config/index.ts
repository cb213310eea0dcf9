/**
 * Process configuration: the environment and the optional config file.
 *
 * This directory is the only code that reads environment variables. main
 * calls {@link loadConfig} once with `process.env` and passes the resulting
 * {@link AppConfig} down; nothing else looks at the environment.
 *
 * Division of labour: zod checks the shape of what we read (which keys exist,
 * lists versus mappings, how text becomes numbers); the engine's
 * `validatePatch` / `validateConfig` own the accepted ranges of circuit config
 * fields, and the config table (src/engine/config-fields.ts) names their
 * variables and file keys, so those live in one place. The ranges of process
 * settings (ports, limits) have no other owner and are stated in env.ts.
 *
 * Every problem is collected, not just the first, and reported in one
 * {@link ConfigError} that names the variable (or file and key) and what is
 * accepted, so an operator fixes a bad deployment in one round.
 *
 * Modules: env.ts (process settings, unknown-variable warnings),
 * circuit-env.ts (CIRCUIT_BREAKER_*), file.ts and file-schema.ts (the config
 * file), keys.ts (API keys), tls.ts, redis.ts (the store), durations.ts.
 */
import { readFileSync } from "node:fs";
import type { ConfigLayers, ConfigSettings } from "../engine/index.js";
import type { LogLevel } from "../logger.js";
import type { ApiKey, Role } from "../roles.js";
import { circuitDefaults } from "./circuit-env.js";
import { ConfigError } from "./config-error.js";
import { CONFIG_FILE_VAR, processEnvSchema, unknownVarWarnings, type ProcessVars } from "./env.js";
import { envText, formatEnvIssues, type RawEnv } from "./env-vars.js";
import { loadConfigFile, presetTable, type LoadedConfigFile } from "./file.js";
import { duplicateKeyProblems } from "./keys.js";
import { storeConfig, type StoreConfig } from "./redis.js";
import { tlsFromEnv, type TlsConfig } from "./tls.js";

export type { ApiKey, Role };
export { CIRCUIT_ENV_VARS } from "./circuit-env.js";
export { ConfigError } from "./config-error.js";
export { parseDurationMs } from "./durations.js";
export { MIN_API_KEY_LENGTH, accessControlWarning, isLoopbackHost } from "./keys.js";
export type { RedisConnection, RedisNode, StoreConfig } from "./redis.js";
export type { TlsConfig } from "./tls.js";
/** Circuit names and pattern globs follow the engine's rules (src/engine/names.ts). */
export { CIRCUIT_NAME_RE as CIRCUIT_NAME_PATTERN, PATTERN_RE as PATTERN_GLOB_PATTERN } from "../engine/names.js";

/** Everything the process needs, parsed and validated once at start. */
export interface AppConfig {
  /** gRPC listener port (BREAKERBOX_GRPC_PORT, default 50051; 0 picks a free port). */
  grpcPort: number;
  /** Connect/HTTP listener port (BREAKERBOX_HTTP_PORT, default 8080; 0 picks a free port). */
  httpPort: number;
  /**
   * Address both listeners bind: BREAKERBOX_HOST when set; otherwise
   * 0.0.0.0 when API keys are configured, and 127.0.0.1 (local only) when
   * access control is off.
   */
  host: string;
  /**
   * API keys from BREAKERBOX_API_KEYS and the config file's `api_keys`, in
   * that order; names and keys are unique. Empty: access control is off.
   */
  apiKeys: ApiKey[];
  /** TLS for both listeners; absent: plaintext. */
  tls?: TlsConfig;
  /** LOG_LEVEL, default `info`. */
  logLevel: LogLevel;
  store: StoreConfig;
  /** CLOSED circuits unused this long are evicted (BREAKERBOX_IDLE_TTL_SECONDS, default 1 day). */
  idleTtlMs: number;
  /**
   * Most circuits a store holds (BREAKERBOX_MAX_CIRCUITS, default 1,000,000);
   * creating one more answers RESOURCE_EXHAUSTED (CIRCUIT_CAP_REACHED).
   */
  maxCircuits: number;
  /**
   * Signs permits (BREAKERBOX_PERMIT_SECRET, else the config file's
   * `permit_secret`; at least 32 bytes). Absent: the memory store draws one
   * per process, the Redis store shares one it keeps in Redis.
   */
  permitSecret?: Buffer;
  /** Still accepted on reported permits while rotating (BREAKERBOX_PERMIT_SECRET_PREVIOUS, else `permit_secret_previous`). */
  previousPermitSecret?: Buffer;
  /**
   * Host names the HTTP port answers to (BREAKERBOX_HTTP_ALLOWED_HOSTS);
   * absent: the loopback names when bound to loopback, any otherwise
   * (src/server/http-origin.ts). "*" means any.
   */
  httpAllowedHosts?: string[];
  /** Origins whose browser scripts may call the HTTP port cross-origin (BREAKERBOX_HTTP_CORS_ORIGINS; default none). */
  httpCorsOrigins: string[];
  /** Most Watch streams open at once per replica (BREAKERBOX_MAX_WATCH_STREAMS, default 1000). */
  maxWatchers: number;
  /**
   * Most Watch streams open at once per API key on one replica
   * (BREAKERBOX_MAX_WATCH_STREAMS_PER_KEY, default 100). Applies only when
   * API keys are configured: without them every caller is the same anonymous one.
   */
  maxWatchersPerKey: number;
  /** Interval of keep-alive messages on idle Watch streams (BREAKERBOX_WATCH_HEARTBEAT_SECONDS, default 15 s). */
  heartbeatMs: number;
  /**
   * Server processes sharing the ports (BREAKERBOX_WORKERS, default 1 = this
   * process serves). Above 1 this process is a primary that forks that many
   * workers (src/cluster.ts); only with the Redis store.
   */
  workers: number;
  /** How long shutdown waits for in-flight calls and streams (BREAKERBOX_SHUTDOWN_GRACE_SECONDS, default 5 s). */
  shutdownGraceMs: number;
  /**
   * After this long (±10 %, grpc-js's jitter) the gRPC port asks a client
   * connection to go away (GOAWAY), so clients behind an L4 balancer reconnect
   * and spread over new replicas (BREAKERBOX_MAX_CONNECTION_AGE_SECONDS,
   * default 300 s; 0 = never).
   */
  maxConnectionAgeMs: number;
  /** Then how long its calls and streams may go on (BREAKERBOX_MAX_CONNECTION_AGE_GRACE_SECONDS; 0, the default, = until they end). */
  maxConnectionAgeGraceMs: number;
  /** Events kept so a reconnecting watcher can resume (BREAKERBOX_EVENT_LOG_SIZE, default 10000). */
  eventLogSize: number;
  /** Transitions and config changes kept per circuit (BREAKERBOX_HISTORY_LIMIT, default 100). */
  historyLimit: number;
  /**
   * Circuits that get their own `circuit` label in /metrics; later ones are
   * aggregated under circuit="_other" (BREAKERBOX_METRICS_MAX_CIRCUITS,
   * default 1000; 0 aggregates all).
   */
  metricsMaxCircuits: number;
  /**
   * How often the breakerbox_circuit_state gauge re-reads every circuit from
   * the store, on top of following transitions (BREAKERBOX_METRICS_RESYNC_SECONDS,
   * default 300; 0 = never).
   */
  metricsResyncMs: number;
  /**
   * Config resolution input: `defaults` are BUILTIN_DEFAULTS overridden by the
   * CIRCUIT_BREAKER_* variables; `presets` are BUILTIN_PRESETS plus the file's
   * presets (a file preset with a built-in's name replaces it); `rules` are the
   * file's pattern rules in file order.
   */
  layers: ConfigLayers;
  /**
   * Explicit settings per circuit name, from the file's `circuits` section.
   * A null-prototype object: look names up with `Object.hasOwn` or `[name]`
   * without meeting `Object.prototype` members.
   */
  circuits: Record<string, ConfigSettings>;
  /** BREAKERBOX_CONFIG as given, when set. */
  configFile?: string;
  /**
   * Things worth an operator's attention that do not stop the start, e.g. an
   * unknown BREAKERBOX_* or CIRCUIT_BREAKER_* variable (likely a typo). main
   * logs them once the logger exists.
   */
  warnings: string[];
}

/** The permit secrets: each variable, when set, over the config file's key. */
function permitSecrets(vars: ProcessVars, file: LoadedConfigFile | undefined): { permitSecret?: Buffer; previousPermitSecret?: Buffer } {
  const permitSecret = vars.BREAKERBOX_PERMIT_SECRET ?? file?.permitSecret;
  const previousPermitSecret = vars.BREAKERBOX_PERMIT_SECRET_PREVIOUS ?? file?.previousPermitSecret;
  return {
    ...(permitSecret === undefined ? {} : { permitSecret }),
    ...(previousPermitSecret === undefined ? {} : { previousPermitSecret }),
  };
}

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** Reads the config file as UTF-8 text; defaults to `fs.readFileSync`. Tests pass a fake. */
  readFile?: (path: string) => string;
}

/**
 * Reads and validates the whole configuration: process settings, circuit
 * defaults (CIRCUIT_BREAKER_*) and, when BREAKERBOX_CONFIG names one, the
 * config file. Synchronous: it runs once before anything listens.
 *
 * - Variables are trimmed; an empty or blank value counts as unset.
 * - Variables outside the BREAKERBOX_*, CIRCUIT_BREAKER_* and LOG_LEVEL names
 *   this module knows are ignored; unknown names in those two namespaces are
 *   reported in `warnings`.
 * - Every problem is collected; if there is any, throws one
 *   {@link ConfigError} listing them all. The file's cross-references are
 *   checked only when the env defaults are valid, since its configs resolve
 *   over them.
 */
export function loadConfig(env: RawEnv, options: LoadConfigOptions = {}): AppConfig {
  const problems: string[] = [];

  const processVars = processEnvSchema.safeParse(env);
  if (!processVars.success) problems.push(...formatEnvIssues(processVars.error));

  const { defaults, valid: defaultsValid, problems: defaultsProblems } = circuitDefaults(env);
  problems.push(...defaultsProblems);

  const configFile = envText.parse(env[CONFIG_FILE_VAR]);
  const readFile = options.readFile ?? ((path: string) => readFileSync(path, "utf8"));
  const file = configFile === undefined ? undefined : loadConfigFile(configFile, readFile, defaults, defaultsValid);
  if (file !== undefined) problems.push(...file.problems);
  const layers: ConfigLayers = file?.layers ?? { defaults, presets: presetTable({}), rules: [] };
  const circuits = file?.circuits ?? (Object.create(null) as Record<string, ConfigSettings>);

  // (A failed parse always left problems; the test also narrows the type.)
  const store = processVars.success ? storeConfig(processVars.data) : undefined;
  if (store !== undefined && "problem" in store) problems.push(store.problem);
  if (processVars.success && processVars.data.BREAKERBOX_WORKERS > 1 && store !== undefined && "kind" in store && store.kind === "memory") {
    problems.push(
      `BREAKERBOX_WORKERS: ${processVars.data.BREAKERBOX_WORKERS} workers need the Redis store (set REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES): ` +
        "with the memory store each worker would hold its own circuits, so one circuit would have several states",
    );
  }
  const sourcedKeys = [...(processVars.success ? processVars.data.BREAKERBOX_API_KEYS : []), ...(file?.apiKeys ?? [])];
  problems.push(...duplicateKeyProblems(sourcedKeys));
  const tls = tlsFromEnv(env, readFile);
  problems.push(...tls.problems);
  if (!processVars.success || problems.length > 0 || store === undefined || "problem" in store) throw new ConfigError(problems);
  const vars = processVars.data; // its *_SECONDS entries already hold milliseconds
  return {
    grpcPort: vars.BREAKERBOX_GRPC_PORT,
    httpPort: vars.BREAKERBOX_HTTP_PORT,
    host: vars.BREAKERBOX_HOST ?? (sourcedKeys.length > 0 ? "0.0.0.0" : "127.0.0.1"),
    apiKeys: sourcedKeys.map(({ name, role, key }) => ({ name, role, key })),
    ...(tls.tls === undefined ? {} : { tls: tls.tls }),
    logLevel: vars.LOG_LEVEL,
    store,
    idleTtlMs: vars.BREAKERBOX_IDLE_TTL_SECONDS,
    maxCircuits: vars.BREAKERBOX_MAX_CIRCUITS,
    ...(vars.BREAKERBOX_HTTP_ALLOWED_HOSTS === undefined ? {} : { httpAllowedHosts: vars.BREAKERBOX_HTTP_ALLOWED_HOSTS }),
    httpCorsOrigins: vars.BREAKERBOX_HTTP_CORS_ORIGINS,
    ...permitSecrets(vars, file),
    maxWatchers: vars.BREAKERBOX_MAX_WATCH_STREAMS,
    maxWatchersPerKey: vars.BREAKERBOX_MAX_WATCH_STREAMS_PER_KEY,
    heartbeatMs: vars.BREAKERBOX_WATCH_HEARTBEAT_SECONDS,
    workers: vars.BREAKERBOX_WORKERS,
    shutdownGraceMs: vars.BREAKERBOX_SHUTDOWN_GRACE_SECONDS,
    maxConnectionAgeMs: vars.BREAKERBOX_MAX_CONNECTION_AGE_SECONDS,
    maxConnectionAgeGraceMs: vars.BREAKERBOX_MAX_CONNECTION_AGE_GRACE_SECONDS,
    eventLogSize: vars.BREAKERBOX_EVENT_LOG_SIZE,
    historyLimit: vars.BREAKERBOX_HISTORY_LIMIT,
    metricsMaxCircuits: vars.BREAKERBOX_METRICS_MAX_CIRCUITS,
    metricsResyncMs: vars.BREAKERBOX_METRICS_RESYNC_SECONDS,
    layers,
    circuits,
    ...(configFile === undefined ? {} : { configFile }),
    warnings: unknownVarWarnings(env),
  };
}
