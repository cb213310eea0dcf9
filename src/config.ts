/**
 * Process configuration: the environment and the optional config file.
 *
 * This is the only module that reads environment variables. main calls
 * {@link loadConfig} once with `process.env` and passes the resulting
 * {@link AppConfig} down; nothing else looks at the environment.
 *
 * Division of labour: zod checks the shape of what we read (which keys exist,
 * lists versus mappings, how text becomes numbers); the engine's
 * `validatePatch` / `validateConfig` own the accepted ranges of circuit config
 * fields, so those numbers live in one place (src/engine/config.ts). The
 * ranges of process settings (ports, limits) have no other owner and are
 * stated here.
 *
 * Every problem is collected, not just the first, and reported in one
 * {@link ConfigError} that names the variable (or file and key) and what is
 * accepted, so an operator fixes a bad deployment in one round.
 */
import { X509Certificate, createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { extname } from "node:path";
import YAML from "yaml";
import * as z from "zod";
import {
  BUILTIN_DEFAULTS,
  BUILTIN_PRESETS,
  CONFIG_FIELD_NAMES,
  applyPatch,
  resolveConfig,
  validateConfig,
  validatePatch,
  type CircuitConfig,
  type ConfigIssue,
  type ConfigLayers,
  type ConfigPatch,
  type ConfigSettings,
  type PatternRule,
  type ResolvedConfig,
} from "./engine/index.js";
import { LOG_LEVELS, type LogLevel } from "./logger.js";
import { ROLES, type ApiKey, type Role } from "./roles.js";

export type { ApiKey, Role };

// ---------------------------------------------------------------------------
// Public types

/**
 * Where circuit state lives. Only the in-process store exists in this build.
 * The Redis store will join this union as `{ kind: "redis"; url: string }`,
 * read from REDIS_URL here, and main will pick the store with one switch on
 * `kind`.
 */
/** A Redis node address. */
export interface RedisNode {
  host: string;
  port: number;
}

/** How to reach Redis: one server (REDIS_URL), Sentinel, or Cluster. */
export type RedisConnection =
  | { mode: "single"; url: string }
  | { mode: "sentinel"; sentinels: RedisNode[]; name: string; username?: string; password?: string }
  | { mode: "cluster"; nodes: RedisNode[]; username?: string; password?: string };

/**
 * Where circuits live: in this process (the default), or in Redis when
 * REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES is set.
 */
export type StoreConfig =
  | { kind: "memory" }
  | {
      kind: "redis";
      connection: RedisConnection;
      /** Prefix of every key (BREAKERBOX_REDIS_KEY_PREFIX, default "bb:"). */
      keyPrefix: string;
      /** A Redis command not answered within this fails with UNAVAILABLE (BREAKERBOX_REDIS_TIMEOUT_SECONDS, default 2 s). */
      commandTimeoutMs: number;
    };

/**
 * TLS on both listeners (BREAKERBOX_TLS_CERT_FILE and BREAKERBOX_TLS_KEY_FILE,
 * optionally BREAKERBOX_TLS_CLIENT_CA_FILE). The PEM texts were read and
 * checked at start: the certificate parses, the key parses and belongs to it.
 */
export interface TlsConfig {
  /** PEM certificate chain, the server's own certificate first. */
  cert: string;
  /** PEM private key of that certificate. */
  key: string;
  /** PEM CA bundle: when set, clients must present a certificate it signed (mutual TLS). */
  clientCa?: string;
  certFile: string;
  keyFile: string;
  clientCaFile?: string;
}

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
  /** Most Watch streams open at once per replica (BREAKERBOX_MAX_WATCH_STREAMS, default 1000). */
  maxWatchers: number;
  /** Interval of keep-alive messages on idle Watch streams (BREAKERBOX_WATCH_HEARTBEAT_SECONDS, default 15 s). */
  heartbeatMs: number;
  /** How long shutdown waits for in-flight calls and streams (BREAKERBOX_SHUTDOWN_GRACE_SECONDS, default 5 s). */
  shutdownGraceMs: number;
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

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** Reads the config file as UTF-8 text; defaults to `fs.readFileSync`. Tests pass a fake. */
  readFile?: (path: string) => string;
}

/**
 * Invalid configuration. `problems` has one line per bad variable or key,
 * each starting with what to fix (`CIRCUIT_BREAKER_JITTER: ...`,
 * `/etc/breakerbox.yaml: rules[1].config.failure_treshold: ...`); `message`
 * joins them into one paragraph fit for a single log line.
 */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly problems: string[];
  constructor(problems: string[]) {
    const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
    super(`Invalid configuration (${count}): ${problems.join("; ")}`);
    this.problems = problems;
  }
  static is(e: unknown): e is ConfigError {
    return e instanceof ConfigError;
  }
}

// ---------------------------------------------------------------------------
// Names

/** Circuit names and pattern globs follow the engine's rules (src/engine/names.ts). */
export { CIRCUIT_NAME_RE as CIRCUIT_NAME_PATTERN, PATTERN_RE as PATTERN_GLOB_PATTERN } from "./engine/names.js";
import { CIRCUIT_NAME_RE as CIRCUIT_NAME_PATTERN, PATTERN_RE as PATTERN_GLOB_PATTERN } from "./engine/names.js";

/** Preset names: short identifiers, as the built-ins are. */
const PRESET_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * The environment variable that sets each circuit default. Typed by engine
 * field, so a new config field does not compile until it has a variable.
 */
