/**
 * The Breakerbox process: parse config once, start, stop gracefully on
 * SIGTERM/SIGINT. Wiring only; see app.ts for the composition, cluster.ts
 * for BREAKERBOX_WORKERS > 1 (this process then forks the servers).
 */
import cluster from "node:cluster";
import { startBreakerbox } from "./app.js";
import { joinPrimary, runPrimary } from "./cluster.js";
import { type AppConfig, ConfigError, accessControlWarning, loadConfig } from "./config/index.js";
import { createLogger } from "./logger.js";
import { readBuildInfo } from "./metrics/build-info.js";
import { tracingSettings, type TracingSettings } from "./tracing/env.js";
import type { Tracing } from "./tracing/tracing.js";

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`breakerbox: invalid configuration, not starting.\n${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const worker = cluster.isWorker;
  // A worker's lines carry its pid; the primary already logged the warnings.
  const logger = worker ? createLogger(config.logLevel).child({ pid: process.pid }) : createLogger(config.logLevel);
  if (!worker) for (const warning of config.warnings) logger.warn(warning);
  const tracingDecision = tracingSettings(process.env);
  if (!worker) {
    for (const warning of tracingDecision.warnings) logger.warn(warning);
    if (tracingDecision.settings !== undefined) {
      const endpoint = process.env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]?.trim() || process.env["OTEL_EXPORTER_OTLP_ENDPOINT"]?.trim() || "http://localhost:4318";
      logger.info({ endpoint, sampler: tracingDecision.settings.sampler }, "tracing on: spans exported over OTLP/HTTP (JSON)");
    }
  }
  const exposure = accessControlWarning(config);
  const announce = (grpcPort: number, httpPort: number): void => {
    if (exposure !== undefined) logger.warn({ host: config.host, accessControl: "off" }, exposure);
    logger.info(listeningFields(config, grpcPort, httpPort), "breakerbox listening");
  };
  if (config.workers > 1 && !worker) return runPrimary(config, logger, announce);

  // Each serving process (every worker of a cluster) exports its own spans.
  const tracing = await startTracing(tracingDecision.settings);
  const app = await startBreakerbox(config, { logger, ...(tracing === undefined ? {} : { tracing }) });
  if (!worker) announce(app.grpcPort, app.httpPort);

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals | string): void => {
    signals += 1;
    // A worker's second signal is the primary forwarding a Ctrl-C the worker also got: the primary escalates.
    if (signals > 1 && worker) return;
    if (signals > 1) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    logger.info({ signal, graceMs: config.shutdownGraceMs }, "shutting down");
    app.stop().then(
      async () => {
        // The spans of the last calls go out before the process does (bounded by OTEL_BSP_EXPORT_TIMEOUT).
        await tracing?.shutdown().catch((err: unknown) => logger.warn({ err }, "tracing: final export failed"));
        logger.info("stopped");
        logger.flush();
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  if (worker) joinPrimary(app, onSignal);
}

/**
 * Tracing from the OTEL_* variables (src/tracing/env.ts): undefined when off,
 * and then not a byte of the SDK is loaded.
 */
async function startTracing(settings: TracingSettings | undefined): Promise<Tracing | undefined> {
  if (settings === undefined) return undefined;
  const sdk = await import("./tracing/sdk.js");
  return sdk.startTracing(settings, readBuildInfo().version);
}

/** The fields of the "breakerbox listening" line (tests and operators parse it). */
function listeningFields(config: AppConfig, grpcPort: number, httpPort: number): Record<string, unknown> {
  return {
    grpc: `${config.host}:${grpcPort}`,
    http: `${config.host}:${httpPort}`,
    store: config.store.kind,
    configFile: config.configFile ?? null,
    // Names and roles only: a key never reaches the log.
    accessControl: config.apiKeys.length === 0 ? "off" : "api keys",
    apiKeys: config.apiKeys.map((k) => `${k.name} (${k.role})`),
    tls: config.tls === undefined ? "off" : config.tls.clientCa === undefined ? "on" : "on, client certificates required",
    workers: config.workers,
  };
}

main().catch((err: unknown) => {
  process.stderr.write(`breakerbox: failed to start: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
