/**
 * Finds circuits by name: those that exist (single server and Sentinel: from
 * the name index, lua/includes/indexes.lua, a page of ZRANGEBYLEX at a time;
 * Cluster mode: SCAN of their main hashes on every master) or those with
 * stored settings (SCAN of their explicit-settings hashes, which never
 * expire). Off the hot path: List in Cluster mode, Watch snapshots and
 * Configure of a pattern.
 */
import type { Cluster, Redis } from "ioredis";
import { globMatches } from "../../engine/index.js";
import type { KeySpace } from "./keys.js";
import type { Guard } from "./unavailable.js";

/** Which keys name a circuit: its main hash (it exists) or its stored settings. */
export type CircuitKeyKind = "circuit" | "explicit";

export interface CircuitNames {
  /** Names starting with `prefix`, unordered. */
  withPrefix(prefix: string, kind: CircuitKeyKind): Promise<string[]>;
  /** Names the glob `pattern` matches, unordered. */
  matching(pattern: string, kind: CircuitKeyKind): Promise<string[]>;
}

/** The literal start of a glob: every name it matches starts with it. */
function globPrefix(pattern: string): string {
  const i = pattern.search(/[*?]/);
  return i < 0 ? pattern : pattern.slice(0, i);
}

/** Names per ZRANGEBYLEX of the name index. */
const INDEX_PAGE = 1000;

export function createCircuitNames(client: Redis | Cluster, cluster: boolean, keys: KeySpace, guard: Guard): CircuitNames {
  const fromIndex = async (prefix: string): Promise<string[]> => {
    // Names are ASCII (CIRCUIT_NAME_RE): "\xff" follows every name under the prefix.
    const max = prefix === "" ? "+" : `[${prefix}\xff`;
    const names: string[] = [];
    let min = prefix === "" ? "-" : `[${prefix}`;
    for (;;) {
      const page = await guard(() => (client as Redis).zrangebylex(keys.indexes[0]!, min, max, "LIMIT", 0, INDEX_PAGE));
      names.push(...page);
      if (page.length < INDEX_PAGE) return names;
      min = `(${page[page.length - 1]!}`;
    }
  };
  const withPrefix = async (prefix: string, kind: CircuitKeyKind): Promise<string[]> => {
    if (kind === "circuit" && !cluster) return fromIndex(prefix);
    const match = kind === "circuit" ? keys.scanPattern(prefix) : keys.explicitScanPattern(prefix);
    const nodes = "nodes" in client && cluster ? (client as Cluster).nodes("master") : [client as Redis];
    const names = new Set<string>();
    for (const node of nodes) {
      let cursor = "0";
      do {
        const [next, found] = await guard(() => node.scan(cursor, "MATCH", match, "COUNT", 1000));
        cursor = next;
        for (const key of found) {
          const name = kind === "circuit" ? keys.circuitOf(key) : keys.circuitOfExplicit(key);
          if (name !== undefined) names.add(name);
        }
      } while (cursor !== "0");
    }
    return [...names];
  };
  return {
    withPrefix,
    matching: async (pattern, kind) => (await withPrefix(globPrefix(pattern), kind)).filter((name) => globMatches(pattern, name)),
  };
}