export const CIRCUIT_ENV_VARS: Readonly<Record<keyof CircuitConfig, string>> = Object.freeze({
  enabled: "CIRCUIT_BREAKER_ENABLED",
  failureThreshold: "CIRCUIT_BREAKER_FAILURE_THRESHOLD",
  failureRateThreshold: "CIRCUIT_BREAKER_FAILURE_RATE_THRESHOLD",
  minimumCalls: "CIRCUIT_BREAKER_MINIMUM_CALLS",
  windowMs: "CIRCUIT_BREAKER_WINDOW_SIZE_SECONDS",
  slowCallDurationMs: "CIRCUIT_BREAKER_SLOW_CALL_SECONDS",
  slowCallRateThreshold: "CIRCUIT_BREAKER_SLOW_CALL_RATE_THRESHOLD",
  openDurationMs: "CIRCUIT_BREAKER_TIMEOUT_SECONDS",
  backoffMultiplier: "CIRCUIT_BREAKER_BACKOFF_MULTIPLIER",
  maxOpenDurationMs: "CIRCUIT_BREAKER_MAX_TIMEOUT_SECONDS",
  halfOpenMaxCalls: "CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS",
  successThreshold: "CIRCUIT_BREAKER_SUCCESS_THRESHOLD",
  permitTtlMs: "CIRCUIT_BREAKER_PERMIT_TTL_SECONDS",
  jitter: "CIRCUIT_BREAKER_JITTER",
  mode: "CIRCUIT_BREAKER_MODE",
});

const FIELD_KEYS = Object.keys(CONFIG_FIELD_NAMES) as (keyof CircuitConfig)[];

/** Engine field by client (snake_case) name; null prototype so "constructor" is not a field. */
const FIELD_BY_CLIENT_NAME: Readonly<Record<string, keyof CircuitConfig>> = Object.freeze(
  Object.assign(
    Object.create(null) as Record<string, keyof CircuitConfig>,
    Object.fromEntries(FIELD_KEYS.map((key) => [CONFIG_FIELD_NAMES[key], key])),
  ),
);

const ACCEPTED_CONFIG_KEYS = FIELD_KEYS.map((key) => CONFIG_FIELD_NAMES[key]).join(", ");

/** The engine's convention: duration fields are integer milliseconds named `...Ms`. */
function isDurationField(key: keyof CircuitConfig): boolean {
  return key.endsWith("Ms");
}

