/**
 * The process logger: pino, one JSON object per line.
 *
 * Created once in main from `AppConfig.logLevel` and passed down; modules take
 * a `Logger` (or a child of it) as a dependency rather than importing a global.
 */
import { pino, type DestinationStream, type Logger } from "pino";

export type { Logger } from "pino";

/** Accepted log levels, most severe first; `silent` logs nothing. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Creates the logger. Lines go to `destination`, or to stdout when it is
 * omitted (tests pass a stream to capture them). Every line carries
 * `service: "breakerbox"` and the level as a label (`"level":"info"`, not 30),
 * which log pipelines read without a pino-specific mapping; pid and hostname
 * are left out because the container runtime already attaches them.
 */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: "breakerbox" },
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
