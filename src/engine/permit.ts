/**
 * Permit tokens.
 *
 * A permit is self-describing, so a CLOSED circuit can hand one out without
 * remembering it: `<circuit hash>.<generation>.<kind>.<expires at>.<nonce>`,
 * numbers in base 36. The circuit hash catches a permit reported on another
 * circuit; the generation tells a late report from an older state; the expiry
 * bounds how long the circuit must remember that a permit was reported.
 * Permits are not secrets: an agent that can Report can already report any
 * outcome it likes.
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

const PERMIT_RE = /^([0-9a-z]{1,7})\.([0-9a-z]{1,11})\.([cpsd])\.([0-9a-z]{1,11})\.([0-9a-z]{1,32})$/;

/** Parses a permit token; undefined if it is not one. */
export function decodePermit(token: string): Permit | undefined {
  const m = PERMIT_RE.exec(token);
  if (m === null) return undefined;
  return {
    circuitHash: m[1]!,
    generation: parseInt(m[2]!, 36),
    kind: CODE_KINDS[m[3]!]!,
    expiresAt: parseInt(m[4]!, 36),
    nonce: m[5]!,
  };
}