// ---------------------------------------------------------------------------
// Numbers and durations

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A decimal number written in text, or undefined. Rejects hex, "Infinity" and blanks, which Number() accepts. */
function parseDecimal(text: string): number | undefined {
  if (!DECIMAL.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Scales to milliseconds, removing the binary floating-point noise of the
 * multiplication (0.1 s is 100.00000000000001 ms) but keeping a genuine
 * sub-millisecond fraction, which the validators then reject.
 */
function toMs(amount: number, msPerUnit: number): number {
  const ms = amount * msPerUnit;
  const whole = Math.round(ms);
  return Math.abs(ms - whole) < 1e-6 ? whole : ms;
}

const DURATION_TEXT = /^((?:\d+(?:\.\d*)?|\.\d+))\s*(ms|s|m|h)?$/;
const MS_PER_UNIT: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_FORMS = 'a number of seconds or a string like "500ms", "15s", "1.5s", "5m", "1h" (whole milliseconds, not negative)';

/** Milliseconds, or undefined when `value` is not a duration. */
function durationMs(value: unknown): number | undefined {
  let ms: number;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return undefined;
    ms = toMs(value, 1000);
  } else if (typeof value === "string") {
    const match = DURATION_TEXT.exec(value.trim());
    if (match === null) return undefined;
    ms = toMs(Number(match[1]), MS_PER_UNIT[match[2] ?? "s"] ?? 1000);
  } else {
    return undefined;
  }
  return ms >= 0 && Number.isInteger(ms) ? ms : undefined;
}

/**
 * Parses a duration as the config file spells it: a number of seconds
 * (`15`, `0.5`, also as text `"15"`) or text with a unit, `ms`, `s`, `m` or
 * `h` (`"500ms"`, `"1.5s"`, `"5m"`, `"1h"`). Returns whole milliseconds.
 * Spaces around the text and before the unit are ignored; units are lower
 * case only ("5M" could be read as months).
 *
 * Only the form is checked here: whether the duration suits a field is the
 * engine's `validatePatch`'s call. Throws a {@link ConfigError} naming `field`
 * for a negative value, a sub-millisecond fraction (`"1.5ms"`) or any other
 * text.
 */
export function parseDurationMs(value: string | number, field: string): number {
  const ms = durationMs(value);
  if (ms === undefined) throw new ConfigError([`${field}: must be ${DURATION_FORMS}, got ${show(value)}`]);
  return ms;
}

/** A value as a message quotes it: text in quotes, numbers as written (JSON would print NaN as null). */
function show(value: unknown): string {
  return typeof value === "number" ? String(value) : JSON.stringify(value);
}

// ---------------------------------------------------------------------------
// Environment

type RawEnv = Record<string, string | undefined>;

/**
 * A variable's text, trimmed; empty or blank counts as unset, because
 * `FOO=` in a compose file or manifest means "no value" far more often than
 * "the empty string".
 */
const envText = z
  .string()
  .optional()
  .transform((value) => {
    const text = value?.trim();
    return text === undefined || text === "" ? undefined : text;
  });

type IssueSink = { issues: z.core.$ZodRawIssue[] };

function reject(ctx: IssueSink, input: string, message: string): never {
  ctx.issues.push({ code: "custom", message, input });
  return z.NEVER;
}

function integerVar(min: number, max: number, fallback: number) {
  return envText.transform((text, ctx) => {
    if (text === undefined) return fallback;
    const n = parseDecimal(text);
    if (n === undefined || !Number.isInteger(n) || n < min || n > max) {
      return reject(ctx, text, `must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
    }
    return n;
  });
}

/** A number of seconds (fractions allowed) in [min, max], returned as whole milliseconds. */
function secondsVar(min: number, max: number, fallbackSeconds: number) {
  return envText.transform((text, ctx) => {
    if (text === undefined) return fallbackSeconds * 1000;
    const n = parseDecimal(text);
    if (n === undefined || n < min || n > max) {
      return reject(ctx, text, `must be a number of seconds from ${min} to ${max}, got ${JSON.stringify(text)}`);
    }
    return Math.round(n * 1000);
  });
}

const SECONDS_PER_DAY = 86_400;

/** Process settings. Their ranges are this module's own (the engine has no say in ports or limits). */
const processEnvSchema = z.object({
  BREAKERBOX_GRPC_PORT: integerVar(0, 65_535, 50_051),
  BREAKERBOX_HTTP_PORT: integerVar(0, 65_535, 8080),
  BREAKERBOX_HOST: envText.transform((text, ctx) => {
    if (text === undefined) return undefined; // the default depends on the API keys, see loadConfig
    if (/\s/.test(text)) {
      return reject(ctx, text, `must be a host name or IP address to bind (e.g. 127.0.0.1, 0.0.0.0, ::), got ${JSON.stringify(text)}`);
    }
    return text;
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
  BREAKERBOX_MAX_WATCH_STREAMS: integerVar(1, 100_000, 1000),
  BREAKERBOX_WATCH_HEARTBEAT_SECONDS: secondsVar(1, 3600, 15),
  BREAKERBOX_SHUTDOWN_GRACE_SECONDS: secondsVar(0, 300, 5),
  BREAKERBOX_EVENT_LOG_SIZE: integerVar(1, 1_000_000, 10_000),
  BREAKERBOX_HISTORY_LIMIT: integerVar(1, 10_000, 100),
  BREAKERBOX_METRICS_MAX_CIRCUITS: integerVar(0, 100_000, 1000),
  BREAKERBOX_METRICS_RESYNC_SECONDS: secondsVar(0, 7 * SECONDS_PER_DAY, 300),
  REDIS_URL: envText.transform((text, ctx) => {
    if (text === undefined) return undefined;
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return reject(ctx, "(hidden)", "must be a URL like redis://[user:password@]host:6379[/db] or rediss://... for TLS");
    }
    if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
      return reject(ctx, url.protocol, `must start with redis:// or rediss://, got ${url.protocol}//`);
    }
    return text;
  }),
  REDIS_SENTINELS: envText.transform((text, ctx) => (text === undefined ? undefined : nodeList(text, ctx))),
  REDIS_SENTINEL_NAME: envText,
  REDIS_CLUSTER_NODES: envText.transform((text, ctx) => (text === undefined ? undefined : nodeList(text, ctx))),
  REDIS_USERNAME: envText,
  REDIS_PASSWORD: envText,
  BREAKERBOX_REDIS_KEY_PREFIX: envText.transform((text, ctx) => {
    if (text === undefined) return "bb:";
    if (!/^[A-Za-z0-9._:-]{1,64}$/.test(text)) {
      return reject(ctx, text, `must be 1 to 64 letters, digits or . _ : -, got ${JSON.stringify(text)}`);
    }
    return text;
  }),
  BREAKERBOX_REDIS_TIMEOUT_SECONDS: secondsVar(0.05, 60, 2),
  BREAKERBOX_API_KEYS: envText.transform((text, ctx) => (text === undefined ? [] : apiKeyList(text, ctx))),
  BREAKERBOX_TLS_CERT_FILE: envText,
  BREAKERBOX_TLS_KEY_FILE: envText,
  BREAKERBOX_TLS_CLIENT_CA_FILE: envText,
});

// ---------------------------------------------------------------------------
// Access control and TLS

/** Shortest API key accepted: 16 characters of visible ASCII. */
export const MIN_API_KEY_LENGTH = 16;
/** Key names are shown in logs and history; ":" and "," would break BREAKERBOX_API_KEYS. */
const KEY_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
/** What a Bearer token can carry in a header: visible ASCII, no spaces. */
const KEY_PATTERN = /^[\x21-\x7e]+$/;
const KEY_NAME_RULE = "must be 1 to 64 letters, digits or . _ @ -, starting with a letter or digit";
const KEY_RULE = `must be at least ${MIN_API_KEY_LENGTH} characters of visible ASCII (no spaces)`;

/**
 * A role as written, quoted only when it looks like a role word: a swapped
 * entry ("ops:<key>:admin") must not print the key in the log.
 */
function showRole(role: string): string {
  return /^[A-Za-z_]{1,15}$/.test(role) ? JSON.stringify(role) : "(not shown)";
}

/** Problems with one key's fields (none quotes the key); `where` prefixes each. */
function apiKeyProblems(where: string, name: string, role: string, key: string): string[] {
  const problems: string[] = [];
  const label = KEY_NAME_PATTERN.test(name) ? `${where} (${JSON.stringify(name)})` : where;
  if (!KEY_NAME_PATTERN.test(name)) problems.push(`${where}: name ${KEY_NAME_RULE}`);
  if (!(ROLES as readonly string[]).includes(role)) problems.push(`${label}: unknown role ${showRole(role)}; accepted: ${ROLES.join(", ")}`);
  if (key.length < MIN_API_KEY_LENGTH || !KEY_PATTERN.test(key)) problems.push(`${label}: key ${KEY_RULE}`);
  return problems;
}

/** A checked key and where it was configured ("BREAKERBOX_API_KEYS entry 2"), for duplicate messages. */
type SourcedKey = ApiKey & { where: string };

/**
 * BREAKERBOX_API_KEYS: "name:role:key,name:role:key". The key is everything
 * after the second colon. Empty entries (a trailing comma) are skipped.
 * Messages name entries by position and name, never by their text.
 */
function apiKeyList(text: string, ctx: IssueSink): SourcedKey[] {
  const keys: SourcedKey[] = [];
  let failed = false;
  const entries = text.split(",").map((e) => e.trim());
  entries.forEach((entry, i) => {
    if (entry === "") return;
    const where = `entry ${i + 1}`;
    const first = entry.indexOf(":");
    const second = first < 0 ? -1 : entry.indexOf(":", first + 1);
    if (second < 0) {
      failed = true;
      ctx.issues.push({
        code: "custom",
        input: "(hidden)",
        message: `${where} is not name:role:key (e.g. ci:agent:<a key of ${MIN_API_KEY_LENGTH} or more characters>); entries are separated by commas`,
      });
      return;
    }
    const name = entry.slice(0, first).trim();
    const role = entry.slice(first + 1, second).trim();
    const key = entry.slice(second + 1).trim();
    const problems = apiKeyProblems(where, name, role, key);
    for (const message of problems) ctx.issues.push({ code: "custom", input: "(hidden)", message });
    if (problems.length > 0) failed = true;
    else keys.push({ name, role: role as Role, key, where: `BREAKERBOX_API_KEYS ${where}` });
  });
  return failed ? z.NEVER : keys;
}

/** Names and keys must be unique across BREAKERBOX_API_KEYS and the config file. */
function duplicateKeyProblems(keys: readonly SourcedKey[]): string[] {
  const problems: string[] = [];
  const byName = new Map<string, SourcedKey>();
  const byKey = new Map<string, SourcedKey>();
  for (const k of keys) {
    const sameName = byName.get(k.name);
    if (sameName !== undefined) {
      problems.push(`${k.where}: name ${JSON.stringify(k.name)} is already used by ${sameName.where}; key names must be unique (they name the caller in history and logs)`);
    } else {
      byName.set(k.name, k);
    }
    const sameKey = byKey.get(k.key);
    if (sameKey !== undefined) {
      problems.push(`${k.where} (${JSON.stringify(k.name)}): same key as ${sameKey.where} (${JSON.stringify(sameKey.name)}); give every client its own key`);
    } else {
      byKey.set(k.key, k);
    }
  }
  return problems;
}

/** A TLS file's PEM text, or the problem naming its variable. */
function readPem(variable: string, file: string, readFile: (path: string) => string): { text: string } | { problem: string } {
  try {
    return { text: readFile(file) };
  } catch (e) {
    return { problem: `${variable}: cannot read ${file}: ${oneLine(errorMessage(e))}` };
  }
}

/**
 * The TLS settings, read and checked now so that a bad file stops the start
 * with its variable named, rather than failing the first handshake.
 */
function tlsConfig(
  vars: { BREAKERBOX_TLS_CERT_FILE?: string | undefined; BREAKERBOX_TLS_KEY_FILE?: string | undefined; BREAKERBOX_TLS_CLIENT_CA_FILE?: string | undefined },
  readFile: (path: string) => string,
): { tls?: TlsConfig; problems: string[] } {
  const certFile = vars.BREAKERBOX_TLS_CERT_FILE;
  const keyFile = vars.BREAKERBOX_TLS_KEY_FILE;
  const caFile = vars.BREAKERBOX_TLS_CLIENT_CA_FILE;
  if (certFile === undefined && keyFile === undefined) {
    return caFile === undefined
      ? { problems: [] }
      : { problems: ["BREAKERBOX_TLS_CLIENT_CA_FILE: needs BREAKERBOX_TLS_CERT_FILE and BREAKERBOX_TLS_KEY_FILE (client certificates are checked only over TLS)"] };
  }
  if (certFile === undefined || keyFile === undefined) {
    const [missing, present] = certFile === undefined ? ["BREAKERBOX_TLS_CERT_FILE", "BREAKERBOX_TLS_KEY_FILE"] : ["BREAKERBOX_TLS_KEY_FILE", "BREAKERBOX_TLS_CERT_FILE"];
    return { problems: [`${missing}: is required with ${present}; set both (TLS on) or neither (plaintext)`] };
  }
  const problems: string[] = [];
  const cert = readPem("BREAKERBOX_TLS_CERT_FILE", certFile, readFile);
  const key = readPem("BREAKERBOX_TLS_KEY_FILE", keyFile, readFile);
  const ca = caFile === undefined ? undefined : readPem("BREAKERBOX_TLS_CLIENT_CA_FILE", caFile, readFile);
  for (const read of [cert, key, ca]) if (read !== undefined && "problem" in read) problems.push(read.problem);
  let x509: X509Certificate | undefined;
  if ("text" in cert) {
    try {
      x509 = new X509Certificate(cert.text);
    } catch (e) {
      problems.push(`BREAKERBOX_TLS_CERT_FILE: ${certFile} is not a PEM certificate: ${oneLine(errorMessage(e))}`);
    }
  }
  if ("text" in key) {
    try {
      const privateKey = createPrivateKey(key.text);
      if (x509 !== undefined && !x509.checkPrivateKey(privateKey)) {
        problems.push(`BREAKERBOX_TLS_KEY_FILE: the key in ${keyFile} does not belong to the certificate in ${certFile}`);
      }
    } catch (e) {
      problems.push(`BREAKERBOX_TLS_KEY_FILE: ${keyFile} is not a PEM private key (or is encrypted): ${oneLine(errorMessage(e))}`);
    }
  }
  if (ca !== undefined && "text" in ca) {
    try {
      new X509Certificate(ca.text);
    } catch (e) {
      problems.push(`BREAKERBOX_TLS_CLIENT_CA_FILE: ${caFile} is not a PEM certificate: ${oneLine(errorMessage(e))}`);
    }
  }
  if (problems.length > 0 || !("text" in cert) || !("text" in key)) return { problems };
  const tls: TlsConfig = { cert: cert.text, key: key.text, certFile, keyFile };
  if (ca !== undefined && "text" in ca && caFile !== undefined) {
    tls.clientCa = ca.text;
    tls.clientCaFile = caFile;
  }
  return { tls, problems };
}

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (isIP(h) === 6) return h === "::1" || /^(0{1,4}:){7}0{0,3}1$/.test(h) || /^::ffff:127\./.test(h);
  return false;
}

