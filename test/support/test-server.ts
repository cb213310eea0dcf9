/**
 * Starts a real Breakerbox (both listeners on free ports) in this process.
 * startTestServer puts it on a memory store whose clock the test moves, so
 * time-driven rules are exercised over the network without sleeping;
 * startRealClockServer leaves the store and the clock to the app, as
 * `npm start` would (for tests that run foreign agents in real time).
 * use-test-server.ts wraps both as vitest fixtures.
 */
import pino, { type Logger } from "pino";
import { startBreakerbox, type RunningBreakerbox } from "../../src/app.js";
import { loadConfig, type AppConfig } from "../../src/config/index.js";
import { createMemoryStore, type MemoryStore } from "../../src/store/memory.js";

export interface ManualClock {
  now(): number;
  advance(ms: number): void;
}

export function manualClock(start = Date.UTC(2026, 0, 1)): ManualClock {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

/** What every in-process server offers, whatever its store and clock. */
export interface RunningTestServer {
  app: RunningBreakerbox;
  config: AppConfig;
  /**
   * 127.0.0.1:port of the gRPC listener; localhost:port under TLS (a name in
   * the test certificate: grpc-js would send an IP address as the TLS server
   * name, which Node flags as deprecated).
   */
  grpcAddress: string;
  /** http://127.0.0.1:port of the HTTP listener; https:// under TLS. */
  httpUrl: string;
  /** Graceful stop; idempotent. */
  stop(): Promise<void>;
}

/** A server on a memory store driven by `clock`. */
export interface TestServer extends RunningTestServer {
  store: MemoryStore;
  clock: ManualClock;
}

export interface StartOptions {
  /** Default: silent. */
  logger?: Logger;
}

/** Parses `env` like the process environment, with both ports 0 (free) unless `env` sets them. */
function configOf(env: Record<string, string>): AppConfig {
  return loadConfig({ BREAKERBOX_GRPC_PORT: "0", BREAKERBOX_HTTP_PORT: "0", ...env });
}

function runningOf(app: RunningBreakerbox, config: AppConfig): RunningTestServer {
  return {
    app,
    config,
    grpcAddress: `${config.tls === undefined ? "127.0.0.1" : "localhost"}:${app.grpcPort}`,
    httpUrl: `${config.tls === undefined ? "http" : "https"}://127.0.0.1:${app.httpPort}`,
    stop: () => app.stop(),
  };
}

/** `env` is parsed like the process environment (ports default to 0 here). */
export async function startTestServer(env: Record<string, string> = {}, options: StartOptions = {}): Promise<TestServer> {
  const config = configOf(env);
  const clock = manualClock();
  const store = createMemoryStore({
    layers: config.layers,
    circuits: config.circuits,
    clock: clock.now,
    random: () => 0.5,
    tickIntervalMs: 0,
    eventLogSize: config.eventLogSize,
    historyLimit: config.historyLimit,
    ...(config.permitSecret === undefined ? {} : { permitSecret: config.permitSecret }),
    ...(config.previousPermitSecret === undefined ? {} : { previousPermitSecret: config.previousPermitSecret }),
  });
  const app = await startBreakerbox(config, { logger: options.logger ?? pino({ level: "silent" }), store, clock: clock.now });
  return { ...runningOf(app, config), store, clock };
}

/**
 * The store `env` configures (memory unless it names Redis), on the real
 * clock with its background ticks: OPEN turns HALF_OPEN by itself, as in
 * production.
 */
export async function startRealClockServer(env: Record<string, string> = {}, options: StartOptions = {}): Promise<RunningTestServer> {
  const config = configOf(env);
  const app = await startBreakerbox(config, { logger: options.logger ?? pino({ level: "silent" }) });
  return runningOf(app, config);
}
