/**
 * This replica's local view of circuits, for Acquire on a CLOSED circuit
 * without a round trip to Redis.
 *
 * A view is fresh while it was confirmed by Redis (a script reply or an
 * event) less than VIEW_TTL_MS ago and the event reader is current. Every
 * transition reaches the view through the stream within milliseconds, so a
 * replica may hand out CLOSED permits for at most that long after the
 * circuit opened elsewhere; their reports are from an older generation and
 * drive nothing. Half-open probes and every Report always go to Redis.
 */
import { type CircuitConfig, type State, circuitHash, encodePermit } from "../../engine/index.js";
import type { AcquireDecision } from "../store.js";
import { BoundedMap, REPLICA_CACHE_ENTRIES } from "./bounded-map.js";
import type { ScriptEvent } from "./script-replies.js";

/** How long a confirmation from Redis lets this replica grant CLOSED permits alone. */
export const VIEW_TTL_MS = 1000;
/** The event reader must have heard from Redis this recently for the view to count. */
export const FEED_CURRENT_MS = 1500;

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
}

/** The views of one replica, and its single-flight Acquires to Redis. */
export interface LocalViews {
  /**
   * Decides an Acquire: granted from the view when it is fresh and CLOSED,
   * else by `remote`. When a view expires, every Acquire in flight would go
   * to Redis at once: the first runs `remote`, the others wait for it and try
   * the view again.
   */
  acquire(name: string, nonce: string, configOf: (name: string) => CircuitConfig, remote: () => Promise<AcquireDecision>): Promise<AcquireDecision>;
  /** Redis said, at store time `now`, that the circuit is in `phase` at `generation` (an Acquire reply). */
  confirm(name: string, phase: State, generation: number, now: number): void;
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
  /** Redis TIME minus Date.now(), learned from Acquire replies. */
  let skewMs = 0;

  const storeNow = (): number => (options.testClock !== undefined ? options.testClock() : Date.now() + skewMs);

  /** Records what Redis said of a circuit, unless the view already knows a later generation. */
  const see = (name: string, view: LocalView): void => {
    const known = views.get(name);
    if (known !== undefined && known.generation > view.generation) return;
    views.set(name, view);
  };

  /** The CLOSED grant of the engine's acquire(), made from a fresh view; undefined when Redis must decide. */
  const grantLocally = (name: string, nonce: string, configOf: (name: string) => CircuitConfig): AcquireDecision | undefined => {
    const view = views.get(name);
    if (view === undefined || view.phase !== "CLOSED" || !options.feedIsCurrent(FEED_CURRENT_MS)) return undefined;
    const now = storeNow();
    if (now < view.confirmedAt || now - view.confirmedAt >= VIEW_TTL_MS) return undefined;
    const config = configOf(name);
    const permit = encodePermit({
      circuitHash: view.hash,
      generation: view.generation,
      kind: config.enabled ? "closed" : "disabled",
      expiresAt: now + config.permitTtlMs,
      nonce,
    });
    return { allowed: true, permit, state: config.enabled ? "CLOSED" : "DISABLED", retryAfterMs: 0, shadowDenied: false };
  };

  return {
    async acquire(name, nonce, configOf, remote) {
      const local = grantLocally(name, nonce, configOf);
      if (local !== undefined) return local;
      const pending = acquiring.get(name);
      if (pending !== undefined) {
        await pending.catch(() => undefined);
        const again = grantLocally(name, nonce, configOf);
        if (again !== undefined) return again;
      }
      const call = remote();
      acquiring.set(name, call);
      try {
        return await call;
      } finally {
        if (acquiring.get(name) === call) acquiring.delete(name);
      }
    },
    confirm(name, phase, generation, now) {
      skewMs = now - Date.now();
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
