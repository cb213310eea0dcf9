/**
 * The store-wide circuit indexes (lua/includes/indexes.lua) as this replica
 * uses them: the count of circuits (the breakerbox_circuits gauge and, in
 * Cluster mode, the cap), candidate names for a listing in name order, and
 * the start-up backfill of circuits that predate the indexes.
 *
 * Single server and Sentinel: the scripts that create and change circuits
 * keep the indexes in the same step, so counts and pages are exact and cost
 * what they return. Cluster mode: a script reaches only its circuit's slot,
 * so there are no indexes; the count is a SCAN of every master, made at most
 * every CLUSTER_COUNT_MS in the background, and listings fall back to SCAN
 * (circuit-names.ts). docs/design.md §Stores states the guarantees.
 */
import type { Cluster, Redis } from "ioredis";
import type { State } from "../../engine/index.js";
import type { KeySpace } from "./keys.js";
import type { IndexCommand } from "./scripts.js";
import type { Guard } from "./unavailable.js";

/** Cluster mode: how old this replica's circuit count may get before a new SCAN is started. */
export const CLUSTER_COUNT_MS = 30_000;
/** Circuits the start-up backfill indexes per round trip. */
const BACKFILL_BATCH = 500;

/** A page of names that may be in a listing, in name order. */
export interface CandidatePage {
  names: string[];
  /** The last name the index looked at: the next page starts after it. */
  last: string;
  /** True when no name follows `last` in the index. */
  done: boolean;
}

export interface CircuitIndex {
  /** Single server / Sentinel: whether the indexes exist (not in Cluster mode). */
  readonly indexed: boolean;
  /**
   * Adds the circuits that predate the indexes, once per Redis data set (a
   * marker key says it was done): SCAN, one small script per circuit. Not in
   * Cluster mode.
   */
  backfill(): Promise<void>;
  /** The circuits Redis holds: from the index (exact), or in Cluster mode this replica's latest count (at most CLUSTER_COUNT_MS old). */
  count(): Promise<number>;
  /** Cluster mode: whether the latest count reached `maxCircuits`; starts a recount when it is old. False with no cap. */
  full(): boolean;
  /**
   * Up to `want` names under `prefix` after `after` that may be in `state`
   * (undefined: any), in name order. Never leaves out a circuit that is in
   * `state`; may include some that are not, and names of circuits Redis just
   * expired (the caller reads each one). Not in Cluster mode.
   */
  candidates(prefix: string, after: string | undefined, state: State | undefined, want: number): Promise<CandidatePage>;
}

export interface CircuitIndexOptions {
  client: Redis | Cluster;
  cluster: boolean;
  keys: KeySpace;
  guard: Guard;
  maxCircuits: number | undefined;
  testClock: (() => number) | undefined;
  /** Cluster mode: counts the circuits of every master (SCAN). */
  scanCount: () => Promise<number>;
}

type ScriptFunction = (...args: (string | number)[]) => Promise<unknown>;

/**
 * Which state zsets may hold a circuit a listing by `state` must show: a read
 * applies due transitions, which move OPEN and HALF_OPEN into each other;
 * "closed" walks the names minus every state zset; a circuit whose config
 * says enabled=false shows as DISABLED whatever its stored state, so DISABLED
 * walks every name.
 */
function modeFor(state: State | undefined): { mode: "all" | "sets" | "closed"; sets: string[] } {
  switch (state) {
    case "OPEN":
    case "HALF_OPEN":
      return { mode: "sets", sets: ["OPEN", "HALF_OPEN"] };
    case "FORCED_OPEN":
      return { mode: "sets", sets: ["FORCED_OPEN"] };
    case "CLOSED":
      return { mode: "closed", sets: [] };
    default:
      return { mode: "all", sets: [] };
  }
}

export function createCircuitIndex(options: CircuitIndexOptions): CircuitIndex {
  const { client, cluster, keys, guard } = options;
  const scripts = client as unknown as Record<IndexCommand, ScriptFunction>;
  const clock = (): string => (options.testClock === undefined ? "" : `@${options.testClock()}`);
  let clusterCount: { value: number; at: number } | undefined;
  let counting: Promise<number> | undefined;

  const recount = (): Promise<number> => {
    counting ??= options
      .scanCount()
      .then((value) => {
        clusterCount = { value, at: Date.now() };
        return value;
      })
      .finally(() => (counting = undefined));
    return counting;
  };

  return {
    indexed: !cluster,
    async backfill() {
      if (cluster) return;
      if ((await guard(() => client.exists(keys.indexBuilt))) === 1) return;
      const redis = client as Redis;
      let cursor = "0";
      do {
        const [next, found] = await guard(() => redis.scan(cursor, "MATCH", keys.scanPattern(""), "COUNT", BACKFILL_BATCH));
        cursor = next;
        const names = found.map((key) => keys.circuitOf(key)).filter((n): n is string => n !== undefined);
        await guard(() =>
          Promise.all(names.map((name) => scripts.bbIndexCircuit.call(client, 1 + keys.indexes.length, keys.circuit(name).circuit, ...keys.indexes, name, clock(), ""))),
        );
      } while (cursor !== "0");
      await guard(() => redis.set(keys.indexBuilt, "1"));
    },
    async count() {
      if (!cluster) return Number(await guard(() => scripts.bbIndexCount.call(client, keys.indexes.length, ...keys.indexes, clock(), "")));
      if (clusterCount !== undefined && Date.now() - clusterCount.at < CLUSTER_COUNT_MS) return clusterCount.value;
      return guard(recount);
    },
    full() {
      if (options.maxCircuits === undefined) return false;
      if (clusterCount === undefined || Date.now() - clusterCount.at >= CLUSTER_COUNT_MS) void recount().catch(() => undefined);
      return clusterCount !== undefined && clusterCount.value >= options.maxCircuits;
    },
    async candidates(prefix, after, state, want) {
      // Names are ASCII (CIRCUIT_NAME_RE): byte order is string order, and "\xff" follows every name under the prefix.
      const min = after !== undefined && after >= prefix ? `(${after}` : prefix === "" ? "-" : `[${prefix}`;
      const max = prefix === "" ? "+" : `[${prefix}\xff`;
      const { mode, sets } = modeFor(state);
      const reply = (await guard(() =>
        scripts.bbIndexPage.call(client, keys.indexes.length, ...keys.indexes, mode, min, max, want, ...sets),
      )) as (string | number)[];
      const [done, last, ...names] = reply;
      return { done: done === 1, last: String(last), names: names.map(String) };
    },
  };
}
