/**
 * Redis key names, in one place. Every key of a circuit carries the hash tag
 * `{<circuit>}`, so a command script touches one Cluster slot.
 *
 *   <prefix>{<circuit>}       hash    the circuit (state, counters, window)
 *   <prefix>{<circuit>}:p     zset    outstanding half-open probes → expiry ms
 *   <prefix>{<circuit>}:r     zset    legacy permits (5-field body) already reported → expiry ms
 *                                     + outcome / 8; goes with them in a later release
 *   <prefix>{<circuit>}:w:<stream>  string  which permits of one issuing stream were reported:
 *                                     highest seq + 1 (i64), then 4-bit outcome slots
 *                                     (lua/includes/permit-window.lua); expires with the
 *                                     latest permit recorded in it
 *   <prefix>{<circuit>}:h     list    history, newest first (JSON entries, each with its
 *                                     position life/seq: lua/includes/history.lua)
 *   <prefix>{<circuit>}:x     hash    explicit settings {v: version, s: JSON}; never expires
 *   <prefix>{<circuit>}:rm    string  set while the circuit's idle expiry is being announced
 *                                     (lua/announce-removal.lua); expires after idle TTL / 2
 *   <prefix>events            stream  every transition, config change and idle removal, for Watch and logs
 *   <prefix>rules             hash    runtime pattern rules {v: version, s: JSON list}, and the
 *                                     data epoch {epoch: random id} (data-epoch.ts); never expires
 *   <prefix>rules-changed     pub/sub channel: a replica changed the rules
 *   <prefix>permit-secret     string  the shared permit secret when none is configured
 *                                     (permit-secret.ts); never expires
 *
 * The store-wide circuit indexes (lua/includes/indexes.lua), single server and
 * Sentinel only (a Cluster script reaches only its circuit's slot):
 *   <prefix>idx:names         zset    every circuit, score 0 (ZRANGEBYLEX pages by name)
 *   <prefix>idx:expiry        zset    every circuit → when Redis expires it, ms (+inf: never);
 *                                     the circuit count and the cap read it
 *   <prefix>idx:<STATE>       zset    circuits whose stored state is OPEN, HALF_OPEN,
 *                                     FORCED_OPEN or DISABLED, score 0
 *   <prefix>idx:built         string  set once the circuits that predate the indexes were
 *                                     added to them (circuit-index.ts backfill)
 */

export interface CircuitKeys {
  circuit: string;
  probes: string;
  reported: string;
  /** Prefix of the circuit's permit-window keys: + the stream id. */
  window: string;
  history: string;
  explicit: string;
  removalMarker: string;
}

export interface KeySpace {
  prefix: string;
  circuit(name: string): CircuitKeys;
  events: string;
  rules: string;
  rulesChannel: string;
  permitSecret: string;
  /** The store-wide index keys, in the order lua/includes/indexes.lua reads them: names, expiry, then the state zsets. */
  indexes: readonly string[];
  /** Set once the start-up backfill has indexed every circuit that predates the indexes. */
  indexBuilt: string;
  /** SCAN pattern for the main hashes of circuits whose names start with `namePrefix`. */
  scanPattern(namePrefix: string): string;
  /** The circuit name of a main-hash key, or undefined for other keys. */
  circuitOf(key: string): string | undefined;
  /** SCAN pattern for the explicit-settings hashes of circuits whose names start with `namePrefix`. */
  explicitScanPattern(namePrefix: string): string;
  /** The circuit name of an explicit-settings key, or undefined for other keys. */
  circuitOfExplicit(key: string): string | undefined;
}

/** The stored states with an index zset of their own (CLOSED is the rest); order as lua/includes/indexes.lua reads them. */
export const INDEXED_STATES = ["OPEN", "HALF_OPEN", "FORCED_OPEN", "DISABLED"] as const;

/** Glob metacharacters of SCAN MATCH, escaped so a name prefix matches literally. */
function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, "\\$&");
}

/** The key space under `prefix` (default "bb:"). Several Breakerbox deployments can share a Redis with distinct prefixes. */
export function createKeySpace(prefix = "bb:"): KeySpace {
  const escaped = prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const mainKey = new RegExp(`^${escaped}\\{(.+)\\}$`);
  const explicitKey = new RegExp(`^${escaped}\\{(.+)\\}:x$`);
  return {
    prefix,
    circuit(name) {
      const base = `${prefix}{${name}}`;
      return { circuit: base, probes: `${base}:p`, reported: `${base}:r`, window: `${base}:w:`, history: `${base}:h`, explicit: `${base}:x`, removalMarker: `${base}:rm` };
    },
    events: `${prefix}events`,
    rules: `${prefix}rules`,
    rulesChannel: `${prefix}rules-changed`,
    permitSecret: `${prefix}permit-secret`,
    indexes: ["names", "expiry", ...INDEXED_STATES].map((k) => `${prefix}idx:${k}`),
    indexBuilt: `${prefix}idx:built`,
    scanPattern: (namePrefix) => `${escapeGlob(prefix)}{${escapeGlob(namePrefix)}*}`,
    circuitOf(key) {
      return mainKey.exec(key)?.[1];
    },
    explicitScanPattern: (namePrefix) => `${escapeGlob(prefix)}{${escapeGlob(namePrefix)}*}:x`,
    circuitOfExplicit(key) {
      return explicitKey.exec(key)?.[1];
    },
  };
}
