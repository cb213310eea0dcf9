/**
 * clients/typescript, the `@breakerbox/client` package, checked as a user gets
 * it: `npm pack` of the built package (only dist/ with the copied gen stubs,
 * package.json and README.md), `npm install` of that tarball into an empty
 * project, a program there guarding a call against a live server (the
 * server's stats must show the success), the README's three-line guarded call
 * run as written, and `tsc --noEmit` over a file using the package's types.
 * npm may fetch the two dependencies from the registry: a cold cache only
 * makes it slower.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkBuild } from "../../scripts/build-stamp.mjs";
import { useTestServer } from "../support/use-test-server.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const pkgDir = `${root}clients/typescript`;
const exec = promisify(execFile);
const live = useTestServer({ clock: "real" });

interface PackedFile {
  path: string;
}
interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: PackedFile[];
}

let tmp: string;
let project: string;
let packed: PackResult;

/**
 * The environment of a child npm: without what `npm run`/`npm test` exported
 * about this repository (npm_config_local_prefix would make the child install
 * into the checkout instead of the temp project), keeping the user's cache,
 * registry and proxy settings.
 */
function npmEnv(): NodeJS.ProcessEnv {
  const keep = /^npm_config_(cache|userconfig|globalconfig|registry|noproxy|proxy|https_proxy)$/;
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!(k.startsWith("npm_") && !keep.test(k)) && k !== "INIT_CWD") env[k] = v;
  return env;
}

async function npm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await exec("npm", args, { cwd, env: npmEnv(), maxBuffer: 16 * 1024 * 1024, timeout: 240_000 });
  return stdout;
}

/** Runs `node file` in the temp project; resolves with its stdout (rejects with its stderr on a non-zero exit). */
async function nodeIn(file: string, args: string[] = []): Promise<string> {
  const { stdout } = await exec(process.execPath, [file, ...args], { cwd: project, timeout: 60_000 });
  return stdout;
}

/** Every .ts file under `dir`, relative to it, without the extension. */
function tsModules(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith(".ts")) out.push(relative(dir, p).replace(/\.ts$/, ""));
    }
  };
  walk(dir);
  return out;
}

async function successesAndFailures(circuit: string): Promise<unknown> {
  const status = (await live.client.call("getState", { circuit })).status!;
  return { totalSuccesses: status.stats!.totalSuccesses, totalFailures: status.stats!.totalFailures };
}

beforeAll(async () => {
  checkBuild("client"); // packs clients/typescript/dist as `npm run build` left it: never a stale one
  tmp = mkdtempSync(join(tmpdir(), "breakerbox-ts-pack-"));
  // --ignore-scripts: the package's prepack would rebuild (and first empty) the dist/ other test files use.
  const out = await npm(["pack", "--json", "--ignore-scripts", "--pack-destination", tmp], pkgDir);
  packed = (JSON.parse(out) as PackResult[])[0]!;
  project = join(tmp, "project");
  await exec("mkdir", [project]);
  await npm(["init", "-y"], project);
  await npm(["pkg", "set", "type=module"], project);
  const typesNode = (JSON.parse(readFileSync(`${root}node_modules/@types/node/package.json`, "utf8")) as { version: string }).version;
  await npm(["install", "--no-audit", "--no-fund", "--prefer-offline", join(tmp, packed.filename), `@types/node@${typesNode}`], project);
}, 300_000);

afterAll(() => {
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
});

