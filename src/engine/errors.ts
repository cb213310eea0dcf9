/**
 * Errors the engine raises. Each is a class with a type guard; the service
 * edge maps them to status codes (src/server/status.ts).
 */

/** Why a Report's permit was refused. */
export type PermitProblem = "malformed" | "foreign" | "expired" | "unknown";

/**
 * A Report whose permit cannot be accepted: not a permit at all, issued for
 * another circuit, past its permit_ttl, or never issued by this circuit.
 * (An already-counted permit is not an error: the report answers duplicate.)
 */
export class PermitRejectedError extends Error {
  override readonly name = "PermitRejectedError";
  constructor(
    readonly problem: PermitProblem,
    message: string,
  ) {
    super(message);
  }
  static is(e: unknown): e is PermitRejectedError {
    return e instanceof PermitRejectedError;
  }
}

/** A config (or patch) that breaks the accepted ranges; one issue per bad field. */
export class InvalidConfigError extends Error {
  override readonly name = "InvalidConfigError";
  constructor(readonly issues: { field: string; message: string }[]) {
    super(issues.map((i) => i.message).join("; "));
  }
  static is(e: unknown): e is InvalidConfigError {
    return e instanceof InvalidConfigError;
  }
}
