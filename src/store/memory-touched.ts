/**
 * The circuits a memory store changed recently, for the shared Watch status
 * rounds (service/status-poller.ts): a round reads the circuits that changed
 * since its last one instead of every circuit (MemoryStore.statusChanges).
 *
 * Each name keeps the sequence number and store time of its latest change;
 * a Map re-inserted on every change iterates oldest change first, so trimming
 * by age and by count takes from the front. A cursor is a sequence number
 * (the store clock may stand still, so time cannot order changes made in the
 * same millisecond).
 */

/** What {@link TouchedNames.since} answers. */
export interface TouchedSince {
  /** The cursor to ask from next time. */
  cursor: number;
  /** The names changed after the cursor; undefined: the record does not reach back that far (read everything). */
  names: string[] | undefined;
  /** With no names: because the record overflowed its count bound after the cursor (not trimmed by age). */
  overflowed: boolean;
}

export class TouchedNames {
  private readonly latest = new Map<string, { seq: number; at: number }>();
  private seq = 0;
  /** Changes up to this sequence number may have been forgotten (trimmed or overflowed). */
  private lostThrough = 0;
  /** Of those, the changes up to this sequence number were forgotten by an overflow. */
  private overflowedThrough = 0;
  /** Times the record overflowed its count bound and forgot its older half. */
  overflows = 0;

  constructor(
    private readonly maxNames: number,
    private readonly retainMs: number,
  ) {}

  /** Names recorded now. */
  get size(): number {
    return this.latest.size;
  }

  /** The cursor for "from now on". */
  get cursor(): number {
    return this.seq;
  }

  /** Records a change of `name` at store time `at`. */
  touch(name: string, at: number): void {
    this.seq += 1;
    this.latest.delete(name);
    this.latest.set(name, { seq: this.seq, at });
    if (this.latest.size > this.maxNames) {
      // Forget the older half at once, so an overflowing store pays this rarely.
      this.overflows += 1;
      this.forgetWhile(() => this.latest.size > Math.floor(this.maxNames / 2));
      this.overflowedThrough = this.lostThrough;
    }
  }

  /**
   * The names changed after `cursor`, and those changed within `lookbackMs(name)`
   * before `sinceAt` (the store time the cursor was taken: a circuit's window
   * slides for its window length after its last change, so its view changes
   * without a commit). Trims what is older than the retention first.
   */
  since(cursor: number, sinceAt: number, now: number, lookbackMs: (name: string) => number): TouchedSince {
    this.forgetWhile((entry) => entry.at < now - this.retainMs);
    if (cursor < this.lostThrough) return { cursor: this.seq, names: undefined, overflowed: cursor < this.overflowedThrough };
    const names: string[] = [];
    for (const [name, entry] of this.latest) if (entry.seq > cursor || entry.at > sinceAt - lookbackMs(name)) names.push(name);
    return { cursor: this.seq, names, overflowed: false };
  }

  private forgetWhile(more: (entry: { seq: number; at: number }) => boolean): void {
    for (const [name, entry] of this.latest) {
      if (!more(entry)) break;
      this.latest.delete(name);
      this.lostThrough = Math.max(this.lostThrough, entry.seq);
    }
  }
}
