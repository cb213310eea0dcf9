/**
 * The Breakerbox process: parse config once, start, stop gracefully on
 * SIGTERM/SIGINT. Wiring only; see app.ts for the composition.
 */
import { startBreakerbox } from "./app.js";
import { ConfigError, accessControlWarning, loadConfig } from "./config/index.js";
import { createLogger } from "./logger.js";

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
  const logger = createLogger(config.logLevel);
  for (const warning of config.warnings) logger.warn(warning);

  const app = await startBreakerbox(config, { logger });
  const exposure = accessControlWarning(config);
  if (exposure !== undefined) logger.warn({ host: config.host, accessControl: "off" }, exposure);
  logger.info(
    {
      grpc: `${config.host}:${app.grpcPort}`,
      http: `${config.host}:${app.httpPort}`,
      store: config.store.kind,
      configFile: config.configFile ?? null,
      // Names and roles only: a key never reaches the log.
      accessControl: config.apiKeys.length === 0 ? "off" : "api keys",
      apiKeys: config.apiKeys.map((k) => `${k.name} (${k.role})`),
      tls: config.tls === undefined ? "off" : config.tls.clientCa === undefined ? "on" : "on, client certificates required",
    },
    "breakerbox listening",
  );

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    logger.info({ signal, graceMs: config.shutdownGraceMs }, "shutting down");
    app.stop().then(
      () => {
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
}

main().catch((err: unknown) => {
  process.stderr.write(`breakerbox: failed to start: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
