/**
 * Composition root: builds the store, the service and both listeners from a
 * parsed AppConfig, and stops them in order. main.ts adds process concerns
 * (env, signals, exit codes); tests and the bench call startBreakerbox
 * directly.
 */
import type { Logger } from "pino";
import type { AppConfig } from "./config.js";
import { Breakerbox } from "./service/breakerbox.js";
import { createCircuitServiceImpl } from "./server/circuit-service.js";
import { createGrpcServer, type GrpcServer } from "./server/grpc.js";
import { createHttpServer, type HttpServer } from "./server/http.js";
import { HealthRegistry, ServingStatus } from "./server/health.js";
import { createMemoryStore } from "./store/memory.js";
import { connectRedis } from "./store/redis/connection.js";
import { createRedisStore } from "./store/redis/redis-store.js";
import type { CircuitStore } from "./store/store.js";
import { CircuitService } from "../gen/ts/breakerbox/v1/breakerbox_pb.js";

export interface StartOptions {
  logger: Logger;
  /**
   * Use this store instead of building one from config.store (tests inject a
   * memory store with a manual clock). It is closed by stop().
   */
  store?: CircuitStore;
}

export interface RunningBreakerbox {
  grpcPort: number;
  httpPort: number;
  store: CircuitStore;
  service: Breakerbox;
  grpc: GrpcServer;
  http: HttpServer;
  /**
   * Graceful stop: health NOT_SERVING, Watch streams end with OK, listeners
   * stop accepting, in-flight unary calls finish (up to shutdownGraceMs), then
   * the store closes. Idempotent.
   */
  stop(): Promise<void>;
}

function buildStore(config: AppConfig, logger: Logger): CircuitStore {
  const common = {
    layers: config.layers,
    circuits: config.circuits,
    idleTtlMs: config.idleTtlMs,
    eventLogSize: config.eventLogSize,
    historyLimit: config.historyLimit,
  };
  switch (config.store.kind) {
    case "memory":
      return createMemoryStore(common);
    case "redis": {
      let lastError = "";
      const clients = connectRedis(config.store.connection, {
        commandTimeoutMs: config.store.commandTimeoutMs,
        // ioredis retries by itself; say so once per distinct error, not per retry.
        onError: (err) => {
          if (err.message !== lastError) logger.warn({ err: err.message }, "redis connection error; retrying");
          lastError = err.message;
        },
      });
      return createRedisStore({
        ...common,
        ...clients,
        keyPrefix: config.store.keyPrefix,
        commandTimeoutMs: config.store.commandTimeoutMs,
      });
    }
  }
}

/** Starts Breakerbox; resolves once both ports are bound. */
export async function startBreakerbox(config: AppConfig, options: StartOptions): Promise<RunningBreakerbox> {
  const { logger } = options;
  const store = options.store ?? buildStore(config, logger);
  const service = new Breakerbox({ store, maxWatchers: config.maxWatchers, heartbeatMs: config.heartbeatMs });

  store.onTransition((e) =>
    logger.info(
      {
        circuit: e.circuit,
        from: e.from,
        to: e.to,
        reason: e.reason,
        generation: e.generation,
        consecutiveFailures: e.stats.consecutiveFailures,
        windowCalls: e.stats.windowCalls,
        windowFailures: e.stats.windowFailures,
        ...(e.openUntil === undefined ? {} : { openUntil: new Date(e.openUntil).toISOString() }),
        ...(e.actor === undefined ? {} : { actor: e.actor }),
      },
      "circuit transition",
    ),
  );
  store.onConfigChange((c) =>
    logger.info({ target: c.target, actor: c.actor, old: c.oldConfig, new: c.newConfig }, "circuit config changed"),
  );

  const impl = createCircuitServiceImpl({ service, logger });
  const health = new HealthRegistry({ "": ServingStatus.SERVING, [CircuitService.typeName]: ServingStatus.SERVING });
  const onInternalError = (err: unknown, method: { name: string }): void =>
    logger.error({ err, method: method.name }, "internal error");
  const grpc = createGrpcServer({ circuitService: impl, health, onInternalError });
  const http = createHttpServer({
    circuitService: impl,
    health,
    onInternalError,
    readiness: () => service.health(),
  });

  // Health follows the store: NOT_SERVING while Redis is unreachable, SERVING again when it is back.
  const syncHealth = (): void => {
    const status = service.health().ready ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
    health.setStatus("", status);
    health.setStatus(CircuitService.typeName, status);
  };
  const healthTimer = setInterval(syncHealth, 1000);
  healthTimer.unref();

  let grpcPort: number;
  let httpPort: number;
  try {
    grpcPort = await grpc.listen(config.host, config.grpcPort);
    httpPort = await http.listen(config.host, config.httpPort);
  } catch (err) {
    clearInterval(healthTimer);
    await Promise.allSettled([grpc.shutdown(0), http.shutdown(0)]);
    await store.close();
    throw err;
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      clearInterval(healthTimer);
      service.shutdown();
      await Promise.all([grpc.shutdown(config.shutdownGraceMs), http.shutdown(config.shutdownGraceMs)]);
      await store.close();
    })();
    return stopping;
  };

  return { grpcPort, httpPort, store, service, grpc, http, stop };
}
