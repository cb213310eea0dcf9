/**
 * The circuit config as it crosses into Lua, derived from CONFIG_FIELD_LIST
 * (src/engine/config-fields.ts): packConfig writes each field's value in
 * table order; the generated include `includes/config` reads them back into
 * a table keyed by each field's `name` (cfg.failure_threshold,
 * cfg.open_duration, ...). A field added to the table is packed and read
 * with no change here; test/store/lua-scripts.test.ts runs the accessor in
 * Redis and fails when a field is not packed, not read, or not used by any
 * script.
 *
 * Positional rather than a JSON object keyed by name: decoding the array and
 * building the table costs Redis about 2.5 µs per script call, decoding an
 * object of the 15 names about 3.3 µs (EVALSHA usec_per_call, 200k calls:
 * 3.5 vs 4.4 µs against 1.0 µs for an empty script), on every Acquire and
 * Report that reaches Redis.
 */
import { CONFIG_FIELD_LIST, type CircuitConfig, type ConfigFieldSpec } from "../../engine/index.js";

/** One field's value as a JSON number: booleans 1/0, an enum its index in `values`, numbers as they are. */
function packedValue(field: ConfigFieldSpec, value: CircuitConfig[keyof CircuitConfig]): number {
  switch (field.kind) {
    case "boolean":
      return value === true ? 1 : 0;
    case "enum":
      return field.values!.indexOf(String(value));
    default:
      return Number(value);
  }
}

const packed = new WeakMap<CircuitConfig, string>();

/**
 * The config as the scripts take it (ARGV[8]): every field's value, in
 * CONFIG_FIELD_LIST order, as one JSON array (one cjson.decode in Lua, cheaper
 * than splitting a string; one argument instead of one per field). Built once
 * per resolved config object. The values are finite (validateConfig), so each
 * is a JSON number, printed as Number#toString prints it.
 */
export function packConfig(config: CircuitConfig): string {
  let s = packed.get(config);
  if (s === undefined) {
    s = JSON.stringify(CONFIG_FIELD_LIST.map((f) => packedValue(f, config[f.key])));
    packed.set(config, s);
  }
  return s;
}

/** A Lua name for an enum's value list: CONFIG_<NAME>_VALUES. */
function enumTable(field: ConfigFieldSpec): string {
  return `CONFIG_${field.name.toUpperCase()}_VALUES`;
}

/** The Lua expression reading field `field` from v[index]. */
function luaRead(field: ConfigFieldSpec, index: number): string {
  switch (field.kind) {
    case "boolean":
      return `v[${index}] == 1`;
    case "enum":
      return `${enumTable(field)}[v[${index}] + 1]`;
    default:
      return `v[${index}]`;
  }
}

/** The source of the generated include `includes/config`: read_config(packed) → cfg keyed by field name. */
export function renderConfigInclude(): string {
  const enums = CONFIG_FIELD_LIST.filter((f) => f.kind === "enum").map(
    (f) => `local ${enumTable(f)} = { ${f.values!.map((v) => JSON.stringify(v)).join(", ")} }`,
  );
  const fields = CONFIG_FIELD_LIST.map((f, i) => `    ${f.name} = ${luaRead(f, i + 1)},${f.kind === "duration" ? " -- ms" : ""}`);
  return [
    "--[[",
    "  Generated from CONFIG_FIELD_LIST (src/engine/config-fields.ts) by",
    "  lua-config.ts when the scripts load; there is no file to edit.",
    "  read_config(packed) reads packConfig's JSON array into a table keyed by",
    "  each field's name. Durations are ms; booleans true/false; an enum its value.",
    "]]",
    ...enums,
    "local function read_config(packed)",
    "  local v = cjson.decode(packed)",
    "  return {",
    ...fields,
    "  }",
    "end",
    "",
  ].join("\n");
}
