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
 * that it matches would resolve to an invalid config under it.
 */
import {
  type CircuitConfig,
  type ConfigLayers,
  type ConfigSettings,
  type PatternRule,
  type ResolvedConfig,
  InvalidConfigError,
  applyPatch,
  globMatches,
  mergePatches,
  presetPatch,
  resolveConfig,
  validateConfig,
} from "../engine/index.js";
import type { ConfigureCommand } from "./store.js";

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

/** Decides config for one deployment (see the module comment). Stateless apart from the file's config. */
export interface ConfigDecisions {
  readonly file: FileConfig;
  /** The layers in force: the runtime rules ahead of the file's rules. */
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
   * Judges a Configure of `pattern` and answers the runtime rules to store
   * (an existing rule with the same pattern updated in place, else the new
   * rule appended). `stored` lists every circuit with settings stored by
   * Configure (the file's circuits are added here); the rule is checked on
   * its own and against each of them it matches. Throws InvalidConfigError,
   * naming the first invalid config's fields, or UnknownPresetError.
   */
  configurePattern(
    runtimeRules: readonly PatternRule[],
    pattern: string,
    command: ConfigureCommand,
    stored: Iterable<readonly [string, ConfigSettings | undefined]>,
  ): PatternRule[];
}

/** Folds a Configure command into earlier explicit settings (none when `replace`). */
export function combineSettings(previous: ConfigSettings | undefined, command: ConfigureCommand): ConfigSettings {
  const settings: ConfigSettings = { patch: mergePatches(command.replace ? undefined : previous?.patch, command.patch) };
  const preset = command.preset ?? (command.replace ? undefined : previous?.preset);
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

  return {
    file,
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

    configurePattern(runtimeRules, pattern, command, stored) {
      const index = runtimeRules.findIndex((r) => r.pattern === pattern);
      const settings = combineSettings(index >= 0 ? runtimeRules[index] : undefined, command);
      const rule: PatternRule = { pattern, patch: settings.patch };
      if (settings.preset !== undefined) rule.preset = settings.preset;
      const rules = [...runtimeRules];
      if (index >= 0) rules[index] = rule;
      else rules.push(rule);
      const layers = layersWith(rules);

      // The rule on its own: what it gives a circuit without settings of its own.
      const base = rule.preset === undefined ? layers.defaults : applyPatch(layers.defaults, presetPatch(layers, rule.preset));
      requireValid(applyPatch(base, rule.patch));
      // Every circuit with explicit settings it matches, under those settings.
      const explicit = new Map<string, ConfigSettings | undefined>(Object.entries(fileCircuits));
      for (const [name, settings] of stored) explicit.set(name, explicitOf(name, settings));
      for (const [name, settings] of explicit) {
        if (globMatches(pattern, name)) requireValid(resolveConfig(layers, name, settings).config);
      }
      return rules;
    },
  };
}
