/**
 * Circuit names kept in order, for the memory store's listings: a page
 * starts at its cursor and reads on, instead of copying and sorting every
 * name. Blocks of sorted arrays (each at most MAX_BLOCK names, split when
 * full, dropped when empty): add and delete cost a binary search plus a
 * splice of one block, so adding a name moves at most MAX_BLOCK entries
 * whatever the store's size (a single sorted array moves half of it on
 * average: 1.7 µs against 0.7 µs per insert at a million names, and growing;
 * docs/benchmarks.md).
 *
 * Order is JavaScript string order (UTF-16 code units), what `<` and sort()
 * use, so a listing stays in the order it always had.
 */

const MAX_BLOCK = 1024;

/** First index in sorted `a` whose item is greater than `s` (`orEqual`: not less than). */
function bound(a: readonly string[], s: string, orEqual: boolean): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const item = a[mid]!;
    if (item < s || (!orEqual && item === s)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A set of names iterated in order from any point. */
export class SortedNames {
  /** Non-empty blocks, each sorted, every name of a block below every name of the next. */
  private blocks: string[][] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The block that holds or would hold `name`: the first whose last name is not below it (or the last block). */
  private blockFor(name: string): number {
    let lo = 0;
    let hi = this.blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.blocks[mid]!.at(-1)! < name) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  has(name: string): boolean {
    if (this.blocks.length === 0) return false;
    const block = this.blocks[this.blockFor(name)]!;
    return block[bound(block, name, true)] === name;
  }

  /** Adds `name`; answers false when it was there. */
  add(name: string): boolean {
    if (this.blocks.length === 0) {
      this.blocks.push([name]);
      this.count = 1;
      return true;
    }
    const b = this.blockFor(name);
    const block = this.blocks[b]!;
    const i = bound(block, name, true);
    if (block[i] === name) return false;
    block.splice(i, 0, name);
    this.count += 1;
    if (block.length > MAX_BLOCK) this.blocks.splice(b + 1, 0, block.splice(MAX_BLOCK >>> 1));
    return true;
  }

  /** Removes `name`; answers false when it was not there. */
  delete(name: string): boolean {
    if (this.blocks.length === 0) return false;
    const b = this.blockFor(name);
    const block = this.blocks[b]!;
    const i = bound(block, name, true);
    if (block[i] !== name) return false;
    block.splice(i, 1);
    this.count -= 1;
    if (block.length === 0) this.blocks.splice(b, 1);
    return true;
  }

  clear(): void {
    this.blocks = [];
    this.count = 0;
  }

  /**
   * The names after `after` (all when undefined) that start with `prefix`,
   * in order. Starts at max(after, prefix) by binary search and stops at the
   * first name past the prefix. Do not add or delete while iterating.
   */
  *from(prefix: string, after: string | undefined): Generator<string> {
    const exclusive = after !== undefined && after >= prefix;
    const start = exclusive ? after : prefix;
    if (this.blocks.length === 0) return;
    for (let b = this.blockFor(start), i = bound(this.blocks[b]!, start, !exclusive); b < this.blocks.length; b++, i = 0) {
      const block = this.blocks[b]!;
      for (; i < block.length; i++) {
        const name = block[i]!;
        if (!name.startsWith(prefix)) return;
        yield name;
      }
    }
  }
}

/**
 * A Map by circuit name that also keeps its keys in order (SortedNames), for
 * listings that page by name. A key deleted from the map is also deleted from
 * the `linked` subsets (e.g. the names of circuits in some state), so no
 * subset outlives the map's entry whichever code path removed it.
 */
export class SortedKeyMap<V> extends Map<string, V> {
  readonly sortedKeys = new SortedNames();

  constructor(private readonly linked: readonly SortedNames[] = []) {
    super();
  }

  override set(key: string, value: V): this {
    // Map's constructor calls set before the field initialiser runs, with no entries to add.
    this.sortedKeys?.add(key);
    return super.set(key, value);
  }

  override delete(key: string): boolean {
    this.sortedKeys.delete(key);
    for (const subset of this.linked) subset.delete(key);
    return super.delete(key);
  }

  override clear(): void {
    this.sortedKeys.clear();
    for (const subset of this.linked) subset.clear();
    super.clear();
  }
}
