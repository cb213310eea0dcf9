/**
 * Errors the service layer raises for bad requests. Engine and store errors
 * (PermitRejectedError, InvalidConfigError, UnknownPresetError,
 * StoreUnavailableError, ResumeTokenError) pass through unchanged; one module,
 * src/server/status.ts, maps all of them to status codes.
 */

/** A request field that is missing, malformed or out of range. */
export class InvalidArgumentError extends Error {
  override readonly name = "InvalidArgumentError";
  /**
   * @param field the request field as clients spell it, e.g. "circuit" or
   *   "config.failure_rate_threshold"
   * @param problem what is wrong and what is accepted; the message is
   *   `${field} ${problem}`
   */
  /** Every bad field, each sent as one BadRequest field violation; `field` and the problem when not given. */
  readonly violations: readonly { field: string; description: string }[];
  /**
   * @param violations one per bad field when several are wrong (e.g. each
   *   bad config field); default: `field` with `problem`
   */
  constructor(
    readonly field: string,
    problem: string,
    violations?: readonly { field: string; description: string }[],
  ) {
    super(`${field} ${problem}`);
    this.violations = violations ?? [{ field, description: problem }];
  }
  static is(e: unknown): e is InvalidArgumentError {
    return e instanceof InvalidArgumentError;
  }
}

/** The circuit named in the request does not exist. */
export class CircuitNotFoundError extends Error {
  override readonly name = "CircuitNotFoundError";
  constructor(readonly circuit: string) {
    super(`circuit ${JSON.stringify(circuit)} does not exist (it was never used, or was evicted while idle and CLOSED)`);
  }
  static is(e: unknown): e is CircuitNotFoundError {
    return e instanceof CircuitNotFoundError;
  }
}

/** Which server-side limit a {@link ResourceExhaustedError} hit. */
export type ExhaustedResource = "too_many_watchers" | "watcher_too_slow";

/** A server-side limit was reached (too many Watch streams, a watcher too slow). */
export class ResourceExhaustedError extends Error {
  override readonly name = "ResourceExhaustedError";
  /**
   * @param resource the limit hit
   * @param limit its value (streams, or messages of backlog), sent as metadata
   */
  constructor(
    readonly resource: ExhaustedResource,
    readonly limit: number,
    message: string,
  ) {
    super(message);
  }
  static is(e: unknown): e is ResourceExhaustedError {
    return e instanceof ResourceExhaustedError;
  }
}

/** A runtime pattern rule that does not exist (DeletePatternRule). Maps to NOT_FOUND. */
export class PatternRuleNotFoundError extends Error {
  override readonly name = "PatternRuleNotFoundError";
  constructor(readonly pattern: string) {
    super(`no runtime pattern rule has pattern ${JSON.stringify(pattern)}`);
  }
  static is(e: unknown): e is PatternRuleNotFoundError {
    return e instanceof PatternRuleNotFoundError;
  }
}

/** A pattern rule from the config file, which runtime calls cannot delete. Maps to FAILED_PRECONDITION. */
export class PatternRuleFromFileError extends Error {
  override readonly name = "PatternRuleFromFileError";
  constructor(readonly pattern: string) {
    super(`pattern rule ${JSON.stringify(pattern)} comes from the config file; change the file to remove it`);
  }
  static is(e: unknown): e is PatternRuleFromFileError {
    return e instanceof PatternRuleFromFileError;
  }
}

/** The server is shutting down and takes no new work. */
export class ShuttingDownError extends Error {
  override readonly name = "ShuttingDownError";
  static is(e: unknown): e is ShuttingDownError {
    return e instanceof ShuttingDownError;
  }
}
