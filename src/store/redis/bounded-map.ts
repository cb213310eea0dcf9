/**
 * A Map with at most `max` entries, for the Redis store's per-circuit caches
 * (local views, settings, resolved configs): agents choose circuit names, so
 * a replica must not keep one entry per name it ever saw. Setting a key makes
 * it the newest; past `max` the oldest set entry is dropped (least recently
 * written; reads do not reorder, so the hot path's lookups stay a plain Map
 * get), and sweep() drops the entries set before a cutoff, oldest first, so
 * a circuit nobody uses any more (Redis expired it) leaves nothing behind. A
 * dropped entry is only a cache miss: the caller rebuilds it from Redis or
 * the config.
 */

/** Entries each per-circuit cache of a Redis replica holds at most, unless the store is told otherwise. */
export const REPLICA_CACHE_ENTRIES = 100_000;
/** A cache entry not set again for this long is dropped by the store's periodic sweep. */
export const REPLICA_CACHE_IDLE_MS = 60_000;

export class BoundedMap<K, V> extends Map<K, V> {
  /** When each key was last set (Date.now); the Map's own order is the same, oldest first. */
  private readonly setAt = new Map<K, number>();
  /**
   * A live iterator over the keys, just past the last one dropped as oldest.
   * Everything before it was dropped, so the next live key is the oldest. A
   * fresh keys() iterator each time would walk over every slot deleted since
   * the table was last compacted (a V8 Map keeps deleted slots until then):
   * past `max`, each set() then cost up to `max` steps.
   */
  private oldest: IterableIterator<K> | undefined;

  constructor(readonly max: number) {
    super();
    if (!(Number.isInteger(max) && max >= 1)) throw new RangeError(`BoundedMap max must be a positive integer, got ${max}`);
  }

  override set(key: K, value: V): this {
    // Map's constructor runs before the fields are set, with nothing to add.
    if (this.setAt === undefined) return super.set(key, value);
    this.delete(key);
    super.set(key, value);
    this.setAt.set(key, Date.now());
    if (this.size > this.max) this.dropOldest();
    return this;
  }

  private dropOldest(): void {
    let next = this.oldest?.next();
    // Done (it passed the end): the iterator stays done, so start another; it begins at the oldest key.
    if (next === undefined || next.done === true) {
      this.oldest = super.keys();
      next = this.oldest.next();
    }
    if (next.done !== true) this.delete(next.value);
  }

  override delete(key: K): boolean {
    this.setAt.delete(key);
    return super.delete(key);
  }

  override clear(): void {
    this.setAt.clear();
    this.oldest = undefined;
    super.clear();
  }

  /** Drops the entries last set before `cutoff` (Date.now ms); costs one step per entry dropped. */
  sweep(cutoff: number): void {
    for (const [key, at] of this.setAt) {
      if (at >= cutoff) return;
      this.delete(key);
    }
  }
}
