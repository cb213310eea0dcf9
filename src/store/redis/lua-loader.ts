/**
 * Loads Lua scripts with bullmq-style includes: a line
 * `--- @include "includes/engine"` is replaced by lua/includes/engine.lua (or
 * by a generated include of that name), each include at most once per script,
 * where it is first named; includes may include others. A missing include is
 * an error naming the script, the line and where it was looked for.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const INCLUDE = /^---\s*@include\s+"([^"]+)"\s*$/;

/** The Lua sources beside this module (`npm run build` copies the folder, subfolders included, into dist/). */
export function luaDir(): string {
  return fileURLToPath(new URL("./lua/", import.meta.url));
}

export interface LuaSources {
  /** Directory of the .lua files, ending in "/". Default lua/ beside this module. */
  dir?: string;
  /** Includes rendered in code rather than read from a file, by include path. */
  generated?: Readonly<Record<string, () => string>>;
}

/** The source of script `name` (lua/<name>.lua) with every include resolved. */
export function loadLuaScript(name: string, sources: LuaSources = {}): string {
  const dir = sources.dir ?? luaDir();
  const generated = sources.generated ?? {};
  const included = new Set<string>();

  const read = (path: string, from: string | undefined): string => {
    if (Object.hasOwn(generated, path)) return generated[path]!();
    try {
      return readFileSync(`${dir}${path}.lua`, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      const where = from === undefined ? "" : ` (included from ${from})`;
      throw new Error(`Lua script ${JSON.stringify(path)}${where} not found: no file ${dir}${path}.lua and no generated include of that name`);
    }
  };

  const expand = (path: string, from: string | undefined): string =>
    read(path, from)
      .split("\n")
      .map((line, i) => {
        const m = INCLUDE.exec(line);
        if (m === null) return line;
        const include = m[1]!;
        if (included.has(include)) return `-- (${include} included above)`;
        included.add(include);
        return expand(include, `${path}.lua line ${i + 1}`);
      })
      .join("\n");

  return expand(name, undefined);
}
