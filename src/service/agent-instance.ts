/**
 * agent_instance_id: what a caller may declare about which instance of an
 * agent is calling, and the Principal it forms with the API key's name.
 * The key name comes from the credential (the transport's Caller); the
 * instance id is the caller's own claim, bounded like every input.
 */
import type { Principal } from "../engine/index.js";
import { InvalidArgumentError } from "./errors.js";

/** Longest agent_instance_id accepted. */
export const MAX_AGENT_INSTANCE_ID_LENGTH = 128;

const AGENT_INSTANCE_ID = /^[A-Za-z0-9._:/@-]*$/;

/**
 * Throws InvalidArgumentError naming `field` unless `id` is empty (none
 * declared) or up to 128 characters from [A-Za-z0-9._:/@-].
 */
export function requireAgentInstanceId(field: string, id: string): void {
  if (id === "") return;
  if (id.length > MAX_AGENT_INSTANCE_ID_LENGTH) {
    throw new InvalidArgumentError(field, `is ${id.length} characters long; at most ${MAX_AGENT_INSTANCE_ID_LENGTH} are allowed`);
  }
  if (!AGENT_INSTANCE_ID.test(id)) {
    throw new InvalidArgumentError(field, "may hold only letters, digits and . _ : / @ -");
  }
}

/** The principal of a call: the API key's name and the agent instance the caller declared ("" for none). */
export function principalOf(keyName: string, agentInstanceId: string | undefined): Principal {
  return { keyName, agentInstanceId: agentInstanceId ?? "" };
}
