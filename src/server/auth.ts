/**
 * The transport side of access control: reads the API key from the
 * `authorization: Bearer <key>` request header (gRPC metadata on the gRPC
 * port, an HTTP header for Connect and gRPC-Web) and asks
 * src/service/access.ts whether the caller may call the RPC. Both listeners
 * serve the same handlers (circuit-service.ts), so both refuse alike.
 */
import type { HandlerContext } from "@connectrpc/connect";
import { AccessControl, KEY_HINT, UnauthenticatedError, type Principal } from "../service/access.js";
import type { Caller } from "../service/breakerbox.js";
import { requestHeaderOf } from "./grpc-adapter.js";

/** The caller when access control is off: history says "anonymous". */
export const ANONYMOUS: Caller = Object.freeze({ actor: "anonymous" });

/**
 * The key in an `authorization` header value: the text after the `Bearer`
 * scheme (any case, RFC 6750), trimmed. Undefined when there is no header
 * or it holds nothing after the scheme; throws {@link UnauthenticatedError}
 * when it uses another scheme (e.g. `Basic`) or no scheme at all, since the
 * caller evidently tried to authenticate and should learn how.
 */
export function bearerToken(header: string | null | undefined): string | undefined {
  if (header === undefined || header === null) return undefined;
  const value = header.trim();
  if (value === "") return undefined;
  if (value.length < 6 || value.slice(0, 6).toLowerCase() !== "bearer" || (value.length > 6 && !/\s/.test(value.charAt(6)))) {
    throw new UnauthenticatedError(`the authorization header must use the Bearer scheme: ${KEY_HINT}`);
  }
  const token = value.slice(7).trim();
  return token === "" ? undefined : token;
}

/**
 * Decides whether a call may proceed: returns the caller (its `actor` is the
 * key's name) or throws UnauthenticatedError / PermissionDeniedError, which
 * src/server/status.ts maps to UNAUTHENTICATED / PERMISSION_DENIED.
 * `method` is the RPC's proto name ("Acquire", "Reset").
 */
export type Authorizer = (ctx: HandlerContext, method: string) => Caller;

/**
 * The authorizer for `access`. Per call it reads one header (on the gRPC port
 * straight from the metadata, without building `ctx.requestHeader`), hashes
 * the token once and does one Map lookup.
 */
export function createAuthorizer(access: AccessControl): Authorizer {
  // One Caller per key, made once: admin RPCs pass it to the service as is.
  const callers = new Map<Principal, Caller>(access.principals.map((p) => [p, Object.freeze({ actor: p.name })]));
  return (ctx, method) => {
    const principal = access.check(bearerToken(requestHeaderOf(ctx, "authorization")), method);
    return callers.get(principal) ?? { actor: principal.name };
  };
}
