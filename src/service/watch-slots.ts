/**
 * The Watch stream limits of one replica: at most `maxStreams` long-lived
 * streams in all (CircuitService.Watch and grpc.health.v1 Health.Watch
 * together: both hold a stream and a task for as long as the client likes),
 * and, when API keys are configured, at most `maxPerKey` CircuitService.Watch
 * streams per key, so one key cannot take every stream of the replica.
 */
import { ResourceExhaustedError } from "./errors.js";

/** Limits of {@link WatchSlots}. */
export interface WatchSlotLimits {
  /** Streams open at once on the replica (BREAKERBOX_MAX_WATCH_STREAMS). */
  maxStreams: number;
  /**
   * Streams open at once per API key (BREAKERBOX_MAX_WATCH_STREAMS_PER_KEY).
   * Undefined: no per-key limit (access control off: every caller is the same
   * anonymous one, and the replica limit is the only bound).
   */
  maxPerKey?: number;
}

export class WatchSlots {
  private open = 0;
  private readonly perKey = new Map<string, number>();

  constructor(private readonly limits: WatchSlotLimits) {}

  /** Streams holding a slot now. */
  get size(): number {
    return this.open;
  }

  /**
   * Takes a slot for a stream of `key` (an API key's name; undefined for a
   * stream no key opened, e.g. Health.Watch, which counts only against the
   * replica limit). Answers the release function (idempotent). Throws
   * ResourceExhaustedError `too_many_watchers`, scope `replica` or `key`,
   * when a limit is reached; nothing is taken then.
   */
  take(key: string | undefined): () => void {
    const { maxStreams, maxPerKey } = this.limits;
    if (this.open >= maxStreams) {
      throw new ResourceExhaustedError(
        "too_many_watchers",
        maxStreams,
        `too many Watch streams on this replica (${maxStreams}, BREAKERBOX_MAX_WATCH_STREAMS); close unused streams or watch with a prefix`,
        "replica",
      );
    }
    const counted = key !== undefined && maxPerKey !== undefined ? key : undefined;
    if (counted !== undefined && (this.perKey.get(counted) ?? 0) >= maxPerKey!) {
      throw new ResourceExhaustedError(
        "too_many_watchers",
        maxPerKey!,
        `too many Watch streams for API key ${JSON.stringify(counted)} (${maxPerKey}, BREAKERBOX_MAX_WATCH_STREAMS_PER_KEY); close unused streams or share one`,
        "key",
      );
    }
    this.open += 1;
    if (counted !== undefined) this.perKey.set(counted, (this.perKey.get(counted) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.open -= 1;
      if (counted === undefined) return;
      const left = (this.perKey.get(counted) ?? 1) - 1;
      if (left === 0) this.perKey.delete(counted);
      else this.perKey.set(counted, left);
    };
  }
}