/**
 * What to tell the operator at start about access control, or undefined when
 * API keys are configured. With no keys every caller can do everything
 * (Reset, ForceState, Configure included), so:
 * - bound to loopback (the default then): a warning saying so and how to open it;
 * - bound to anything else (BREAKERBOX_HOST set): a louder warning.
 */
export function accessControlWarning(config: Pick<AppConfig, "apiKeys" | "host">): string | undefined {
  if (config.apiKeys.length > 0) return undefined;
  if (isLoopbackHost(config.host)) {
    return `access control is off (no API keys): listening on ${config.host} only; set BREAKERBOX_API_KEYS to serve other hosts, or BREAKERBOX_HOST to override`;
  }
  return `ACCESS CONTROL IS OFF and BREAKERBOX_HOST=${config.host} is not a loopback address: anyone who can reach these ports can Reset, ForceState and Configure every circuit; set BREAKERBOX_API_KEYS (name:role:key,...) or bind 127.0.0.1`;
}

/** "host:port,host:port" → nodes; names the bad entry. */
function nodeList(text: string, ctx: IssueSink): RedisNode[] {
  const nodes: RedisNode[] = [];
  for (const entry of text.split(",").map((e) => e.trim()).filter((e) => e !== "")) {
    const m = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(entry);
    const port = m === null ? NaN : Number(m[2]);
    if (m === null || port < 1 || port > 65_535) {
      return reject(ctx, entry, `must be a comma-separated list of host:port, got ${JSON.stringify(entry)}`);
    }
    nodes.push({ host: m[1]!.replace(/^\[|\]$/g, ""), port });
  }
  if (nodes.length === 0) return reject(ctx, text, "must name at least one host:port");
  return nodes;
}

