/**
 * Which permits of one issuing stream were reported, in memory bounded
 * whatever the Report rate: the twin of src/store/redis/lua/includes/permit-window.lua.
 *
 * A stream hands out permits numbered 0, 1, 2, … (permit.ts `seq`). Its
 * window keeps `hi`, the highest seq reported, and a ring of `slots` 4-bit
 * entries (slot = seq mod slots): 0 not reported, else the outcome that
 * counted (1 SUCCESS, 2 FAILURE, 3 TIMEOUT, 4 IGNORED). When `hi` advances
 * the slots it passes over are cleared, so the ring holds exactly the seqs in
 * (hi − slots, hi]. A permit at or below hi − slots is no longer remembered:
 * its Report is answered as expired (the stream issued more than `slots`
 * permits after it). The ring grows on demand (two slots a byte) up to
 * slots / 2 bytes, so a stream that issues n permits before they expire
 * costs about n / 2 bytes.
 */
import type { Outcome } from "./types.js";

/** Default ring size: 2^21 slots, 1 MiB at 4 bits a slot. */
export const PERMIT_WINDOW_SLOTS = 2 ** 21;

/** Bytes a ring grows by. */
const GROWTH_STEP = 4096;

export const OUTCOME_CODES: Readonly<Record<Outcome, number>> = { SUCCESS: 1, FAILURE: 2, TIMEOUT: 3, IGNORED: 4 };
const CODE_OUTCOMES: readonly Outcome[] = ["SUCCESS", "SUCCESS", "FAILURE", "TIMEOUT", "IGNORED"];

export interface PermitWindow {
  /** Highest seq reported. */
  hi: number;
  ring: Uint8Array;
  /** The latest expiry of a permit recorded: the window is dropped then. */
  expiresAt: number;
}

/** What a window says of a permit: not reported, seen with its first outcome, or beyond the window. */
export type WindowAnswer = { kind: "new" } | { kind: "repeated"; first: Outcome } | { kind: "forgotten" };

function slotOf(ring: Uint8Array, slot: number): number {
  const i = slot >> 1;
  if (i >= ring.length) return 0;
  return slot & 1 ? ring[i]! & 0x0f : ring[i]! >> 4;
}

/** Clears slots [from, from + n) mod `slots`, n ≤ slots (bytes past the ring's length are zero already). */
function clearSlots(w: PermitWindow, from: number, n: number, slots: number): void {
  for (let done = 0; done < n; ) {
    const start = (from + done) % slots;
    const run = Math.min(n - done, slots - start);
    let a = start;
    const b = start + run; // exclusive
    if (a & 1 && a < b) setSlot(w, a++, 0, slots);
    const evenEnd = b & ~1;
    if (a < evenEnd) w.ring.fill(0, a >> 1, Math.min(evenEnd >> 1, w.ring.length));
    if (evenEnd < b && evenEnd >= a) setSlot(w, evenEnd, 0, slots);
    done += run;
  }
}

function setSlot(w: PermitWindow, slot: number, code: number, slots: number): void {
  const i = slot >> 1;
  if (i >= w.ring.length) {
    if (code === 0) return;
    // Whole 4 KiB steps (16 bytes for a start), not doubling: the ring costs what its slots use,
    // plus at most one step; copying a step at a time costs a few bytes a Report.
    const size = i < 16 ? 16 : Math.ceil((i + 1) / GROWTH_STEP) * GROWTH_STEP;
    const grown = new Uint8Array(Math.min((slots + 1) >> 1, size));
    grown.set(w.ring);
    w.ring = grown;
  }
  w.ring[i] = slot & 1 ? (w.ring[i]! & 0xf0) | code : (w.ring[i]! & 0x0f) | (code << 4);
}

/** Whether permit `seq` of `stream` was reported (with its first outcome), is new, or is beyond its window. Changes nothing. */
export function lookUpInWindow(windows: Map<string, PermitWindow>, stream: string, seq: number, slots: number): WindowAnswer {
  const w = windows.get(stream);
  if (w === undefined || seq > w.hi) return { kind: "new" };
  if (seq <= w.hi - slots) return { kind: "forgotten" };
  const code = slotOf(w.ring, seq % slots);
  return code === 0 ? { kind: "new" } : { kind: "repeated", first: CODE_OUTCOMES[code]! };
}

/** Records `outcome` for permit `seq` of `stream`, which lookUpInWindow answered new. */
export function recordInWindow(
  windows: Map<string, PermitWindow>,
  stream: string,
  seq: number,
  expiresAt: number,
  outcome: Outcome,
  slots: number,
): void {
  let w = windows.get(stream);
  if (w === undefined) {
    w = { hi: -1, ring: new Uint8Array(0), expiresAt };
    windows.set(stream, w);
  }
  if (seq > w.hi) {
    if (w.hi >= 0) clearSlots(w, (w.hi + 1) % slots, Math.min(seq - w.hi - 1, slots), slots);
    w.hi = seq;
  }
  setSlot(w, seq % slots, OUTCOME_CODES[outcome], slots);
  if (expiresAt > w.expiresAt) w.expiresAt = expiresAt;
}

/** Drops the windows whose every recorded permit has expired (a Report of one is refused as expired anyway). */
export function pruneWindows(windows: Map<string, PermitWindow>, now: number): void {
  for (const [stream, w] of windows) if (w.expiresAt <= now) windows.delete(stream);
}

/** Bytes the windows' rings hold (tests: the memory bound). */
export function windowBytes(windows: Map<string, PermitWindow>): number {
  let n = 0;
  for (const w of windows.values()) n += w.ring.length + 16;
  return n;
}
