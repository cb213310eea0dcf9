/**
 * The permit secret every replica on one Redis shares when none is
 * configured: the first replica to start stores a random one under
 * `<prefix>permit-secret` (SET NX, so racing replicas agree on the first),
 * and every replica reads it back. It never expires: a replica must be able
 * to open the permits another issued. A configured secret is never stored.
 * The stored value is text used as its UTF-8 bytes, exactly as
 * BREAKERBOX_PERMIT_SECRET is, so an operator rotating away from it passes
 * `GET <prefix>permit-secret` as BREAKERBOX_PERMIT_SECRET_PREVIOUS unchanged.
 * After Redis lost its data (data-epoch.ts) a replica reads it again: the
 * first to ask stores a new one, and the one read before stays accepted as
 * the previous secret (permits a replica signed before it noticed).
 */
import type { Cluster, Redis } from "ioredis";
import { MIN_PERMIT_SECRET_BYTES } from "../../engine/index.js";
import { type PermitSecrets, type PermitSigner, createPermitSigner, randomPermitSecret } from "../permit-signer.js";
import type { Guard } from "./unavailable.js";

/** The Redis store's signer: for the configured secret, or for the one shared in Redis once read. */
export interface SharedSigner {
  /** Undefined until load() read the shared secret (never, with a configured one). */
  readonly signer: PermitSigner | undefined;
  /** Reads the shared secret (storing one when absent); nothing to do with a configured secret. */
  load(): Promise<void>;
}

/** Throws at once when a configured secret is too short, so a bad one fails at start, not at the first call. */
export function createSharedSigner(client: Redis | Cluster, key: string, secrets: PermitSecrets, guard: Guard): SharedSigner {
  const { permitSecret, previousPermitSecret } = secrets;
  let signer = permitSecret === undefined ? undefined : createPermitSigner(permitSecret, previousPermitSecret);
  let stored: Buffer | undefined;
  return {
    get signer() {
      return signer;
    },
    async load() {
      if (permitSecret !== undefined) return;
      const secret = await guard(() => sharedPermitSecret(client, key));
      signer = createPermitSigner(secret, previousPermitSecret ?? stored);
      stored = secret;
    },
  };
}

/** The shared secret under `key`, created when absent. Throws when a stored one is too short (someone wrote it by hand). */
export async function sharedPermitSecret(client: Redis | Cluster, key: string): Promise<Buffer> {
  await client.set(key, randomPermitSecret().toString("base64url"), "NX");
  const stored = await client.get(key);
  const secret = stored === null ? undefined : Buffer.from(stored, "utf8");
  if (secret === undefined || secret.length < MIN_PERMIT_SECRET_BYTES) {
    throw new Error(`the permit secret in Redis key ${key} is missing or shorter than ${MIN_PERMIT_SECRET_BYTES} bytes; delete the key to have one generated`);
  }
  return secret;
}
