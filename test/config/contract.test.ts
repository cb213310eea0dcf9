/**
 * The config contract: every layer agrees with the config table
 * (src/engine/config-fields.ts). Each check loops over the table, so a field
 * added to it is checked everywhere at once: the engine's validation, its
 * CIRCUIT_BREAKER_* variable, its config-file key, the proto field (name,
 * type, presence) and its conversion, and the two documentation tables.
 * docs/design.md ("Adding a config field") lists which places are derived
 * from the table and which test here fails when one is missing.
 */
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ScalarType, create } from "@bufbuild/protobuf";
import { FeatureSet_FieldPresence } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { CircuitConfigSchema } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { loadConfig } from "../../src/config/index.js";
import {
  BUILTIN_DEFAULTS,
  CONFIG_FIELDS,
  CONFIG_FIELD_LIST,
  CONFIG_FIELD_NAMES,
  CONFIG_KEYS,
  applyPatch,
  fieldByName,
  tableDefaults,
  validateConfig,
  validatePatch,
  type CircuitConfig,
  type ConfigFieldSpec,
  type ConfigPatch,
} from "../../src/engine/index.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const names = CONFIG_FIELD_LIST.map((f) => f.name);
const numeric = (f: ConfigFieldSpec): boolean => f.kind === "integer" || f.kind === "number" || f.kind === "duration";

/**
 * A valid value of field `f` other than its default, one the whole default
 * config accepts too (max_open_duration must stay at least open_duration).
 */
function otherValue(f: ConfigFieldSpec): CircuitConfig[keyof CircuitConfig] {
  let candidates: unknown[];
  if (f.kind === "boolean") candidates = [!f.default];
  else if (f.kind === "enum") candidates = (f.values ?? []).filter((v) => v !== f.default);
  else {
    const d = f.default as number;
    candidates = [d * 2, d + 1, d / 2, (f.min! + f.max!) / 2].map((v) => (f.kind === "number" ? v : Math.round(v)));
  }
  const value = candidates.find(
    (v) => v !== f.default && validateConfig(applyPatch(BUILTIN_DEFAULTS, { [f.key]: v } as ConfigPatch)).length === 0,
  );
  expect(value, `a valid non-default value of ${f.name}`).toBeDefined();
  return value as CircuitConfig[keyof CircuitConfig];
}

/** `value` as its CIRCUIT_BREAKER_* variable spells it: seconds for durations. */
function envText(f: ConfigFieldSpec, value: unknown): string {
  return f.kind === "duration" ? String((value as number) / 1000) : String(value);
}

describe("the config table", () => {
  it.each(CONFIG_FIELD_LIST.map((f) => [f.name, f] as const))("%s is well formed", (_, f) => {
    expect(CONFIG_FIELDS[f.key]).toBe(f);
    expect(f.name).toMatch(/^[a-z][a-z0-9_]*$/);
    expect(f.env).toMatch(/^CIRCUIT_BREAKER_[A-Z0-9_]+$/);
    expect(f.doc.length).toBeGreaterThan(10);
    // Durations: milliseconds in the engine ("...Ms"), seconds in the environment.
    expect(f.key.endsWith("Ms")).toBe(f.kind === "duration");
    expect(f.env.endsWith("_SECONDS")).toBe(f.kind === "duration");
    if (f.kind === "boolean") expect(typeof f.default).toBe("boolean");
    if (f.kind === "enum") {
      expect(f.values?.length).toBeGreaterThan(0);
      expect(f.values).toContain(f.default);
    } else {
      expect(f.values).toBeUndefined();
    }
    if (numeric(f)) {
      expect(f.min, "min").toBeTypeOf("number");
      expect(f.max, "max").toBeTypeOf("number");
      expect(f.min!).toBeLessThan(f.max!);
      if (f.kind !== "number") expect(Number.isInteger(f.default)).toBe(true);
    } else {
      expect([f.min, f.max, f.minExclusive, f.maxExclusive, f.zeroMeans, f.format]).toEqual(Array(6).fill(undefined));
    }
    // 0 can only mean something where 0 is accepted.
    if (f.zeroMeans !== undefined) expect(validatePatch({ [f.key]: 0 })).toEqual([]);
    if (f.format === "percent") expect([f.kind, f.min, f.max]).toEqual(["number", 0, 1]);
  });

  it("has unique names and variables, and its defaults are a valid config", () => {
    expect(new Set(names).size).toBe(names.length);
    expect(new Set(CONFIG_FIELD_LIST.map((f) => f.env)).size).toBe(names.length);
    expect(CONFIG_KEYS).toEqual(Object.keys(CONFIG_FIELDS));
    expect(validateConfig(tableDefaults())).toEqual([]);
    for (const f of CONFIG_FIELD_LIST) expect(fieldByName(f.name)).toBe(f);
  });
});

