/**
 * Permit tokens.
 *
 * A permit is self-describing, so a CLOSED circuit can hand one out without
 * remembering it. Its body is `<circuit hash>.<generation>.<kind>.<expires
 * at>.<nonce>`, numbers in base 36; the token an agent holds is the body plus
 * `.<mac>`, an HMAC over the circuit's full name and the body (see
 * src/store/permit-signer.ts), so a permit cannot be made up or altered. The
 * circuit hash stays so a permit reported on another circuit can be named
 * PERMIT_FOREIGN before the MAC is checked; the generation tells a late report
 * from an older state; the expiry bounds how long the circuit must remember
 * that a permit was reported.
 *
 * Only the canonical encoding decodes (no leading zeros, numbers that
 * re-encode to the same text), so no two strings are the same permit and the
 * body is the permit's identity: engines and scripts remember reported and
 * outstanding permits by body.
 */

/**
 * What a permit's outcome may do.
 * - `closed`: counted in the window, may open the circuit.
 * - `probe`: a half-open probe holding a slot.
 * - `shadow`: handed out in shadow mode where enforce mode would have denied;
 *   counted in the totals only.
 * - `disabled`: handed out while DISABLED; counted in stats, drives nothing.
 */
export type PermitKind = "closed" | "probe" | "shadow" | "disabled";

const KIND_CODES: Record<PermitKind, string> = { closed: "c", probe: "p", shadow: "s", disabled: "d" };
const CODE_KINDS: Record<string, PermitKind> = { c: "closed", p: "probe", s: "shadow", d: "disabled" };

export interface Permit {
  circuitHash: string;
  generation: number;
  kind: PermitKind;
  expiresAt: number;
  nonce: string;
}

/** 32-bit FNV-1a of the circuit name, base 36. */
export function circuitHash(name: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(36);
}

export function encodePermit(p: Permit): string {
  return `${p.circuitHash}.${p.generation.toString(36)}.${KIND_CODES[p.kind]}.${p.expiresAt.toString(36)}.${p.nonce}`;
}

// Numbers have no leading zeros ("0" alone is zero); the nonce is opaque.
const PERMIT_RE = /^(0|[1-9a-z][0-9a-z]{0,6})\.(0|[1-9a-z][0-9a-z]{0,10})\.([cpsd])\.(0|[1-9a-z][0-9a-z]{0,10})\.([0-9a-z]{1,32})$/;

/** Shortest permit secret, in bytes (the HMAC key of src/store/permit-signer.ts). */
export const MIN_PERMIT_SECRET_BYTES = 32;

/** Length of a permit's MAC: 22 base64url characters, 132 bits. */
export const PERMIT_MAC_LENGTH = 22;

const SIGNED_RE = /^(.{9,80})\.([A-Za-z0-9_-]{22})$/s;

/**
 * Parses a permit body in its canonical encoding; undefined if it is not one
 * (including any other spelling of a valid permit, e.g. a leading zero).
 */
export function decodePermit(body: string): Permit | undefined {
  const m = PERMIT_RE.exec(body);
  if (m === null) return undefined;
  const permit: Permit = {
    circuitHash: m[1]!,
    generation: parseInt(m[2]!, 36),
    kind: CODE_KINDS[m[3]!]!,
    expiresAt: parseInt(m[4]!, 36),
    nonce: m[5]!,
  };
  // Decode, re-encode, compare: refuses numbers past 2^53 that parse inexactly.
  return encodePermit(permit) === body ? permit : undefined;
}

/**
 * Splits a signed permit token into its body and MAC; undefined when it does
 * not have that shape (the body is not checked here: see decodePermit).
 */
export function splitPermit(token: string): { body: string; mac: string } | undefined {
  const m = SIGNED_RE.exec(token);
  return m === null ? undefined : { body: m[1]!, mac: m[2]! };
}
