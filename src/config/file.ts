/**
 * The config file (BREAKERBOX_CONFIG): read as YAML or JSON, checked against
 * its schema (file-schema.ts), then turned into config layers (presets, pattern
 * rules) and per-circuit settings, every one of which must resolve to a valid
 * config over the circuit defaults; and its API keys.
 */
import { extname } from "node:path";
import YAML from "yaml";
import {
  BUILTIN_PRESETS,
  MIN_PERMIT_SECRET_BYTES,
  resolveConfig,
  sourceLabel,
  validateConfig,
  type CircuitConfig,
  type ConfigLayers,
  type ConfigPatch,
  type ConfigSettings,
  type PatternRule,
  type ResolvedConfig,
} from "../engine/index.js";
import type { Role } from "../roles.js";
import { at, fileSchema, formatFileIssues, type ConfigFile } from "./file-schema.js";
import { apiKeyProblems, type SourcedKey } from "./keys.js";
import { errorMessage, oneLine } from "./problem-text.js";

const FILE_EXTENSIONS: Readonly<Record<string, "yaml" | "json">> = { ".yaml": "yaml", ".yml": "yaml", ".json": "json" };

/** The file's text parsed as YAML or JSON, or the problem naming BREAKERBOX_CONFIG. */
function readConfigFile(file: string, readFile: (path: string) => string): { data: unknown } | { problem: string } {
  const ext = extname(file).toLowerCase();
  const format = FILE_EXTENSIONS[ext];
  if (format === undefined) {
    return {
      problem: `BREAKERBOX_CONFIG: ${JSON.stringify(file)} has an unsupported extension ${ext === "" ? "(none)" : JSON.stringify(ext)}; accepted: ${Object.keys(FILE_EXTENSIONS).join(", ")}`,
    };
  }
  let text: string;
  try {
    text = readFile(file);
  } catch (e) {
    return { problem: `BREAKERBOX_CONFIG: cannot read ${file}: ${oneLine(errorMessage(e))}` };
  }
  text = text.replace(/^\uFEFF/, ""); // editors on Windows save a BOM; JSON.parse chokes on it
  try {
    return { data: format === "json" ? JSON.parse(text) : YAML.parse(text) };
  } catch (e) {
    const message = format === "json" ? jsonErrorMessage(e, text) : yamlErrorMessage(e);
    return { problem: `BREAKERBOX_CONFIG: cannot parse ${file} as ${format.toUpperCase()}: ${oneLine(message)}` };
  }
}

/**
 * yaml's message is "<what> at line L, column C:" followed by a code excerpt;
 * the first line carries the position and keeps the problem on one line.
 */
function yamlErrorMessage(e: unknown): string {
  return (errorMessage(e).split("\n")[0] ?? "").replace(/:$/, "");
}

/**
 * JSON.parse says "at position N" on some Node versions and quotes the text
 * around the error on others; a line and column is what an editor needs.
 */
function jsonErrorMessage(e: unknown, text: string): string {
  const message = errorMessage(e);
  const position = /at position (\d+)/.exec(message);
  if (position === null || /\bline \d+/.test(message)) return message;
  const before = text.slice(0, Number(position[1]));
  const line = before.split("\n").length;
  const column = before.length - before.lastIndexOf("\n");
  return `${message} (line ${line}, column ${column})`;
}

/** BUILTIN_PRESETS plus the file's; null prototype, so a preset named "toString" is unknown, not a function. */
export function presetTable(filePresets: Readonly<Record<string, ConfigPatch>>): Record<string, ConfigPatch> {
  return Object.assign(Object.create(null) as Record<string, ConfigPatch>, BUILTIN_PRESETS, filePresets);
}

/**
 * Cross-references of a well-formed file: presets named by rules and circuits
 * exist, and no rule is shadowed by an identical earlier pattern. Then, when
 * `defaultsValid`, every preset, rule and circuit the file defines must
 * resolve to a valid config over the env defaults, so the file cannot create
 * a circuit the engine would refuse.
 */
