/**
 * Starts a real Breakerbox (both listeners on free ports) in this process,
 * on a memory store whose clock the test moves, so time-driven rules are
 * exercised over the network without sleeping.
 */
import pino from "pino";
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

export interface TestServer {
  app: RunningBreakerbox;
  store: MemoryStore;
  clock: ManualClock;
  config: AppConfig;
  grpcAddress: string;
  httpUrl: string;
  stop(): Promise<void>;
}

/** `env` is parsed like the process environment (ports default to 0 here). */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const config = loadConfig({ BREAKERBOX_GRPC_PORT: "0", BREAKERBOX_HTTP_PORT: "0", ...env });
  const clock = manualClock();
  const store = createMemoryStore({
    layers: config.layers,
    circuits: config.circuits,
    clock: clock.now,
    random: () => 0.5,
    tickIntervalMs: 0,
    eventLogSize: config.eventLogSize,
    historyLimit: config.historyLimit,
  });
  const app = await startBreakerbox(config, { logger: pino({ level: "silent" }), store, clock: clock.now });
  return {
    app,
    store,
    clock,
    config,
    grpcAddress: `127.0.0.1:${app.grpcPort}`,
    httpUrl: `http://127.0.0.1:${app.httpPort}`,
    stop: () => app.stop(),
  };
}
