/**
 * The paging contract every listing RPC shares (ListCircuits, GetHistory,
 * and ListPatternRules): how page_size is read, and page tokens, which are
 * opaque (src/service/opaque-token.ts) and bound to the RPC (`kind`) and to
 * the request fields that must stay the same from page to page (`scope`).
 */
import { decodeToken, encodeToken, type TokenKind } from "./opaque-token.js";
import { PageTokenError } from "./errors.js";

/** Entries per page when page_size is 0. */
export const DEFAULT_PAGE_SIZE = 100;
/** The largest page: a larger page_size is read as this (AIP-158: clamped, not refused). */
export const MAX_PAGE_SIZE = 1000;

/** The page size a request's page_size asks for: 0 means {@link DEFAULT_PAGE_SIZE}, above {@link MAX_PAGE_SIZE} is clamped to it. */
export function effectivePageSize(pageSize: number): number {
  return pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(pageSize, MAX_PAGE_SIZE);
}

/**
 * The position a request's page_token holds, undefined for "" (the first
 * page). `parse` reads the position (undefined when it is not one this RPC
 * writes). Throws PageTokenError when the token is malformed or was issued
 * for another kind or scope.
 */
export function readPageToken<T>(kind: TokenKind, scope: readonly string[], token: string, parse: (position: string) => T | undefined): T | undefined {
  if (token === "") return undefined;
  const decoded = decodeToken(kind, scope, token);
  if ("problem" in decoded) throw new PageTokenError(decoded.problem);
  const position = parse(decoded.position);
  if (position === undefined) throw new PageTokenError("malformed");
  return position;
}

/** The next_page_token continuing after `position`; "" (the last page) when there is none. */
export function writePageToken(kind: TokenKind, scope: readonly string[], position: string | undefined): string {
  return position === undefined ? "" : encodeToken(kind, scope, position);
}
