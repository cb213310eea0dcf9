/** The one error a bad configuration produces. */

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