describe("the engine reads the table", () => {
  it("BUILTIN_DEFAULTS and CONFIG_FIELD_NAMES are the table's", () => {
    expect(BUILTIN_DEFAULTS).toEqual(tableDefaults());
    expect(Object.keys(BUILTIN_DEFAULTS)).toEqual(CONFIG_KEYS);
    expect(CONFIG_FIELD_NAMES).toEqual(Object.fromEntries(CONFIG_FIELD_LIST.map((f) => [f.key, f.name])));
  });

  it.each(CONFIG_FIELD_LIST.filter(numeric).map((f) => [f.name, f] as const))("validatePatch holds %s to its range", (_, f) => {
    const refused = (value: number): boolean => validatePatch({ [f.key]: value }).some((i) => i.field === f.name);
    const step = f.kind === "number" ? 1e-9 : 1;
    expect(refused(f.min!)).toBe(f.minExclusive === true);
    expect(refused(f.max!)).toBe(f.maxExclusive === true);
    expect(refused(f.min! - step)).toBe(true);
    expect(refused(f.max! + step)).toBe(true);
    if (f.kind !== "number") expect(refused(f.max! - 0.5)).toBe(true);
    expect(refused(Number.NaN)).toBe(true);
  });

  it.each(CONFIG_FIELD_LIST.filter((f) => !numeric(f)).map((f) => [f.name, f] as const))("validatePatch holds %s to its values", (_, f) => {
    const accepted = f.kind === "boolean" ? [true, false] : (f.values ?? []);
    for (const v of accepted) expect(validatePatch({ [f.key]: v })).toEqual([]);
    for (const v of ["", "yes", 1, null]) expect(validatePatch({ [f.key]: v } as ConfigPatch)[0]?.field).toBe(f.name);
  });
});

describe("the engine's rules read every field", () => {
  // The rule that gives a field its meaning is written by hand; a field no
  // engine module reads is a field not implemented. (Its Lua twin is held to
  // the engine by the store conformance and differential tests.)
  const engineDir = `${root}src/engine/`;
  const rules = readdirSync(engineDir)
    .filter((file) => file.endsWith(".ts") && !/^(config|config-fields|types|index)\.ts$/.test(file))
    .map((file) => readFileSync(`${engineDir}${file}`, "utf8"))
    .join("\n");

  it.each(CONFIG_FIELD_LIST.map((f) => [f.key] as const))("%s", (key) => {
    expect(rules).toMatch(new RegExp(`\\.${key}\\b`));
  });
});

describe("the environment reads the table", () => {
  it.each(CONFIG_FIELD_LIST.map((f) => [f.env, f] as const))("%s sets its field, and is a known variable", (variable, f) => {
    const value = otherValue(f);
    const config = loadConfig({ [variable]: envText(f, value) });
    expect(config.layers.defaults).toEqual(applyPatch(BUILTIN_DEFAULTS, { [f.key]: value }));
    expect(config.warnings).toEqual([]);
  });
});