function buildLayers(
  file: string,
  parsed: ConfigFile,
  defaults: CircuitConfig,
  defaultsValid: boolean,
): { layers: ConfigLayers; circuits: Record<string, ConfigSettings>; problems: string[] } {
  const problems: string[] = [];
  const presets = presetTable(parsed.presets ?? {});
  let presetsKnown = true;
  const checkPreset = (path: readonly PropertyKey[], preset: string | undefined) => {
    if (preset === undefined || Object.hasOwn(presets, preset)) return;
    presetsKnown = false;
    problems.push(at(file, path, `unknown preset ${JSON.stringify(preset)}; known presets: ${Object.keys(presets).join(", ")}`));
  };

  const rules: PatternRule[] = [];
  const firstRuleWith = new Map<string, number>();
  (parsed.rules ?? []).forEach((rule, i) => {
    checkPreset(["rules", i, "preset"], rule.preset);
    const earlier = firstRuleWith.get(rule.pattern);
    if (earlier === undefined) firstRuleWith.set(rule.pattern, i);
    else problems.push(at(file, ["rules", i, "pattern"], `${JSON.stringify(rule.pattern)} repeats rules[${earlier}].pattern; only the first rule with a pattern can ever match`));
    rules.push({ pattern: rule.pattern, ...settingsOf(rule) });
  });

  const circuits = Object.create(null) as Record<string, ConfigSettings>;
  for (const [name, settings] of Object.entries(parsed.circuits ?? {})) {
    checkPreset(["circuits", name, "preset"], settings.preset);
    circuits[name] = settingsOf(settings);
  }

  const layers: ConfigLayers = { defaults, presets, rules };
  // Invalid defaults are reported against their variables; resolving over
  // them would blame the file for every circuit. An unknown preset would make
  // resolveConfig throw, and is reported above.
  if (!defaultsValid || !presetsKnown) return { layers, circuits, problems };

  const checkResolved = (path: readonly PropertyKey[], resolved: ResolvedConfig, sources = resolved.sources) => {
    for (const issue of validateConfig(resolved.config)) {
      problems.push(at(file, path, `resolves (${sources.map(sourceLabel).join(" > ")}) to an invalid config: ${issue.message}`));
    }
  };
  // File presets are checked on their own, as Configure may apply one to any
  // circuit. Built-ins are checked only where the file uses them: an env
  // default that does not suit an unused built-in must not stop the start.
  const noRules: ConfigLayers = { defaults, presets, rules: [] };
  for (const name of Object.keys(parsed.presets ?? {})) {
    // Resolved as explicit settings naming the preset; the sources then say
    // "circuit", which is not the case here.
    const resolved = resolveConfig(noRules, "", { preset: name, patch: {} });
    checkResolved(["presets", name], resolved, resolved.sources.filter((source) => source.kind !== "circuit"));
  }
  // A rule alone gives the config of every circuit it matches that has no
  // settings of its own. Any name the glob matches will do: wildcards read as
  // one letter.
  rules.forEach((rule, i) => {
    const sample = rule.pattern.replace(/[*?]/g, "x");
    checkResolved(["rules", i], resolveConfig({ defaults, presets, rules: [rule] }, sample, undefined));
  });
  for (const [name, settings] of Object.entries(circuits)) {
    checkResolved(["circuits", name], resolveConfig(layers, name, settings));
  }
  return { layers, circuits, problems };
}

/** Engine settings from the file's `{preset?, config}`; no `preset` key when none is named. */
function settingsOf(entry: { preset?: string | undefined; config: ConfigPatch }): ConfigSettings {
  return entry.preset === undefined ? { patch: entry.config } : { preset: entry.preset, patch: entry.config };
}

/** What a config file configures, and its problems (none: every part is usable). */
export interface LoadedConfigFile {
  layers: ConfigLayers;
  circuits: Record<string, ConfigSettings>;
  /** The file's `api_keys` that are well formed, each with where it was configured. */
  apiKeys: SourcedKey[];
  /** `permit_secret` and `permit_secret_previous`, as UTF-8 bytes, when set and long enough. */
  permitSecret?: Buffer;
  previousPermitSecret?: Buffer;
  problems: string[];
}

/**
 * Reads, parses and checks config file `file`. The configs it defines are
 * resolved over `defaults` only when `defaultsValid` (invalid defaults are
 * reported against their variables). On a problem, the layers are those
 * known so far, or the defaults and built-in presets alone.
 */
export function loadConfigFile(
  file: string,
  readFile: (path: string) => string,
  defaults: CircuitConfig,
  defaultsValid: boolean,
): LoadedConfigFile {
  const none: LoadedConfigFile = {
    layers: { defaults, presets: presetTable({}), rules: [] },
    circuits: Object.create(null) as Record<string, ConfigSettings>,
    apiKeys: [],
    problems: [],
  };
  const read = readConfigFile(file, readFile);
  if ("problem" in read) return { ...none, problems: [read.problem] };
  const parsed = fileSchema.safeParse(read.data ?? {}); // an empty YAML file is null: no settings
  if (!parsed.success) return { ...none, problems: formatFileIssues(file, parsed.error) };
  const { layers, circuits, problems } = buildLayers(file, parsed.data, defaults, defaultsValid);
  const apiKeys: SourcedKey[] = [];
  (parsed.data.api_keys ?? []).forEach((k, i) => {
    const where = `${file}: api_keys[${i}]`;
    const keyProblems = apiKeyProblems(where, k.name, k.role, k.key);
    problems.push(...keyProblems);
    if (keyProblems.length === 0) apiKeys.push({ name: k.name, role: k.role as Role, key: k.key, where });
  });
  const loaded: LoadedConfigFile = { layers, circuits, apiKeys, problems };
  for (const [key, field] of [
    ["permit_secret", "permitSecret"],
    ["permit_secret_previous", "previousPermitSecret"],
  ] as const) {
    const text = parsed.data[key]?.trim();
    if (text === undefined || text === "") continue;
    const bytes = Buffer.from(text, "utf8");
    if (bytes.length >= MIN_PERMIT_SECRET_BYTES) loaded[field] = bytes;
    else problems.push(at(file, [key], `must be at least ${MIN_PERMIT_SECRET_BYTES} bytes (e.g. openssl rand -base64 32), got ${bytes.length}`));
  }
  return loaded;
}
