/**
 * The variable reference of docs/configuration.md cannot drift: the file
 * holds exactly what src/config/reference.ts renders from the schemas, every
 * variable the code reads has a row there, and the rows' defaults and ranges
 * are the ones the schemas apply.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CIRCUIT_ENV_VARS } from "../../src/config/circuit-env.js";
import { CONFIG_FILE_VAR, processEnvSchema, unknownVarWarnings } from "../../src/config/env.js";
import { REFERENCE_BEGIN, REFERENCE_END, configReference, documentedProcessVars, documentedVariables } from "../../src/config/reference.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const reference = configReference();

describe("docs/configuration.md", () => {
  it("holds the generated variable reference between its markers", () => {
    const doc = readFileSync(`${root}docs/configuration.md`, "utf8");
    const begin = doc.indexOf(REFERENCE_BEGIN);
    const end = doc.indexOf(REFERENCE_END);
    expect(begin, "the begin marker").toBeGreaterThan(0);
    expect(end, "the end marker, after the begin marker").toBeGreaterThan(begin);
    expect(doc.indexOf(REFERENCE_BEGIN, begin + 1), "one begin marker").toBe(-1);
    expect(
      doc.slice(begin + REFERENCE_BEGIN.length, end),
      "docs/configuration.md's variable reference differs from src/config: run `npm run docs:config` and commit the file",
    ).toBe(`\n\n${reference}\n`);
  });
});

/** Every .ts file under `dir`, recursively. */
function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/**
 * Variables the server reads that are not ours to document here, with why.
 * Anything else read from the environment must have a row.
 */
const NOT_IN_REFERENCE: readonly [pattern: RegExp, reason: string][] = [
  [/^OTEL_/, "the OpenTelemetry SDK reads the standard OTEL_* variables itself; they have their own section"],
];

/**
 * The names of the environment variables the sources read: `process.env.X`,
 * `process.env["X"]` and `const { X } = process.env` anywhere, `env.X`,
 * `env["X"]` and `env[CONSTANT]` in src/config (its functions take the
 * environment as `env`), and the keys of the schemas. Each with where it was
 * found.
 */
function environmentReads(): Map<string, string> {
  const reads = new Map<string, string>();
  const files = tsFiles(`${root}src`).map((path) => ({ path: path.slice(root.length), text: readFileSync(path, "utf8") }));
  const constants = new Map<string, string>();
  for (const { text } of files) for (const m of text.matchAll(/\b([A-Z][A-Z0-9_]*)\s*=\s*"([A-Z][A-Z0-9_]*)"/g)) constants.set(m[1]!, m[2]!);
  const add = (name: string, where: string) => reads.set(name, reads.get(name) ?? where);
  for (const { path, text } of files) {
    const patterns = [/\bprocess\.env\.([A-Za-z_][A-Za-z0-9_]*)/g, /\bprocess\.env\[\s*["'`]([^"'`]+)["'`]\s*\]/g];
    if (path.startsWith("src/config/")) patterns.push(/\benv\.([A-Z][A-Z0-9_]*)\b/g, /\benv\[\s*["'`]([^"'`]+)["'`]\s*\]/g);
    for (const pattern of patterns) for (const m of text.matchAll(pattern)) add(m[1]!, path);
    for (const m of text.matchAll(/\{([^}]*)\}\s*=\s*process\.env\b/g)) {
      for (const part of m[1]!.split(",")) {
        const name = part.split(":")[0]!.trim();
        if (name !== "" && !name.startsWith("...")) add(name, path);
      }
    }
    if (path.startsWith("src/config/")) {
      for (const m of text.matchAll(/\benv\[\s*([A-Za-z_][A-Za-z0-9_]*)\s*\]/g)) {
        const name = constants.get(m[1]!);
        expect(name, `${path}: env[${m[1]}] reads a variable whose name this test cannot resolve; name it by a string constant`).toBeDefined();
        add(name!, path);
      }
    }
  }
  for (const name of Object.keys(processEnvSchema.shape)) add(name, "src/config/env.ts (processEnvSchema)");
  for (const name of Object.values(CIRCUIT_ENV_VARS)) add(name, "src/config/circuit-env.ts (config-fields table)");
  return reads;
}

describe("the variable reference", () => {
  const reads = environmentReads();

  it("finds the reads it looks for (the scan itself works)", () => {
    // Read by name in tls.ts and through a constant in index.ts, not through a schema.
    expect(reads.get("BREAKERBOX_TLS_CERT_FILE")).toBe("src/config/tls.ts");
    expect(reads.get(CONFIG_FILE_VAR)).toBe("src/config/index.ts");
  });

  it("documents every variable the code reads", () => {
    const undocumented = [...reads]
      .filter(([name]) => !NOT_IN_REFERENCE.some(([pattern]) => pattern.test(name)))
      .filter(([name]) => !reference.includes(`\n| \`${name}\` |`))
      .map(([name, where]) => `${name} (read in ${where})`);
    expect(undocumented, "variables without a row in the reference: document them on their schema entry in src/config").toEqual([]);
  });

  it("documents only variables the server knows", () => {
    const names = documentedVariables();
    expect(new Set(names).size).toBe(names.length);
    expect(unknownVarWarnings(Object.fromEntries(names.map((n) => [n, "x"])))).toEqual([]);
    const rows = [...reference.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \|/gm)].map((m) => m[1]);
    expect(rows.sort()).toEqual([...names].sort());
  });

  // The helpers derive these cells from the numbers they validate with; this
  // holds the cells to what parsing does, whatever produced them.
  const ranged = documentedProcessVars().flatMap(({ name, doc }) => {
    const m = /^(integer|seconds,) (\d+(?:\.\d+)?)–(\d+(?:\.\d+)?)(;|$)/.exec(doc.accepted);
    return m === null ? [] : [{ name, seconds: m[1] === "seconds,", min: Number(m[2]), max: Number(m[3]), fallback: Number(/^`([\d.]+)`/.exec(doc.default)?.[1]) }];
  });

  it("has ranged rows for the integer and seconds variables", () => {
    expect(ranged.map((r) => r.name)).toEqual(expect.arrayContaining(["BREAKERBOX_GRPC_PORT", "BREAKERBOX_IDLE_TTL_SECONDS", "BREAKERBOX_REDIS_TIMEOUT_SECONDS"]));
  });

  it.each(ranged.map((r) => [r.name, r] as const))("%s: its default and range are what parsing applies", (name, r) => {
    const schema = (processEnvSchema.shape as Record<string, { safeParse: (v: unknown) => { success: boolean; data?: unknown } }>)[name]!;
    const scale = r.seconds ? 1000 : 1;
    const step = r.seconds ? 0.001 : 1;
    expect(schema.safeParse(undefined).data, "default").toBe(r.fallback * scale);
    expect(schema.safeParse(String(r.min)).data).toBe(Math.round(r.min * scale));
    expect(schema.safeParse(String(r.max)).data).toBe(Math.round(r.max * scale));
    expect(schema.safeParse(String(r.min - step)).success, "below the range").toBe(false);
    expect(schema.safeParse(String(r.max + step)).success, "above the range").toBe(false);
  });
});
