import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CIRCUIT_ENV_VARS,
  CIRCUIT_NAME_PATTERN,
  ConfigError,
  accessControlWarning,
  isLoopbackHost,
  PATTERN_GLOB_PATTERN,
  loadConfig,
  parseDurationMs,
  type AppConfig,
} from "../../src/config/index.js";
import { BUILTIN_DEFAULTS, BUILTIN_PRESETS, applyPatch, type CircuitConfig } from "../../src/engine/index.js";
import { createLogger } from "../../src/logger.js";
import { makeTestCerts, type TestCerts } from "../support/certs.js";

type Env = Record<string, string | undefined>;

/** The ConfigError loading `env` throws; fails the test if it does not. */
function configError(env: Env, readFile?: (path: string) => string): ConfigError {
  try {
    loadConfig(env, readFile === undefined ? {} : { readFile });
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "breakerbox-config-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

let fileCount = 0;
/** Writes `text` to a fresh temp file with extension `ext`; returns its path. */
function writeConfig(ext: string, text: string): string {
  const path = join(dir, `config-${++fileCount}${ext}`);
  writeFileSync(path, text);
  return path;
}

/** Loads `text` as a config file of the given extension, with no other variables. */
function loadFile(ext: string, text: string, env: Env = {}): AppConfig {
  return loadConfig({ ...env, BREAKERBOX_CONFIG: writeConfig(ext, text) });
}

function fileError(ext: string, text: string, env: Env = {}): { path: string; error: ConfigError } {
  const path = writeConfig(ext, text);
  return { path, error: configError({ ...env, BREAKERBOX_CONFIG: path }) };
}

describe("loadConfig: defaults", () => {
  it("gives the documented defaults for an empty environment", () => {
    const config = loadConfig({});
    expect(config).toEqual({
      grpcPort: 50051,
      httpPort: 8080,
      host: "127.0.0.1",
      apiKeys: [],
      logLevel: "info",
      store: { kind: "memory" },
      idleTtlMs: 86_400_000,
      maxCircuits: 1_000_000,
      httpCorsOrigins: [],
      maxWatchers: 1000,
      maxWatchersPerKey: 100,
      heartbeatMs: 15_000,
      workers: 1,
      shutdownGraceMs: 5000,
      maxConnectionAgeMs: 300_000,
      maxConnectionAgeGraceMs: 0,
      eventLogSize: 10_000,
      historyLimit: 100,
      metricsMaxCircuits: 1000,
      metricsResyncMs: 300_000,
      layers: { defaults: BUILTIN_DEFAULTS, presets: BUILTIN_PRESETS, rules: [] },
      circuits: {},
      warnings: [],
    });
    expect(config.layers.defaults).toEqual(BUILTIN_DEFAULTS);
    expect("configFile" in config).toBe(false);
  });

  it("ignores variables it does not own", () => {
    expect(loadConfig({ PATH: "/usr/bin", HOME: "/root", PORT: "1", REDIS_HOST: "x" })).toEqual(loadConfig({}));
  });

  it("does not resolve inherited names as presets or circuits", () => {
    const config = loadConfig({});
    expect(config.layers.presets["toString"]).toBeUndefined();
    expect(config.circuits["constructor"]).toBeUndefined();
  });
});

describe("loadConfig: server variables", () => {
  const cases: [variable: string, value: string, field: keyof AppConfig, expected: unknown][] = [
    ["BREAKERBOX_GRPC_PORT", "6000", "grpcPort", 6000],
    ["BREAKERBOX_GRPC_PORT", "0", "grpcPort", 0],
    ["BREAKERBOX_HTTP_PORT", "65535", "httpPort", 65535],
    ["BREAKERBOX_HOST", "0.0.0.0", "host", "0.0.0.0"],
    ["BREAKERBOX_HOST", "  ::  ", "host", "::"],
    ["LOG_LEVEL", "debug", "logLevel", "debug"],
    ["LOG_LEVEL", "WARN", "logLevel", "warn"],
    ["LOG_LEVEL", "silent", "logLevel", "silent"],
    ["BREAKERBOX_IDLE_TTL_SECONDS", "3600", "idleTtlMs", 3_600_000],
    ["BREAKERBOX_IDLE_TTL_SECONDS", "1.5", "idleTtlMs", 1500],
    ["BREAKERBOX_MAX_WATCH_STREAMS", "50", "maxWatchers", 50],
    ["BREAKERBOX_MAX_WATCH_STREAMS_PER_KEY", "5", "maxWatchersPerKey", 5],
    ["BREAKERBOX_WATCH_HEARTBEAT_SECONDS", "2.5", "heartbeatMs", 2500],
    ["BREAKERBOX_SHUTDOWN_GRACE_SECONDS", "0", "shutdownGraceMs", 0],
    ["BREAKERBOX_SHUTDOWN_GRACE_SECONDS", "0.1", "shutdownGraceMs", 100],
    ["BREAKERBOX_EVENT_LOG_SIZE", "1e5", "eventLogSize", 100_000],
    ["BREAKERBOX_HISTORY_LIMIT", "10", "historyLimit", 10],
    ["BREAKERBOX_MAX_CIRCUITS", "5000", "maxCircuits", 5000],
    ["BREAKERBOX_WORKERS", "1", "workers", 1],
    ["BREAKERBOX_HTTP_ALLOWED_HOSTS", "breakerbox.internal, 10.0.0.7,[fd00::1]", "httpAllowedHosts", ["breakerbox.internal", "10.0.0.7", "[fd00::1]"]],
    ["BREAKERBOX_HTTP_ALLOWED_HOSTS", "*", "httpAllowedHosts", ["*"]],
    ["BREAKERBOX_HTTP_CORS_ORIGINS", "https://dash.example.com,http://localhost:3000", "httpCorsOrigins", ["https://dash.example.com", "http://localhost:3000"]],
  ];
  it.each(cases)("%s=%j sets %s to %j", (variable, value, field, expected) => {
    const config = loadConfig({ [variable]: value });
    expect(config[field]).toEqual(expected);
    expect({ ...config, [field]: undefined }).toEqual({ ...loadConfig({}), [field]: undefined });
  });
});

describe("loadConfig: permit secrets", () => {
  const secret = "0123456789abcdef0123456789abcdef";

  it("reads BREAKERBOX_PERMIT_SECRET and _PREVIOUS as their UTF-8 bytes; unset leaves both out", () => {
    const config = loadConfig({ BREAKERBOX_PERMIT_SECRET: secret, BREAKERBOX_PERMIT_SECRET_PREVIOUS: `${secret}!` });
    expect(config.permitSecret).toEqual(Buffer.from(secret));
    expect(config.previousPermitSecret).toEqual(Buffer.from(`${secret}!`));
    expect("permitSecret" in loadConfig({})).toBe(false);
    expect("previousPermitSecret" in loadConfig({})).toBe(false);
  });

  it.each(["BREAKERBOX_PERMIT_SECRET", "BREAKERBOX_PERMIT_SECRET_PREVIOUS"])("refuses %s shorter than 32 bytes without quoting it", (variable) => {
    const error = configError({ [variable]: secret.slice(1) });
    expect(error.problems).toEqual([`${variable}: must be at least 32 bytes (e.g. openssl rand -base64 32), got 31`]);
    expect(error.message).not.toContain(secret.slice(1));
  });
  it("reads permit_secret and permit_secret_previous from the config file; each variable, when set, wins", () => {
    const text = JSON.stringify({ permit_secret: `${secret}-file`, permit_secret_previous: `${secret}-old` });
    expect(loadFile(".json", text)).toMatchObject({ permitSecret: Buffer.from(`${secret}-file`), previousPermitSecret: Buffer.from(`${secret}-old`) });
    expect(loadFile(".json", text, { BREAKERBOX_PERMIT_SECRET: secret })).toMatchObject({
      permitSecret: Buffer.from(secret),
      previousPermitSecret: Buffer.from(`${secret}-old`),
    });
  });

  it("refuses a config-file permit secret shorter than 32 bytes without quoting it", () => {
    const { path, error } = fileError(".yaml", "permit_secret: short-secret\npermit_secret_previous: 12\n");
    expect(error.problems).toEqual([`${path}: permit_secret_previous: must be a string (the previous permit secret, at least 32 bytes)`]);
    const second = fileError(".yaml", "permit_secret: short-secret\n");
    expect(second.error.problems).toEqual([`${second.path}: permit_secret: must be at least 32 bytes (e.g. openssl rand -base64 32), got 12`]);
    expect(second.error.message).not.toContain("short-secret");
  });
});

describe("loadConfig: CIRCUIT_BREAKER_* variables", () => {
  const cases: [variable: string, value: string, field: keyof CircuitConfig, expected: unknown][] = [
    ["CIRCUIT_BREAKER_ENABLED", "false", "enabled", false],
    ["CIRCUIT_BREAKER_ENABLED", "FALSE", "enabled", false],
    ["CIRCUIT_BREAKER_ENABLED", "0", "enabled", false],
    ["CIRCUIT_BREAKER_ENABLED", "No", "enabled", false],
    ["CIRCUIT_BREAKER_ENABLED", "true", "enabled", true],
    ["CIRCUIT_BREAKER_ENABLED", "1", "enabled", true],
    ["CIRCUIT_BREAKER_ENABLED", "YES", "enabled", true],
    ["CIRCUIT_BREAKER_FAILURE_THRESHOLD", "7", "failureThreshold", 7],
    ["CIRCUIT_BREAKER_FAILURE_THRESHOLD", "0", "failureThreshold", 0],
    ["CIRCUIT_BREAKER_FAILURE_RATE_THRESHOLD", "0.25", "failureRateThreshold", 0.25],
    ["CIRCUIT_BREAKER_MINIMUM_CALLS", "20", "minimumCalls", 20],
    ["CIRCUIT_BREAKER_WINDOW_SIZE_SECONDS", "30", "windowMs", 30_000],
    ["CIRCUIT_BREAKER_WINDOW_SIZE_SECONDS", "0.1", "windowMs", 100],
    ["CIRCUIT_BREAKER_SLOW_CALL_SECONDS", "0.5", "slowCallDurationMs", 500],
    ["CIRCUIT_BREAKER_SLOW_CALL_RATE_THRESHOLD", "0.8", "slowCallRateThreshold", 0.8],
    ["CIRCUIT_BREAKER_TIMEOUT_SECONDS", "90", "openDurationMs", 90_000],
    ["CIRCUIT_BREAKER_TIMEOUT_SECONDS", "0.5", "openDurationMs", 500],
    ["CIRCUIT_BREAKER_BACKOFF_MULTIPLIER", "2.5", "backoffMultiplier", 2.5],
    ["CIRCUIT_BREAKER_MAX_TIMEOUT_SECONDS", "1200", "maxOpenDurationMs", 1_200_000],
    ["CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS", "2", "halfOpenMaxCalls", 2],
    ["CIRCUIT_BREAKER_SUCCESS_THRESHOLD", "4", "successThreshold", 4],
    ["CIRCUIT_BREAKER_PERMIT_TTL_SECONDS", "0.3", "permitTtlMs", 300],
    ["CIRCUIT_BREAKER_PERMIT_TTL_SECONDS", "45", "permitTtlMs", 45_000],
    ["CIRCUIT_BREAKER_JITTER", "0.2", "jitter", 0.2],
    ["CIRCUIT_BREAKER_MODE", "shadow", "mode", "shadow"],
    ["CIRCUIT_BREAKER_MODE", " Enforce ", "mode", "enforce"],
    ["CIRCUIT_BREAKER_MIN_DISTINCT_REPORTERS", "3", "minDistinctReporters", 3],
  ];

  it.each(cases)("%s=%j sets %s to %j and nothing else", (variable, value, field, expected) => {
    const { layers } = loadConfig({ [variable]: value });
    expect(layers.defaults).toEqual(applyPatch(BUILTIN_DEFAULTS, { [field]: expected }));
  });

  it("covers every config field with its variable", () => {
    expect(new Set(cases.map(([variable]) => variable))).toEqual(new Set(Object.values(CIRCUIT_ENV_VARS)));
    for (const [variable, , field] of cases) expect(CIRCUIT_ENV_VARS[field]).toBe(variable);
  });

  it("names duration variables *_SECONDS", () => {
    for (const [field, variable] of Object.entries(CIRCUIT_ENV_VARS)) {
      expect(variable.endsWith("_SECONDS")).toBe(field.endsWith("Ms"));
    }
  });

  it("applies several variables together", () => {
    const { layers } = loadConfig({
      CIRCUIT_BREAKER_TIMEOUT_SECONDS: "900",
      CIRCUIT_BREAKER_MAX_TIMEOUT_SECONDS: "3600",
      CIRCUIT_BREAKER_MODE: "shadow",
    });
    expect(layers.defaults).toEqual({ ...BUILTIN_DEFAULTS, openDurationMs: 900_000, maxOpenDurationMs: 3_600_000, mode: "shadow" });
  });
});

describe("loadConfig: empty variables", () => {
  const everyVariable = [
    "BREAKERBOX_GRPC_PORT",
    "BREAKERBOX_HTTP_PORT",
    "BREAKERBOX_HOST",
    "LOG_LEVEL",
    "BREAKERBOX_IDLE_TTL_SECONDS",
    "BREAKERBOX_MAX_WATCH_STREAMS",
    "BREAKERBOX_MAX_WATCH_STREAMS_PER_KEY",
    "BREAKERBOX_WATCH_HEARTBEAT_SECONDS",
    "BREAKERBOX_SHUTDOWN_GRACE_SECONDS",
    "BREAKERBOX_EVENT_LOG_SIZE",
    "BREAKERBOX_HISTORY_LIMIT",
    "BREAKERBOX_MAX_CIRCUITS",
    "BREAKERBOX_WORKERS",
    "BREAKERBOX_HTTP_ALLOWED_HOSTS",
    "BREAKERBOX_HTTP_CORS_ORIGINS",
    "BREAKERBOX_CONFIG",
    "BREAKERBOX_API_KEYS",
    "BREAKERBOX_TLS_CERT_FILE",
    "BREAKERBOX_TLS_KEY_FILE",
    "BREAKERBOX_TLS_CLIENT_CA_FILE",
    ...Object.values(CIRCUIT_ENV_VARS),
  ];
  it.each(["", "   "])("treats %j as unset for every variable", (blank) => {
    const env = Object.fromEntries(everyVariable.map((name) => [name, blank]));
    expect(loadConfig(env)).toEqual(loadConfig({}));
  });
});

describe("loadConfig: bad variables", () => {
  // Each row: the environment and the exact problem it must produce.
  const cases: [Env, string][] = [
    [{ BREAKERBOX_GRPC_PORT: "grpc" }, 'BREAKERBOX_GRPC_PORT: must be an integer from 0 to 65535, got "grpc"'],
    [{ BREAKERBOX_GRPC_PORT: "70000" }, 'BREAKERBOX_GRPC_PORT: must be an integer from 0 to 65535, got "70000"'],
    [{ BREAKERBOX_HTTP_PORT: "80.5" }, 'BREAKERBOX_HTTP_PORT: must be an integer from 0 to 65535, got "80.5"'],
    [{ BREAKERBOX_HTTP_PORT: "0x50" }, 'BREAKERBOX_HTTP_PORT: must be an integer from 0 to 65535, got "0x50"'],
    [
      { BREAKERBOX_HOST: "local host" },
      'BREAKERBOX_HOST: must be a host name or IP address to bind (e.g. 127.0.0.1, 0.0.0.0, ::), got "local host"',
    ],
    [
      { BREAKERBOX_HTTP_ALLOWED_HOSTS: "localhost:8080" },
      'BREAKERBOX_HTTP_ALLOWED_HOSTS: must be comma-separated host names or IP addresses without ports, or *, got "localhost:8080"',
    ],
    [
      { BREAKERBOX_HTTP_CORS_ORIGINS: "https://dash.example.com/app" },
      'BREAKERBOX_HTTP_CORS_ORIGINS: must be comma-separated origins like https://dash.example.com or http://localhost:3000 (scheme, host, optional port; no path), got "https://dash.example.com/app"',
    ],
    [{ BREAKERBOX_MAX_CIRCUITS: "0" }, 'BREAKERBOX_MAX_CIRCUITS: must be an integer from 1 to 100000000, got "0"'],
    [{ BREAKERBOX_WORKERS: "0" }, 'BREAKERBOX_WORKERS: must be an integer from 1 to 64, got "0"'],
    [{ BREAKERBOX_WORKERS: "65" }, 'BREAKERBOX_WORKERS: must be an integer from 1 to 64, got "65"'],
    [{ BREAKERBOX_WORKERS: "two" }, 'BREAKERBOX_WORKERS: must be an integer from 1 to 64, got "two"'],
    [
      { BREAKERBOX_WORKERS: "2" },
      "BREAKERBOX_WORKERS: 2 workers need the Redis store (set REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES): with the memory store each worker would hold its own circuits, so one circuit would have several states",
    ],
    [{ LOG_LEVEL: "verbose" }, 'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"'],
    [{ BREAKERBOX_IDLE_TTL_SECONDS: "0" }, 'BREAKERBOX_IDLE_TTL_SECONDS: must be a number of seconds from 1 to 604800, got "0"'],
    [{ BREAKERBOX_MAX_WATCH_STREAMS: "0" }, 'BREAKERBOX_MAX_WATCH_STREAMS: must be an integer from 1 to 100000, got "0"'],
    [
      { BREAKERBOX_WATCH_HEARTBEAT_SECONDS: "never" },
      'BREAKERBOX_WATCH_HEARTBEAT_SECONDS: must be a number of seconds from 1 to 3600, got "never"',
    ],
    [
      { BREAKERBOX_SHUTDOWN_GRACE_SECONDS: "-1" },
      'BREAKERBOX_SHUTDOWN_GRACE_SECONDS: must be a number of seconds from 0 to 300, got "-1"',
    ],
    [{ BREAKERBOX_EVENT_LOG_SIZE: "Infinity" }, 'BREAKERBOX_EVENT_LOG_SIZE: must be an integer from 1 to 1000000, got "Infinity"'],
    [{ BREAKERBOX_HISTORY_LIMIT: "1.5" }, 'BREAKERBOX_HISTORY_LIMIT: must be an integer from 1 to 10000, got "1.5"'],
    [{ CIRCUIT_BREAKER_ENABLED: "maybe" }, 'CIRCUIT_BREAKER_ENABLED: must be true or false (also 1/0, yes/no), got "maybe"'],
    [
      { CIRCUIT_BREAKER_FAILURE_THRESHOLD: "five" },
      'CIRCUIT_BREAKER_FAILURE_THRESHOLD: failure_threshold must be an integer from 0 to 1000000, got "five"',
    ],
    [
      { CIRCUIT_BREAKER_FAILURE_THRESHOLD: "2.5" },
      "CIRCUIT_BREAKER_FAILURE_THRESHOLD: failure_threshold must be an integer from 0 to 1000000, got 2.5",
    ],
    [
      { CIRCUIT_BREAKER_FAILURE_RATE_THRESHOLD: "1.5" },
      "CIRCUIT_BREAKER_FAILURE_RATE_THRESHOLD: failure_rate_threshold must be a number from 0 to 1, got 1.5",
    ],
    [{ CIRCUIT_BREAKER_MINIMUM_CALLS: "0" }, "CIRCUIT_BREAKER_MINIMUM_CALLS: minimum_calls must be an integer from 1 to 1000000, got 0"],
    [
      { CIRCUIT_BREAKER_WINDOW_SIZE_SECONDS: "0.05" },
      "CIRCUIT_BREAKER_WINDOW_SIZE_SECONDS: window must be an integer from 100ms to 86400s, got 50ms",
    ],
    [
      { CIRCUIT_BREAKER_SLOW_CALL_SECONDS: "-1" },
      "CIRCUIT_BREAKER_SLOW_CALL_SECONDS: slow_call_duration must be an integer from 0s to 86400s, got -1s",
    ],
    [
      { CIRCUIT_BREAKER_SLOW_CALL_RATE_THRESHOLD: "0" },
      "CIRCUIT_BREAKER_SLOW_CALL_RATE_THRESHOLD: slow_call_rate_threshold must be a number above 0 to 1, got 0",
    ],
    [
      { CIRCUIT_BREAKER_TIMEOUT_SECONDS: "0.0005" },
      "CIRCUIT_BREAKER_TIMEOUT_SECONDS: open_duration must be an integer from 10ms to 86400s, got 0.5ms",
    ],
    [
      { CIRCUIT_BREAKER_TIMEOUT_SECONDS: "1m" },
      'CIRCUIT_BREAKER_TIMEOUT_SECONDS: open_duration must be an integer from 10ms to 86400s, got "1m"',
    ],
    [
      { CIRCUIT_BREAKER_BACKOFF_MULTIPLIER: "0.5" },
      "CIRCUIT_BREAKER_BACKOFF_MULTIPLIER: backoff_multiplier must be a number from 1 to 100, got 0.5",
    ],
    [
      { CIRCUIT_BREAKER_MAX_TIMEOUT_SECONDS: "700000" },
      "CIRCUIT_BREAKER_MAX_TIMEOUT_SECONDS: max_open_duration must be an integer from 10ms to 604800s, got 700000s",
    ],
    [
      { CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS: "0" },
      "CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS: half_open_max_calls must be an integer from 1 to 10000, got 0",
    ],
    [
      { CIRCUIT_BREAKER_SUCCESS_THRESHOLD: "-2" },
      "CIRCUIT_BREAKER_SUCCESS_THRESHOLD: success_threshold must be an integer from 1 to 10000, got -2",
    ],
    [
      { CIRCUIT_BREAKER_PERMIT_TTL_SECONDS: "0" },
      "CIRCUIT_BREAKER_PERMIT_TTL_SECONDS: permit_ttl must be an integer from 10ms to 86400s, got 0s",
    ],
    [{ CIRCUIT_BREAKER_JITTER: "1" }, "CIRCUIT_BREAKER_JITTER: jitter must be a number from 0 up to but excluding 1, got 1"],
    [{ CIRCUIT_BREAKER_MODE: "loud" }, 'CIRCUIT_BREAKER_MODE: mode must be "enforce" or "shadow", got "loud"'],
    // Cross-field: both variables are named, whichever one was set.
    [
      { CIRCUIT_BREAKER_TIMEOUT_SECONDS: "900" },
      "CIRCUIT_BREAKER_MAX_TIMEOUT_SECONDS, CIRCUIT_BREAKER_TIMEOUT_SECONDS: max_open_duration (600s) must be at least open_duration (900s)",
    ],
    [
      { CIRCUIT_BREAKER_MAX_TIMEOUT_SECONDS: "30" },
      "CIRCUIT_BREAKER_MAX_TIMEOUT_SECONDS, CIRCUIT_BREAKER_TIMEOUT_SECONDS: max_open_duration (30s) must be at least open_duration (60s)",
    ],
  ];

  it.each(cases)("%j is refused", (env, problem) => {
    const error = configError(env);
    expect(error.problems).toEqual([problem]);
    expect(error.message).toBe(`Invalid configuration (1 problem): ${problem}`);
    expect(ConfigError.is(error)).toBe(true);
    expect(error.name).toBe("ConfigError");
  });

  it("reports every bad variable at once, in one paragraph", () => {
    const error = configError({
      BREAKERBOX_GRPC_PORT: "-1",
      LOG_LEVEL: "loud",
      CIRCUIT_BREAKER_JITTER: "2",
      CIRCUIT_BREAKER_MODE: "dry-run",
    });
    expect(error.problems.map((p) => p.slice(0, p.indexOf(":")))).toEqual([
      "BREAKERBOX_GRPC_PORT",
      "LOG_LEVEL",
      "CIRCUIT_BREAKER_JITTER",
      "CIRCUIT_BREAKER_MODE",
    ]);
    expect(error.message).toMatch(/^Invalid configuration \(4 problems\): BREAKERBOX_GRPC_PORT: /);
    expect(error.message).not.toContain("\n");
  });

  it("still reports the config file's problems beside a bad variable", () => {
    const { path, error } = fileError(".yaml", "rules: {}\n", { BREAKERBOX_HTTP_PORT: "http" });
    expect(error.problems).toEqual([
      'BREAKERBOX_HTTP_PORT: must be an integer from 0 to 65535, got "http"',
      `${path}: rules: must be a list of rules ({pattern, preset?, config?})`,
    ]);
  });
});

describe("loadConfig: warnings", () => {
  it("warns about unknown names in its namespaces, with the likely intended one", () => {
    const config = loadConfig({
      CIRCUIT_BREAKER_TIMEOUT: "30",
      BREAKERBOX_GRPCPORT: "1",
      BREAKERBOX_SOMETHING_ELSE_ENTIRELY: "x",
      CIRCUITBREAKER: "x",
    });
    expect(config.warnings).toEqual([
      "BREAKERBOX_GRPCPORT: unknown variable, ignored; did you mean BREAKERBOX_GRPC_PORT?",
      "BREAKERBOX_SOMETHING_ELSE_ENTIRELY: unknown variable, ignored",
      "CIRCUIT_BREAKER_TIMEOUT: unknown variable, ignored; did you mean CIRCUIT_BREAKER_TIMEOUT_SECONDS?",
    ]);
    expect(config.layers.defaults).toEqual(BUILTIN_DEFAULTS);
  });

  it("does not warn about the client variables the example agents read", () => {
    const config = loadConfig({ BREAKERBOX_ADDRESS: "localhost:50051", BREAKERBOX_API_KEY: "k".repeat(20) });
    expect(config.warnings).toEqual([]);
  });
});

describe("loadConfig: config file", () => {
  const yaml = `
presets:
  flaky_tool: { failure_threshold: 10, open_duration: 15s }
  llm: { failure_threshold: 9 }   # replaces the built-in
rules:
  - pattern: "llm.*"
    preset: llm
    config: { max_open_duration: 5m }
  - pattern: "agent.*"
    config: { failure_threshold: 3, window: 90, slow_call_duration: "1.5s" }
  - pattern: "*.search?"
circuits:
  llm.openai.gpt:
    preset: flaky_tool
    config: { half_open_max_calls: 2, permit_ttl: "500ms", mode: shadow, enabled: false }
  "db:orders/primary@eu-1": {}
`;
  const expectedLayers = {
    presets: {
      ...BUILTIN_PRESETS,
      flaky_tool: { failureThreshold: 10, openDurationMs: 15_000 },
      llm: { failureThreshold: 9 },
    },
    rules: [
      { pattern: "llm.*", preset: "llm", patch: { maxOpenDurationMs: 300_000 } },
      { pattern: "agent.*", patch: { failureThreshold: 3, windowMs: 90_000, slowCallDurationMs: 1500 } },
      { pattern: "*.search?", patch: {} },
    ],
  };
  const expectedCircuits = {
      "llm.openai.gpt": {
        preset: "flaky_tool",
        patch: { halfOpenMaxCalls: 2, permitTtlMs: 500, mode: "shadow", enabled: false },
      },
    "db:orders/primary@eu-1": { patch: {} },
  };

  it("reads a YAML file into presets, rules and circuits", () => {
    const path = writeConfig(".yaml", yaml);
    const config = loadConfig({ BREAKERBOX_CONFIG: path, CIRCUIT_BREAKER_FAILURE_THRESHOLD: "4" });
    expect(config.configFile).toBe(path);
    expect(config.layers).toEqual({ defaults: { ...BUILTIN_DEFAULTS, failureThreshold: 4 }, ...expectedLayers });
    expect(config.circuits).toEqual(expectedCircuits);
    expect(Object.keys(config.circuits)).toEqual(["llm.openai.gpt", "db:orders/primary@eu-1"]);
    // No `preset: undefined` keys: "no preset" is the key's absence.
    expect(Object.keys(config.layers.rules[1] ?? {})).toEqual(["pattern", "patch"]);
    expect(Object.keys(config.circuits["db:orders/primary@eu-1"] ?? {})).toEqual(["patch"]);
  });

  it("reads the same content from a .yml file", () => {
    expect(loadFile(".yml", yaml).layers.rules).toEqual(expectedLayers.rules);
  });

  it("reads a JSON file", () => {
    const json = JSON.stringify({
      presets: { flaky_tool: { failure_threshold: 10, open_duration: "15s" }, llm: { failure_threshold: 9 } },
      rules: [
        { pattern: "llm.*", preset: "llm", config: { max_open_duration: "5m" } },
        { pattern: "agent.*", config: { failure_threshold: 3, window: 90, slow_call_duration: 1.5 } },
        { pattern: "*.search?" },
      ],
      circuits: {
        "llm.openai.gpt": {
          preset: "flaky_tool",
          config: { half_open_max_calls: 2, permit_ttl: 0.5, mode: "shadow", enabled: false },
        },
        "db:orders/primary@eu-1": {},
      },
    });
    const config = loadFile(".json", `\uFEFF${json}`);
    expect(config.layers).toEqual({ defaults: BUILTIN_DEFAULTS, ...expectedLayers });
    expect(config.circuits).toEqual(expectedCircuits);
  });

  it("accepts an empty file and empty sections", () => {
    expect(loadFile(".yaml", "").layers).toEqual(loadConfig({}).layers);
    expect(loadFile(".yaml", "# nothing yet\npresets:\nrules:\ncircuits:\n").layers).toEqual(loadConfig({}).layers);
  });

  it("loads the example of docs/configuration.md", () => {
    const docs = readFileSync(join(dirname(fileURLToPath(import.meta.url)), "../../docs/configuration.md"), "utf8");
    const yamlExample = /```yaml\n([\s\S]*?)```/.exec(docs)?.[1];
    const jsonExample = /```json\n([\s\S]*?)```/.exec(docs)?.[1];
    expect(yamlExample).toBeDefined();
    expect(jsonExample).toBeDefined();
    const fromYaml = loadFile(".yaml", yamlExample ?? "");
    const fromJson = loadFile(".json", jsonExample ?? "");
    expect(fromYaml.layers).toEqual(fromJson.layers);
    expect(fromYaml.circuits).toEqual(fromJson.circuits);
    expect(fromYaml.layers.rules.map((r) => r.pattern)).toEqual(["llm.*", "agent.*", "tool.search.*", "db.*"]);
    expect(fromYaml.circuits["llm.openai.gpt"]).toEqual({ preset: "llm", patch: { halfOpenMaxCalls: 2, permitTtlMs: 500 } });
  });
});

describe("loadConfig: bad config files", () => {
  const acceptedKeys =
    "enabled, failure_threshold, failure_rate_threshold, minimum_calls, window, slow_call_duration, slow_call_rate_threshold, open_duration, backoff_multiplier, max_open_duration, half_open_max_calls, success_threshold, permit_ttl, jitter, mode, min_distinct_reporters";
  const knownPresets = "default, strict, lenient, fast_recovery, llm, io";

  // Each row: the YAML text and the problems it must produce, after "<path>: ".
  const cases: [what: string, yaml: string, problems: string[]][] = [
    [
      "an unknown config key",
      "rules:\n  - pattern: a.*\n  - pattern: b.*\n    config: { failure_treshold: 3 }\n",
      [`rules[1].config.failure_treshold: unknown key; accepted: ${acceptedKeys}`],
    ],
    [
      "unknown keys in a rule and at the top",
      "rule: []\nrules:\n  - pattern: a.*\n    presets: llm\n",
      ["rules[0].presets: unknown key; accepted: pattern, preset, config", "rule: unknown key; accepted: presets, rules, circuits, api_keys, permit_secret, permit_secret_previous"],
    ],
    [
      "an unknown preset in a rule",
      "rules:\n  - pattern: a.*\n    preset: llms\n",
      [`rules[0].preset: unknown preset "llms"; known presets: ${knownPresets}`],
    ],
    [
      "an unknown preset in a circuit",
      "presets:\n  mine: {}\ncircuits:\n  x:\n    preset: toString\n",
      [`circuits.x.preset: unknown preset "toString"; known presets: ${knownPresets}, mine`],
    ],
    [
      "a value out of range",
      "presets:\n  p: { jitter: 1.5, success_threshold: 0 }\n",
      [
        "presets.p.jitter: jitter must be a number from 0 up to but excluding 1, got 1.5",
        "presets.p.success_threshold: success_threshold must be an integer from 1 to 10000, got 0",
      ],
    ],
    [
      "a value of the wrong type",
      'circuits:\n  x:\n    config: { failure_threshold: "3", enabled: "yes", mode: 1 }\n',
      [
        'circuits.x.config.failure_threshold: failure_threshold must be an integer from 0 to 1000000, got "3"',
        "circuits.x.config.enabled: enabled must be true or false",
        "circuits.x.config.mode: mode must be \"enforce\" or \"shadow\", got 1",
      ],
    ],
    [
      "a bad duration",
      "rules:\n  - pattern: a.*\n    config: { open_duration: 1.5ms, window: 2d, permit_ttl: -1 }\n",
      [
        'rules[0].config.open_duration: must be a number of seconds or a string like "500ms", "15s", "1.5s", "5m", "1h" (whole milliseconds, not negative), got "1.5ms"',
        'rules[0].config.window: must be a number of seconds or a string like "500ms", "15s", "1.5s", "5m", "1h" (whole milliseconds, not negative), got "2d"',
        'rules[0].config.permit_ttl: must be a number of seconds or a string like "500ms", "15s", "1.5s", "5m", "1h" (whole milliseconds, not negative), got -1',
      ],
    ],
    [
      "a rule that resolves to an invalid config",
      "rules:\n  - pattern: llm.*\n    preset: llm\n    config: { max_open_duration: 10s }\n",
      ["rules[0]: resolves (pattern:llm.* > preset:llm > defaults) to an invalid config: max_open_duration (10s) must be at least open_duration (30s)"],
    ],
    [
      "a circuit that resolves to an invalid config through a rule",
      "rules:\n  - pattern: a.*\n    config: { max_open_duration: 2m }\ncircuits:\n  a.b:\n    config: { open_duration: 3m }\n",
      ["circuits[\"a.b\"]: resolves (circuit > pattern:a.* > defaults) to an invalid config: max_open_duration (120s) must be at least open_duration (180s)"],
    ],
    [
      "a file preset that resolves to an invalid config",
      "presets:\n  slow: { open_duration: 15m }\n",
      ["presets.slow: resolves (preset:slow > defaults) to an invalid config: max_open_duration (600s) must be at least open_duration (900s)"],
    ],
    [
      "bad circuit names",
      'circuits:\n  "-x": {}\n  "a b": {}\n  ok.name: {}\n',
      [
        'circuits["-x"]: circuit name must match ^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,199}$ (1 to 200 letters, digits, . _ : / @ -, starting with a letter or digit), got "-x"',
        'circuits["a b"]: circuit name must match ^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,199}$ (1 to 200 letters, digits, . _ : / @ -, starting with a letter or digit), got "a b"',
      ],
    ],
    [
      "bad patterns",
      `rules:\n  - pattern: ""\n  - pattern: "a[b]"\n  - pattern: "${"a".repeat(201)}"\n  - config: {}\n`,
      [
        'rules[0].pattern: must be 1 to 200 characters of letters, digits, . _ : / @ - and the wildcards * and ?, got ""',
        'rules[1].pattern: must be 1 to 200 characters of letters, digits, . _ : / @ - and the wildcards * and ?, got "a[b]"',
        `rules[2].pattern: must be 1 to 200 characters of letters, digits, . _ : / @ - and the wildcards * and ?, got "${"a".repeat(201)}"`,
        'rules[3].pattern: is required: a glob on circuit names, e.g. "agent.*"',
      ],
    ],
    [
      "a repeated pattern",
      "rules:\n  - pattern: a.*\n  - pattern: b.*\n  - pattern: a.*\n    preset: strict\n",
      ['rules[2].pattern: "a.*" repeats rules[0].pattern; only the first rule with a pattern can ever match'],
    ],
    ["a list at the top", "- pattern: a.*\n", ["must be a mapping with keys presets, rules, circuits, api_keys, permit_secret, permit_secret_previous"]],
    [
      "sections of the wrong kind",
      "presets: [1]\nrules: { pattern: a }\ncircuits: 3\n",
      [
        "presets: must be a mapping of preset names to config patches",
        "rules: must be a list of rules ({pattern, preset?, config?})",
        "circuits: must be a mapping of circuit names to {preset?, config?}",
      ],
    ],
  ];

  it.each(cases)("refuses %s", (_what, text, problems) => {
    const { path, error } = fileError(".yaml", text);
    expect(error.problems).toEqual(problems.map((p) => `${path}: ${p}`));
  });

  it("checks the file against the env defaults", () => {
    const { path, error } = fileError(".yaml", "rules:\n  - pattern: a.*\n    preset: strict\n", {
      CIRCUIT_BREAKER_MAX_TIMEOUT_SECONDS: "60",
    });
    expect(error.problems).toEqual([
      `${path}: rules[0]: resolves (pattern:a.* > preset:strict > defaults) to an invalid config: max_open_duration (60s) must be at least open_duration (120s)`,
    ]);
  });

  it("does not blame the file for invalid env defaults", () => {
    const { error } = fileError(".yaml", "rules:\n  - pattern: a.*\n", { CIRCUIT_BREAKER_MAX_TIMEOUT_SECONDS: "1" });
    expect(error.problems).toEqual([
      "CIRCUIT_BREAKER_MAX_TIMEOUT_SECONDS, CIRCUIT_BREAKER_TIMEOUT_SECONDS: max_open_duration (1s) must be at least open_duration (60s)",
    ]);
  });

  it("names BREAKERBOX_CONFIG, the file and the line of a YAML syntax error", () => {
    const { path, error } = fileError(".yaml", "rules:\n  - pattern: a.*\n   preset: llm\n");
    expect(error.problems).toEqual([
      `BREAKERBOX_CONFIG: cannot parse ${path} as YAML: Sequence item without - indicator at line 3, column 1`,
    ]);
    expect(error.message).not.toContain("\n");
  });

  it("refuses a repeated YAML key", () => {
    const { path, error } = fileError(".yaml", "circuits:\n  a: {}\n  a: {}\n");
    expect(error.problems).toEqual([`BREAKERBOX_CONFIG: cannot parse ${path} as YAML: Map keys must be unique at line 3, column 3`]);
  });

  it("names BREAKERBOX_CONFIG and the file on a JSON syntax error", () => {
    const { path, error } = fileError(".json", '{\n  "rules": [}\n');
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(new RegExp(`^BREAKERBOX_CONFIG: cannot parse ${path} as JSON: \\S`));
    expect(error.message).not.toContain("\n");
  });

  it("names BREAKERBOX_CONFIG and the file when it cannot be read", () => {
    const path = join(dir, "missing.yaml");
    expect(configError({ BREAKERBOX_CONFIG: path }).problems).toEqual([
      `BREAKERBOX_CONFIG: cannot read ${path}: ENOENT: no such file or directory, open '${path}'`,
    ]);
  });

  it("reads through the injected readFile", () => {
    const reads: string[] = [];
    const config = loadConfig({ BREAKERBOX_CONFIG: "virtual.yml" }, {
      readFile: (path) => {
        reads.push(path);
        return "rules:\n  - pattern: x.*\n";
      },
    });
    expect(reads).toEqual(["virtual.yml"]);
    expect(config.layers.rules).toEqual([{ pattern: "x.*", patch: {} }]);
  });

  it.each([
    ["breakerbox.toml", '".toml"'],
    ["breakerbox", "(none)"],
  ])("refuses the extension of %s", (file, shown) => {
    expect(configError({ BREAKERBOX_CONFIG: file }, () => "").problems).toEqual([
      `BREAKERBOX_CONFIG: ${JSON.stringify(file)} has an unsupported extension ${shown}; accepted: .yaml, .yml, .json`,
    ]);
  });
});

describe("parseDurationMs", () => {
  it.each<[string | number, number]>([
    [15, 15_000],
    [0, 0],
    [0.5, 500],
    [0.001, 1],
    ["15", 15_000],
    ["500ms", 500],
    ["15s", 15_000],
    ["1.5s", 1500],
    ["0.1s", 100],
    ["5m", 300_000],
    ["1h", 3_600_000],
    [" 2 m ", 120_000],
    [".5s", 500],
  ])("%j is %d ms", (value, ms) => {
    expect(parseDurationMs(value, "open_duration")).toBe(ms);
  });

  it.each<string | number>(["", "abc", "5M", "1d", "-1s", "1.5ms", "1e3s", -1, 0.0001, Number.NaN, Number.POSITIVE_INFINITY])(
    "refuses %j, naming the field and the accepted forms",
    (value) => {
      expect(() => parseDurationMs(value, "rules[0].config.window")).toThrow(
        `rules[0].config.window: must be a number of seconds or a string like "500ms", "15s", "1.5s", "5m", "1h" (whole milliseconds, not negative), got ${typeof value === "number" ? String(value) : JSON.stringify(value)}`,
      );
    },
  );
});

describe("name patterns", () => {
  it.each([
    ["agent.researcher", true],
    ["llm.openai.gpt", true],
    ["db:orders/primary@eu-1", true],
    ["A", true],
    ["a".repeat(200), true],
    ["a".repeat(201), false],
    ["", false],
    [".hidden", false],
    ["-x", false],
    ["a b", false],
    ["agent.*", false],
    ["ünicode", false],
  ])("CIRCUIT_NAME_PATTERN %j: %s", (name, ok) => {
    expect(CIRCUIT_NAME_PATTERN.test(name)).toBe(ok);
  });

  it.each([
    ["agent.*", true],
    ["*", true],
    ["*.timeout", true],
    ["llm.?pt", true],
    ["a".repeat(200), true],
    ["a".repeat(201), false],
    ["", false],
    ["a b", false],
    ["a[b]", false],
  ])("PATTERN_GLOB_PATTERN %j: %s", (pattern, ok) => {
    expect(PATTERN_GLOB_PATTERN.test(pattern)).toBe(ok);
  });
});

describe("createLogger", () => {
  function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
    const chunks: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk.toString());
        done();
      },
    });
    const lines = () =>
      chunks
        .join("")
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    return { stream, lines };
  }

  it("writes JSON lines with the service name and the level as a label", () => {
    const { stream, lines } = capture();
    const log = createLogger("info", stream);
    log.info({ circuit: "a" }, "opened");
    log.debug("hidden");
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toMatchObject({ level: "info", service: "breakerbox", circuit: "a", msg: "opened" });
    expect(lines()[0]).not.toHaveProperty("pid");
  });

  it("logs nothing when silent", () => {
    const { stream, lines } = capture();
    createLogger("silent", stream).fatal("no");
    expect(lines()).toEqual([]);
  });
});

