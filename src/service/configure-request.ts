/**
 * Configure's request, judged: the target, and the ConfigureCommand its
 * config, preset, replace, update_mask and precedence add up to. Every
 * refusal is an InvalidArgumentError naming the request field.
 *
 * update_mask (docs/design.md, "update_mask"): its paths are config field
 * names as in the proto ("open_duration") and "preset". A named field set in
 * `config` takes that value; a named field unset in `config` is cleared from
 * the target's explicit settings (it falls back to the pattern rule, preset
 * and defaults); a field not named is kept, even when `config` sets it. A
 * mask with no paths counts as unset: every field `config` sets is changed
 * and nothing is cleared.
 */
import {
  type CircuitConfig,
  type ConfigPatch,
  CONFIG_FIELD_LIST,
  circuitNameProblem,
  fieldByName,
  joinWithOr,
  patternProblem,
  validatePatch,
} from "../engine/index.js";
import { MAX_PRECEDENCE } from "../store/config-decisions.js";
import type { ConfigureCommand } from "../store/store.js";
import { InvalidArgumentError } from "./errors.js";

/** A Configure as the transport decoded it. */
export interface ConfigureRequest {
  target: { kind: "circuit"; circuit: string } | { kind: "pattern"; pattern: string } | undefined;
  patch: ConfigPatch;
  preset: string;
  replace: boolean;
  /** Pattern targets: the rule's precedence; undefined when unset. */
  precedence?: number;
  /** update_mask.paths; undefined (or empty) when the mask is unset. */
  updateMask?: readonly string[];
}

/** The update_mask path that names the preset. */
export const PRESET_PATH = "preset";

/** Most update_mask paths accepted: each field and "preset" once, with room for repeats. */
export const MAX_MASK_PATHS = 64;

/** The target and the command a valid Configure request stands for. */
export type JudgedConfigure =
  | { kind: "circuit"; circuit: string; command: ConfigureCommand }
  | { kind: "pattern"; pattern: string; command: ConfigureCommand };

function requireValidPatch(patch: ConfigPatch): void {
  const issues = validatePatch(patch);
  if (issues.length > 0) {
    const first = issues[0]!;
    const violations = issues.map((i) => ({ field: `config.${i.field}`, description: i.message }));
    throw new InvalidArgumentError(`config.${first.field}`, issues.map((i) => i.message.replace(`${i.field} `, "")).join("; "), violations);
  }
}

/** The engine keys `paths` names, and whether it names the preset; throws naming the first unknown path. */
function readMask(paths: readonly string[]): { fields: Set<keyof CircuitConfig>; preset: boolean } {
  if (paths.length > MAX_MASK_PATHS) {
    throw new InvalidArgumentError("update_mask.paths", `has ${paths.length} paths; at most ${MAX_MASK_PATHS}`);
  }
  const fields = new Set<keyof CircuitConfig>();
  let preset = false;
  paths.forEach((path, i) => {
    if (path === PRESET_PATH) {
      preset = true;
      return;
    }
    const spec = fieldByName(path);
    if (spec === undefined) {
      const accepted = joinWithOr([...CONFIG_FIELD_LIST.map((f) => f.name), PRESET_PATH]);
      throw new InvalidArgumentError(`update_mask.paths[${i}]`, `is ${JSON.stringify(path.slice(0, 60))}, not a config field; use ${accepted}`);
    }
    fields.add(spec.key);
  });
  return { fields, preset };
}

/**
 * Judges a Configure request: the target's name, the config patch, the mask
 * and the precedence. Throws InvalidArgumentError naming the first bad field.
 */
export function judgeConfigure(request: ConfigureRequest): JudgedConfigure {
  const target = request.target;
  if (target === undefined) throw new InvalidArgumentError("target", "is required: set circuit or pattern");
  if (target.kind === "circuit") {
    const problem = circuitNameProblem(target.circuit);
    if (problem !== undefined) throw new InvalidArgumentError("circuit", problem);
    if (request.precedence !== undefined) throw new InvalidArgumentError("precedence", "applies to a pattern target only; leave it unset for a circuit");
  } else {
    const problem = patternProblem(target.pattern);
    if (problem !== undefined) throw new InvalidArgumentError("pattern", problem);
    const p = request.precedence;
    if (p !== undefined && !(Number.isInteger(p) && p >= 0 && p <= MAX_PRECEDENCE)) {
      throw new InvalidArgumentError("precedence", `must be an integer from 0 to ${MAX_PRECEDENCE}`);
    }
  }

  const command: ConfigureCommand = { patch: request.patch, replace: request.replace };
  if (request.precedence !== undefined) command.precedence = request.precedence;
  const paths = request.updateMask ?? [];
  if (paths.length === 0) {
    requireValidPatch(request.patch);
    if (request.preset !== "") command.preset = request.preset;
    if (Object.keys(request.patch).length === 0 && request.preset === "" && !request.replace && request.precedence === undefined) {
      throw new InvalidArgumentError("config", "sets no field; set at least one config field, a preset, update_mask, or replace=true");
    }
  } else {
    if (request.replace) {
      throw new InvalidArgumentError("update_mask", "cannot be combined with replace=true: replace drops every setting, update_mask names the ones to change");
    }
    const mask = readMask(paths);
    // Fields not named are kept: what config sets for them is not applied (nor judged).
    const patch: Record<string, unknown> = {};
    const clear: (keyof CircuitConfig)[] = [];
    for (const key of mask.fields) {
      if (request.patch[key] === undefined) clear.push(key);
      else patch[key] = request.patch[key];
    }
    requireValidPatch(patch as ConfigPatch);
    command.patch = patch as ConfigPatch;
    if (clear.length > 0) command.clear = clear;
    if (mask.preset) {
      if (request.preset === "") command.clearPreset = true;
      else command.preset = request.preset;
    }
  }
  return target.kind === "circuit"
    ? { kind: "circuit", circuit: target.circuit, command }
    : { kind: "pattern", pattern: target.pattern, command };
}
