/**
 * The embedded store's event log: the last `size` entries (transitions,
 * config changes, removals) in a ring buffer, numbered in order, and the
 * positions that stand for a place in it ("<epoch>-<seq>": the epoch tells
 * this process's log from an earlier one's, which restarts lost).
 */
import { randomBytes } from "node:crypto";
import type { Transition } from "../engine/index.js";
import { type CircuitEvent, type LoggedChange, ResumeTokenError } from "./store.js";

/** An entry of the log, as watchers receive it. */
export type MemoryLogEntry = { kind: "event"; event: CircuitEvent } | LoggedChange;

/** A logged change before the log gave it a position. */
export type UnloggedChange = LoggedChange extends infer C ? (C extends LoggedChange ? Omit<C, "position"> : never) : never;

/** The event log of one memory store. */
export interface MemoryEventLog {
  /** Numbers a transition, keeps it (dropping the oldest beyond the size) and answers it with its event id. */
  append(transition: Transition): CircuitEvent;
  /** Numbers a config change or removal, keeps it and answers it with its position. */
  appendChange(change: UnloggedChange): LoggedChange;
  /** The position of the newest entry (or of the start, when none yet). */
  currentToken(): string;
  /**
   * The entries after `position`, oldest first. Throws ResumeTokenError when
   * the position is malformed, from an earlier run, or older than the entries
   * kept.
   */
  after(position: string): MemoryLogEntry[];
}

/** Creates an empty log that keeps the last `size` entries. */
export function createMemoryEventLog(size: number): MemoryEventLog {
  const ring: MemoryLogEntry[] = [];
  const epoch = randomBytes(4).toString("hex");
  let seq = 0;
  const tokenOf = (n: number): string => `${epoch}-${n}`;

  /** The sequence number a position stands for; throws ResumeTokenError. */
  const parse = (token: string): number => {
    const m = /^([0-9a-f]{8})-(\d{1,15})$/.exec(token);
    if (m === null) {
      throw new ResumeTokenError("malformed", "resume_token is not a token this server issued; pass the last WatchResponse.resume_token unchanged");
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

  /** Takes the next number; entry n is kept at index n % size. */
  const keep = <E extends MemoryLogEntry>(make: (position: string) => E): E => {
    seq += 1;
    const entry = make(tokenOf(seq));
    ring[seq % size] = entry;
    return entry;
  };

  return {
    append: (transition) => keep((eventId) => ({ kind: "event", event: { ...transition, eventId } })).event,
    appendChange: (change) => keep((position) => ({ ...change, position }) as LoggedChange),
    currentToken: () => tokenOf(seq),
    after(position) {
      const entries: MemoryLogEntry[] = [];
      for (let n = parse(position) + 1; n <= seq; n++) entries.push(ring[n % size]!);
      return entries;
    },
  };
}
