/**
 * Watch status rounds (WatchRequest.status_interval), shared by every stream
 * of the replica: one StatusPoller runs at most one round per tick (the
 * smallest interval a subscribed stream asked), reads once the union of the
 * due streams' filters, and offers each view to each due stream it matches.
 * N dashboard tabs cost one read per round, not N.
 *
 * Each stream keeps its own bookkeeping (StatusSubscription): what it last
 * sent of each circuit, the newest event generation it sent, how much room
 * its backlog leaves. A stream takes part in a round only when its own
 * interval has passed and none of its statuses is still unread, so a slow
 * reader gets fresher statuses later, never a growing backlog; a round fills
 * at most half a stream's backlog, so status alone never cuts a watcher.
 */
import { createHash } from "node:crypto";
import type { CircuitStore, CircuitView, WatchFilter } from "../store/store.js";
import { readSetOf, readSetPages } from "./watch-reads.js";

/** What the poller needs of a stream, given by the Watch hub. */
export interface StatusStreamHooks {
  /** Whether the stream takes statuses now (live, neither ending nor overflowed). */
  live(): boolean;
  /** Messages the stream has queued and not yet yielded. */
  unread(): number;
  /** Queues a status message. */
  send(view: CircuitView): void;
}

/** A subscribed stream's status state. Made by {@link StatusPoller.subscribe}. */
export class StatusSubscription {
  /** Digest of each circuit's view as last sent (snapshot or status). */
  private readonly lastSent = new Map<string, string>();
  /** The newest generation an event of each circuit carried. */
  private readonly eventGeneration = new Map<string, number>();
  private readonly names: ReadonlySet<string>;
  private readonly all: boolean;
  /** Statuses queued and not yet taken. */
  private queued = 0;
  /** Where the next round goes on from (a round that ran out of room stops there); undefined: the first circuit. */
  private cursor: string | undefined;
  /** This round: the cursor it started after, and the room left; undefined: not in the round. */
  private round: { after: string | undefined; room: number } | undefined;
  /** Whether the current round still offers it views (it has not run out of room). */
  get inRound(): boolean {
    return this.round !== undefined;
  }

  /** When (poller time) the stream last took part in a round, or subscribed. */
  lastRoundAt: number;

  constructor(
    readonly filter: WatchFilter,
    readonly intervalMs: number,
    private readonly hooks: StatusStreamHooks,
    private readonly maxBacklog: number,
    now: number,
  ) {
    this.names = new Set(filter.circuits);
    this.all = filter.circuits.length === 0 && filter.prefix === "";
    this.lastRoundAt = now;
  }

  /** The stream sent `view` as a snapshot: no status until it changes. */
  noteSnapshot(view: CircuitView): void {
    this.lastSent.set(view.circuit, fingerprintOf(view));
  }

  /** The stream queued an event of `circuit`: a status read that raced it must not follow it. */
  noteEvent(circuit: string, generation: number): void {
    this.eventGeneration.set(circuit, Math.max(generation, this.eventGeneration.get(circuit) ?? -1));
  }

  /** The stream yielded one of its status messages. */
  taken(): void {
    this.queued -= 1;
  }

  /** Whether it takes part in a round starting now. */
  due(now: number, slackMs: number): boolean {
    return now - this.lastRoundAt >= this.intervalMs - slackMs && this.queued === 0 && this.hooks.live();
  }

  matches(circuit: string): boolean {
    return this.all || (this.filter.prefix !== "" && circuit.startsWith(this.filter.prefix)) || this.names.has(circuit);
  }

  begin(now: number): void {
    this.lastRoundAt = now;
    this.round = { after: this.cursor, room: Math.max(1, Math.floor(this.maxBacklog / 2)) - this.hooks.unread() };
  }

  /** A view of a circuit it matches, in name order; `fingerprint` is computed once per view for all streams. */
  offer(view: CircuitView, fingerprint: () => string): void {
    const round = this.round;
    if (round === undefined || (round.after !== undefined && view.circuit <= round.after)) return;
    if (round.room <= 0) {
      this.round = undefined; // out of room: the next round goes on from the cursor
      return;
    }
    this.cursor = view.circuit;
    if (view.generation < (this.eventGeneration.get(view.circuit) ?? -1)) return;
    const digest = fingerprint();
    if (this.lastSent.get(view.circuit) === digest) return;
    this.lastSent.set(view.circuit, digest);
    this.queued += 1;
    round.room -= 1;
    this.hooks.send(view);
  }

