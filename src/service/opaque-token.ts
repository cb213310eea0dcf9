/**
 * Opaque continuation tokens: ListCircuits, GetHistory and ListPatternRules
 * page tokens and Watch resume tokens (docs/design.md, "Tokens").
 *
 * A token carries a position (what the next call continues from) and is bound
 * to the request it continues: its `kind` (which RPC) and its `scope` (the
 * request fields that must not change: a filter, a circuit name). A token
 * presented with another kind or scope is refused, so a client that changes
 * its filter mid-listing gets INVALID_ARGUMENT instead of a page of the wrong
 * listing. Clients must treat tokens as opaque: the encoding may change in
 * any release (the version tag lets this one refuse a future one cleanly).
 *
 * Not a security boundary: a token is not signed (signed permits and tokens
 * are the hardening issue's). Decoding does bounded work: a token longer than
 * {@link MAX_TOKEN_LENGTH} is refused before it is parsed.
 */
import { createHash } from "node:crypto";

/** Longest token accepted; every token this module writes is far shorter. */
export const MAX_TOKEN_LENGTH = 1024;

const VERSION = 1;

/** Which RPC a token continues. */
export type TokenKind = "circuits" | "history" | "rules" | "watch";

/** Why a token was refused. */
export type TokenProblem = "malformed" | "mismatch";

function scopeDigest(kind: TokenKind, scope: readonly string[]): string {
  // 64 bits of SHA-256: enough to tell one request's scope from another's by
  // accident; a client forging a token gains nothing it could not ask for.
  return createHash("sha256").update(JSON.stringify([kind, ...scope])).digest("base64url").slice(0, 11);
}

/**
 * The token for `position` within the request identified by `kind` and
 * `scope` (e.g. ["prefix", "state"] values for ListCircuits).
 */
export function encodeToken(kind: TokenKind, scope: readonly string[], position: string): string {
  return tokenWriter(kind, scope)(position);
}

/**
 * {@link encodeToken} for one `kind` and `scope`, many positions: the scope
 * digest (a SHA-256) is computed once, here, not once per token. A Watch
 * stream writes a token on every message it sends.
 */
export function tokenWriter(kind: TokenKind, scope: readonly string[]): (position: string) => string {
  const digest = scopeDigest(kind, scope);
  return (position) => Buffer.from(JSON.stringify([VERSION, digest, position]), "utf8").toString("base64url");
}

/**
 * The position in `token`, or why it cannot be used with this `kind` and
 * `scope`: "malformed" (not a token this server wrote) or "mismatch" (written
 * for another RPC or another filter).
 */
export function decodeToken(
  kind: TokenKind,
  scope: readonly string[],
  token: string,
): { position: string } | { problem: TokenProblem } {
  if (token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) return { problem: "malformed" };
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    return { problem: "malformed" };
  }
  if (!Array.isArray(parsed) || parsed.length !== 3 || parsed[0] !== VERSION) return { problem: "malformed" };
  const [, digest, position] = parsed as unknown[];
  if (typeof digest !== "string" || typeof position !== "string") return { problem: "malformed" };
  if (digest !== scopeDigest(kind, scope)) return { problem: "mismatch" };
  return { position };
}
