/**
 * The order of one circuit's transitions, for whoever may receive them out of
 * order (the Redis store in Cluster mode, the metrics state tracker).
 *
 * In Redis Cluster mode the event stream lives in another slot than the circuit, so each
 * replica appends a transition right after its script; two replicas changing
 * one circuit at once can append them the wrong way round (generation 4 in
 * the stream before generation 3). A circuit's transitions are ordered by
 * Redis time (`at`, from the one node holding the circuit), then generation:
 * an entry older than one already handed on for its circuit was overtaken
 * and is passed over, so watchers, local views and the metrics gauge never
 * see a circuit's generation go backwards. A circuit created anew (it
 * expired idle, or Redis lost its data) starts at generation 0 again, but
 * later, so its transitions pass.
 */

/** What orders a transition. */
export interface Ordered {
  circuit: string;
  at: number;
  generation: number;
}

/** True when `a` happened before `b` (the same circuit). */
export function happenedBefore(a: Pick<Ordered, "at" | "generation">, b: Pick<Ordered, "at" | "generation">): boolean {
  return a.at < b.at || (a.at === b.at && a.generation < b.generation);
}

/** The newest transition handed on per circuit, for the most recently active `capacity` circuits. */
export class TransitionOrder {
  private readonly last = new Map<string, { at: number; generation: number }>();

  constructor(private readonly capacity: number) {}

  /**
   * True when `e` may be handed on (nothing later of its circuit was), and
   * then records it; false when it was overtaken. A circuit evicted from the
   * bounded table (no transition among the last `capacity` circuits') is
   * forgotten: by then its overtaken entry, appended a moment after the
   * script, is long read.
   */
  admit(e: Ordered): boolean {
    const known = this.last.get(e.circuit);
    if (known !== undefined && !happenedBefore(known, e)) return false;
    this.last.delete(e.circuit);
    this.last.set(e.circuit, { at: e.at, generation: e.generation });
    if (this.last.size > this.capacity) this.last.delete(this.last.keys().next().value!);
    return true;
  }

  clear(): void {
    this.last.clear();
  }
}
