/**
 * Circuit config: built-in defaults, presets, validation and resolution.
 *
 * A circuit's config resolves, most specific first: its explicit settings
 * (Configure or the config file) over the first pattern rule whose glob
 * matches its name, over a named preset (chosen by the explicit settings or
 * the rule), over the defaults (the CIRCUIT_BREAKER_* environment).
 */
import { CONFIG_FIELDS, CONFIG_FIELD_LIST, joinWithOr, tableDefaults } from "./config-fields.js";
import { globMatches } from "./glob.js";
import type { CircuitConfig, ConfigPatch } from "./types.js";

const SECOND = 1000;

/** The defaults when no environment variable says otherwise (docs/design.md §Semantics); read off CONFIG_FIELDS. */
export const BUILTIN_DEFAULTS: Readonly<CircuitConfig> = Object.freeze(tableDefaults());

/**
 * Built-in presets, each a patch over the defaults. The config file may add
 * presets or replace these.
 */
export const BUILTIN_PRESETS: Readonly<Record<string, ConfigPatch>> = Object.freeze({
  /** The defaults as they are. */
  default: {},
  /** Trip early, recover cautiously: for dependencies whose failures are costly. */
  strict: {
    failureThreshold: 3,
    failureRateThreshold: 0.25,
    minimumCalls: 5,
    openDurationMs: 120 * SECOND,
    backoffMultiplier: 2,
    halfOpenMaxCalls: 1,
    successThreshold: 5,
  },
  /** Tolerate noisy dependencies. */
  lenient: {
    failureThreshold: 10,
    failureRateThreshold: 0.75,
    minimumCalls: 20,
    openDurationMs: 30 * SECOND,
  },
  /** Short outages: probe again soon and close on the first good probe. */
  fast_recovery: {
    openDurationMs: 5 * SECOND,
    backoffMultiplier: 1.5,
    maxOpenDurationMs: 60 * SECOND,
    halfOpenMaxCalls: 5,
    successThreshold: 1,
  },
  /**
   * LLM APIs: calls are long and rate limits come with reset hints; one probe at
   * a time, back off hard, spread retries of a fleet of agents.
   */
  llm: {
    failureThreshold: 3,
    slowCallDurationMs: 60 * SECOND,
    slowCallRateThreshold: 0.8,
    openDurationMs: 30 * SECOND,
    backoffMultiplier: 2,
    maxOpenDurationMs: 600 * SECOND,
    halfOpenMaxCalls: 1,
    successThreshold: 2,
    permitTtlMs: 180 * SECOND,
    jitter: 0.2,
  },
  /** Databases, caches, internal HTTP: fast calls, slowness is failure. */
  io: {
    slowCallDurationMs: 2 * SECOND,
    slowCallRateThreshold: 0.5,
    openDurationMs: 15 * SECOND,
    backoffMultiplier: 2,
    maxOpenDurationMs: 120 * SECOND,
    permitTtlMs: 10 * SECOND,
    jitter: 0.1,
  },
});

/** Config field names as clients see them (proto and config file), by engine name; read off CONFIG_FIELDS. */
export const CONFIG_FIELD_NAMES: Readonly<Record<keyof CircuitConfig, string>> = Object.freeze(
  Object.fromEntries(CONFIG_FIELD_LIST.map((f) => [f.key, f.name])) as Record<keyof CircuitConfig, string>,
);

/**
 * Every numeric field (`integer`, `number`, `duration`) must state both
 * bounds in CONFIG_FIELDS: a table entry without them is refused when this
 * module loads, rather than accepting any number.
 */
for (const f of CONFIG_FIELD_LIST) {
  if (f.kind !== "boolean" && f.kind !== "enum" && (f.min === undefined || f.max === undefined)) {
    throw new Error(`config field ${f.name}: a ${f.kind} field needs min and max in CONFIG_FIELDS`);
  }
}

/** One problem with a config, naming the field as clients spell it. */
export interface ConfigIssue {
  /** Client-facing field name, e.g. "failure_rate_threshold". */
  field: string;
  message: string;
}

