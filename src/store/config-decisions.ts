/**
 * Config decisions, made once for every store: what a circuit's config
 * resolves to, and whether a Configure of a circuit or of a pattern may be
 * stored. The stores only persist what these functions decided (memory by
 * assignment, Redis by compare-and-set on versions) and answer what they
 * hold, so the memory and Redis stores cannot disagree on a refusal.
 *
 * A circuit's explicit settings are those its last Configure stored, else
 * those of the config file. A pattern rule is refused when the config it
 * gives on its own is invalid, or when any circuit with explicit settings
 * that it matches would resolve to an invalid config under it (or, once it
 * is deleted, without it). Only circuits a rule matches can change governing
 * rule when it is written, moved or deleted, so checking those is enough.
 *
 * Runtime rules are kept in the order they are consulted: precedence
 * ascending, equal precedences by pattern (see orderRules).
 */
import {
  type CircuitConfig,
  type ConfigLayers,
  type ConfigPatch,
  type ConfigSource,
  type ConfigSettings,
  type PatternRule,
  type ResolvedConfig,
  InvalidConfigError,
  applyPatch,
  globMatches,
  mergePatches,
  presetPatch,
  resolveConfig,
  sourceLabel,
  validateConfig,
} from "../engine/index.js";
import {
  type ConfigureCommand,
  type PatternRuleRecord,
  PatternRuleFromFileError,
  PatternRuleNotFoundError,
} from "./store.js";

/** The static part of config: the file's layers and its per-circuit settings. */
export interface FileConfig {
  /** Defaults, presets and the config file's pattern rules. */
  layers: ConfigLayers;
  /** Explicit settings per circuit from the config file. */
  circuits?: Record<string, ConfigSettings>;
}

/** A Configure of one circuit, judged: what to store and what it changes. */
export interface CircuitConfigDecision {
  /** The explicit settings to store. */
  settings: ConfigSettings;
  /** The circuit's config before the change. */
  oldConfig: CircuitConfig;
  /** The circuit's config after it (valid). */
  resolved: ResolvedConfig;
}

/** Who writes a runtime rule, and when (the store's clock). */
export interface RuleStamp {
  at: number;
  actor: string;
}

/** The runtime rules after a Configure or delete of one pattern, and that rule (as written, or as it was). */
export interface RuleDecision {
  rules: PatternRuleRecord[];
  rule: PatternRuleRecord;
}

/** Decides config for one deployment (see the module comment). Stateless apart from the file's config. */
export interface ConfigDecisions {
  readonly file: FileConfig;
  /** Every rule in the order they are consulted: the runtime rules (ordered), then the file's with origin config_file. */
  listRules(runtimeRules: readonly PatternRuleRecord[]): PatternRuleRecord[];
  /** The layers in force: the runtime rules (ordered) ahead of the file's rules. */
  layersWith(runtimeRules: readonly PatternRule[]): ConfigLayers;
  /** A circuit's explicit settings: `stored` (by Configure) when set, else the config file's. */
  explicitOf(name: string, stored: ConfigSettings | undefined): ConfigSettings | undefined;
  /** The circuit's config under these runtime rules and its stored settings. */
  resolve(runtimeRules: readonly PatternRule[], name: string, stored: ConfigSettings | undefined): ResolvedConfig;
  /**
   * Judges a Configure of circuit `name` whose stored settings are `stored`.
   * Throws InvalidConfigError when the merged config is invalid,
   * UnknownPresetError for an unknown preset.
   */
  configureCircuit(
    runtimeRules: readonly PatternRule[],
    name: string,
    stored: ConfigSettings | undefined,
    command: ConfigureCommand,
  ): CircuitConfigDecision;
  /**
   * Judges a Configure of `pattern` and answers the runtime rules to store,
   * ordered, with the rule as written (an existing rule with the same
   * pattern updated, keeping its precedence unless the command sets one;
   * else a new rule at the command's precedence or after every runtime
   * rule). `stored` lists every circuit with settings stored by Configure
   * (the file's circuits are added here); the rule is checked on its own and
   * against each of them it matches. Throws InvalidConfigError, naming the
   * first invalid config's fields, or UnknownPresetError.
   */
  configurePattern(
    runtimeRules: readonly PatternRuleRecord[],
    pattern: string,
    command: ConfigureCommand,
    stored: Iterable<readonly [string, ConfigSettings | undefined]>,
    stamp: RuleStamp,
  ): RuleDecision;
  /**
   * Judges the deletion of the runtime rule `pattern` and answers the rules
   * left, with the deleted rule. Throws PatternRuleNotFoundError when no rule
   * has the pattern, PatternRuleFromFileError when only the config file has
   * it, InvalidConfigError when a circuit in `stored` that it matches would
   * fall back to an invalid config.
   */
  deletePattern(
    runtimeRules: readonly PatternRuleRecord[],
    pattern: string,
    stored: Iterable<readonly [string, ConfigSettings | undefined]>,
  ): RuleDecision;
}

/** Highest precedence a rule can have (PatternRule.precedence is a uint32). */
export const MAX_PRECEDENCE = 0xffff_ffff;

/** Runtime rules in the order they are consulted: precedence ascending, equal precedences by pattern. */
export function orderRules(rules: readonly PatternRuleRecord[]): PatternRuleRecord[] {
  return [...rules].sort((a, b) => a.precedence - b.precedence || (a.pattern < b.pattern ? -1 : a.pattern > b.pattern ? 1 : 0));
}

