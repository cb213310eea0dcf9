/**
 * This replica's permit counters, one per circuit (engine permit.ts: a
 * permit is the `seq`-th of stream `stream`). Every grant of this replica,
 * local (local-views.ts) or made by acquire.lua, takes the next number of the
 * circuit's counter, so no other issuer numbers in the same stream. A counter
 * starts a fresh stream once older than the circuit's permit_ttl, so a
 * stream's dedupe window in Redis (lua/includes/permit-window.lua) spans the
 * permits of one permit_ttl at most: about (that many) / 2 bytes. Bounded
 * like the other per-circuit caches: a counter dropped and needed again
 * starts a fresh stream, which is always safe.
 */
import { newPermitStream, permitStreamEnded } from "../../engine/index.js";
import { BoundedMap, REPLICA_CACHE_ENTRIES } from "./bounded-map.js";

export interface PermitId {
  stream: string;
  seq: number;
}

interface Counter {
  stream: string;
  next: number;
  since: number;
  /** The counter this one replaced, until it hands out a number that is used. */
  previous: Counter | undefined;
}

export interface PermitStreams {
  /** The number for the next permit of `name` at local time `now`. */
  take(name: string, now: number, permitTtlMs: number): PermitId;
  /** `id` was not used (the Acquire was denied): taken back when no later number was handed out meanwhile, so denials leave no gaps. */
  giveBack(name: string, id: PermitId): void;
  sweep(cutoff: number): void;
}

export function createPermitStreams(maxEntries = REPLICA_CACHE_ENTRIES): PermitStreams {
  const counters = new BoundedMap<string, Counter>(maxEntries);
  return {
    take(name, now, permitTtlMs) {
      let c = counters.get(name);
      if (c === undefined || permitStreamEnded(c.since, now, permitTtlMs)) {
        c = { stream: newPermitStream(), next: 0, since: now, previous: c };
        counters.set(name, c);
      } else {
        c.previous = undefined;
      }
      return { stream: c.stream, seq: c.next++ };
    },
    giveBack(name, id) {
      const c = counters.get(name);
      if (c === undefined || c.stream !== id.stream || c.next !== id.seq + 1) return;
      c.next = id.seq;
      // A stream starts at a grant, as the memory engine's does: one whose only number went unused is undone.
      if (c.next === 0) {
        if (c.previous === undefined) counters.delete(name);
        else counters.set(name, c.previous);
      }
    },
    sweep: (cutoff) => counters.sweep(cutoff),
  };
}

/** The permit body's tail for `id`: `<stream>.<seq base 36>`. */
export function permitIdText(id: PermitId): string {
  return `${id.stream}.${id.seq.toString(36)}`;
}