function describeBound(value: number, unit: "ms" | undefined): string {
  if (unit !== "ms") return String(value);
  return value % SECOND === 0 ? `${value / SECOND}s` : `${value}ms`;
}

/**
 * Checks the fields a patch sets against their accepted ranges. Returns one
 * issue per bad field (empty when the patch is valid). Cross-field rules that
 * need the whole config are in {@link validateConfig}.
 */
export function validatePatch(patch: ConfigPatch): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const key of Object.keys(patch) as (keyof CircuitConfig)[]) {
    const value = patch[key];
    if (value === undefined) continue;
    // Own keys only: "toString" or "__proto__" must not pass as config fields.
    const field = Object.hasOwn(CONFIG_FIELD_NAMES, key) ? CONFIG_FIELD_NAMES[key] : undefined;
    if (field === undefined) {
      issues.push({ field: String(key), message: `unknown config field ${String(key)}` });
      continue;
    }
    const spec = CONFIG_FIELDS[key];
    if (spec.kind === "boolean") {
      if (typeof value !== "boolean") issues.push({ field, message: `${field} must be true or false` });
      continue;
    }
    if (spec.kind === "enum") {
      const values = spec.values ?? [];
      if (typeof value !== "string" || !values.includes(value)) {
        issues.push({ field, message: `${field} must be ${joinWithOr(values.map((v) => JSON.stringify(v)))}, got ${JSON.stringify(value)}` });
      }
      continue;
    }
    // Bounds are present for every numeric field (checked at load, above).
    const min = spec.min!;
    const max = spec.max!;
    const unit = spec.kind === "duration" ? "ms" : undefined;
    const integer = spec.kind !== "number";
    const accepted = `${integer ? "an integer" : "a number"} ${spec.minExclusive === true ? "above" : "from"} ${describeBound(min, unit)} ${
      spec.maxExclusive === true ? "up to but excluding" : "to"
    } ${describeBound(max, unit)}`;
    if (typeof value !== "number" || !Number.isFinite(value)) {
      // String(NaN) is "NaN"; JSON.stringify would say null.
      const got = typeof value === "number" ? String(value) : JSON.stringify(value);
      issues.push({ field, message: `${field} must be ${accepted}, got ${got}` });
      continue;
    }
    const tooLow = spec.minExclusive === true ? value <= min : value < min;
    const tooHigh = spec.maxExclusive === true ? value >= max : value > max;
    if (tooLow || tooHigh || (integer && !Number.isInteger(value))) {
      issues.push({ field, message: `${field} must be ${accepted}, got ${describeBound(value, unit)}` });
    }
  }
  return issues;
}

/** Checks a whole resolved config: every range, plus max_open_duration >= open_duration. */
export function validateConfig(config: CircuitConfig): ConfigIssue[] {
  const issues = validatePatch(config);
  if (issues.length === 0 && config.maxOpenDurationMs < config.openDurationMs) {
    issues.push({
      field: CONFIG_FIELD_NAMES.maxOpenDurationMs,
      message: `max_open_duration (${describeBound(config.maxOpenDurationMs, "ms")}) must be at least open_duration (${describeBound(config.openDurationMs, "ms")})`,
    });
  }
  return issues;
}

/** Returns `base` with the fields `patch` sets. Neither is modified. */
export function applyPatch(base: CircuitConfig, patch: ConfigPatch | undefined): CircuitConfig {
  if (patch === undefined) return base;
  const out = { ...base };
  for (const key of Object.keys(patch) as (keyof CircuitConfig)[]) {
    const value = patch[key];
    if (value !== undefined) (out as Record<string, unknown>)[key] = value;
  }
  return out;
}

/** Merges two patches; fields of `over` win. */
export function mergePatches(under: ConfigPatch | undefined, over: ConfigPatch | undefined): ConfigPatch {
  const out: ConfigPatch = { ...(under ?? {}) };
  for (const key of Object.keys(over ?? {}) as (keyof CircuitConfig)[]) {
    const value = over?.[key];
    if (value !== undefined) (out as Record<string, unknown>)[key] = value;
  }
  return out;
}