/** The store the Redis variables select, or the problem with them. */
function storeConfig(vars: z.infer<typeof processEnvSchema>): StoreConfig | { problem: string } {
  const modes = [
    vars.REDIS_URL === undefined ? undefined : "REDIS_URL",
    vars.REDIS_SENTINELS === undefined ? undefined : "REDIS_SENTINELS",
    vars.REDIS_CLUSTER_NODES === undefined ? undefined : "REDIS_CLUSTER_NODES",
  ].filter((m) => m !== undefined);
  if (modes.length === 0) return { kind: "memory" };
  if (modes.length > 1) return { problem: `${modes.join(", ")}: set only one of REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES` };
  const auth = {
    ...(vars.REDIS_USERNAME === undefined ? {} : { username: vars.REDIS_USERNAME }),
    ...(vars.REDIS_PASSWORD === undefined ? {} : { password: vars.REDIS_PASSWORD }),
  };
  let connection: RedisConnection;
  if (vars.REDIS_URL !== undefined) {
    connection = { mode: "single", url: vars.REDIS_URL };
  } else if (vars.REDIS_SENTINELS !== undefined) {
    if (vars.REDIS_SENTINEL_NAME === undefined) {
      return { problem: "REDIS_SENTINEL_NAME: is required with REDIS_SENTINELS (the master name the sentinels monitor)" };
    }
    connection = { mode: "sentinel", sentinels: vars.REDIS_SENTINELS, name: vars.REDIS_SENTINEL_NAME, ...auth };
  } else {
    connection = { mode: "cluster", nodes: vars.REDIS_CLUSTER_NODES!, ...auth };
  }
  return { kind: "redis", connection, keyPrefix: vars.BREAKERBOX_REDIS_KEY_PREFIX, commandTimeoutMs: vars.BREAKERBOX_REDIS_TIMEOUT_SECONDS };
}

/** Read apart from the schema above, so a bad port does not hide the file's problems. */
const CONFIG_FILE_VAR = "BREAKERBOX_CONFIG";

const TRUE_WORDS = new Set(["true", "1", "yes"]);
const FALSE_WORDS = new Set(["false", "0", "no"]);

/**
 * One CIRCUIT_BREAKER_* variable: its text becomes the field's type (seconds
 * become milliseconds) and the engine checks the range. Text that is not a
 * number is handed to the engine as is, so its message states the accepted
 * range too ("... must be an integer from 0 to ..., got \"abc\"").
 */
function circuitVar(key: keyof CircuitConfig) {
  return envText.transform((text, ctx): unknown => {
    if (text === undefined) return undefined;
    let value: unknown;
    const sample = BUILTIN_DEFAULTS[key];
    if (typeof sample === "boolean") {
      const word = text.toLowerCase();
      if (!TRUE_WORDS.has(word) && !FALSE_WORDS.has(word)) {
        return reject(ctx, text, `must be true or false (also 1/0, yes/no), got ${JSON.stringify(text)}`);
      }
      value = TRUE_WORDS.has(word);
    } else if (typeof sample === "string") {
      value = text.toLowerCase();
    } else {
      const n = parseDecimal(text);
      value = n === undefined ? text : isDurationField(key) ? toMs(n, 1000) : n;
    }
    const issue = validatePatch({ [key]: value } as ConfigPatch)[0];
    return issue === undefined ? value : reject(ctx, text, issue.message);
  });
}