describe("the config file reads the table", () => {
  it.each(CONFIG_FIELD_LIST.map((f) => [f.name, f] as const))("%s is a config key", (name, f) => {
    const value = otherValue(f);
    // Durations as text with a unit, the form operators write most.
    const written = f.kind === "duration" ? `${value as number}ms` : value;
    const file = JSON.stringify({ circuits: { "contract.x": { config: { [name]: written } } } });
    const config = loadConfig({ BREAKERBOX_CONFIG: "/etc/breakerbox.json" }, { readFile: () => file });
    expect(config.circuits["contract.x"]).toEqual({ patch: { [f.key]: value } });
  });
});

describe("the proto carries the table", () => {
  const fields = CircuitConfigSchema.fields;

  it("CircuitConfig has exactly the table's fields", () => {
    expect(fields.map((f) => f.name).sort()).toEqual([...names].sort());
  });

  it.each(CONFIG_FIELD_LIST.map((f) => [f.name, f] as const))("%s has the proto type of its kind", (name, f) => {
    const field = fields.find((d) => d.name === name);
    expect(field, `CircuitConfig.${name}`).toBeDefined();
    const type =
      field!.fieldKind === "scalar"
        ? ScalarType[field!.scalar]
        : field!.fieldKind === "message"
          ? field!.message.typeName
          : field!.fieldKind === "enum"
            ? field!.enum.typeName
            : field!.fieldKind;
    const expected = { boolean: "BOOL", integer: "UINT32", number: "DOUBLE", duration: "google.protobuf.Duration", enum: "breakerbox.v1.Mode" };
    expect(type).toBe(expected[f.kind]);
    if (field!.fieldKind === "enum") {
      // The table's values are the enum's, 0 (UNSPECIFIED) aside: in a patch it means "unset".
      const values = field!.enum.values.filter((v) => v.number !== 0).map((v) => v.localName.toLowerCase());
      expect(values).toEqual(f.values);
    } else {
      // A Configure patch must tell "not set" from 0 or false.
      expect(field!.presence).toBe(FeatureSet_FieldPresence.EXPLICIT);
    }
  });

  // Imported when used: the binding refuses to load while the proto lacks a
  // table field, and the checks above should still say which.
  const convert = async () => ({
    ...(await import("../../src/server/convert.js")),
    ...(await import("../../src/server/proto-config-fields.js")),
  });

  it.each(CONFIG_FIELD_LIST.map((f) => [f.name, f] as const))("%s converts both ways", async (_, f) => {
    const { configToProto, patchFromProto, PROTO_CONFIG_FIELDS } = await convert();
    const config = applyPatch(BUILTIN_DEFAULTS, { [f.key]: otherValue(f) });
    expect(patchFromProto(configToProto(config))).toEqual(config);
    const only = create(CircuitConfigSchema, {});
    const binding = PROTO_CONFIG_FIELDS.find((p) => p.spec === f)!;
    (only as unknown as Record<string, unknown>)[binding.localName] = (configToProto(config) as unknown as Record<string, unknown>)[binding.localName];
    expect(patchFromProto(only)).toEqual({ [f.key]: config[f.key] });
  });

  it("an empty proto config is an empty patch", async () => {
    const { patchFromProto } = await convert();
    expect(patchFromProto(create(CircuitConfigSchema, {}))).toEqual({});
    expect(patchFromProto(undefined)).toEqual({});
  });
});

/** The rows of every Markdown table in `text` (leading and trailing pipes dropped), as cells. */
function tableRows(text: string): string[][] {
  return text
    .split("\n")
    .filter((line) => line.startsWith("| ") && !line.startsWith("|---"))
    .map((line) => line.slice(2, line.lastIndexOf(" |")).split(" | "));
}

