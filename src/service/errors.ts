/**
 * Errors the service layer raises for bad requests. Engine and store errors
 * (PermitRejectedError, InvalidConfigError, UnknownPresetError,
 * StoreUnavailableError, ResumeTokenError) pass through unchanged; one module,
 * src/server/status.ts, maps all of them to status codes.
 */

/** A request field that is missing, malformed or out of range. */
export class InvalidArgumentError extends Error {
  override readonly name = "InvalidArgumentError";
  /** Every bad field, each sent as one BadRequest field violation; `field` and the problem when not given. */
  readonly violations: readonly { field: string; description: string }[];
  /**
   * @param field the request field as clients spell it, e.g. "circuit" or
   *   "config.failure_rate_threshold"
   * @param problem what is wrong and what is accepted; the message is
   *   `${field} ${problem}`
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

/**
 * A page_token this server did not write ("malformed"), or wrote for another
 * request: another filter, another circuit, another RPC ("mismatch"). The
 * client restarts its listing without page_token.
 */
export class PageTokenError extends Error {
  override readonly name = "PageTokenError";
  /** The request field, as clients spell it. */
  readonly field = "page_token";
  constructor(readonly problem: "malformed" | "mismatch") {
    super(
      problem === "malformed"
        ? "page_token is not a next_page_token this server issued; pass it unchanged, or restart the listing without it"
        : "page_token was issued for another request (another filter, circuit or RPC); restart the listing without page_token",
    );
  }
  static is(e: unknown): e is PageTokenError {
    return e instanceof PageTokenError;
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
   * @param scope too_many_watchers only: which stream limit, the replica's or the API key's (sent as metadata)
   */
  constructor(
    readonly resource: ExhaustedResource,
    readonly limit: number,
    message: string,
    readonly scope?: "replica" | "key",
  ) {
    super(message);
  }
  static is(e: unknown): e is ResourceExhaustedError {
    return e instanceof ResourceExhaustedError;
  }
}

/** The server is shutting down and takes no new work. */
export class ShuttingDownError extends Error {
  override readonly name = "ShuttingDownError";
  static is(e: unknown): e is ShuttingDownError {
    return e instanceof ShuttingDownError;
  }
}