const circuitEnvSchema = z.object(
  Object.fromEntries(FIELD_KEYS.map((key) => [CIRCUIT_ENV_VARS[key], circuitVar(key)])),
);

/** Every variable this module reads, for spotting typos in our namespaces. */
const KNOWN_VARS = new Set<string>([
  ...Object.keys(processEnvSchema.shape),
  CONFIG_FILE_VAR,
  ...Object.values(CIRCUIT_ENV_VARS),
]);

function formatEnvIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${String(issue.path[0] ?? "environment")}: ${issue.message}`);
}

/**
 * The CIRCUIT_BREAKER_* variables a whole-config issue is about: the issue's
 * own field and every field its message mentions, so a cross-field rule
 * ("max_open_duration (30s) must be at least open_duration (60s)") names both
 * variables, whichever of them the operator set.
 */
function envVarsOf(issue: ConfigIssue): string[] {
  const vars: string[] = [];
  for (const key of FIELD_KEYS) {
    const field = CONFIG_FIELD_NAMES[key];
    const mentioned = new RegExp(`(?<![A-Za-z0-9_])${field}(?![A-Za-z0-9_])`).test(issue.message);
    if (field === issue.field) vars.unshift(CIRCUIT_ENV_VARS[key]);
    else if (mentioned) vars.push(CIRCUIT_ENV_VARS[key]);
  }
  return vars;
}

/**
 * Variables the example agents and SDK docs read (docs/clients.md). They share
 * the prefix, and users export them in the terminal that also starts the
 * server, so they are not typos worth a warning.
 */
const CLIENT_VARS = new Set(["BREAKERBOX_ADDRESS", "BREAKERBOX_API_KEY"]);

function unknownVarWarnings(env: RawEnv): string[] {
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

// ---------------------------------------------------------------------------
// Config file

const FILE_EXTENSIONS: Readonly<Record<string, "yaml" | "json">> = { ".yaml": "yaml", ".yml": "yaml", ".json": "json" };

/**
 * A config patch as the file spells it: snake_case keys, durations as seconds
 * or text with a unit. Checked here key by key, in one pass, so one typo does
 * not hide a bad value beside it; the values' ranges are the engine's.
 * `null` (a YAML key with nothing under it) is an empty patch.
 */
const filePatchSchema = z
  .record(z.string(), z.unknown(), { error: "must be a mapping of config keys to values" })
  .nullish()
  .transform((raw, ctx): ConfigPatch => {
    const patch: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(raw ?? {})) {
      const key = FIELD_BY_CLIENT_NAME[name];
      if (key === undefined) {
        ctx.issues.push({ code: "custom", path: [name], message: `unknown key; accepted: ${ACCEPTED_CONFIG_KEYS}`, input: value });
        continue;
      }
      if (isDurationField(key) && (typeof value === "number" || typeof value === "string")) {
        const ms = durationMs(value);
        if (ms === undefined) {
          ctx.issues.push({ code: "custom", path: [name], message: `must be ${DURATION_FORMS}, got ${show(value)}`, input: value });
          continue;
        }
        patch[key] = ms;
      } else {
        patch[key] = value;
      }
    }
    for (const issue of validatePatch(patch as ConfigPatch)) {
      ctx.issues.push({ code: "custom", path: [issue.field], message: issue.message, input: raw });
    }
    return patch as ConfigPatch;
  });

const presetRefSchema = z.string({ error: "must be a preset name (text)" });

/** A text field; the message says what belongs there, without repeating the value (it may be a secret). */
function requiredText(what: string) {
  return z.string({ error: (issue) => (issue.input === undefined ? `is required: ${what}` : `must be text: ${what}`) });
}

function strictKeys<T extends z.ZodRawShape>(shape: T, what: string) {
  const accepted = Object.keys(shape).join(", ");
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === "unrecognized_keys" ? `unknown key; accepted: ${accepted}` : `must be ${what} with keys ${accepted}`,
  });
}

const ruleSchema = strictKeys(
  {
    pattern: z
      .string({ error: "is required: a glob on circuit names, e.g. \"agent.*\"" })
      .regex(PATTERN_GLOB_PATTERN, {
        error: (issue) =>
          `must be 1 to 200 characters of letters, digits, . _ : / @ - and the wildcards * and ?, got ${JSON.stringify(issue.input)}`,
      }),
    preset: presetRefSchema.optional(),
    config: filePatchSchema,
  },
  "a rule",
);

const circuitSettingsSchema = strictKeys({ preset: presetRefSchema.optional(), config: filePatchSchema }, "a mapping");

const fileSchema = strictKeys(
  {
    presets: z
      .record(
        z.string().regex(PRESET_NAME_PATTERN, {
          error: (issue) =>
            `preset name must be 1 to 64 letters, digits, . _ -, starting with a letter or digit, got ${JSON.stringify(issue.input)}`,
        }),
        filePatchSchema,
        { error: "must be a mapping of preset names to config patches" },
      )
      .nullish(),
    rules: z.array(ruleSchema, { error: "must be a list of rules ({pattern, preset?, config?})" }).nullish(),
    circuits: z
      .record(
        z.string().regex(CIRCUIT_NAME_PATTERN, {
          error: (issue) =>
            `circuit name must match ${CIRCUIT_NAME_PATTERN.source} (1 to 200 letters, digits, . _ : / @ -, starting with a letter or digit), got ${JSON.stringify(issue.input)}`,
        }),
        circuitSettingsSchema,
        { error: "must be a mapping of circuit names to {preset?, config?}" },
      )
      .nullish(),
    api_keys: z
      .array(
        strictKeys(
          {
            name: requiredText(`the key's name, shown in logs and history (${KEY_NAME_RULE.replace("must be ", "")})`),
            role: requiredText(`one of ${ROLES.join(", ")}`),
            key: requiredText(`the secret clients send as 'authorization: Bearer <key>' (${KEY_RULE.replace("must be ", "")})`),
          },
          "an API key",
        ),
        { error: "must be a list of API keys ({name, role, key})" },
      )
      .nullish(),
  },
  "a mapping",
);

