/**
 * The shape of the config file (presets, rules, circuits, api_keys, permit secrets), as zod
 * schemas, and how their issues become problems naming the file and the key.
 * Config keys are the names of the config table (src/engine/config-fields.ts);
 * the values' ranges are the engine's.
 */
import * as z from "zod";
import { CONFIG_FIELD_LIST, fieldByName, validatePatch, type ConfigPatch } from "../engine/index.js";
import { CIRCUIT_NAME_RE as CIRCUIT_NAME_PATTERN, PATTERN_RE as PATTERN_GLOB_PATTERN } from "../engine/names.js";
import { ROLES } from "../roles.js";
import { DURATION_FORMS, durationMs } from "./durations.js";
import { KEY_NAME_RULE, KEY_RULE } from "./keys.js";
import { show } from "./problem-text.js";

/** Preset names: short identifiers, as the built-ins are. */
const PRESET_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The config keys a patch accepts, as the message for an unknown key lists them. */
const ACCEPTED_CONFIG_KEYS = CONFIG_FIELD_LIST.map((f) => f.name).join(", ");

/**
 * A config patch as the file spells it: snake_case keys, durations as seconds
 * or text with a unit. Checked here key by key, in one pass, so one typo does
 * not hide a bad value beside it; the values' ranges are the engine's.
 * `null` (a YAML key with nothing under it) is an empty patch.
 */
const filePatchSchema = z
  .record(z.string(), z.unknown(), { error: "must be a mapping of config keys to values" })
  .nullish()
  .transform((raw, ctx): ConfigPatch => {
    const patch: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(raw ?? {})) {
      const spec = fieldByName(name);
      if (spec === undefined) {
        ctx.issues.push({ code: "custom", path: [name], message: `unknown key; accepted: ${ACCEPTED_CONFIG_KEYS}`, input: value });
        continue;
      }
      if (spec.kind === "duration" && (typeof value === "number" || typeof value === "string")) {
        const ms = durationMs(value);
        if (ms === undefined) {
          ctx.issues.push({ code: "custom", path: [name], message: `must be ${DURATION_FORMS}, got ${show(value)}`, input: value });
          continue;
        }
        patch[spec.key] = ms;
      } else {
        patch[spec.key] = value;
      }
    }
    for (const issue of validatePatch(patch as ConfigPatch)) {
      ctx.issues.push({ code: "custom", path: [issue.field], message: issue.message, input: raw });
    }
    return patch as ConfigPatch;
  });

const presetRefSchema = z.string({ error: "must be a preset name (text)" });

/** A text field; the message says what belongs there, without repeating the value (it may be a secret). */
function requiredText(what: string) {
  return z.string({ error: (issue) => (issue.input === undefined ? `is required: ${what}` : `must be text: ${what}`) });
}

function strictKeys<T extends z.ZodRawShape>(shape: T, what: string) {
  const accepted = Object.keys(shape).join(", ");
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === "unrecognized_keys" ? `unknown key; accepted: ${accepted}` : `must be ${what} with keys ${accepted}`,
  });
}

const ruleSchema = strictKeys(
  {
    pattern: z
      .string({ error: "is required: a glob on circuit names, e.g. \"agent.*\"" })
      .regex(PATTERN_GLOB_PATTERN, {
        error: (issue) =>
          `must be 1 to 200 characters of letters, digits, . _ : / @ - and the wildcards * and ?, got ${JSON.stringify(issue.input)}`,
      }),
    preset: presetRefSchema.optional(),
    config: filePatchSchema,
  },
  "a rule",
);

const circuitSettingsSchema = strictKeys({ preset: presetRefSchema.optional(), config: filePatchSchema }, "a mapping");

/** The whole file; every section may be left out or empty. */
export const fileSchema = strictKeys(
  {
    presets: z
      .record(
        z.string().regex(PRESET_NAME_PATTERN, {
          error: (issue) =>
            `preset name must be 1 to 64 letters, digits, . _ -, starting with a letter or digit, got ${JSON.stringify(issue.input)}`,
        }),
        filePatchSchema,
        { error: "must be a mapping of preset names to config patches" },
      )
      .nullish(),
    rules: z.array(ruleSchema, { error: "must be a list of rules ({pattern, preset?, config?})" }).nullish(),
    circuits: z
      .record(
        z.string().regex(CIRCUIT_NAME_PATTERN, {
          error: (issue) =>
            `circuit name must match ${CIRCUIT_NAME_PATTERN.source} (1 to 200 letters, digits, . _ : / @ -, starting with a letter or digit), got ${JSON.stringify(issue.input)}`,
        }),
        circuitSettingsSchema,
        { error: "must be a mapping of circuit names to {preset?, config?}" },
      )
      .nullish(),
    api_keys: z
      .array(
        strictKeys(
          {
            name: requiredText(`the key's name, shown in logs and history (${KEY_NAME_RULE.replace("must be ", "")})`),
            role: requiredText(`one of ${ROLES.join(", ")}`),
            key: requiredText(`the secret clients send as 'authorization: Bearer <key>' (${KEY_RULE.replace("must be ", "")})`),
          },
          "an API key",
        ),
        { error: "must be a list of API keys ({name, role, key})" },
      )
      .nullish(),
    // Checked for length in file.ts, whose refusal never quotes the value.
    permit_secret: z.string({ error: "must be a string (the permit secret, at least 32 bytes)" }).nullish(),
    permit_secret_previous: z.string({ error: "must be a string (the previous permit secret, at least 32 bytes)" }).nullish(),
  },
  "a mapping",
);

/** A well-formed config file. */
export type ConfigFile = z.output<typeof fileSchema>;

/** `rules[1].config.failure_treshold`, `circuits["llm.openai.gpt"].preset`. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else if (typeof part === "string" && /^[A-Za-z_][A-Za-z0-9_]*$/.test(part)) out += out === "" ? part : `.${part}`;
    else out += `[${JSON.stringify(String(part))}]`;
  }
  return out;
}

/** One problem per issue, each naming the file and the key's path. */
export function formatFileIssues(file: string, error: z.ZodError): string[] {
  const problems: string[] = [];
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      // One line per key, with the key in the path, as for any other bad key.
      for (const key of issue.keys) problems.push(at(file, [...issue.path, key], issue.message));
    } else if (issue.code === "invalid_key") {
      problems.push(at(file, issue.path, issue.issues[0]?.message ?? issue.message));
    } else {
      problems.push(at(file, issue.path, issue.message));
    }
  }
  return problems;
}

/** A problem at `path` in `file`. */
export function at(file: string, path: readonly PropertyKey[], message: string): string {
  const where = formatPath(path);
  return where === "" ? `${file}: ${message}` : `${file}: ${where}: ${message}`;
}
