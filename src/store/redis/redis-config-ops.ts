/**
 * The Redis store's config operations: Configure on a circuit (its explicit
 * settings, checked by version inside configure.lua) and the pattern rules
 * (written, moved and deleted by compare-and-set on the stored rule list,
 * settings-cache.ts), with the config change every affected live circuit
 * records (history and event stream, includes/config-history.lua). What a
 * config resolves to and whether a change is valid is decided by
 * config-decisions.ts, as for every store. Split from redis-store.ts, the
 * facade that delegates to it.
 */
import type { ConfigSettings } from "../../engine/index.js";
import { type ConfigDecisions, governedBy, sameConfig } from "../config-decisions.js";
import type { StoreListeners } from "../store-listeners.js";
import {
  type CircuitView,
  type ConfigChangeRecord,
  type ConfigureCommand,
  type PatternRuleChange,
  type PatternRuleRecord,
  StoreUnavailableError,
} from "../store.js";
import type { CircuitNames } from "./circuit-names.js";
import type { ScriptClient } from "./script-client.js";
import { MAX_STALE_RETRIES, type ScriptEvent, toCircuitView } from "./script-replies.js";
import type { SettingsCache } from "./settings-cache.js";

/** What the config operations need from the store they serve. */
export interface RedisConfigOpsDeps {
  cluster: boolean;
  decisions: ConfigDecisions;
  scripts: ScriptClient;
  settings: SettingsCache;
  names: CircuitNames;
  listeners: StoreListeners;
  /** The store's start (loads rules, follows the stream); awaited first. */
  start: () => Promise<void>;
  /** The store's time. */
  now: () => Promise<number>;
  /** Hands a script's transitions to listeners (in Cluster mode, appends them to the stream first). */
  deliver: (events: ScriptEvent[]) => Promise<void>;
}

/** The CircuitStore config methods of the Redis store. */
export interface RedisConfigOps {
  configureCircuit(name: string, command: ConfigureCommand, actor: string): Promise<CircuitView>;
  configurePattern(pattern: string, command: ConfigureCommand, actor: string): Promise<PatternRuleChange>;
  listPatternRules(): Promise<PatternRuleRecord[]>;
  deletePatternRule(pattern: string, actor: string): Promise<PatternRuleChange>;
}

export function createRedisConfigOps(deps: RedisConfigOpsDeps): RedisConfigOps {
  async function configureCircuit(name: string, command: ConfigureCommand, actor: string): Promise<CircuitView> {
    await deps.start();
    for (let attempt = 0; ; attempt++) {
      const current = await deps.settings.read(name);
      const decision = deps.decisions.configureCircuit(deps.settings.runtimeRules, name, current.settings, command);
      const { settings, resolved } = decision;
      const change: ConfigChangeRecord = {
        target: name,
        actor,
        at: 0,
        oldConfig: decision.oldConfig,
        newConfig: resolved.config,
        newSources: resolved.sources,
      };
      const r = await deps.scripts.configure({ name, config: resolved.config, version: current.version }, settings, change);
      if (r.kind === "stale") {
        if (attempt >= MAX_STALE_RETRIES) throw new StoreUnavailableError("circuit settings keep changing concurrently; retry");
        continue;
      }
      deps.settings.adopt(name, { version: r.version, settings });
      const record = { ...change, at: r.now };
      // Cluster mode: the script could not reach the stream's slot; the change
      // goes in before the transitions it made due, as the script would have.
      if (deps.cluster) await deps.scripts.streamConfigChange(name, record);
      await deps.deliver(r.events);
      if (deps.cluster) {
        // The script could not reach the stream's slot: tell the other replicas here.
        await deps.scripts.appendConfigMarker(name, r.version);
      }
      deps.listeners.configChanges.emit(record);
      return toCircuitView(r.view, resolved);
    }
  }

  async function configurePattern(pattern: string, command: ConfigureCommand, actor: string): Promise<PatternRuleChange> {
    await deps.start();
    const stored = await storedMatching(pattern);
    const stamp = { at: await deps.now(), actor };
    let rule: PatternRuleRecord | undefined;
    const change = await updateRules(pattern, actor, "after", (rules) => {
      const decision = deps.decisions.configurePattern(rules, pattern, command, stored, stamp);
      rule = decision.rule;
      return decision.rules;
    });
    return { rule: rule!, matchedCircuits: change };
  }

  async function listPatternRules(): Promise<PatternRuleRecord[]> {
    await deps.start();
    await deps.settings.reloadRules();
    return deps.decisions.listRules(deps.settings.runtimeRules);
  }

  async function deletePatternRule(pattern: string, actor: string): Promise<PatternRuleChange> {
    await deps.start();
    const stored = await storedMatching(pattern);
    let rule: PatternRuleRecord | undefined;
    const change = await updateRules(pattern, actor, "before", (rules) => {
      const decision = deps.decisions.deletePattern(rules, pattern, stored);
      rule = decision.rule;
      return decision.rules;
    });
    return { rule: rule!, matchedCircuits: change };
  }

  /** Every circuit with stored settings that `pattern` matches, for the decisions to check a rule change against. */
  async function storedMatching(pattern: string): Promise<[string, ConfigSettings | undefined][]> {
    const stored: [string, ConfigSettings | undefined][] = [];
    for (const name of await deps.names.matching(pattern, "explicit")) stored.push([name, (await deps.settings.read(name)).settings]);
    return stored;
  }

  /**
   * Changes the runtime rules by compare-and-set (`decide` may throw to
   * refuse); every live circuit `pattern` matches whose config changes
   * records it. Answers how many of them the rule governs `after` the change
   * (a write) or governed `before` it (a delete).
   */
  async function updateRules(
    pattern: string,
    actor: string,
    counted: "before" | "after",
    decide: (rules: readonly PatternRuleRecord[]) => PatternRuleRecord[],
  ): Promise<number> {
    let before: readonly PatternRuleRecord[] = [];
    const rules = await deps.settings.updateRules((current) => {
      before = current;
      return decide(current);
    });
    let matched = 0;
    for (const name of await deps.names.matching(pattern, "circuit")) {
      const settings = (await deps.settings.read(name)).settings;
      const old = deps.decisions.resolve(before, name, settings);
      const resolved = deps.decisions.resolve(rules, name, settings);
      if (governedBy(counted === "before" ? old : resolved, pattern)) matched += 1;
      if (sameConfig(old.config, resolved.config)) continue;
      const record: ConfigChangeRecord = {
        target: pattern,
        actor,
        at: await deps.now(),
        oldConfig: old.config,
        newConfig: resolved.config,
        newSources: resolved.sources,
      };
      // A circuit that expired since it was listed has no config to change, as in the memory store.
      if (await deps.scripts.appendConfigChange(name, record)) deps.listeners.configChanges.emit(record);
    }
    return matched;
  }

  return { configureCircuit, configurePattern, listPatternRules, deletePatternRule };
}