/**
 * Explicit settings of one circuit or one pattern: an optional preset to start
 * from, and the fields set on top of it.
 */
export interface ConfigSettings {
  preset?: string;
  patch: ConfigPatch;
}

/** A pattern rule: settings for every circuit whose name matches the glob. */
export interface PatternRule extends ConfigSettings {
  pattern: string;
}

/** Everything config resolution reads besides a circuit's own settings. */
export interface ConfigLayers {
  defaults: CircuitConfig;
  presets: Readonly<Record<string, ConfigPatch>>;
  /** In precedence order: the first rule whose pattern matches wins. */
  rules: readonly PatternRule[];
}

/**
 * One source of a resolved config: the circuit's own explicit settings, the
 * pattern rule that governs it (name: its pattern), a preset (name: the
 * preset) or the defaults.
 */
export interface ConfigSource {
  kind: "circuit" | "pattern_rule" | "preset" | "defaults";
  /** The pattern of a pattern_rule, the preset of a preset; "" otherwise. */
  name: string;
}

/** A resolved config and where it came from, most specific first. */
export interface ResolvedConfig {
  config: CircuitConfig;
  /** e.g. circuit, pattern_rule agent.*, preset llm, defaults. */
  sources: ConfigSource[];
}

/** The text form of a source, as CircuitStatus.config_sources shows it: "circuit", "pattern:agent.*", "preset:llm", "defaults". */
export function sourceLabel(source: ConfigSource): string {
  switch (source.kind) {
    case "circuit":
    case "defaults":
      return source.kind;
    case "pattern_rule":
      return `pattern:${source.name}`;
    case "preset":
      return `preset:${source.name}`;
  }
}

/** Finds the first rule whose pattern matches `name`. */
export function matchRule(rules: readonly PatternRule[], name: string): PatternRule | undefined {
  for (const rule of rules) if (globMatches(rule.pattern, name)) return rule;
  return undefined;
}

/**
 * Resolves the config of circuit `name`: explicit settings over the first
 * matching pattern rule over a preset over the defaults. The preset is the
 * explicit one if set, else the rule's. An unknown preset name throws
 * {@link UnknownPresetError}; callers validate names when settings are stored.
 */
export function resolveConfig(
  layers: ConfigLayers,
  name: string,
  explicit: ConfigSettings | undefined,
): ResolvedConfig {
  const rule = matchRule(layers.rules, name);
  // Settings emptied by a `replace` with nothing new are no source at all.
  const own = explicit !== undefined && (explicit.preset !== undefined || Object.keys(explicit.patch).length > 0);
  const presetName = explicit?.preset ?? rule?.preset;
  const sources: ConfigSource[] = [];
  let config = layers.defaults;
  if (presetName !== undefined) config = applyPatch(config, presetPatch(layers, presetName));
  if (rule !== undefined) config = applyPatch(config, rule.patch);
  if (explicit !== undefined) config = applyPatch(config, explicit.patch);
  if (own) sources.push({ kind: "circuit", name: "" });
  if (rule !== undefined) sources.push({ kind: "pattern_rule", name: rule.pattern });
  if (presetName !== undefined) sources.push({ kind: "preset", name: presetName });
  sources.push({ kind: "defaults", name: "" });
  return { config, sources };
}

/** The patch of preset `name` (own properties only); throws {@link UnknownPresetError}. */
export function presetPatch(layers: ConfigLayers, name: string): ConfigPatch {
  const patch = Object.hasOwn(layers.presets, name) ? layers.presets[name] : undefined;
  if (patch === undefined) throw new UnknownPresetError(name, Object.keys(layers.presets));
  return patch;
}

/** A preset name that no preset answers to. */
export class UnknownPresetError extends Error {
  override readonly name = "UnknownPresetError";
  constructor(
    readonly preset: string,
    readonly known: string[],
  ) {
    super(`unknown preset ${JSON.stringify(preset)}; known presets: ${known.join(", ")}`);
  }
}
