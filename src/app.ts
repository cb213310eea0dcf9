/**
 * Composition root: builds the store, the service and both listeners from a
 * parsed AppConfig, and stops them in order. main.ts adds process concerns
 * (env, signals, exit codes); tests and the bench call startBreakerbox
 * directly.
 */
import type { Logger } from "pino";
import type { ServerOptions } from "@grpc/grpc-js";
import type { AppConfig } from "./config/index.js";
import { AccessControl } from "./service/access.js";
import { Breakerbox } from "./service/breakerbox.js";
import { WatchSlots } from "./service/watch-slots.js";
import { createAccessInterceptor } from "./server/auth.js";
import { createCircuitServiceImpl } from "./server/circuit-service.js";
import { createDashboardHandler } from "./server/dashboard.js";
import { createGrpcServer, type GrpcServer } from "./server/grpc.js";
import { createHttpServer, type HttpServer } from "./server/http.js";
import { originPolicyFor } from "./server/http-origin.js";
import { createErrorInterceptor } from "./server/error-interceptor.js";
import { HealthRegistry, ServingStatus } from "./server/health.js";
import { forService, type Interceptor } from "./server/interceptor.js";
import { toConnectError } from "./server/status.js";
import { MemoryStore, createMemoryStore } from "./store/memory.js";
import { connectRedis } from "./store/redis/connection.js";
import { RedisStore, createRedisStore } from "./store/redis/redis-store.js";
import type { CircuitStore } from "./store/store.js";
import { CircuitStateTracker } from "./metrics/circuit-states.js";
import { instrumentStore } from "./metrics/instrument.js";
import { createMetrics, type BreakerboxMetrics } from "./metrics/metrics.js";
import { createMetricsRoute, type HttpRoute } from "./metrics/route.js";
import { createRpcMetricsInterceptor } from "./metrics/rpc-interceptor.js";
import type { Tracing } from "./tracing/tracing.js";
import { CircuitService } from "../gen/ts/breakerbox/v1/breakerbox_pb.js";

export interface StartOptions {
  logger: Logger;
  /**
   * Use this store instead of building one from config.store (tests inject a
   * memory store with a manual clock). It is closed by stop().
   */
  store?: CircuitStore;
  /**
   * The store's clock, when `store` has one of its own (ms since the epoch):
   * /metrics shows an OPEN circuit as HALF_OPEN once its open duration has
   * passed by this clock. Default Date.now.
   */
  clock?: () => number;
  /**
   * Trace every CircuitService call and store call with this (main.ts builds
   * it from OTEL_* only when tracing is on). Absent: no tracing layer is
   * installed at all, so the hot path pays nothing for it. Not shut down by
   * stop(): its owner flushes it after.
   */
  tracing?: Tracing;
}

export interface RunningBreakerbox {
  grpcPort: number;
  httpPort: number;
  store: CircuitStore;
  service: Breakerbox;
  grpc: GrpcServer;
  http: HttpServer;
  /** The Prometheus metrics served at GET /metrics on the HTTP port. */
  metrics: BreakerboxMetrics;
  /**
   * Graceful stop: health NOT_SERVING, Watch streams end with OK, listeners
   * stop accepting, in-flight unary calls finish (up to shutdownGraceMs), then
   * the store closes. Idempotent.
   */
  stop(): Promise<void>;
}

/** A Health.Watch stream's slot, or its refusal as the status clients see (Health is outside the error interceptor). */
function takeOrRefuse(slots: WatchSlots): () => void {
  try {
    return slots.take(undefined);
  } catch (err) {
    throw toConnectError(err);
  }
}

function buildStore(config: AppConfig, logger: Logger): CircuitStore {
  const common = {
    layers: config.layers,
    circuits: config.circuits,
    idleTtlMs: config.idleTtlMs,
    maxCircuits: config.maxCircuits,
    ...(config.permitSecret === undefined ? {} : { permitSecret: config.permitSecret }),
    ...(config.previousPermitSecret === undefined ? {} : { previousPermitSecret: config.previousPermitSecret }),
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
        onWarning: (message, details) => logger.warn(details, message),
      });
    }
  }
}

