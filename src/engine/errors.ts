import type { Transition } from "./types.js";

/**
 * Errors the engine raises. Each is a class with a type guard; the service
 * edge maps them to status codes (src/server/status.ts).
 */

/** Why a Report's permit was refused. */
export type PermitProblem = "malformed" | "foreign" | "bad-signature" | "expired" | "unknown";

/**
 * The refusal of a Report's permit, one factory per case, so every store
 * words them the same way.
 */
export const permitRefusal = {
  malformed: () =>
    new PermitRejectedError("malformed", "permit is not a Breakerbox permit; pass the permit string from AcquireResponse unchanged"),
  foreign: (circuit: string) =>
    new PermitRejectedError("foreign", `permit was issued for another circuit, not ${JSON.stringify(circuit)}`, circuit),
  badSignature: () =>
    new PermitRejectedError(
      "bad-signature",
      "permit signature does not match: it was altered, made up, or signed with a secret this server no longer holds; pass the permit string from AcquireResponse unchanged",
    ),
  notIssued: (circuit: string) =>
    new PermitRejectedError("unknown", `permit was not issued by circuit ${JSON.stringify(circuit)}`, circuit),
  probeNotOutstanding: (circuit: string) =>
    new PermitRejectedError("unknown", `probe permit is not outstanding on circuit ${JSON.stringify(circuit)}`, circuit),
  noSuchCircuit: (circuit: string) =>
    new PermitRejectedError(
      "unknown",
      `circuit ${JSON.stringify(circuit)} does not exist (it was never acquired, or was evicted while idle); the permit cannot be reported`,
      circuit,
    ),
  expired: (agoMs: number, permitTtlMs: number, circuit: string) =>
    new PermitRejectedError(
      "expired",
      `permit expired ${agoMs} ms ago (permit_ttl is ${permitTtlMs} ms; field permit_ttl); report sooner or raise permit_ttl`,
      circuit,
      permitTtlMs,
    ),
  /** A permit its stream's dedupe window no longer reaches (engine permit-window.ts): refused as expired. */
  pastWindow: (permitTtlMs: number, circuit: string) =>
    new PermitRejectedError(
      "expired",
      `permit expired: its issuer handed out too many permits since for it to be told apart from a repeat (permit_ttl is ${permitTtlMs} ms; field permit_ttl); report sooner`,
      circuit,
      permitTtlMs,
    ),
};

/**
 * A Report whose permit cannot be accepted: not a permit at all, issued for
 * another circuit, not signed by this service (altered or made up), past its permit_ttl, or never issued by this circuit.
 * (An already-counted permit is not an error: the report answers duplicate.)
 */
export class PermitRejectedError extends Error {
  override readonly name = "PermitRejectedError";
  /**
   * Transitions that time had made due and that the refused Report applied
   * before judging the permit (engine report()). They stand: the store must
   * publish them even though the Report failed.
   */
  transitions: Transition[] = [];
  /**
   * @param circuit the circuit the Report named (every problem but
   *   `malformed`), sent as error metadata
   * @param permitTtlMs the circuit's permit_ttl (`expired` only)
   */
  constructor(
    readonly problem: PermitProblem,
    message: string,
    readonly circuit?: string,
    readonly permitTtlMs?: number,
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