type ConfigFile = z.output<typeof fileSchema>;

/** `rules[1].config.failure_treshold`, `circuits["llm.openai.gpt"].preset`. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else if (typeof part === "string" && /^[A-Za-z_][A-Za-z0-9_]*$/.test(part)) out += out === "" ? part : `.${part}`;
    else out += `[${JSON.stringify(String(part))}]`;
  }
  return out;
}

function formatFileIssues(file: string, error: z.ZodError): string[] {
  const problems: string[] = [];
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      // One line per key, with the key in the path, as for any other bad key.
      for (const key of issue.keys) problems.push(at(file, [...issue.path, key], issue.message));
    } else if (issue.code === "invalid_key") {
      problems.push(at(file, issue.path, issue.issues[0]?.message ?? issue.message));
    } else {
      problems.push(at(file, issue.path, issue.message));
    }
  }
  return problems;
}

function at(file: string, path: readonly PropertyKey[], message: string): string {
  const where = formatPath(path);
  return where === "" ? `${file}: ${message}` : `${file}: ${where}: ${message}`;
}

/** The file's text parsed as YAML or JSON, or the problem naming BREAKERBOX_CONFIG. */
function readConfigFile(file: string, readFile: (path: string) => string): { data: unknown } | { problem: string } {
  const ext = extname(file).toLowerCase();
  const format = FILE_EXTENSIONS[ext];
  if (format === undefined) {
    return {
      problem: `BREAKERBOX_CONFIG: ${JSON.stringify(file)} has an unsupported extension ${ext === "" ? "(none)" : JSON.stringify(ext)}; accepted: ${Object.keys(FILE_EXTENSIONS).join(", ")}`,
    };
  }
  let text: string;
  try {
    text = readFile(file);
  } catch (e) {
    return { problem: `BREAKERBOX_CONFIG: cannot read ${file}: ${oneLine(errorMessage(e))}` };
  }
  text = text.replace(/^\uFEFF/, ""); // editors on Windows save a BOM; JSON.parse chokes on it
  try {
    return { data: format === "json" ? JSON.parse(text) : YAML.parse(text) };
  } catch (e) {
    const message = format === "json" ? jsonErrorMessage(e, text) : yamlErrorMessage(e);
    return { problem: `BREAKERBOX_CONFIG: cannot parse ${file} as ${format.toUpperCase()}: ${oneLine(message)}` };
  }
}

/**
 * yaml's message is "<what> at line L, column C:" followed by a code excerpt;
 * the first line carries the position and keeps the problem on one line.
 */
function yamlErrorMessage(e: unknown): string {
  return (errorMessage(e).split("\n")[0] ?? "").replace(/:$/, "");
}

/**
 * JSON.parse says "at position N" on some Node versions and quotes the text
 * around the error on others; a line and column is what an editor needs.
 */