/** Starts Breakerbox; resolves once both ports are bound. */
export async function startBreakerbox(config: AppConfig, options: StartOptions): Promise<RunningBreakerbox> {
  const { logger } = options;
  const store = options.store ?? buildStore(config, logger);
  const metrics = createMetrics({ maxCircuits: config.metricsMaxCircuits });
  // The service sees the store through the metrics wrapper (round trips,
  // calls, rejections); transitions and the state feed come from the store.
  // One stream budget for CircuitService.Watch and Health.Watch; the per-key
  // limit only with keys (without them every caller is the one anonymous caller).
  const watchSlots = new WatchSlots({
    maxStreams: config.maxWatchers,
    ...(config.apiKeys.length > 0 ? { maxPerKey: config.maxWatchersPerKey } : {}),
  });
  const tracing = options.tracing;
  // Store spans inside the metrics wrapper: a span times the store call alone.
  const traced = tracing === undefined ? store : tracing.traceStore(store, store instanceof RedisStore ? "redis" : "memory");
  const service = new Breakerbox({
    store: instrumentStore(traced, metrics),
    slots: watchSlots,
    heartbeatMs: config.heartbeatMs,
    onStatusFeedOverflow: (rounds) =>
      logger.warn(
        { rounds },
        "watch status: the store's record of changed circuits overflowed (more circuits changed than it keeps); status rounds read every watched circuit meanwhile (logged at most once a minute)",
      ),
  });
  const poller = service.statusPoller;
  metrics.trackStatusRounds(() => ({
    rounds: poller.rounds,
    feedFallbacks: poller.feedFallbacks,
    changedRead: poller.changedRead,
    feedOverflows: store instanceof MemoryStore ? store.statusFeedStats().overflows : 0,
  }));
  store.onTransition((e) => metrics.countTransition(e));
  metrics.trackStoreReadiness(() => store.health().ready);
  metrics.trackCircuitCount(() => store.countCircuits(), config.maxCircuits);
  metrics.trackFailureRates(store);
  // The store may still be connecting when this starts: warn only when
  // reading circuit states has failed for a while, once per outage.
  let stateFeedFailingSince: number | undefined;
  let stateFeedWarned = false;
  const states = new CircuitStateTracker({
    store,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    resyncMs: config.metricsResyncMs,
    onError: (err) => {
      stateFeedFailingSince ??= Date.now();
      if (stateFeedWarned || Date.now() - stateFeedFailingSince < 10_000) return;
      stateFeedWarned = true;
      logger.warn({ err: err instanceof Error ? err.message : String(err) }, "metrics: cannot read circuit states; retrying every second");
    },
    onSynced: () => {
      if (stateFeedWarned) logger.info("metrics: circuit states read again");
      stateFeedFailingSince = undefined;
      stateFeedWarned = false;
    },
  });
  metrics.trackStates(states);
  states.start();
  if (store instanceof RedisStore) {
    // Redis lost its data: the gauge must not keep the circuits it lost until the next resync.
    metrics.trackDataLosses(() => store.dataLosses);
    store.onDataLoss(() => void states.sync());
  }

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

  // No keys configured: access control is off (main warns about it at start).
  const access = config.apiKeys.length > 0 ? new AccessControl(config.apiKeys) : undefined;
  // One chain for both ports, outermost first: the RPC timer sees every
  // answer (refusals included) with its final code; the error boundary maps
  // and logs what the layers inside it throw; access control runs before any
  // handler and, even when off, refuses to start with an RPC whose access is
  // not declared (src/server/method-access.ts).
  // The tracing span, outermost, ends with the code the caller gets.
  const interceptors: Interceptor[] = [
    ...(tracing === undefined ? [] : [forService(CircuitService, tracing.interceptor)]),
    forService(CircuitService, createRpcMetricsInterceptor(metrics)),
    forService(CircuitService, createErrorInterceptor({ logger })),
    createAccessInterceptor(access),
  ];
  const impl = createCircuitServiceImpl({
    service,
    // One report of a batch failing unexpectedly is answered INTERNAL in its result, not by the error boundary.
    onBatchReportError: (err, index) => logger.error({ method: "BatchReport", index, err }, "report of a batch failed"),
  });
  // Plain HTTP paths besides the Connect routes, tried in order; a route
  // returns false for paths that are not its own (then 404).
  const httpRoutes: HttpRoute[] = [
    createMetricsRoute(metrics, { onError: (err) => logger.error({ err }, "metrics collection failed") }),
    // The dashboard's static files (/, /index.html, /assets/*), from dist/dashboard.
    createDashboardHandler(),
  ];
  const tls = config.tls === undefined ? {} : { tls: config.tls };
  const health = new HealthRegistry(
    // "liveness" stays SERVING while the process serves, whatever the store: a liveness probe on it
    // does not restart replicas during a Redis outage (a restart would not bring Redis back).
    { "": ServingStatus.SERVING, [CircuitService.typeName]: ServingStatus.SERVING, [LIVENESS_SERVICE]: ServingStatus.SERVING },
    // Health has no error boundary of its own: the refusal is mapped here (TOO_MANY_WATCHERS, scope replica).
    { openWatch: () => takeOrRefuse(watchSlots) },
  );
  const onInternalError = (err: unknown, method: { name: string }): void =>
    logger.error({ err, method: method.name }, "internal error");
  const grpc = createGrpcServer({ circuitService: impl, health, onInternalError, interceptors, serverOptions: connectionAgeOptions(config), ...tls });
  const http = createHttpServer({
    circuitService: impl,
    interceptors,
    health,
    onInternalError,
    readiness: () => service.health(),
    fallback: (req, res) => httpRoutes.some((route) => route(req, res)),
    originPolicy: originPolicyFor(config.host, config.httpAllowedHosts, config.httpCorsOrigins),
    ...tls,
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
    states.close();
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
      states.close();
      await store.close();
    })();
    return stopping;
  };

  return { grpcPort, httpPort, store, service, grpc, http, metrics, stop };
}

/** The grpc.health.v1 service name that answers SERVING from start to shutdown, Redis or not. */
export const LIVENESS_SERVICE = "liveness";

/** grpc-js's connection-age options; none when the age is 0 (never). */
function connectionAgeOptions(config: AppConfig): ServerOptions {
  if (config.maxConnectionAgeMs === 0) return {};
  return {
    "grpc.max_connection_age_ms": config.maxConnectionAgeMs,
    ...(config.maxConnectionAgeGraceMs === 0 ? {} : { "grpc.max_connection_age_grace_ms": config.maxConnectionAgeGraceMs }),
  };
}
