/**
 * A binary min-heap of items by due instant: the memory store's queues of
 * circuits to look at when time passes (due transitions, idle eviction), so a
 * tick costs O(due · log n) instead of a walk over every circuit.
 *
 * Items due at the same instant come out in the order they were pushed.
 *
 * Items are never removed early: a holder whose due instant changes pushes
 * again and tells stale items apart when they come out (the memory store
 * compares the popped instant with the one it recorded).
 */
export class DueHeap<T> {
  private readonly at: number[] = [];
  private readonly items: T[] = [];
  /** Push order, to break ties first in first out. */
  private readonly seqs: number[] = [];
  private pushed = 0;

  private before(i: number, at: number, seq: number): boolean {
    const t = this.at[i]!;
    return t < at || (t === at && this.seqs[i]! < seq);
  }

  /** Items held, stale ones included. */
  get size(): number {
    return this.at.length;
  }

  /** Adds `item`, due at `at` (ms). O(log n). */
  push(at: number, item: T): void {
    const { at: times, items, seqs } = this;
    const seq = this.pushed++;
    let i = times.length;
    times.push(at);
    items.push(item);
    seqs.push(seq);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.before(parent, at, seq)) break;
      times[i] = times[parent]!;
      items[i] = items[parent]!;
      seqs[i] = seqs[parent]!;
      i = parent;
    }
    times[i] = at;
    items[i] = item;
    seqs[i] = seq;
  }

  /**
   * Removes and returns the earliest item due at or before `now` with its
   * instant, or undefined when none is due. O(log n).
   */
  popDue(now: number): [number, T] | undefined {
    const { at: times, items, seqs } = this;
    if (times.length === 0 || times[0]! > now) return undefined;
    const top: [number, T] = [times[0]!, items[0]!];
    const lastAt = times.pop()!;
    const lastItem = items.pop()!;
    const lastSeq = seqs.pop()!;
    const n = times.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= n) break;
        const right = left + 1;
        const child = right < n && this.before(right, times[left]!, seqs[left]!) ? right : left;
        if (!this.before(child, lastAt, lastSeq)) break;
        times[i] = times[child]!;
        items[i] = items[child]!;
        seqs[i] = seqs[child]!;
        i = child;
      }
      times[i] = lastAt;
      items[i] = lastItem;
      seqs[i] = lastSeq;
    }
    return top;
  }
}
