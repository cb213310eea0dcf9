/**
 * Permit tokens.
 *
 * A permit is self-describing, so a CLOSED circuit can hand one out without
 * remembering it. Its body is `<circuit hash>.<generation>.<kind>.<expires
 * at>.<stream>.<seq>`, numbers in base 36; the token an agent holds is the
 * body plus `.<mac>`, an HMAC over the circuit's full name and the body (see
 * src/store/permit-signer.ts), so a permit cannot be made up or altered. The
 * circuit hash stays so a permit reported on another circuit can be named
 * PERMIT_FOREIGN before the MAC is checked; the generation tells a late report
 * from an older state; the expiry bounds how long the circuit must remember
 * that a permit was reported. `stream` names one issuing counter of the
 * circuit (10 random base-36 characters) and `seq` is its count, one more per
 * permit: a circuit remembers which permits were reported as a window of
 * sequence numbers per stream (permit-window.ts), not permit by permit.
 *
 * Legacy bodies `<hash>.<generation>.<kind>.<expires>.<nonce>`, issued by the
 * previous release during a rolling upgrade, still decode (`nonce` set) and
 * are remembered by body until they expire; that path goes in a later release.
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

interface PermitFields {
  circuitHash: string;
  generation: number;
  kind: PermitKind;
  expiresAt: number;
}

/** A permit of this release: the `seq`-th of issuing counter `stream`. */
export interface StreamPermit extends PermitFields {
  /** [0-9a-z]{10}. */
  stream: string;
  seq: number;
  nonce?: undefined;
}

/** A permit of the previous release, identified by its opaque nonce ([0-9a-z]{1,32}). */
export interface LegacyPermit extends PermitFields {
  nonce: string;
  stream?: undefined;
  seq?: undefined;
}

export type Permit = StreamPermit | LegacyPermit;

/** Length of a permit stream id. */
export const PERMIT_STREAM_LENGTH = 10;

/** A new random stream id: 10 base-36 characters (about 51 bits). */
export function newPermitStream(): string {
  const bytes = new Uint8Array(PERMIT_STREAM_LENGTH);
  globalThis.crypto.getRandomValues(bytes);
  let s = "";
  // b % 36 favours 0-3 slightly (256 = 7 × 36 + 4): harmless for an id that only has to
  // differ from the few other streams of one circuit.
  for (const b of bytes) s += (b % 36).toString(36);
  return s;
}

/**
 * Whether a permit stream started at `since` no longer numbers a permit
 * issued at `now`: a stream numbers the permits of one permit_ttl at most, so
 * its window costs about (permits issued in a permit_ttl) / 2 bytes, not the
 * total it ever issued; and a clock that went back starts a new one. The one
 * rule for the engine's issuer (circuit.ts) and a Redis replica's counters
 * (store/redis/permit-streams.ts).
 */
export function permitStreamEnded(since: number, now: number, permitTtlMs: number): boolean {
  return now - since >= permitTtlMs || now < since;
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
  const head = `${p.circuitHash}.${p.generation.toString(36)}.${KIND_CODES[p.kind]}.${p.expiresAt.toString(36)}`;
  return p.nonce === undefined ? `${head}.${p.stream}.${p.seq.toString(36)}` : `${head}.${p.nonce}`;
}

// Numbers have no leading zeros ("0" alone is zero); the stream and a legacy nonce are opaque.
const PERMIT_RE =
  /^(0|[1-9a-z][0-9a-z]{0,6})\.(0|[1-9a-z][0-9a-z]{0,10})\.([cpsd])\.(0|[1-9a-z][0-9a-z]{0,10})\.(?:([0-9a-z]{10})\.(0|[1-9a-z][0-9a-z]{0,10})|([0-9a-z]{1,32}))$/;

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
  const fields = { circuitHash: m[1]!, generation: parseInt(m[2]!, 36), kind: CODE_KINDS[m[3]!]!, expiresAt: parseInt(m[4]!, 36) };
  const permit: Permit = m[7] === undefined ? { ...fields, stream: m[5]!, seq: parseInt(m[6]!, 36) } : { ...fields, nonce: m[7] };
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
