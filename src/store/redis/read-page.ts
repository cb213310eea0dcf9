/**
 * Reads of many circuits at once, for ListCircuits pages and Watch snapshots:
 * on a single server or Sentinel, one read-page.lua call per READ_PAGE_BATCH
 * circuits, each circuit read exactly as get() reads it (read.lua's rules,
 * this replica's config for it, its transitions handed to listeners). Most of
 * a one-circuit read's cost is the script call and its set-up, so a page of
 * 100 in one call costs a fraction of 100 calls, and the batch bounds how long
 * one call holds Redis. A circuit whose settings this replica had stale is
 * read again alone (get() adopts them and retries). In Cluster mode the
 * circuits are in different slots: one get() each, all in flight together.
 */
import type { CircuitView } from "../store.js";
import type { CircuitCall } from "./script-client.js";
import type { StaleConfig, ViewReply } from "./script-replies.js";
import type { VersionedConfig } from "./settings-cache.js";

/** Circuits per read-page.lua call: ~100 circuit reads, a millisecond or two of Redis. */
export const READ_PAGE_BATCH = 100;

export interface PageReadSource {
  cluster: boolean;
  /** read-page.lua (script-client.ts readPage). */
  readPage(calls: readonly CircuitCall[]): Promise<(ViewReply | StaleConfig)[]>;
  /** This replica's config for the circuit and the settings version it rests on. */
  resolved(name: string): VersionedConfig;
  /** One circuit's read, retrying with the stored settings after a stale answer (RedisStore.get). */
  get(name: string): Promise<CircuitView | undefined>;
  /** Hands a read's transitions to listeners and makes its view, as get() does. */
  found(name: string, reply: Extract<ViewReply, { kind: "view" }>, resolved: VersionedConfig): Promise<CircuitView>;
  /** The circuit is gone: drop what this replica cached of it, as get() does. */
  missing(name: string): void;
}

/** The views of `names`, in their order; undefined for a circuit that does not exist. */
export async function readViews(source: PageReadSource, names: readonly string[]): Promise<(CircuitView | undefined)[]> {
  if (source.cluster) return Promise.all(names.map((name) => source.get(name)));
  const batches: Promise<(CircuitView | undefined)[]>[] = [];
  for (let from = 0; from < names.length; from += READ_PAGE_BATCH) batches.push(readBatch(source, names.slice(from, from + READ_PAGE_BATCH)));
  return (await Promise.all(batches)).flat();
}

async function readBatch(source: PageReadSource, names: readonly string[]): Promise<(CircuitView | undefined)[]> {
  const resolved = names.map((name) => source.resolved(name));
  const replies = await source.readPage(names.map((name, i) => ({ name, config: resolved[i]!.config, version: resolved[i]!.version })));
  return Promise.all(
    replies.map(async (reply, i) => {
      const name = names[i]!;
      if (reply.kind === "stale") return source.get(name);
      if (reply.kind === "missing") {
        source.missing(name);
        return undefined;
      }
      return source.found(name, reply, resolved[i]!);
    }),
  );
}