/** The first `code` of a cell. */
function code(cell: string | undefined): string | undefined {
  return /`([^`]+)`/.exec(cell ?? "")?.[1];
}

/** A default as the docs write it (`120` seconds, `1.0`, `true`, `enforce`), as the table holds it. */
function documentedDefault(f: ConfigFieldSpec, cell: string | undefined): unknown {
  const text = code(cell);
  if (f.kind === "boolean") return text === "true" ? true : text === "false" ? false : text;
  if (f.kind === "enum") return text;
  const n = Number(text);
  return f.kind === "duration" ? Math.round(n * 1000) : n;
}

/** Every CIRCUIT_BREAKER_* name in the tables of `text`. */
function circuitVarsIn(text: string): string[] {
  return tableRows(text).flatMap((row) => row.join(" | ").match(/CIRCUIT_BREAKER_[A-Z0-9_]+/g) ?? []);
}

describe("the docs list the table", () => {
  const configuration = readFileSync(`${root}docs/configuration.md`, "utf8");
  const readme = readFileSync(`${root}README.md`, "utf8");
  const section = configuration.slice(configuration.indexOf("\n## Circuit defaults\n"), configuration.indexOf("\n## Config file\n"));
  const envs = CONFIG_FIELD_LIST.map((f) => f.env).sort();

  it("docs/configuration.md has one row per field: variable, name, default, range", () => {
    expect(section.length).toBeGreaterThan(100);
    const rows = tableRows(section).filter((row) => code(row[0])?.startsWith("CIRCUIT_BREAKER_"));
    expect(rows.map((row) => code(row[0])).sort()).toEqual(envs);
    for (const f of CONFIG_FIELD_LIST) {
      const [, field, defaultCell, accepted = ""] = rows.find((row) => code(row[0]) === f.env)!;
      expect(code(field), f.env).toBe(f.name);
      expect(documentedDefault(f, defaultCell), `${f.env} default`).toEqual(f.default);
      if (numeric(f)) {
        const scale = f.kind === "duration" ? 1000 : 1;
        const numbers = (accepted.match(/\d+(?:\.\d+)?/g) ?? []).map(Number);
        expect(numbers, `${f.env} range`).toEqual(expect.arrayContaining([f.min! / scale, f.max! / scale]));
        if (f.minExclusive === true) expect(accepted).toContain("above");
        if (f.maxExclusive === true) expect(accepted).toContain("not including");
      }
      for (const v of f.values ?? []) expect(accepted, `${f.env} values`).toContain(`\`${v}\``);
      if (f.zeroMeans !== undefined) expect(`${defaultCell} ${accepted}`, `${f.env}: what 0 means`).toContain(f.zeroMeans);
    }
  });

  it("README.md's configuration table has one row per field with its default", () => {
    const rows = tableRows(readme).filter((row) => code(row[0])?.startsWith("CIRCUIT_BREAKER_"));
    expect(rows.map((row) => code(row[0])).sort()).toEqual(envs);
    for (const f of CONFIG_FIELD_LIST) {
      const row = rows.find((r) => code(r[0]) === f.env)!;
      expect(documentedDefault(f, row[1]), `${f.env} default`).toEqual(f.default);
    }
  });

  it("no table names a CIRCUIT_BREAKER_* variable the table does not have", () => {
    for (const name of [...circuitVarsIn(configuration), ...circuitVarsIn(readme)]) expect(envs, name).toContain(name);
  });

  it("docs/configuration.md lists the config-file keys and durations of the table, in its order", () => {
    const keys = /uses the field names of the table above: ([^.]+)\./.exec(configuration)?.[1];
    expect([...(keys ?? "").matchAll(/`([a-z_]+)`/g)].map((m) => m[1])).toEqual(names);
    const durations = /Durations \(([^)]+)\)/.exec(configuration)?.[1];
    expect([...(durations ?? "").matchAll(/`([a-z_]+)`/g)].map((m) => m[1])).toEqual(
      CONFIG_FIELD_LIST.filter((f) => f.kind === "duration").map((f) => f.name),
    );
    // The sample error message lists the accepted keys as loadConfig does.
    expect(configuration).toContain(`unknown key; accepted: ${names.join(", ")}\n`);
  });
});
