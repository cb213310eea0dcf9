/**
 * When time next matters to a circuit nobody uses: for the stores' due-time
 * queues (memory) and key expiry (Redis, includes/engine.lua `commit`), so
 * neither has to walk every circuit to find the due ones.
 */
import type { Circuit } from "./types.js";

/**
 * The earliest instant isEvictable (circuit.ts) can hold if nobody uses the
 * circuit from now on (time-driven transitions applied as they fall due), or
 * undefined for a pinned circuit. Exact for CLOSED, OPEN and HALF_OPEN with
 * no probe out; with a probe out it is the instant to look again (the first
 * probe's timeout reopens the circuit for a duration not known before).
 * Stores use it to schedule eviction without walking every circuit.
 */
export function idleExpiryAt(c: Circuit, idleMs: number): number | undefined {
  const idle = c.lastUsed + idleMs;
  const phase = c.phase;
  switch (phase.state) {
    case "CLOSED":
      return idle;
    case "OPEN":
      return Math.max(idle, phase.openUntil);
    case "HALF_OPEN":
      return phase.probes.length === 0 ? idle : Math.max(idle, nextProbeExpiry(c)!);
    default:
      return undefined;
  }
}

/**
 * When {@link advance} next has something to do if nothing else happens: an
 * OPEN circuit's open_until, a HALF_OPEN circuit's earliest probe expiry;
 * undefined when time alone changes nothing.
 */
export function nextDueAt(c: Circuit): number | undefined {
  const phase = c.phase;
  if (phase.state === "OPEN") return phase.openUntil;
  return nextProbeExpiry(c);
}

function nextProbeExpiry(c: Circuit): number | undefined {
  const phase = c.phase;
  if (phase.state !== "HALF_OPEN" || phase.probes.length === 0) return undefined;
  let first = phase.probes[0]!.expiresAt;
  for (const p of phase.probes) if (p.expiresAt < first) first = p.expiresAt;
  return first;
}
