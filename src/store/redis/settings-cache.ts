/**
 * This replica's copy of the config that lives in Redis: each circuit's
 * explicit settings with their version, the circuits' resolved configs, and
 * the runtime pattern rules with theirs.
 *
 * Explicit settings are checked by version inside every circuit script, so a
 * stale copy is never applied: the script answers staleConfig and the caller
 * adopts the stored settings and retries. Runtime rules change by
 * compare-and-set (set-rules.lua) and reach other replicas by pub/sub
 * (applied within milliseconds), reloaded whenever the subscription comes
 * back, since pub/sub does not replay what was published while away.
 * The rules version only goes up while Redis keeps its data (a reply read
 * late must not bring back older rules); a stored version below the one
 * this replica knows asks for a data-epoch check (data-epoch.ts), whose
 * reset() drops everything here when Redis lost its data.
 */
import type { Cluster, Redis } from "ioredis";
import type { ConfigSettings, ResolvedConfig } from "../../engine/index.js";
import type { ConfigDecisions } from "../config-decisions.js";
import { type PatternRuleRecord, StoreUnavailableError } from "../store.js";
import { BoundedMap, REPLICA_CACHE_ENTRIES } from "./bounded-map.js";
import type { KeySpace } from "./keys.js";
import type { ScriptClient } from "./script-client.js";
import { decodeRuntimeRules, decodeSettings } from "./script-replies.js";

/** A circuit's settings as stored by Configure, and their version (0: never configured). */
export interface StoredSettings {
  version: number;
  settings: ConfigSettings | undefined;
}

/** A resolved config and the explicit-settings version it rests on. */
export type VersionedConfig = ResolvedConfig & { version: number };

export interface SettingsCacheOptions {
  client: Redis | Cluster;
  /** A connection of its own for the rules subscription. */
  subscriber: Redis | Cluster;
  keys: KeySpace;
  decisions: ConfigDecisions;
  scripts: ScriptClient;
  /** A circuit's settings (name) or the rules (undefined) changed: drop what was derived from them. */
  onChange: (name: string | undefined) => void;
  /** Circuits whose settings and resolved config are kept at most (least recently set dropped first). Default REPLICA_CACHE_ENTRIES. */
  maxEntries?: number;
  /** The stored rules version is below the one this replica knows: resolves once Redis was checked for a loss of its data. */
  onBackwards?: () => Promise<unknown>;
}

export interface SettingsCache {
  /** Loads the rules and subscribes to their changes. */
  start(): Promise<void>;
  /** Redis lost its data: forgets every settings version, resolved config and rule, then loads the rules Redis holds now. */
  reset(): Promise<void>;
  /** Reads the rules from Redis now (a listing must not answer a copy that pub/sub has not refreshed yet). */
  reloadRules(): Promise<void>;
  close(): void;
  /** The runtime rules as this replica knows them, in the order they are consulted. */
  readonly runtimeRules: readonly PatternRuleRecord[];
  /** The circuit's config as this replica knows it (no round trip). */
  resolved(name: string): VersionedConfig;
  /** Reads the circuit's stored settings from Redis (Configure and pattern checks; not the hot path). */
  read(name: string): Promise<StoredSettings>;
  /** Takes the settings Redis holds: from a staleConfig reply, or after this replica's own Configure. */
  adopt(name: string, stored: StoredSettings): void;
  /** Another replica changed a circuit's settings to `version` (an event-stream marker). */
  changed(name: string, version: number): void;
  /** Redis no longer holds the circuit (it expired): drops this replica's copies; a later use reads them again. */
  drop(name: string): void;
  /**
   * Drops the copies not set since `cutoff` (Date.now ms): a resolved config
   * is resolved again at its next use, explicit settings come back with one
   * staleConfig retry; a circuit Redis no longer holds leaves nothing.
   */
  sweep(cutoff: number): void;
  /** Entries held: explicit settings and resolved configs (tests: the bound holds). */
  readonly sizes: { explicit: number; resolved: number };
  /**
   * Compare-and-set of the runtime rules: `change` decides the new list from
   * the stored one (it may throw to refuse), retried on a concurrent change;
   * publishes the change. Answers the rules stored.
   */
  updateRules(change: (rules: readonly PatternRuleRecord[]) => PatternRuleRecord[]): Promise<PatternRuleRecord[]>;
}

