/**
 * The circuit defaults in the environment: one CIRCUIT_BREAKER_* variable
 * per field of the config table (src/engine/config-fields.ts), named there.
 * Its text becomes the field's kind (seconds become milliseconds for a
 * `duration`); the range is the engine's, so its messages state it.
 */
import * as z from "zod";
import {
  BUILTIN_DEFAULTS,
  CONFIG_FIELD_LIST,
  applyPatch,
  validateConfig,
  validatePatch,
  type CircuitConfig,
  type ConfigFieldSpec,
  type ConfigIssue,
  type ConfigPatch,
} from "../engine/index.js";
import { parseDecimal, toMs } from "./durations.js";
import { envText, formatEnvIssues, reject, type RawEnv } from "./env-vars.js";

/** The environment variable that sets each circuit default, by engine field; read off CONFIG_FIELDS. */
export const CIRCUIT_ENV_VARS: Readonly<Record<keyof CircuitConfig, string>> = Object.freeze(
  Object.fromEntries(CONFIG_FIELD_LIST.map((f) => [f.key, f.env])) as Record<keyof CircuitConfig, string>,
);

/** The words a boolean variable accepts (any case), each true word with its false counterpart. */
export const BOOLEAN_WORDS: readonly (readonly [truth: string, falsity: string])[] = [
  ["true", "false"],
  ["1", "0"],
  ["yes", "no"],
];
const TRUE_WORDS = new Set(BOOLEAN_WORDS.map(([t]) => t));
const FALSE_WORDS = new Set(BOOLEAN_WORDS.map(([, f]) => f));

/**
 * One CIRCUIT_BREAKER_* variable: its text becomes the field's type (seconds
 * become milliseconds) and the engine checks the range. Text that is not a
 * number is handed to the engine as is, so its message states the accepted
 * range too ("... must be an integer from 0 to ..., got \"abc\"").
 */
function circuitVar(spec: ConfigFieldSpec) {
  return envText.transform((text, ctx): unknown => {
    if (text === undefined) return undefined;
    let value: unknown;
    if (spec.kind === "boolean") {
      const word = text.toLowerCase();
      if (!TRUE_WORDS.has(word) && !FALSE_WORDS.has(word)) {
        return reject(ctx, text, `must be true or false (also 1/0, yes/no), got ${JSON.stringify(text)}`);
      }
      value = TRUE_WORDS.has(word);
    } else if (spec.kind === "enum") {
      value = text.toLowerCase();
    } else {
      const n = parseDecimal(text);
      value = n === undefined ? text : spec.kind === "duration" ? toMs(n, 1000) : n;
    }
    const issue = validatePatch({ [spec.key]: value } as ConfigPatch)[0];
    return issue === undefined ? value : reject(ctx, text, issue.message);
  });
}

const circuitEnvSchema = z.object(Object.fromEntries(CONFIG_FIELD_LIST.map((f) => [f.env, circuitVar(f)])));

/**
 * The CIRCUIT_BREAKER_* variables a whole-config issue is about: the issue's
 * own field and every field its message mentions, so a cross-field rule
 * ("max_open_duration (30s) must be at least open_duration (60s)") names both
 * variables, whichever of them the operator set.
 */
function envVarsOf(issue: ConfigIssue): string[] {
  const vars: string[] = [];
  for (const { name, env } of CONFIG_FIELD_LIST) {
    const mentioned = new RegExp(`(?<![A-Za-z0-9_])${name}(?![A-Za-z0-9_])`).test(issue.message);
    if (name === issue.field) vars.unshift(env);
    else if (mentioned) vars.push(env);
  }
  return vars;
}

/**
 * The circuit defaults `env` sets: BUILTIN_DEFAULTS overridden by the
 * CIRCUIT_BREAKER_* variables. Each variable's range is checked on its own,
 * then the rules across fields; `valid` is false when anything was refused
 * (`defaults` are then the built-ins, or the variables' values as far as
 * they parsed), and `problems` name the variables.
 */
export function circuitDefaults(env: RawEnv): { defaults: CircuitConfig; valid: boolean; problems: string[] } {
  const parsed = circuitEnvSchema.safeParse(env);
  if (!parsed.success) return { defaults: { ...BUILTIN_DEFAULTS }, valid: false, problems: formatEnvIssues(parsed.error) };
  const patch: Record<string, unknown> = {};
  for (const { key, env: variable } of CONFIG_FIELD_LIST) {
    const value = parsed.data[variable];
    if (value !== undefined) patch[key] = value;
  }
  const defaults = applyPatch({ ...BUILTIN_DEFAULTS }, patch as ConfigPatch);
  const problems = validateConfig(defaults).map((issue) => `${envVarsOf(issue).join(", ")}: ${issue.message}`);
  return { defaults, valid: problems.length === 0, problems };
}
