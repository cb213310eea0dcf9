/**
 * The embedded store's event log: the last `size` transitions in a ring
 * buffer, numbered in order, and the resume tokens that stand for a position
 * in it ("<epoch>-<seq>": the epoch tells this process's log from an earlier
 * one's, which restarts lost).
 */
import { randomBytes } from "node:crypto";
import type { Transition } from "../engine/index.js";
import { type CircuitEvent, ResumeTokenError } from "./store.js";

/** The event log of one memory store. */
export interface MemoryEventLog {
  /** Numbers a transition, keeps it (dropping the oldest beyond the size) and answers it with its event id. */
  append(transition: Transition): CircuitEvent;
  /** The token of the newest event (or of the start, when none yet). */
  currentToken(): string;
  /**
   * The events after the position `token` stands for, oldest first. Throws
   * ResumeTokenError when the token is malformed, from an earlier run, or
   * older than the events kept.
   */
  after(token: string): CircuitEvent[];
}

/** Creates an empty log that keeps the last `size` events. */
export function createMemoryEventLog(size: number): MemoryEventLog {
  const ring: CircuitEvent[] = [];
  const epoch = randomBytes(4).toString("hex");
  let seq = 0;
  const tokenOf = (n: number): string => `${epoch}-${n}`;

  /** The sequence number a resume token stands for; throws ResumeTokenError. */
  const parse = (token: string): number => {
    const m = /^([0-9a-f]{8})-(\d{1,15})$/.exec(token);
    if (m === null) {
      throw new ResumeTokenError("malformed", "resume_token is not a token this server issued; pass an event_id or snapshot_complete.resume_token unchanged");
    }
    const n = Number(m[2]);
    if (m[1] !== epoch || n > seq) {
      throw new ResumeTokenError(
        "expired",
        "resume_token comes from an earlier run of this server (the embedded store keeps no events across restarts); watch again without resume_token for a fresh snapshot",
      );
    }
    const oldest = Math.max(1, seq - size + 1);
    if (n < oldest - 1) {
      throw new ResumeTokenError(
        "expired",
        `resume_token is older than the ${size} events kept (BREAKERBOX_EVENT_LOG_SIZE); watch again without resume_token for a fresh snapshot`,
      );
    }
    return n;
  };

  return {
    append(transition) {
      seq += 1;
      const event: CircuitEvent = { ...transition, eventId: tokenOf(seq) };
      // Event n is at index n % size.
      ring[seq % size] = event;
      return event;
    },
    currentToken: () => tokenOf(seq),
    after(token) {
      const events: CircuitEvent[] = [];
      for (let n = parse(token) + 1; n <= seq; n++) events.push(ring[n % size]!);
      return events;
    },
  };
}
