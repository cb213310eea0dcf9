/**
 * The Lua side of the config contract and the script loader: every field of
 * CONFIG_FIELD_LIST is packed by packConfig, read back by the generated
 * accessor (run in a real Redis) under its table name, and used by some
 * script as cfg.<name>; every cfg.<name> a script reads is a table field;
 * includes resolve, once each, and a missing one is a clear error.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { CONFIG_FIELD_LIST, tableDefaults, type CircuitConfig, type ConfigFieldSpec } from "../../src/engine/index.js";
import { packConfig, renderConfigInclude } from "../../src/store/redis/lua-config.js";
import { loadLuaScript, luaDir } from "../../src/store/redis/lua-loader.js";
import { commandSources } from "../../src/store/redis/scripts.js";
import { useFixture } from "../support/fixture.js";
import { useRedis } from "../support/process-fixtures.js";

const redis = useRedis();
const client = useFixture("a Redis client", async () => new Redis({ host: redis.host, port: redis.port }), (c) => c.disconnect());

/** A value of the field away from its default (so a field read from the wrong slot shows). */
function otherValue(f: ConfigFieldSpec, i: number): boolean | number | string {
  switch (f.kind) {
    case "boolean":
      return f.default !== true;
    case "enum":
      return f.values!.find((v) => v !== f.default)!;
    case "number":
      return f.minExclusive || f.min === undefined ? (f.max ?? 1) / 2 + i / 1000 : f.min + (i + 1) / 100;
    default:
      return (f.min ?? 0) + 100 + i;
  }
}

/** Every `cfg.<name>` read in the Lua sources. */
function cfgReads(): Set<string> {
  const reads = new Set<string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name));
      else if (entry.name.endsWith(".lua")) for (const m of readFileSync(join(dir, entry.name), "utf8").matchAll(/\bcfg\.([a-z_]+)/g)) reads.add(m[1]!);
    }
  };
  walk(luaDir());
  return reads;
}

describe("config into Lua", () => {
  it("packs every field of CONFIG_FIELD_LIST, and the generated accessor reads each back under its table name", async () => {
    const values = Object.fromEntries(CONFIG_FIELD_LIST.map((f, i) => [f.key, otherValue(f, i)]));
    const config = { ...tableDefaults(), ...values } as CircuitConfig;
    const packed = packConfig(config);
    expect(JSON.parse(packed)).toHaveLength(CONFIG_FIELD_LIST.length);
    const script = `${renderConfigInclude()}\nreturn cjson.encode(read_config(ARGV[1]))`;
    const read = JSON.parse(String(await client.eval(script, 0, packed))) as Record<string, unknown>;
    expect(read).toEqual(Object.fromEntries(CONFIG_FIELD_LIST.map((f) => [f.name, config[f.key]])));
  });

  it("packs a config object once and reuses the string", () => {
    const config = tableDefaults();
    expect(packConfig(config)).toBe(packConfig(config));
  });

  it("every field is read by some script as cfg.<name>, and every cfg.<name> a script reads is a field", () => {
    const reads = cfgReads();
    const names = CONFIG_FIELD_LIST.map((f) => f.name);
    expect(names.filter((n) => !reads.has(n)), "fields no script reads").toEqual([]);
    expect([...reads].filter((r) => !names.includes(r)), "cfg fields that are not in CONFIG_FIELD_LIST").toEqual([]);
  });
});

describe("Lua loader", () => {
  it("resolves every command's includes, leaving no @include line", () => {
    for (const [command, source] of Object.entries(commandSources())) {
      expect(source, command).not.toMatch(/@include/);
    }
    expect(commandSources().bbAcquire).toContain("local function read_config(packed)");
    expect(commandSources().bbAcquire).toContain("local function load_circuit(");
  });

  it("inlines an include once, where it is first named; includes may include", () => {
    const dir = mkdtempSync(join(tmpdir(), "bb-lua-")) + "/";
    writeFileSync(`${dir}main.lua`, '--- @include "a"\n--- @include "b"\nreturn x');
    writeFileSync(`${dir}a.lua`, '--- @include "b"\nlocal a = 1');
    writeFileSync(`${dir}b.lua`, "local b = 2");
    expect(loadLuaScript("main", { dir, generated: { c: () => "" } })).toBe("local b = 2\nlocal a = 1\n-- (b included above)\nreturn x");
  });

  it("names the script, line and path of a missing include", () => {
    const dir = mkdtempSync(join(tmpdir(), "bb-lua-")) + "/";
    writeFileSync(`${dir}main.lua`, 'local x = 1\n--- @include "includes/nope"\n');
    expect(() => loadLuaScript("main", { dir })).toThrow(
      `Lua script "includes/nope" (included from main.lua line 2) not found: no file ${dir}includes/nope.lua and no generated include of that name`,
    );
  });
});
