/**
 * Keeps a repeated log line from flooding the log: a misconfigured agent
 * that sends a bad key or a bad circuit name at a thousand calls a second,
 * or every call during a store outage, should cost one line per interval,
 * not one per call.
 */

/** Options of {@link LogThrottle}. */
export interface LogThrottleOptions {
  /** Lines with the same key are logged at most once per this many ms. */
  intervalMs: number;
  /**
   * Most distinct keys remembered; past it the memory starts over, so a
   * stream of ever-new keys costs bounded memory (and is logged in full).
   * Default 1000.
   */
  maxKeys?: number;
  /** Clock, for tests. Default Date.now. */
  now?: () => number;
}

/**
 * Decides per occurrence whether to log it. The first occurrence of a key is
 * logged; later ones within the interval are held back and counted; the
 * first one after the interval is logged again, with that count.
 */
export class LogThrottle {
  private readonly seen = new Map<string, { at: number; held: number }>();
  private readonly intervalMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(options: LogThrottleOptions) {
    this.intervalMs = options.intervalMs;
    this.maxKeys = options.maxKeys ?? 1000;
    this.now = options.now ?? Date.now;
  }

  /**
   * Undefined when this occurrence of `key` should not be logged; otherwise
   * how many occurrences were held back since the key was last logged.
   */
  admit(key: string): number | undefined {
    const at = this.now();
    const entry = this.seen.get(key);
    if (entry !== undefined && at - entry.at < this.intervalMs) {
      entry.held += 1;
      return undefined;
    }
    if (entry === undefined && this.seen.size >= this.maxKeys) this.seen.clear();
    this.seen.set(key, { at, held: 0 });
    return entry?.held ?? 0;
  }
}
