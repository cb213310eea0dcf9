/**
 * Signing and checking permit tokens.
 *
 * A token is `<body>.<mac>`: the MAC is HMAC-SHA-256 over the circuit's full
 * name, a NUL byte and the canonical body (src/engine/permit.ts), written in
 * base64url and cut to its first 22 characters (132 bits). (Cutting the text
 * rather than the bytes spares a Buffer per call: this runs on every Acquire.) Binding the full name means
 * a permit of one circuit is never valid on another, whatever the 32-bit
 * hash in the body says; a body holds no NUL, so name and body split one way
 * only. The MAC is compared as text, so one MAC has exactly one spelling.
 *
 * The stores sign the body the engine (or acquire.lua) built, and open a
 * reported token before touching the circuit: a token that fails here
 * changes nothing.
 */
import { createHmac, createSecretKey, randomBytes, type KeyObject } from "node:crypto";
import { MIN_PERMIT_SECRET_BYTES, PERMIT_MAC_LENGTH, circuitHash, decodePermit, permitRefusal, splitPermit, type Permit } from "../engine/index.js";


/** Signs and opens permit tokens under one current secret and, while rotating, a previous one. */
export interface PermitSigner {
  /** The token for `body` (a canonical permit body) issued by circuit `name`. */
  sign(name: string, body: string): string;
  /**
   * The body and fields of `token` reported on circuit `name`. Throws
   * PermitRejectedError: `malformed` when it is not a canonical signed permit,
   * `foreign` when its circuit hash is another circuit's, `bad-signature`
   * when its MAC is neither the current nor the previous secret's.
   */
  open(name: string, token: string): { body: string; permit: Permit };
}

/** The secrets a store signs permits with (BREAKERBOX_PERMIT_SECRET and _PREVIOUS). */
export interface PermitSecrets {
  /**
   * Signs new permits and opens reported ones; at least 32 bytes. Absent: the
   * memory store draws one per process, the Redis store shares one kept in Redis.
   */
  permitSecret?: Uint8Array;
  /** Also accepted when opening a permit, while rotating; at least 32 bytes. */
  previousPermitSecret?: Uint8Array;
}

/** A fresh random secret (for a store given none). */
export function randomPermitSecret(): Buffer {
  return randomBytes(MIN_PERMIT_SECRET_BYTES);
}

/**
 * A signer for `secret`, also accepting tokens signed with `previous` (keep
 * it for at least one permit_ttl after a rotation). Throws when a secret is
 * shorter than {@link MIN_PERMIT_SECRET_BYTES}.
 */
export function createPermitSigner(secret: Uint8Array, previous?: Uint8Array): PermitSigner {
  // Key objects built once: createHmac with a KeyObject skips re-importing the key per call.
  const current = keyOf(secret);
  const older = previous === undefined ? undefined : keyOf(previous);
  const macOf = (key: KeyObject, name: string, body: string): string =>
    createHmac("sha256", key).update(`${name}\0${body}`).digest("base64url").slice(0, PERMIT_MAC_LENGTH);
  const matches = (key: KeyObject, name: string, body: string, mac: string): boolean => sameText(macOf(key, name, body), mac);
  return {
    sign: (name, body) => `${body}.${macOf(current, name, body)}`,
    open(name, token) {
      const parts = splitPermit(token);
      const permit = parts === undefined ? undefined : decodePermit(parts.body);
      if (parts === undefined || permit === undefined || parts.mac.length !== PERMIT_MAC_LENGTH) throw permitRefusal.malformed();
      if (permit.circuitHash !== circuitHash(name)) throw permitRefusal.foreign(name);
      if (!matches(current, name, parts.body, parts.mac) && (older === undefined || !matches(older, name, parts.body, parts.mac))) {
        throw permitRefusal.badSignature();
      }
      return { body: parts.body, permit };
    },
  };
}

/** Constant-time equality of two MACs of PERMIT_MAC_LENGTH characters (checked by the caller). */
function sameText(a: string, b: string): boolean {
  let diff = 0;
  for (let i = 0; i < PERMIT_MAC_LENGTH; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function keyOf(secret: Uint8Array): KeyObject {
  if (secret.length < MIN_PERMIT_SECRET_BYTES) {
    throw new Error(`a permit secret must be at least ${MIN_PERMIT_SECRET_BYTES} bytes, got ${secret.length}`);
  }
  return createSecretKey(secret);
}