describe("clients/typescript packed", () => {
  it("holds only dist/ (the client and the copied gen stubs, .js and .d.ts), package.json and README.md", () => {
    const paths = packed.files.map((f) => f.path).sort();
    console.log(`${packed.filename}: ${packed.entryCount} files, ${(packed.size / 1024).toFixed(1)} kB (unpacked ${(packed.unpackedSize / 1024).toFixed(1)} kB)`);
    const client = readdirSync(`${pkgDir}/src`).filter((f) => f.endsWith(".ts")).map((f) => f.replace(/\.ts$/, ""));
    const gen = ["breakerbox", "google"].flatMap((d) => tsModules(`${root}gen/ts/${d}`).map((m) => `gen/${d}/${m}`));
    const expected = [...client, ...gen].flatMap((m) => [`dist/${m}.js`, `dist/${m}.d.ts`]);
    expect(paths).toEqual([...expected, "README.md", "package.json"].sort());
    expect(gen).toContain("gen/breakerbox/v1/breakerbox_pb");
    expect(gen).toContain("gen/google/rpc/status_pb");
    expect(packed.entryCount).toBe(paths.length);
    expect(packed.size).toBeLessThan(200 * 1024);
  });

  it("installs with only its two dependencies, none of the server's", () => {
    const manifest = JSON.parse(readFileSync(`${project}/node_modules/@breakerbox/client/package.json`, "utf8")) as { dependencies: Record<string, string> };
    expect(Object.keys(manifest.dependencies).sort()).toEqual(["@bufbuild/protobuf", "@grpc/grpc-js"]);
    for (const dep of ["ioredis", "pino", "prom-client", "zod", "@connectrpc/connect", "breakerbox"]) expect(existsSync(`${project}/node_modules/${dep}`), dep).toBe(false);
  });

  it("guards a call against a live server from the installed package; the server counts the success", async () => {
    writeFileSync(
      `${project}/guard.mjs`,
      [
        'import { createBreakerbox } from "@breakerbox/client";',
        "const bb = createBreakerbox({ address: process.argv[2] });",
        'const result = await bb.run("pack.guarded", async () => 6 * 7, { fallback: () => -1 });',
        "console.log(JSON.stringify({ result, status: bb.status() }));",
        "bb.close();",
      ].join("\n"),
    );
    expect(await nodeIn("guard.mjs", [live.server.grpcAddress])).toBe('{"result":42,"status":{"degraded":false,"pendingReports":0,"queuedReports":1,"droppedReports":0}}\n');
    expect(await successesAndFailures("pack.guarded")).toEqual({ totalSuccesses: 1n, totalFailures: 0n });
  });

  it("runs the README's three-line guarded call as written", async () => {
    const readme = readFileSync(`${pkgDir}/README.md`, "utf8");
    const snippets = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => b.includes('from "@breakerbox/client"'));
    expect(snippets.length, "README.md has one ```ts block importing @breakerbox/client").toBe(1);
    const lines = snippets[0]!.trim().split("\n");
    expect(lines.length).toBe(3);
    // Only the address changes; the dependency it guards is defined around it.
    writeFileSync(
      `${project}/readme.mjs`,
      [
        'const prompt = "hello";',
        'async function callModel(p) { return "answer to " + p; }',
        ...lines.map((l) => l.replace("localhost:50051", live.server.grpcAddress)),
        "console.log(answer);",
        "bb.close();",
      ].join("\n"),
    );
    expect(await nodeIn("readme.mjs")).toBe("answer to hello\n");
    expect(await successesAndFailures("llm.openai")).toEqual({ totalSuccesses: 1n, totalFailures: 0n });
  });

  it("type-checks a program using its types (tsc --noEmit, the root's typescript)", async () => {
    writeFileSync(
      `${project}/tsconfig.json`,
      JSON.stringify({
        compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, types: ["node"] },
        files: ["check.ts"],
      }),
    );
    writeFileSync(
      `${project}/check.ts`,
      [
        'import { createBreakerbox, CircuitOpenError, type BreakerboxOptions, type State } from "@breakerbox/client";',
        "declare function callModel(p: string): Promise<string>;",
        "declare const prompt: string;",
        'const options: BreakerboxOptions = { address: "localhost:50051", whenUnavailable: "failOpen", localConfig: { failureThreshold: 3, openDurationMs: 1000 } };',
        "const bb = createBreakerbox(options);",
        'const answer: string = await bb.run("llm.openai", () => callModel(prompt), { fallback: () => "busy" });',
        'const waited: number = await bb.run("c", async () => 42, { fallback: (e: CircuitOpenError) => e.retryAfterMs });',
        'const state: State = "HALF_OPEN";',
        "// @ts-expect-error run's result has fn's type (a number here), not string: the types are real, not any",
        'const wrong: string = await bb.run("c", async () => 42);',
        "// @ts-expect-error address is required",
        "createBreakerbox({});",
        "export { answer, waited, state, wrong };",
      ].join("\n"),
    );
    const r = await exec(`${root}node_modules/.bin/tsc`, ["-p", `${project}/tsconfig.json`], { cwd: project }).catch((e: { stdout: string; code: number }) => e);
    expect(r.stdout).toBe("");
    expect("code" in r ? r.code : 0).toBe(0);
  });
});