const MAX_RULE_RETRIES = 10;

export function createSettingsCache(options: SettingsCacheOptions): SettingsCache {
  const { client, subscriber, keys, decisions, scripts } = options;
  const guard = scripts.guard;
  // Bounded: agents choose circuit names. A dropped entry costs a resolve, or
  // one staleConfig retry when the circuit has explicit settings.
  const maxEntries = options.maxEntries ?? REPLICA_CACHE_ENTRIES;
  const explicit = new BoundedMap<string, StoredSettings>(maxEntries);
  const resolvedByName = new BoundedMap<string, VersionedConfig>(maxEntries);
  let runtimeRules: readonly PatternRuleRecord[] = [];
  let rulesVersion = 0;

  const forget = (name: string): void => {
    explicit.delete(name);
    resolvedByName.delete(name);
    options.onChange(name);
  };

  const rulesChanged = (version: number, rules: readonly PatternRuleRecord[]): void => {
    rulesVersion = version;
    runtimeRules = rules;
    resolvedByName.clear();
    options.onChange(undefined);
  };

  const loadRules = async (): Promise<void> => {
    const [v, s] = await guard(() => client.hmget(keys.rules, "v", "s"));
    const version = v == null ? 0 : Number(v);
    if (version < rulesVersion && options.onBackwards !== undefined) {
      await options.onBackwards();
      return;
    }
    if (version > rulesVersion || (version === rulesVersion && runtimeRules.length === 0 && s != null)) {
      // Only set-rules.lua writes them, from the list decisions.configurePattern or deletePattern made.
      rulesChanged(version, decodeRuntimeRules(s));
    }
  };

  subscriber.on("message", (channel: string) => {
    if (channel === keys.rulesChannel) void loadRules().catch(() => undefined);
  });
  // Pub/sub does not replay what was published while this replica was
  // disconnected: reload the rules whenever the subscription comes back.
  subscriber.on("ready", () => void loadRules().catch(() => undefined));

  return {
    async start() {
      await loadRules();
      await guard(() => subscriber.subscribe(keys.rulesChannel));
    },
    async reset() {
      explicit.clear();
      rulesChanged(0, []);
      await loadRules();
    },
    reloadRules: loadRules,
    close: () => subscriber.disconnect(),
    get runtimeRules() {
      return runtimeRules;
    },
    resolved(name) {
      let r = resolvedByName.get(name);
      if (r === undefined) {
        const known = explicit.get(name);
        r = { ...decisions.resolve(runtimeRules, name, known?.settings), version: known?.version ?? 0 };
        resolvedByName.set(name, r);
      }
      return r;
    },
    async read(name) {
      const [v, s] = await guard(() => client.hmget(keys.circuit(name).explicit, "v", "s"));
      const stored: StoredSettings = { version: v == null ? 0 : Number(v), settings: decodeSettings(s) };
      if (explicit.get(name)?.version !== stored.version) forget(name);
      explicit.set(name, stored);
      return stored;
    },
    adopt(name, stored) {
      forget(name);
      explicit.set(name, stored);
    },
    changed(name, version) {
      if ((explicit.get(name)?.version ?? -1) < version) forget(name);
    },
    drop(name) {
      explicit.delete(name);
      resolvedByName.delete(name);
    },
    sweep(cutoff) {
      explicit.sweep(cutoff);
      resolvedByName.sweep(cutoff);
    },
    get sizes() {
      return { explicit: explicit.size, resolved: resolvedByName.size };
    },
    async updateRules(change) {
      for (let attempt = 0; attempt < MAX_RULE_RETRIES; attempt++) {
        await loadRules();
        const next = change(runtimeRules);
        if (await scripts.setRules(rulesVersion, JSON.stringify(next))) {
          rulesChanged(rulesVersion + 1, next);
          await guard(() => client.publish(keys.rulesChannel, String(rulesVersion)));
          return next;
        }
      }
      throw new StoreUnavailableError("pattern rules keep changing concurrently; retry");
    },
  };
}
