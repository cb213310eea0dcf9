/**
 * The dashboard's connection to Breakerbox: a Connect client over fetch to
 * the page's own origin, sending the API key (when the operator gave one) as
 * `authorization: Bearer <key>` on every call, reads included.
 */
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { CircuitService } from "../gen/ts/breakerbox/v1/breakerbox_pb.js";

const KEY_STORAGE = "breakerbox.apiKey";
const keyListeners = new Set<() => void>();
/** The key when session storage is unavailable (it then lasts as long as the page). */
let memoryKey: string | undefined;

/** The key stored for this tab, if any. */
export function storedKey(): string | undefined {
  try {
    return sessionStorage.getItem(KEY_STORAGE) ?? undefined;
  } catch {
    return memoryKey;
  }
}

/** Stores (or, with undefined, forgets) the key for this tab and tells the listeners. */
export function setKey(key: string | undefined): void {
  try {
    if (key === undefined) sessionStorage.removeItem(KEY_STORAGE);
    else sessionStorage.setItem(KEY_STORAGE, key);
  } catch {
    memoryKey = key;
  }
  for (const listener of keyListeners) listener();
}

/** Calls `listener` whenever the key changes. */
export function onKeyChange(listener: () => void): void {
  keyListeners.add(listener);
}

const bearer: Interceptor = (next) => (req) => {
  const key = storedKey();
  if (key !== undefined && key !== "") req.header.set("authorization", `Bearer ${key}`);
  return next(req);
};

/** CircuitService on this page's origin (Connect protocol, binary messages). */
export const api: Client<typeof CircuitService> = createClient(
  CircuitService,
  createConnectTransport({ baseUrl: location.origin, useBinaryFormat: true, interceptors: [bearer] }),
);

/** Why a call was refused for want of the right key, or undefined for any other error. */
export function keyProblem(err: unknown): "unauthenticated" | "permission_denied" | undefined {
  const ce = ConnectError.from(err);
  if (ce.code === Code.Unauthenticated) return "unauthenticated";
  if (ce.code === Code.PermissionDenied) return "permission_denied";
  return undefined;
}

/** One line for an error shown to the operator: the server's message, with its code. */
export function describeError(err: unknown): string {
  const ce = ConnectError.from(err);
  return `${Code[ce.code] ?? "error"}: ${ce.rawMessage}`;
}
