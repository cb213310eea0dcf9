/**
 * This replica's local view of circuits, for Acquire on a CLOSED circuit
 * without a round trip to Redis.
 *
 * The bound, and why it holds however late a reply is read: a view says the
 * circuit was CLOSED at some store time c (the transition an event reports,
 * or the moment an Acquire script ran), and it is used only while this
 * replica's estimate of the store's time is less than VIEW_TTL_MS past c.
 * The estimate never runs behind Redis: it is this machine's monotonic clock
 * plus the offset learned from the last Acquire reply, taken as the reply's
 * Redis TIME minus the moment the request was SENT (the script ran after
 * that, so the offset can only be overestimated; a reply read late makes
 * views look older, never younger). A circuit that opened elsewhere opened
 * after c, so this replica stops granting CLOSED permits for it at most
 * VIEW_TTL_MS after it opened, usually far sooner (the transition reaches
 * the view through the stream within milliseconds). The offset is trusted
 * for SKEW_TRUST_MS after the request that taught it was sent, so clock-rate
 * differences add at most 0.05 % of that (5 ms at NTP's 500 ppm slew limit).
 * The permits granted in that window carry the old generation: their
 * reports drive nothing. Half-open probes and every Report always go to Redis.
 */
import { type CircuitConfig, type State, circuitHash, encodePermit } from "../../engine/index.js";
import type { AcquireDecision } from "../store.js";
import { BoundedMap, REPLICA_CACHE_ENTRIES } from "./bounded-map.js";
import type { ScriptEvent } from "./script-replies.js";
import type { PermitId } from "./permit-streams.js";

/** How long a confirmation from Redis lets this replica grant CLOSED permits alone. */
export const VIEW_TTL_MS = 1000;
/**
 * The event reader must also have heard from Redis this recently for the view
 * to count (it stops local grants early when the stream stalls; the bound
 * above does not depend on it).
 */
export const FEED_CURRENT_MS = 1500;
/** How long the store-time offset learned from one Acquire reply is trusted; then the next Acquire goes to Redis. */
export const SKEW_TRUST_MS = 10_000;

/** What this replica knows of a circuit, and since when. */
interface LocalView {
  /** The stored state (not the visible one: enabled=false is applied at grant time). */
  phase: State;
  generation: number;
  /** Store time of the confirmation. */
  confirmedAt: number;
  /** circuitHash(name), kept so a local grant does not recompute it. */
  hash: string;
}

export interface LocalViewsOptions {
  /** Views kept at most (least recently confirmed dropped first). Default REPLICA_CACHE_ENTRIES. */
  maxEntries?: number;
  /** True when the event reader has heard from Redis within `ms`. */
  feedIsCurrent: (ms: number) => boolean;
  /** Replaces the store's clock (tests only). */
  testClock: (() => number) | undefined;
  /** This machine's monotonic clock in ms (tests inject one). Default performance.timeOrigin + performance.now(). */
  localClock?: () => number;
}

/** The views of one replica, and its single-flight Acquires to Redis. */
export interface LocalViews {
  /**
   * Decides an Acquire: granted from the view when it is fresh and CLOSED,
   * else by `remote`. When a view expires, every Acquire in flight would go
   * to Redis at once: the first runs `remote`, the others wait for it and try
   * the view again. `remote` is handed the local clock's reading taken
   * before the request is sent, for confirm().
   */
  acquire(
    name: string,
    id: PermitId,
    configOf: (name: string) => CircuitConfig,
    remote: (sentAt: number) => Promise<AcquireDecision>,
  ): Promise<AcquireDecision>;
  /**
   * Redis said, at store time `now`, that the circuit is in `phase` at
   * `generation` (an Acquire reply to the request sent at local time `sentAt`).
   */
  confirm(name: string, phase: State, generation: number, now: number, sentAt: number): void;
  /** A transition, from a script reply or the stream. */
  learn(event: ScriptEvent): void;
  /** Drops one circuit's view (its settings changed, or Redis no longer holds it), or every view (the rules changed). */
  forget(name?: string): void;
  /** Drops the views not confirmed since `cutoff` (Date.now ms): long useless for a grant, and their circuit may be gone. */
  sweep(cutoff: number): void;
  /** How many views this replica holds (tests: the bound holds). */
  readonly size: number;
}

