/** Principals: who caused a transition or a config change. */
import type { Principal } from "./types.js";

/**
 * The principal of an admin's act (Reset, ForceState, Configure): the API
 * key's name, which is also the act's `actor`. Admin RPCs declare no agent
 * instance, so agentInstanceId is "".
 */
export function adminPrincipal(actor: string): Principal {
  return { keyName: actor, agentInstanceId: "" };
}