/** A CircuitView's sources: the structured ones, and the labels derived from them. */
export function viewSources(resolved: ResolvedConfig): { configSources: string[]; configSourceDetails: ConfigSource[] } {
  return { configSources: resolved.sources.map(sourceLabel), configSourceDetails: resolved.sources };
}

/** True when `resolved` names the rule with this pattern as its governing rule. */
export function governedBy(resolved: ResolvedConfig, pattern: string): boolean {
  return resolved.sources.some((s) => s.kind === "pattern_rule" && s.name === pattern);
}

/**
 * Folds a Configure command into earlier explicit settings: none kept when
 * `replace`, the `clear`ed fields (and with `clearPreset` the preset)
 * dropped, then the command's fields and preset set.
 */
export function combineSettings(previous: ConfigSettings | undefined, command: ConfigureCommand): ConfigSettings {
  const kept: ConfigPatch = command.replace ? {} : { ...previous?.patch };
  for (const key of command.clear ?? []) delete kept[key];
  const settings: ConfigSettings = { patch: mergePatches(kept, command.patch) };
  const preset = command.preset ?? (command.replace || command.clearPreset === true ? undefined : previous?.preset);
  if (preset !== undefined) settings.preset = preset;
  return settings;
}

/** True when two resolved configs are field-for-field equal. */
export function sameConfig(a: CircuitConfig, b: CircuitConfig): boolean {
  for (const key of Object.keys(a) as (keyof CircuitConfig)[]) if (a[key] !== b[key]) return false;
  return true;
}

function requireValid(config: CircuitConfig): void {
  const issues = validateConfig(config);
  if (issues.length > 0) throw new InvalidConfigError(issues);
}

/** Creates the config decisions of a deployment with this file config. */
export function createConfigDecisions(file: FileConfig): ConfigDecisions {
  const fileCircuits = file.circuits ?? {};
  const fileOf = (name: string): ConfigSettings | undefined => (Object.hasOwn(fileCircuits, name) ? fileCircuits[name] : undefined);
  const layersWith = (runtimeRules: readonly PatternRule[]): ConfigLayers =>
    runtimeRules.length === 0 ? file.layers : { ...file.layers, rules: [...runtimeRules, ...file.layers.rules] };
  const explicitOf = (name: string, stored: ConfigSettings | undefined): ConfigSettings | undefined => stored ?? fileOf(name);
  const fileRules: readonly PatternRuleRecord[] = file.layers.rules.map((r) => ({ ...r, origin: "config_file", precedence: 0 }));

  /** Every circuit with explicit settings that `pattern` matches resolves to a valid config under `rules`. */
  const requireValidMatches = (
    rules: readonly PatternRule[],
    pattern: string,
    stored: Iterable<readonly [string, ConfigSettings | undefined]>,
  ): void => {
    const layers = layersWith(rules);
    const explicit = new Map<string, ConfigSettings | undefined>(Object.entries(fileCircuits));
    for (const [name, settings] of stored) explicit.set(name, explicitOf(name, settings));
    for (const [name, settings] of explicit) {
      if (globMatches(pattern, name)) requireValid(resolveConfig(layers, name, settings).config);
    }
  };

  return {
    file,
    listRules: (runtimeRules) => [...runtimeRules, ...fileRules],
    layersWith,
    explicitOf,
    resolve: (runtimeRules, name, stored) => resolveConfig(layersWith(runtimeRules), name, explicitOf(name, stored)),

    configureCircuit(runtimeRules, name, stored, command) {
      const layers = layersWith(runtimeRules);
      const previous = explicitOf(name, stored);
      const settings = combineSettings(previous, command);
      const resolved = resolveConfig(layers, name, settings);
      requireValid(resolved.config);
      return { settings, oldConfig: resolveConfig(layers, name, previous).config, resolved };
    },

    configurePattern(runtimeRules, pattern, command, stored, stamp) {
      const existing = runtimeRules.find((r) => r.pattern === pattern);
      const settings = combineSettings(existing, command);
      // A new rule without a precedence goes after every runtime rule: rules set earlier are consulted first.
      const highest = runtimeRules.reduce((max, r) => Math.max(max, r.precedence), 0);
      const precedence = command.precedence ?? existing?.precedence ?? Math.min(highest + 1, MAX_PRECEDENCE);
      const rule: PatternRuleRecord = { pattern, patch: settings.patch, origin: "runtime", precedence, updateTime: stamp.at, updatedBy: stamp.actor };
      if (settings.preset !== undefined) rule.preset = settings.preset;
      const rules = orderRules([...runtimeRules.filter((r) => r.pattern !== pattern), rule]);

      // The rule on its own: what it gives a circuit without settings of its own.
      const layers = file.layers;
      const base = rule.preset === undefined ? layers.defaults : applyPatch(layers.defaults, presetPatch(layers, rule.preset));
      requireValid(applyPatch(base, rule.patch));
      // Every circuit with explicit settings it matches, under those settings (and its new place among the rules).
      requireValidMatches(rules, pattern, stored);
      return { rules, rule };
    },

    deletePattern(runtimeRules, pattern, stored) {
      const rule = runtimeRules.find((r) => r.pattern === pattern);
      if (rule === undefined) {
        throw fileRules.some((r) => r.pattern === pattern) ? new PatternRuleFromFileError(pattern) : new PatternRuleNotFoundError(pattern);
      }
      const rules = runtimeRules.filter((r) => r !== rule);
      requireValidMatches(rules, pattern, stored);
      return { rules, rule };
    },
  };
}