describe("clients/typescript packed: the ./ai-sdk subpath", () => {
  it("loads without ai installed (only types come from it), as the main entry does", async () => {
    writeFileSync(`${project}/subpath.mjs`, 'const m = await import("@breakerbox/client/ai-sdk");\nconsole.log(typeof m.breakerboxMiddleware);\n');
    expect(existsSync(`${project}/node_modules/ai`)).toBe(false);
    expect(await nodeIn("subpath.mjs")).toBe("function\n");
    const installed = `${project}/node_modules/@breakerbox/client/dist`;
    const importingAi = readdirSync(installed).filter((f) => f.endsWith(".js") && /from "(ai|@ai-sdk\/[^"]+)"|import\("(ai|@ai-sdk\/)/.test(readFileSync(join(installed, f), "utf8")));
    expect(importingAi).toEqual([]);
  });

  it("runs the README's AI SDK example as written, with ai installed next to the tarball, and type-checks against ai's types", async () => {
    const readme = readFileSync(`${pkgDir}/README.md`, "utf8");
    const snippets = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => b.includes('from "@breakerbox/client/ai-sdk"'));
    expect(snippets.length, "README.md has one ```ts block importing @breakerbox/client/ai-sdk").toBe(1);
    const lines = snippets[0]!.trim().split("\n");
    expect(lines.length).toBe(5);
    // A project of its own: the one above must stay free of ai (and of its peer zod).
    const aiProject = join(tmp, "ai-project");
    await exec("mkdir", [aiProject]);
    await npm(["init", "-y"], aiProject);
    await npm(["pkg", "set", "type=module"], aiProject);
    const versionOf = (name: string) => (JSON.parse(readFileSync(`${root}node_modules/${name}/package.json`, "utf8")) as { version: string }).version;
    const deps = [join(tmp, packed.filename), `ai@${versionOf("ai")}`, `@types/node@${versionOf("@types/node")}`];
    await npm(["install", "--no-audit", "--no-fund", "--prefer-offline", ...deps], aiProject);
    // `bb`, `openai` and `anthropic` are defined around it: the providers as the AI SDK's mock models.
    writeFileSync(
      `${aiProject}/readme.mjs`,
      [
        'import { createBreakerbox } from "@breakerbox/client";',
        'import { MockLanguageModelV4 } from "ai/test";',
        "const bb = createBreakerbox({ address: process.argv[2] });",
        "const usage = { inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 }, outputTokens: { total: 1, text: 1, reasoning: 0 } };",
        'const answer = (text) => async () => ({ content: [{ type: "text", text }], finishReason: { unified: "stop", raw: "stop" }, usage, warnings: [] });',
        'const openai = (modelId) => new MockLanguageModelV4({ provider: "openai.chat", modelId, doGenerate: answer("Rayleigh scattering") });',
        'const anthropic = (modelId) => new MockLanguageModelV4({ provider: "anthropic.messages", modelId, doGenerate: answer("fallback") });',
        ...lines,
        "console.log(text);",
        "bb.close();",
      ].join("\n"),
    );
    const { stdout } = await exec(process.execPath, ["readme.mjs", live.server.grpcAddress], { cwd: aiProject, timeout: 60_000 });
    expect(stdout).toBe("Rayleigh scattering\n");
    expect(await successesAndFailures("llm.openai.chat.gpt-4o")).toEqual({ totalSuccesses: 1n, totalFailures: 0n });

    writeFileSync(
      `${aiProject}/tsconfig.json`,
      JSON.stringify({
        compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, types: ["node"], skipLibCheck: true },
        files: ["check.ts"],
      }),
    );
    writeFileSync(
      `${aiProject}/check.ts`,
      [
        'import { createBreakerbox } from "@breakerbox/client";',
        'import { breakerboxMiddleware, type BreakerboxMiddlewareOptions } from "@breakerbox/client/ai-sdk";',
        'import { wrapLanguageModel, type LanguageModel } from "ai";',
        'import { MockLanguageModelV4 } from "ai/test";',
        'const bb = createBreakerbox({ address: "localhost:50051" });',
        "const options: BreakerboxMiddlewareOptions = { circuit: (m) => `llm.${m.provider}`, fallback: new MockLanguageModelV4(), timeoutMs: 30_000 };",
        "const model: LanguageModel = wrapLanguageModel({ model: new MockLanguageModelV4(), middleware: breakerboxMiddleware(bb, options) });",
        "// @ts-expect-error the fallback is a model, not a string",
        'breakerboxMiddleware(bb, { fallback: "gpt-4o" });',
        "export { model };",
      ].join("\n"),
    );
    const r = await exec(`${root}node_modules/.bin/tsc`, ["-p", `${aiProject}/tsconfig.json`], { cwd: aiProject }).catch((e: { stdout: string; code: number }) => e);
    expect(r.stdout).toBe("");
    expect("code" in r ? r.code : 0).toBe(0);
  }, 300_000);
});
