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
  /**
   * Whether its next round reads every circuit it matches (from `cursor`):
   * at first after a resume (it sent nothing yet), when the store cannot
   * tell what changed, when its pending set overflowed, and until a full
   * round reached the last circuit. Otherwise it reads only `pending`.
   */
  private full: boolean;
  /** Circuits it matches that changed (the store's change feed) and were not read for it since. */
  private pending = new Set<string>();
  /**
   * This round: the cursor it started after, the room left, and (a round of
   * changed circuits only) the names it still waits for; undefined: not in the round.
   */
  private round: { after: string | undefined; room: number; only: Set<string> | undefined } | undefined;
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
    resumed: boolean,
  ) {
    this.full = resumed;
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

  /** The store's change feed says `circuit` changed. */
  noteChanged(circuit: string): void {
    if (this.full || !this.matches(circuit)) return;
    this.pending.add(circuit);
    // More than a round could send: read everything instead (bounded memory).
    if (this.pending.size > this.maxBacklog) this.readAll();
  }

  /** The store cannot tell what changed: the next round reads every matching circuit. */
  readAll(): void {
    this.full = true;
    this.pending.clear();
  }

  /** The names this round reads for it: undefined for every circuit it matches. */
  get reads(): ReadonlySet<string> | undefined {
    return this.round?.only;
  }

  begin(now: number): void {
    this.lastRoundAt = now;
    const room = Math.max(1, Math.floor(this.maxBacklog / 2)) - this.hooks.unread();
    if (this.full) {
      this.round = { after: this.cursor, room, only: undefined };
    } else {
      this.round = { after: undefined, room, only: this.pending };
      this.pending = new Set();
    }
  }

  /** A view of a circuit it matches, in name order; `fingerprint` is computed once per view for all streams. */
  offer(view: CircuitView, fingerprint: () => string): void {
    const round = this.round;
    if (round === undefined || (round.after !== undefined && view.circuit <= round.after)) return;
    if (round.only !== undefined && !round.only.has(view.circuit)) return;
    if (round.room <= 0) {
      // Out of room: the next round goes on from the cursor, or with the changed circuits not yet offered.
      this.end(false);
      return;
    }
    if (round.only === undefined) this.cursor = view.circuit;
    else round.only.delete(view.circuit);
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
    const round = this.round;
    if (round === undefined) return;
    this.round = undefined;
    const reachedEnd = complete && round.room > 0;
    if (round.only === undefined) {
      if (reachedEnd) {
        this.cursor = undefined;
        // From now on, the changed circuits only; but not after a round that
        // went on from a cursor: it did not look again at the circuits before
        // it, which may have changed meanwhile (full streams keep no pending
        // set), so one more round reads from the first circuit.
        if (round.after === undefined) this.full = false;
      }
    } else if (!reachedEnd) {
      // Not offered (the read failed or room ran out): still to read. After a
      // complete read, what is left did not exist (removed: its event says so).
      for (const name of round.only) this.noteChanged(name);
    }
  }
}

export interface StatusPollerOptions {
  /** Status messages a round may queue for one stream: half of it (WatchOptions.maxBacklog). */
  maxBacklog: number;
  /** Monotonic ms, for the streams' intervals. Default performance.now. */
  now?: () => number;
  /**
   * Told when the store could not tell what changed because its record
   * overflowed (StatusChanges.overflowed), at most once per
   * FEED_OVERFLOW_NOTICE_MS, with how many such rounds there were since the
   * last notice (the server logs it).
   */
  onFeedOverflow?: (rounds: number) => void;
}

/** The least time between two onFeedOverflow notices. */
export const FEED_OVERFLOW_NOTICE_MS = 60_000;