  /** The round's read ended (`complete`: it reached the last circuit; else the store failed and the next round tries again). */
  end(complete: boolean): void {
    if (complete && this.round !== undefined && this.round.room > 0) this.cursor = undefined;
    this.round = undefined;
  }
}

export interface StatusPollerOptions {
  /** Status messages a round may queue for one stream: half of it (WatchOptions.maxBacklog). */
  maxBacklog: number;
  /** Monotonic ms, for the streams' intervals. Default performance.now. */
  now?: () => number;
}

export class StatusPoller {
  private readonly subscriptions = new Set<StatusSubscription>();
  private readonly maxBacklog: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private tickMs = 0;
  private running = false;
  /** Rounds that read the store (a tick with no due stream reads nothing). */
  rounds = 0;

  constructor(
    private readonly store: CircuitStore,
    options: StatusPollerOptions,
  ) {
    this.maxBacklog = options.maxBacklog;
    this.now = options.now ?? (() => performance.now());
  }

  /** The timer's period: the smallest interval subscribed; 0: stopped (no subscriber). */
  get tick(): number {
    return this.tickMs;
  }

  /** Streams subscribed. */
  get size(): number {
    return this.subscriptions.size;
  }

  /** Subscribes a stream to statuses every `intervalMs` (> 0; the service enforces its 1 s minimum). */
  subscribe(filter: WatchFilter, intervalMs: number, hooks: StatusStreamHooks): StatusSubscription {
    const subscription = new StatusSubscription(filter, intervalMs, hooks, this.maxBacklog, this.now());
    this.subscriptions.add(subscription);
    this.retime();
    return subscription;
  }

  unsubscribe(subscription: StatusSubscription): void {
    if (this.subscriptions.delete(subscription)) this.retime();
  }

  /** Ticks at the smallest interval subscribed; no timer with no subscriber. */
  private retime(): void {
    let tick = Infinity;
    for (const s of this.subscriptions) tick = Math.min(tick, s.intervalMs);
    if (tick === this.tickMs) return;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.tickMs = tick === Infinity ? 0 : tick;
    if (this.tickMs > 0) {
      this.timer = setInterval(() => void this.round(), this.tickMs);
      this.timer.unref();
    }
  }

  /**
   * One round: the streams due now (their interval passed, less a quarter
   * tick so timer jitter does not skip a round; none of their statuses
   * unread), one read of the union of their filters, each view offered to the
   * due streams it matches. One round at a time: a tick during a slow read
   * is skipped.
   */
  async round(): Promise<void> {
    if (this.running) return;
    const now = this.now();
    const due = [...this.subscriptions].filter((s) => s.due(now, this.tickMs / 4));
    if (due.length === 0) return;
    this.running = true;
    this.rounds += 1;
    for (const s of due) s.begin(now);
    let complete = false;
    try {
      read: for await (const page of readSetPages(this.store, readSetOf(due.map((s) => s.filter)))) {
        // Every stream out of room: the rest of the read would be offered to none.
        if (!due.some((s) => s.inRound)) break read;
        for (const view of page) {
          let digest: string | undefined;
          const fingerprint = (): string => (digest ??= fingerprintOf(view));
          for (const s of due) if (s.matches(view.circuit)) s.offer(view, fingerprint);
        }
      }
      complete = true;
    } catch {
      // The store is unreachable (or closing): the streams stay open and the
      // next round tries again; transitions still arrive as events.
    } finally {
      for (const s of due) s.end(complete);
      this.running = false;
    }
  }
}

/**
 * What a status stream remembers of a circuit it sent: a digest of the view,
 * not the view (a stream over 100,000 circuits keeps 100,000 of them).
 */
export function fingerprintOf(view: CircuitView): string {
  return createHash("sha256").update(JSON.stringify(view)).digest("base64url").slice(0, 22);
}
