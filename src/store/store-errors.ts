/**
 * The errors every store may raise (src/store/store.ts re-exports them);
 * src/server/status.ts maps each to its status code and error reason.
 */

/** The backing store cannot be reached; retry later. */
export class StoreUnavailableError extends Error {
  override readonly name = "StoreUnavailableError";
  static is(e: unknown): e is StoreUnavailableError {
    return e instanceof StoreUnavailableError;
  }
}

/**
 * A Watch resume token that is malformed, was issued for another filter
 * ("mismatch"), or whose events are gone ("expired").
 */
export class ResumeTokenError extends Error {
  override readonly name = "ResumeTokenError";
  constructor(
    readonly problem: "malformed" | "mismatch" | "expired",
    message: string,
  ) {
    super(message);
  }
  static is(e: unknown): e is ResumeTokenError {
    return e instanceof ResumeTokenError;
  }
}

/** No runtime pattern rule (nor a config file rule) has this pattern. */
export class PatternRuleNotFoundError extends Error {
  override readonly name = "PatternRuleNotFoundError";
  constructor(readonly pattern: string) {
    super(`pattern rule ${JSON.stringify(pattern)} does not exist (ListPatternRules lists the rules)`);
  }
  static is(e: unknown): e is PatternRuleNotFoundError {
    return e instanceof PatternRuleNotFoundError;
  }
}

/** The pattern rule to delete comes from the config file, which only an edit of the file changes. */
export class PatternRuleFromFileError extends Error {
  override readonly name = "PatternRuleFromFileError";
  constructor(readonly pattern: string) {
    super(`pattern rule ${JSON.stringify(pattern)} comes from the config file; remove it there (only runtime rules can be deleted)`);
  }
  static is(e: unknown): e is PatternRuleFromFileError {
    return e instanceof PatternRuleFromFileError;
  }
}

/**
 * Creating this circuit would take the store past its circuit cap
 * (BREAKERBOX_MAX_CIRCUITS). Existing circuits keep working; idle ones are
 * evicted, which makes room again.
 */
export class CircuitCapError extends Error {
  override readonly name = "CircuitCapError";
  constructor(
    readonly circuit: string,
    readonly cap: number,
  ) {
    super(`circuit ${JSON.stringify(circuit)} cannot be created: the store holds its cap of ${cap} circuits (BREAKERBOX_MAX_CIRCUITS); retry after idle circuits are evicted`);
  }
  static is(e: unknown): e is CircuitCapError {
    return e instanceof CircuitCapError;
  }
}
