/**
 * Whether the key in use may change config, known before the operator
 * edits anything, so an agent key (or none) sees a read-only form that says
 * an admin key is needed instead of a form that fails on save.
 *
 * The API has no "who am I" call, so this asks the server the one question
 * that answers it without changing anything: a Configure with no target.
 * Access control runs before the request is read, so the answer is
 * PERMISSION_DENIED for a key without the admin role, UNAUTHENTICATED for a
 * missing or unknown key, and INVALID_ARGUMENT ("target is required") when
 * the key may configure (or access control is off). Asked once per key, not
 * per page: the answer is remembered until the key changes.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { api, onKeyChange, storedKey } from "./api.js";

/** "admin": may configure; "agent": a key without the admin role; "none": no key or an unknown one; "unknown": could not tell. */
export type ConfigAccess = "admin" | "agent" | "none" | "unknown";

let cached: { key: string | undefined; answer: Promise<ConfigAccess> } | undefined;
const listeners = new Set<() => void>();

onKeyChange(() => {
  cached = undefined;
  for (const l of listeners) l();
});

/** Calls `listener` when the answer may have changed (the key changed). */
export function onAccessChange(listener: () => void): void {
  listeners.add(listener);
}

/** What the key in use may do with config. */
export function configAccess(): Promise<ConfigAccess> {
  const key = storedKey();
  if (cached === undefined || cached.key !== key) cached = { key, answer: probe() };
  return cached.answer;
}

async function probe(): Promise<ConfigAccess> {
  try {
    await api.configure({});
    return "admin"; // no server accepts it; if one did, the key was allowed to call it
  } catch (err) {
    const code = ConnectError.from(err).code;
    if (code === Code.InvalidArgument) return "admin";
    if (code === Code.PermissionDenied) return "agent";
    if (code === Code.Unauthenticated) return "none";
    // Unreachable or failing server: let the operator try; a refusal on save still asks for a key.
    cached = undefined;
    return "unknown";
  }
}