export class StatusPoller {
  private readonly subscriptions = new Set<StatusSubscription>();
  private readonly maxBacklog: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private tickMs = 0;
  private running = false;
  /** The store's change-feed cursor (CircuitStore.statusChanges); undefined: none read yet, the first round reads everything. */
  private feedCursor: string | undefined;
  /** Rounds run (a tick with no due stream runs none). */
  rounds = 0;
  /** Times the store could not tell what changed (first round, its record overflowed, rules changed): every stream read all it matches. */
  feedFallbacks = 0;
  /** Changed circuit names the store's feed returned, in all. */
  changedRead = 0;
  /** Of the fallbacks, those because the store's record of changes overflowed. */
  feedOverflows = 0;
  /** Overflow fallbacks not yet noticed, and when the last notice was given. */
  private overflowsUnnoticed = 0;
  private overflowNoticedAt: number | undefined;
  private readonly onFeedOverflow: ((rounds: number) => void) | undefined;

  constructor(
    private readonly store: CircuitStore,
    options: StatusPollerOptions,
  ) {
    this.maxBacklog = options.maxBacklog;
    this.now = options.now ?? (() => performance.now());
    this.onFeedOverflow = options.onFeedOverflow;
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
  subscribe(filter: WatchFilter, intervalMs: number, hooks: StatusStreamHooks, resumed = false): StatusSubscription {
    // A stream that sent a snapshot needs only what changes from now on; a resumed one sent nothing yet.
    const subscription = new StatusSubscription(filter, intervalMs, hooks, this.maxBacklog, this.now(), resumed || this.store.statusChanges === undefined);
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
    // Stopped: the feed cursor would grow stale (the store trims its record); the next start reads everything once.
    if (this.tickMs === 0) this.feedCursor = undefined;
    if (this.tickMs > 0) {
      this.timer = setInterval(() => void this.round(), this.tickMs);
      this.timer.unref();
    }
  }

  /**
   * Hands the circuits the store says changed since the last call to every
   * subscribed stream (due or not: one still reading its snapshot must not
   * miss them). Without a feed, or when the store cannot tell, every stream
   * reads all it matches.
   */
  private async readChanges(): Promise<void> {
    if (this.store.statusChanges === undefined) {
      for (const s of this.subscriptions) s.readAll();
      return;
    }
    const changes = await this.store.statusChanges(this.feedCursor);
    this.feedCursor = changes.cursor;
    if (changes.names === undefined) {
      this.feedFallbacks += 1;
      if (changes.overflowed === true) this.noteOverflow();
      for (const s of this.subscriptions) s.readAll();
      return;
    }
    this.changedRead += changes.names.length;
    for (const name of changes.names) for (const s of this.subscriptions) s.noteChanged(name);
  }

  /** Counts a fallback the store's overflow caused; tells onFeedOverflow at most once per FEED_OVERFLOW_NOTICE_MS. */
  private noteOverflow(): void {
    this.feedOverflows += 1;
    this.overflowsUnnoticed += 1;
    const now = this.now();
    if (this.onFeedOverflow === undefined || (this.overflowNoticedAt !== undefined && now - this.overflowNoticedAt < FEED_OVERFLOW_NOTICE_MS)) return;
    this.overflowNoticedAt = now;
    const rounds = this.overflowsUnnoticed;
    this.overflowsUnnoticed = 0;
    this.onFeedOverflow(rounds);
  }

  /** What this round reads: the filter of each stream reading everything it matches, and the changed names the others wait for. */
  private readFilters(due: readonly StatusSubscription[]): WatchFilter[] {
    const filters: WatchFilter[] = [];
    const names = new Set<string>();
    for (const s of due) {
      const only = s.reads;
      if (only === undefined) filters.push(s.filter);
      else for (const name of only) names.add(name);
    }
    // (A filter with no names and no prefix would mean every circuit.)
    if (names.size > 0) filters.push({ circuits: [...names], prefix: "" });
    return filters;
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
    let complete = false;
    try {
      await this.readChanges();
      for (const s of due) s.begin(now);
      const set = readSetOf(this.readFilters(due));
      read: for await (const page of readSetPages(this.store, set)) {
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