describe("loadConfig: the Redis store", () => {
  it("uses the embedded store when no Redis variable is set", () => {
    expect(loadConfig({}).store).toEqual({ kind: "memory" });
  });

  it.each([
    [{ REDIS_URL: "redis://user:pw@127.0.0.1:6379/2" }, { mode: "single", url: "redis://user:pw@127.0.0.1:6379/2" }],
    [{ REDIS_URL: "rediss://cache.internal:6380" }, { mode: "single", url: "rediss://cache.internal:6380" }],
    [
      { REDIS_SENTINELS: "10.0.0.1:26379, 10.0.0.2:26379,[::1]:26380", REDIS_SENTINEL_NAME: "mymaster", REDIS_PASSWORD: "pw" },
      {
        mode: "sentinel",
        sentinels: [
          { host: "10.0.0.1", port: 26379 },
          { host: "10.0.0.2", port: 26379 },
          { host: "::1", port: 26380 },
        ],
        name: "mymaster",
        password: "pw",
      },
    ],
    [
      { REDIS_CLUSTER_NODES: "a:7000,b:7001", REDIS_USERNAME: "bb" },
      { mode: "cluster", nodes: [{ host: "a", port: 7000 }, { host: "b", port: 7001 }], username: "bb" },
    ],
  ])("selects Redis from %j", (env, connection) => {
    expect(loadConfig(env).store).toEqual({ kind: "redis", connection, keyPrefix: "bb:", commandTimeoutMs: 2000 });
  });

  it("takes the key prefix and command timeout", () => {
    const store = loadConfig({ REDIS_URL: "redis://h:1", BREAKERBOX_REDIS_KEY_PREFIX: "team-a:", BREAKERBOX_REDIS_TIMEOUT_SECONDS: "0.5" }).store;
    expect(store).toMatchObject({ keyPrefix: "team-a:", commandTimeoutMs: 500 });
  });

  it.each([
    [{ REDIS_URL: "http://h:1" }, "REDIS_URL: must start with redis:// or rediss://, got http://"],
    [{ REDIS_URL: "not a url" }, "REDIS_URL: must be a URL like redis://[user:password@]host:6379[/db]"],
    [{ REDIS_SENTINELS: "a:1" }, "REDIS_SENTINEL_NAME: is required with REDIS_SENTINELS"],
    [{ REDIS_CLUSTER_NODES: "a:1,b" }, 'REDIS_CLUSTER_NODES: must be a comma-separated list of host:port, got "b"'],
    [{ REDIS_CLUSTER_NODES: "a:70000" }, 'REDIS_CLUSTER_NODES: must be a comma-separated list of host:port, got "a:70000"'],
    [{ REDIS_URL: "redis://h:1", REDIS_CLUSTER_NODES: "a:1" }, "REDIS_URL, REDIS_CLUSTER_NODES: set only one of"],
    [{ REDIS_URL: "redis://h:1", BREAKERBOX_REDIS_KEY_PREFIX: "a b" }, "BREAKERBOX_REDIS_KEY_PREFIX: must be 1 to 64 letters"],
  ])("refuses %j", (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it("never repeats a Redis URL (it may hold a password) in its message", () => {
    expect(() => loadConfig({ REDIS_URL: "ftp://user:s3cret@h:1" })).toThrow(/^(?!.*s3cret)/s);
  });
});

describe("loadConfig: API keys", () => {
  const AGENT = "agent-key-0123456789";
  const ADMIN = "admin:key:with:colons";

  it("reads BREAKERBOX_API_KEYS as name:role:key entries (the key is everything after the second colon)", () => {
    const config = loadConfig({ BREAKERBOX_API_KEYS: ` agents:agent:${AGENT} , ops:admin:${ADMIN},` });
    expect(config.apiKeys).toEqual([
      { name: "agents", role: "agent", key: AGENT },
      { name: "ops", role: "admin", key: ADMIN },
    ]);
  });

  it("reads api_keys from the config file, after the variable's", () => {
    const config = loadFile(
      ".yaml",
      `api_keys:\n  - name: ops\n    role: admin\n    key: "${ADMIN}"\n`,
      { BREAKERBOX_API_KEYS: `agents:agent:${AGENT}` },
    );
    expect(config.apiKeys).toEqual([
      { name: "agents", role: "agent", key: AGENT },
      { name: "ops", role: "admin", key: ADMIN },
    ]);
  });

  it("loads the api_keys example of docs/operations.md", () => {
    const doc = readFileSync(join(dirname(fileURLToPath(import.meta.url)), "../../docs/operations.md"), "utf8");
    const yaml = /```yaml\n(api_keys:[\s\S]*?)```/.exec(doc)?.[1];
    expect(yaml).toBeDefined();
    expect(loadFile(".yaml", yaml!).apiKeys.map((k) => [k.name, k.role])).toEqual([
      ["agents", "agent"],
      ["ops", "admin"],
    ]);
  });

  // Each row: the variable's value, the exact problems. None may quote a key.
  const bad: [string, string[]][] = [
    ["just-a-key-0123456789", ["BREAKERBOX_API_KEYS: entry 1 is not name:role:key (e.g. ci:agent:<a key of 16 or more characters>); entries are separated by commas"]],
    [`ops:root:${AGENT}`, ['BREAKERBOX_API_KEYS: entry 1 ("ops"): unknown role "root"; accepted: agent, admin']],
    [`ops:${AGENT}:admin`, ['BREAKERBOX_API_KEYS: entry 1 ("ops"): unknown role (not shown); accepted: agent, admin', 'BREAKERBOX_API_KEYS: entry 1 ("ops"): key must be at least 16 characters of visible ASCII (no spaces)']],
    ["ops:admin:short-secret", ['BREAKERBOX_API_KEYS: entry 1 ("ops"): key must be at least 16 characters of visible ASCII (no spaces)']],
    ["ops:admin:has space in the key 0123", ['BREAKERBOX_API_KEYS: entry 1 ("ops"): key must be at least 16 characters of visible ASCII (no spaces)']],
    [`-ops:admin:${AGENT}`, ["BREAKERBOX_API_KEYS: entry 1: name must be 1 to 64 letters, digits or . _ @ -, starting with a letter or digit"]],
    [`ops:admin:${AGENT},ops:agent:${ADMIN}`, ['BREAKERBOX_API_KEYS entry 2: name "ops" is already used by BREAKERBOX_API_KEYS entry 1; key names must be unique (they name the caller in history and logs)']],
    [`ops:admin:${AGENT},ci:agent:${AGENT}`, ['BREAKERBOX_API_KEYS entry 2 ("ci"): same key as BREAKERBOX_API_KEYS entry 1 ("ops"); give every client its own key']],
  ];
  it.each(bad)("refuses %j", (value, problems) => {
    const error = configError({ BREAKERBOX_API_KEYS: value });
    expect(error.problems).toEqual(problems);
    for (const secret of [AGENT, ADMIN, "short-secret", "just-a-key-0123456789"]) expect(error.message).not.toContain(secret);
  });

  it("refuses bad api_keys entries in the file and duplicates across the file and the variable", () => {
    const { path, error } = fileError(
      ".yaml",
      [
        "api_keys:",
        `  - { name: ops, role: admin, key: "${ADMIN}" }`,
        `  - { name: ci, role: superuser, key: "${AGENT}" }`,
        `  - { name: bot, role: agent }`,
        `  - { name: x, role: agent, key: "${AGENT}", note: hi }`,
        `  - { name: bot2, role: agent, key: 12345678901234567890 }`,
      ].join("\n"),
      { BREAKERBOX_API_KEYS: `ops:agent:${AGENT}-other` },
    );
    expect(error.problems).toEqual([
      `${path}: api_keys[2].key: is required: the secret clients send as 'authorization: Bearer <key>' (at least 16 characters of visible ASCII (no spaces))`,
      `${path}: api_keys[3].note: unknown key; accepted: name, role, key`,
      `${path}: api_keys[4].key: must be text: the secret clients send as 'authorization: Bearer <key>' (at least 16 characters of visible ASCII (no spaces))`,
    ]);
    expect(error.message).not.toContain(AGENT);

    const second = fileError(
      ".yaml",
      [`api_keys:`, `  - { name: ops, role: admin, key: "${ADMIN}" }`, `  - { name: ci, role: superuser, key: "${AGENT}" }`].join("\n"),
      { BREAKERBOX_API_KEYS: `ops:agent:${AGENT}-other` },
    );
    expect(second.error.problems).toEqual([
      `${second.path}: api_keys[1] ("ci"): unknown role "superuser"; accepted: agent, admin`,
      `${second.path}: api_keys[0]: name "ops" is already used by BREAKERBOX_API_KEYS entry 1; key names must be unique (they name the caller in history and logs)`,
    ]);
  });
});

describe("loadConfig: where to listen", () => {
  const KEYS = "ops:admin:admin-key-0123456789";
  it.each([
    [{}, "127.0.0.1"],
    [{ BREAKERBOX_API_KEYS: KEYS }, "0.0.0.0"],
    [{ BREAKERBOX_API_KEYS: KEYS, BREAKERBOX_HOST: "10.1.2.3" }, "10.1.2.3"],
    [{ BREAKERBOX_HOST: "0.0.0.0" }, "0.0.0.0"],
  ] as [Env, string][])("%j binds %s", (env, host) => {
    expect(loadConfig(env).host).toBe(host);
  });

  it("warns at start when access control is off, louder when others can reach the server", () => {
    expect(accessControlWarning(loadConfig({}))).toBe(
      "access control is off (no API keys): listening on 127.0.0.1 only; set BREAKERBOX_API_KEYS to serve other hosts, or BREAKERBOX_HOST to override",
    );
    expect(accessControlWarning(loadConfig({ BREAKERBOX_HOST: "::" }))).toBe(
      "ACCESS CONTROL IS OFF and BREAKERBOX_HOST=:: is not a loopback address: anyone who can reach these ports can Reset, ForceState and Configure every circuit; set BREAKERBOX_API_KEYS (name:role:key,...) or bind 127.0.0.1",
    );
    expect(accessControlWarning(loadConfig({ BREAKERBOX_API_KEYS: KEYS }))).toBeUndefined();
  });

  it.each([
    ["127.0.0.1", true],
    ["127.1.2.3", true],
    ["::1", true],
    ["[::1]", true],
    ["localhost", true],
    ["0.0.0.0", false],
    ["::", false],
    ["10.0.0.5", false],
    ["breakerbox.internal", false],
  ])("isLoopbackHost(%j) is %s", (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });
});

describe("loadConfig: TLS", () => {
  let certs: TestCerts;
  beforeAll(() => {
    certs = makeTestCerts();
  });
  afterAll(() => {
    certs.remove();
  });

  it("reads the certificate, key and client CA", () => {
    const config = loadConfig({
      BREAKERBOX_TLS_CERT_FILE: certs.files.serverCert,
      BREAKERBOX_TLS_KEY_FILE: certs.files.serverKey,
      BREAKERBOX_TLS_CLIENT_CA_FILE: certs.files.ca,
    });
    expect(config.tls).toEqual({
      cert: certs.serverCert.toString("utf8"),
      key: certs.serverKey.toString("utf8"),
      clientCa: certs.ca.toString("utf8"),
      certFile: certs.files.serverCert,
      keyFile: certs.files.serverKey,
      clientCaFile: certs.files.ca,
    });
    expect("tls" in loadConfig({})).toBe(false);
  });

  it("wants both files or neither", () => {
    expect(configError({ BREAKERBOX_TLS_CERT_FILE: certs.files.serverCert }).problems).toEqual([
      "BREAKERBOX_TLS_KEY_FILE: is required with BREAKERBOX_TLS_CERT_FILE; set both (TLS on) or neither (plaintext)",
    ]);
    expect(configError({ BREAKERBOX_TLS_KEY_FILE: certs.files.serverKey }).problems).toEqual([
      "BREAKERBOX_TLS_CERT_FILE: is required with BREAKERBOX_TLS_KEY_FILE; set both (TLS on) or neither (plaintext)",
    ]);
    expect(configError({ BREAKERBOX_TLS_CLIENT_CA_FILE: certs.files.ca }).problems).toEqual([
      "BREAKERBOX_TLS_CLIENT_CA_FILE: needs BREAKERBOX_TLS_CERT_FILE and BREAKERBOX_TLS_KEY_FILE (client certificates are checked only over TLS)",
    ]);
  });

  it("names the variable and file that cannot be read", () => {
    const missing = join(certs.dir, "missing.pem");
    expect(configError({ BREAKERBOX_TLS_CERT_FILE: missing, BREAKERBOX_TLS_KEY_FILE: certs.files.serverKey }).problems).toEqual([
      `BREAKERBOX_TLS_CERT_FILE: cannot read ${missing}: ENOENT: no such file or directory, open '${missing}'`,
    ]);
  });

  it("refuses a file that is not PEM, and a key that is not the certificate's", () => {
    const problems = configError({ BREAKERBOX_TLS_CERT_FILE: certs.files.serverKey, BREAKERBOX_TLS_KEY_FILE: certs.files.serverCert }).problems;
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(new RegExp(`^BREAKERBOX_TLS_CERT_FILE: ${certs.files.serverKey} is not a PEM certificate: `));
    expect(problems[1]).toMatch(new RegExp(`^BREAKERBOX_TLS_KEY_FILE: ${certs.files.serverCert} is not a PEM private key \\(or is encrypted\\): `));
    expect(configError({ BREAKERBOX_TLS_CERT_FILE: certs.files.serverCert, BREAKERBOX_TLS_KEY_FILE: certs.files.clientKey }).problems).toEqual([
      `BREAKERBOX_TLS_KEY_FILE: the key in ${certs.files.clientKey} does not belong to the certificate in ${certs.files.serverCert}`,
    ]);
  });
});
