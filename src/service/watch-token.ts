/**
 * Watch resume tokens: a store's raw log position wrapped in an opaque token
 * (opaque-token.ts, kind "watch") bound to the watcher's filter, so a token
 * is refused by a stream with another filter instead of silently skipping or
 * repeating what that filter would have matched.
 */
import { ResumeTokenError, type WatchFilter } from "../store/store.js";
import { decodeToken, encodeToken, tokenWriter } from "./opaque-token.js";

/** The filter as a token scope: the prefix, then the circuit names sorted and without repeats (their order does not change the filter). */
function scopeOf(filter: WatchFilter): string[] {
  return [filter.prefix, ...[...new Set(filter.circuits)].sort()];
}

/** The resume token for `position` on a stream with `filter`. */
export function encodeWatchToken(filter: WatchFilter, position: string): string {
  return encodeToken("watch", scopeOf(filter), position);
}

/** What identifies a filter's tokens: filters with the same key write the same token for a position. */
export function watchTokenScopeKey(filter: WatchFilter): string {
  return JSON.stringify(scopeOf(filter));
}

/**
 * {@link encodeWatchToken} for one filter, remembering the last token
 * written: every stream with this filter shares one writer (WatchHub), so
 * an entry that goes to thousands of them is turned into a token once.
 */
export function watchTokenWriter(filter: WatchFilter): (position: string) => string {
  const write = tokenWriter("watch", scopeOf(filter));
  let lastPosition: string | undefined;
  let lastToken = "";
  return (position) => {
    if (position !== lastPosition) {
      lastToken = write(position);
      lastPosition = position;
    }
    return lastToken;
  };
}

/**
 * The raw log position in `token`. Throws ResumeTokenError "malformed" for a
 * string this server did not write as a resume token (raw event ids
 * included) and "mismatch" for a token of a stream with another filter.
 */
export function decodeWatchToken(filter: WatchFilter, token: string): string {
  const decoded = decodeToken("watch", scopeOf(filter), token);
  if ("position" in decoded) return decoded.position;
  if (decoded.problem === "mismatch") {
    throw new ResumeTokenError(
      "mismatch",
      "resume_token was issued for a Watch with other circuits or another prefix; resume with the same circuits and prefix, or watch again without resume_token",
    );
  }
  throw new ResumeTokenError("malformed", "resume_token is not a token this server issued; pass the last WatchResponse.resume_token unchanged");
}