function jsonErrorMessage(e: unknown, text: string): string {
  const message = errorMessage(e);
  const position = /at position (\d+)/.exec(message);
  if (position === null || /\bline \d+/.test(message)) return message;
  const before = text.slice(0, Number(position[1]));
  const line = before.split("\n").length;
  const column = before.length - before.lastIndexOf("\n");
  return `${message} (line ${line}, column ${column})`;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/** BUILTIN_PRESETS plus the file's; null prototype, so a preset named "toString" is unknown, not a function. */
function presetTable(filePresets: Readonly<Record<string, ConfigPatch>>): Record<string, ConfigPatch> {
  return Object.assign(Object.create(null) as Record<string, ConfigPatch>, BUILTIN_PRESETS, filePresets);
}

/**
 * Cross-references of a well-formed file: presets named by rules and circuits
 * exist, and no rule is shadowed by an identical earlier pattern. Then, when
 * `defaultsValid`, every preset, rule and circuit the file defines must
 * resolve to a valid config over the env defaults, so the file cannot create
 * a circuit the engine would refuse.
 */
function buildLayers(
  file: string,
  parsed: ConfigFile,
  defaults: CircuitConfig,
  defaultsValid: boolean,
): { layers: ConfigLayers; circuits: Record<string, ConfigSettings>; problems: string[] } {
  const problems: string[] = [];
  const presets = presetTable(parsed.presets ?? {});
  let presetsKnown = true;
  const checkPreset = (path: readonly PropertyKey[], preset: string | undefined) => {
    if (preset === undefined || Object.hasOwn(presets, preset)) return;
    presetsKnown = false;
    problems.push(at(file, path, `unknown preset ${JSON.stringify(preset)}; known presets: ${Object.keys(presets).join(", ")}`));
  };

  const rules: PatternRule[] = [];
  const firstRuleWith = new Map<string, number>();
  (parsed.rules ?? []).forEach((rule, i) => {
    checkPreset(["rules", i, "preset"], rule.preset);
    const earlier = firstRuleWith.get(rule.pattern);
    if (earlier === undefined) firstRuleWith.set(rule.pattern, i);
    else problems.push(at(file, ["rules", i, "pattern"], `${JSON.stringify(rule.pattern)} repeats rules[${earlier}].pattern; only the first rule with a pattern can ever match`));
    rules.push({ pattern: rule.pattern, ...settingsOf(rule) });
  });

  const circuits = Object.create(null) as Record<string, ConfigSettings>;
  for (const [name, settings] of Object.entries(parsed.circuits ?? {})) {
    checkPreset(["circuits", name, "preset"], settings.preset);
    circuits[name] = settingsOf(settings);
  }

  const layers: ConfigLayers = { defaults, presets, rules };
  // Invalid defaults are reported against their variables; resolving over
  // them would blame the file for every circuit. An unknown preset would make
  // resolveConfig throw, and is reported above.
  if (!defaultsValid || !presetsKnown) return { layers, circuits, problems };

  const checkResolved = (path: readonly PropertyKey[], resolved: ResolvedConfig, sources = resolved.sources) => {
    for (const issue of validateConfig(resolved.config)) {
      problems.push(at(file, path, `resolves (${sources.join(" > ")}) to an invalid config: ${issue.message}`));
    }
  };
  // File presets are checked on their own, as Configure may apply one to any
  // circuit. Built-ins are checked only where the file uses them: an env
  // default that does not suit an unused built-in must not stop the start.
  const noRules: ConfigLayers = { defaults, presets, rules: [] };
  for (const name of Object.keys(parsed.presets ?? {})) {
    // Resolved as explicit settings naming the preset; the sources then say
    // "circuit", which is not the case here.
    const resolved = resolveConfig(noRules, "", { preset: name, patch: {} });
    checkResolved(["presets", name], resolved, resolved.sources.filter((source) => source !== "circuit"));
  }
  // A rule alone gives the config of every circuit it matches that has no
  // settings of its own. Any name the glob matches will do: wildcards read as
  // one letter.
  rules.forEach((rule, i) => {
    const sample = rule.pattern.replace(/[*?]/g, "x");
    checkResolved(["rules", i], resolveConfig({ defaults, presets, rules: [rule] }, sample, undefined));
  });
  for (const [name, settings] of Object.entries(circuits)) {
    checkResolved(["circuits", name], resolveConfig(layers, name, settings));
  }
  return { layers, circuits, problems };
}

/** Engine settings from the file's `{preset?, config}`; no `preset` key when none is named. */
function settingsOf(entry: { preset?: string | undefined; config: ConfigPatch }): ConfigSettings {
  return entry.preset === undefined ? { patch: entry.config } : { preset: entry.preset, patch: entry.config };
}

// ---------------------------------------------------------------------------
// Entry point

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

  const circuitVars = circuitEnvSchema.safeParse(env);
  let defaults: CircuitConfig = { ...BUILTIN_DEFAULTS };
  let defaultsValid = circuitVars.success;
  if (circuitVars.success) {
    const patch: Record<string, unknown> = {};
    for (const key of FIELD_KEYS) {
      const value = circuitVars.data[CIRCUIT_ENV_VARS[key]];
      if (value !== undefined) patch[key] = value;
    }
    defaults = applyPatch(defaults, patch as ConfigPatch);
    // Each variable's range was checked on its own; this adds the rules
    // across fields.
    for (const issue of validateConfig(defaults)) {
      defaultsValid = false;
      problems.push(`${envVarsOf(issue).join(", ")}: ${issue.message}`);
    }
  } else {
    problems.push(...formatEnvIssues(circuitVars.error));
  }

  const configFile = envText.parse(env[CONFIG_FILE_VAR]);
  const readFile = options.readFile ?? ((path: string) => readFileSync(path, "utf8"));
  const fileKeys: SourcedKey[] = [];
  let layers: ConfigLayers = { defaults, presets: presetTable({}), rules: [] };
  let circuits = Object.create(null) as Record<string, ConfigSettings>;
  if (configFile !== undefined) {
    const read = readConfigFile(configFile, readFile);
    if ("problem" in read) {
      problems.push(read.problem);
    } else {
      const parsed = fileSchema.safeParse(read.data ?? {}); // an empty YAML file is null: no settings
      if (!parsed.success) {
        problems.push(...formatFileIssues(configFile, parsed.error));
      } else {
        const built = buildLayers(configFile, parsed.data, defaults, defaultsValid);
        problems.push(...built.problems);
        ({ layers, circuits } = built);
        (parsed.data.api_keys ?? []).forEach((k, i) => {
          const where = `${configFile}: api_keys[${i}]`;
          const keyProblems = apiKeyProblems(where, k.name, k.role, k.key);
          problems.push(...keyProblems);
          if (keyProblems.length === 0) fileKeys.push({ name: k.name, role: k.role as Role, key: k.key, where });
        });
      }
    }
  }

  // (A failed parse always left problems; the test also narrows the type.)
  const store = processVars.success ? storeConfig(processVars.data) : undefined;
  if (store !== undefined && "problem" in store) problems.push(store.problem);
  const sourcedKeys = [...(processVars.success ? processVars.data.BREAKERBOX_API_KEYS : []), ...fileKeys];
  problems.push(...duplicateKeyProblems(sourcedKeys));
  // Read apart from the schema, so a bad port does not hide a bad certificate.
  const tlsVars = {
    BREAKERBOX_TLS_CERT_FILE: envText.parse(env["BREAKERBOX_TLS_CERT_FILE"]),
    BREAKERBOX_TLS_KEY_FILE: envText.parse(env["BREAKERBOX_TLS_KEY_FILE"]),
    BREAKERBOX_TLS_CLIENT_CA_FILE: envText.parse(env["BREAKERBOX_TLS_CLIENT_CA_FILE"]),
  };
  const tls = tlsConfig(tlsVars, readFile);
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
    maxWatchers: vars.BREAKERBOX_MAX_WATCH_STREAMS,
    heartbeatMs: vars.BREAKERBOX_WATCH_HEARTBEAT_SECONDS,
    shutdownGraceMs: vars.BREAKERBOX_SHUTDOWN_GRACE_SECONDS,
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