export function createLocalViews(options: LocalViewsOptions): LocalViews {
  // Bounded: one entry per circuit name any agent ever used would grow without end.
  const views = new BoundedMap<string, LocalView>(options.maxEntries ?? REPLICA_CACHE_ENTRIES);
  /** The Acquire this replica has in flight in Redis, per circuit. */
  const acquiring = new Map<string, Promise<unknown>>();
  const localNow = options.localClock ?? ((): number => performance.timeOrigin + performance.now());
  /** An upper bound of Redis TIME minus localNow(), from the last Acquire reply; undefined before the first. */
  let skewMs: number | undefined;
  /** When the request that taught skewMs was sent (local clock). */
  let skewSentAt = 0;

  /** The store's time, never behind Redis; undefined while no trusted offset is known (then Redis decides). */
  const storeNow = (): number | undefined => {
    if (options.testClock !== undefined) return options.testClock();
    const local = localNow();
    if (skewMs === undefined || local - skewSentAt >= SKEW_TRUST_MS) return undefined;
    // Whole ms, as Redis TIME and permits have them; rounded up, never behind.
    return Math.ceil(local + skewMs);
  };

  /**
   * Records what Redis said of a circuit unless the view knows something
   * later, ordered by Redis time, then generation: an answer from an earlier
   * time is a reply or event read late; one from a later time with a lower
   * generation is a circuit created anew (it expired idle, or Redis lost its
   * data), which must replace the old view, or every Acquire would go to Redis.
   */
  const see = (name: string, view: LocalView): void => {
    const known = views.get(name);
    if (known !== undefined && (view.confirmedAt < known.confirmedAt || (view.confirmedAt === known.confirmedAt && view.generation < known.generation))) return;
    views.set(name, view);
  };

  /** The CLOSED grant of the engine's acquire(), made from a fresh view; undefined when Redis must decide. */
  const grantLocally = (name: string, id: PermitId, configOf: (name: string) => CircuitConfig): AcquireDecision | undefined => {
    const view = views.get(name);
    if (view === undefined || view.phase !== "CLOSED" || !options.feedIsCurrent(FEED_CURRENT_MS)) return undefined;
    const now = storeNow();
    if (now === undefined || now < view.confirmedAt || now - view.confirmedAt >= VIEW_TTL_MS) return undefined;
    const config = configOf(name);
    const permit = encodePermit({
      circuitHash: view.hash,
      generation: view.generation,
      kind: config.enabled ? "closed" : "disabled",
      expiresAt: now + config.permitTtlMs,
      stream: id.stream,
      seq: id.seq,
    });
    return { allowed: true, permit, state: config.enabled ? "CLOSED" : "DISABLED", retryAfterMs: 0, shadowDenied: false };
  };

  return {
    async acquire(name, id, configOf, remote) {
      const local = grantLocally(name, id, configOf);
      if (local !== undefined) return local;
      const pending = acquiring.get(name);
      if (pending !== undefined) {
        await pending.catch(() => undefined);
        const again = grantLocally(name, id, configOf);
        if (again !== undefined) return again;
      }
      const call = remote(localNow());
      acquiring.set(name, call);
      try {
        return await call;
      } finally {
        if (acquiring.get(name) === call) acquiring.delete(name);
      }
    },
    confirm(name, phase, generation, now, sentAt) {
      // The script ran at or after sentAt; TIME is whole ms (floored), hence + 1.
      skewMs = now + 1 - sentAt;
      skewSentAt = sentAt;
      see(name, { phase, generation, confirmedAt: now, hash: circuitHash(name) });
    },
    learn(e) {
      see(e.circuit, { phase: e.to, generation: e.generation, confirmedAt: e.at, hash: circuitHash(e.circuit) });
    },
    forget(name) {
      if (name === undefined) views.clear();
      else views.delete(name);
    },
    sweep: (cutoff) => views.sweep(cutoff),
    get size() {
      return views.size;
    },
  };
}
