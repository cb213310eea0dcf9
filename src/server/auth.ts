/**
 * The transport side of access control, as an interceptor: reads the API key
 * from the `authorization: Bearer <key>` request header (gRPC metadata on the
 * gRPC port, an HTTP header for Connect and gRPC-Web), asks
 * src/service/access.ts who is calling and whether that key's role may call
 * the RPC (its declared access, src/server/method-access.ts), and hands the
 * caller to the handler through the call's context. Both listeners run the
 * same interceptor, so both refuse alike.
 */
import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import { AccessControl, KEY_HINT, UnauthenticatedError, type Principal } from "../service/access.js";
import type { Caller } from "../service/breakerbox.js";
import { contextValueOf, requestHeaderOf, setContextValue } from "./grpc-adapter.js";
import type { Interceptor } from "./interceptor.js";
import { OPEN, requiredAccessOf, SERVICE_ACCESS, type ServiceAccess } from "./method-access.js";
import { toConnectError } from "./status.js";

/** The caller when access control is off: history says "anonymous". */
export const ANONYMOUS: Caller = Object.freeze({ actor: "anonymous" });

/** Context value holding the authenticated caller; {@link ANONYMOUS} when access control is off. */
export const callerKey = createContextKey<Caller>(ANONYMOUS, { description: "breakerbox caller" });

/**
 * Who is calling: the caller the access interceptor authenticated (its
 * `actor` is the key's name), or {@link ANONYMOUS} when access control is off
 * or the method is open.
 */
export function callerOf(ctx: HandlerContext): Caller {
  return contextValueOf(ctx, callerKey);
}

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
    throw new UnauthenticatedError("missing", `the authorization header must use the Bearer scheme: ${KEY_HINT}`);
  }
  const token = value.slice(7).trim();
  return token === "" ? undefined : token;
}

/**
 * The access-control interceptor. At registration it looks up each method's
 * declared access and throws UndeclaredAccessError for a method without one,
 * also when access control is off (`access` undefined), so a new RPC cannot
 * ship unguarded whatever the configuration. Open methods, and every method
 * when access is off, are left unwrapped.
 *
 * Per call of a guarded method: reads one header (on the gRPC port straight
 * from the metadata), hashes the token once, does one Map lookup and compares
 * roles. A refusal throws ConnectError UNAUTHENTICATED (no key, unknown key,
 * another scheme than Bearer) or PERMISSION_DENIED (the key's role may not
 * call the RPC) before the handler runs; an admitted call gets its caller set
 * as {@link callerKey}.
 *
 * `declarations` replaces the table of method-access.ts (for tests).
 */
export function createAccessInterceptor(
  access: AccessControl | undefined,
  declarations: ReadonlyMap<string, ServiceAccess> = SERVICE_ACCESS,
): Interceptor {
  // One Caller per key, made once: admin RPCs pass it to the service as is.
  const callers = new Map<Principal, Caller>(access?.principals.map((p) => [p, Object.freeze({ actor: p.name })]));
  return (next, method) => {
    const required = requiredAccessOf(method, declarations);
    if (access === undefined || required === OPEN) return next;
    const name = method.name;
    return (request, ctx) => {
      let caller: Caller;
      try {
        const principal = access.authenticate(bearerToken(requestHeaderOf(ctx, "authorization")));
        access.authorize(principal, name, required);
        caller = callers.get(principal) ?? { actor: principal.name };
      } catch (err) {
        throw toConnectError(err);
      }
      setContextValue(ctx, callerKey, caller);
      return next(request, ctx);
    };
  };
}
