/**
 * Access control: API keys with roles (docs/design.md §Access control).
 * Transport-free: it takes the token a transport extracted
 * (src/server/auth.ts reads the `authorization: Bearer <key>` header) and the
 * RPC's name, and answers who is calling or why not.
 *
 * Roles:
 * - `agent`: Acquire, AcquireAny, Report, BatchReport and the reads
 *   (GetState, ListCircuits, GetHistory, Watch, ListPatternRules);
 * - `admin`: everything an agent may, plus Reset, ForceState, Configure and
 *   DeletePatternRule.
 *
 * Keys are compared without leaking their content through timing: the table
 * is keyed by the SHA-256 digest of each key, and a presented token is hashed
 * before the lookup. Whatever the lookup's timing depends on is the digest of
 * the attacker's own guess, which says nothing about how close the guess is
 * to a real key (finding a token whose digest shares a prefix with a key's
 * digest needs the key's digest, which never leaves the process). One hash
 * and one Map lookup per call, whatever the number of keys: no loop over keys.
 */
import * as crypto from "node:crypto";
import { type ApiKey, type Role } from "../roles.js";

export { ROLES, type ApiKey, type Role } from "../roles.js";

/** Who a valid key belongs to. */
export interface Principal {
  /** The key's name: the `actor` of history entries, the name in logs. */
  readonly name: string;
  readonly role: Role;
}

/**
 * The role each CircuitService RPC needs, by proto method name: the one
 * declaration the access interceptor enforces on both listeners
 * (src/server/method-access.ts). A CircuitService RPC missing from this table
 * stops the server at start; {@link AccessControl.authorize} treats a name it
 * does not know as `admin` (closed until someone decides otherwise).
 */
export const REQUIRED_ROLE: Readonly<Record<string, Role>> = Object.freeze(
  Object.assign(Object.create(null) as Record<string, Role>, {
    Acquire: "agent",
    AcquireAny: "agent",
    Report: "agent",
    BatchReport: "agent",
    GetState: "agent",
    ListCircuits: "agent",
    GetHistory: "agent",
    Watch: "agent",
    ListPatternRules: "agent",
    Reset: "admin",
    ForceState: "admin",
    Configure: "admin",
    DeletePatternRule: "admin",
  }),
);

/** How to send a key, quoted in the UNAUTHENTICATED message for a call without one. */
export const KEY_HINT = "send 'authorization: Bearer <key>'";

/**
 * The call carries no API key (`missing`: none, or not in the Bearer scheme),
 * or one that is not configured (`invalid`). Maps to UNAUTHENTICATED.
 */
export class UnauthenticatedError extends Error {
  override readonly name = "UnauthenticatedError";
  constructor(
    readonly problem: "missing" | "invalid",
    message: string,
  ) {
    super(message);
  }
  static is(e: unknown): e is UnauthenticatedError {
    return e instanceof UnauthenticatedError;
  }
}

/** The key is valid but its role may not call this RPC. Maps to PERMISSION_DENIED. */
export class PermissionDeniedError extends Error {
  override readonly name = "PermissionDeniedError";
  constructor(
    readonly principal: Principal,
    readonly method: string,
    readonly requiredRole: Role,
  ) {
    super(`API key '${principal.name}' has role ${principal.role}; ${method} needs role ${requiredRole}`);
  }
  static is(e: unknown): e is PermissionDeniedError {
    return e instanceof PermissionDeniedError;
  }
}

/**
 * SHA-256 of the token, as text for the Map. `crypto.hash` is the one-shot
 * form, several times cheaper per call than a Hash object; this runs on every
 * Acquire and Report when access control is on.
 */
const digest = (token: string): string => crypto.hash("sha256", token, "base64");

/**
 * The configured keys, ready for lookups. Build one at start; it is immutable.
 * The keys themselves are not kept, only their digests.
 */
export class AccessControl {
  private readonly byDigest = new Map<string, Principal>();
  /** The configured keys' names and roles, in configuration order (for the start-up log). */
  readonly principals: readonly Principal[];

  /**
   * @param keys at least one key; names and keys unique (src/config/keys.ts
   *   checks this with messages naming the variable; here a violation is a
   *   programming error and throws).
   */
  constructor(keys: readonly ApiKey[]) {
    if (keys.length === 0) throw new Error("AccessControl needs at least one API key; with none, access control is off");
    const names = new Set<string>();
    const principals: Principal[] = [];
    for (const { name, role, key } of keys) {
      const d = digest(key);
      if (names.has(name) || this.byDigest.has(d)) throw new Error(`duplicate API key or key name ${JSON.stringify(name)}`);
      const principal = Object.freeze({ name, role });
      names.add(name);
      principals.push(principal);
      this.byDigest.set(d, principal);
    }
    this.principals = Object.freeze(principals);
  }

  /**
   * Who `token` belongs to. Throws {@link UnauthenticatedError} when the
   * token is missing (undefined or empty) or matches no key. The message
   * never repeats the token.
   */
  authenticate(token: string | undefined): Principal {
    if (token === undefined || token === "") throw new UnauthenticatedError("missing", `missing API key: ${KEY_HINT}`);
    const principal = this.byDigest.get(digest(token));
    if (principal === undefined) throw new UnauthenticatedError("invalid", "unknown API key");
    return principal;
  }

  /**
   * Checks that `principal` may call `method` (the RPC's proto name, e.g.
   * "Reset"), which needs role `required` (default: its REQUIRED_ROLE entry,
   * admin when it has none; the access interceptor passes the role it looked
   * up at registration); throws {@link PermissionDeniedError} naming the key,
   * its role and the role needed.
   */
  authorize(principal: Principal, method: string, required: Role = REQUIRED_ROLE[method] ?? "admin"): void {
    if (required === "admin" && principal.role !== "admin") throw new PermissionDeniedError(principal, method, required);
  }

  /** authenticate, then authorize: the caller of `method` presenting `token`. */
  check(token: string | undefined, method: string): Principal {
    const principal = this.authenticate(token);
    this.authorize(principal, method);
    return principal;
  }
}
