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
    const seq = this.pushed++;
    let i = this.at.length;
    this.at.push(at);
    this.items.push(item);
    this.seqs.push(seq);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.before(parent, at, seq)) break;
      this.move(parent, i);
      i = parent;
    }
    this.place(i, at, item, seq);
  }

  /**
   * Removes and returns the earliest item due at or before `now` with its
   * instant, or undefined when none is due. O(log n).
   */
  popDue(now: number): [number, T] | undefined {
    if (this.at.length === 0 || this.at[0]! > now) return undefined;
    const top: [number, T] = [this.at[0]!, this.items[0]!];
    const lastAt = this.at.pop()!;
    const lastItem = this.items.pop()!;
    const lastSeq = this.seqs.pop()!;
    const n = this.at.length;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && this.before(right, this.at[left]!, this.seqs[left]!) ? right : left;
      if (!this.before(child, lastAt, lastSeq)) break;
      this.move(child, i);
      i = child;
    }
    this.place(i, lastAt, lastItem, lastSeq);
    return top;
  }

  private move(from: number, to: number): void {
    this.at[to] = this.at[from]!;
    this.items[to] = this.items[from]!;
    this.seqs[to] = this.seqs[from]!;
  }

  private place(i: number, at: number, item: T, seq: number): void {
    this.at[i] = at;
    this.items[i] = item;
    this.seqs[i] = seq;
  }
}
