/**
 * Keeps README.md's "Wire it into your agent" true: every guarded call it
 * shows (TypeScript, Python sync and asyncio, Go) runs as written against a
 * live server, from the package a user installs from this repository: the
 * workspace's @breakerbox/client as `npm run build` left it, the Python
 * client's venv (scripts/install-python-client.sh, the wheel), and clients/go
 * through a `replace` in a throwaway module. Only the address changes; the
 * dependency each snippet calls is defined around it, and the server must
 * have counted the guarded call's success once the program ends.
 */
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkBuild } from "../../scripts/build-stamp.mjs";
import { useTestServer } from "../support/use-test-server.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const exec = promisify(execFile);
const live = useTestServer({ clock: "real" });
let scratch: string;

/** The fenced blocks of one language in README.md's "Wire it into your agent" section. */
function blocks(lang: string): string[] {
  const readme = readFileSync(`${root}README.md`, "utf8");
  const start = readme.indexOf("## Wire it into your agent");
  const end = readme.indexOf("\n## ", start + 1);
  expect(start, 'README.md has "## Wire it into your agent"').toBeGreaterThanOrEqual(0);
  return [...readme.slice(start, end).matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]!.trimEnd());
}

/** The snippet's lines with the README's address replaced by the live server's. */
function lines(block: string): string[] {
  return block.split("\n").map((l) => l.replace("localhost:50051", live.server.grpcAddress));
}

/** The circuit's total successes; 0 before its first use (NOT_FOUND). */
async function successes(circuit: string): Promise<bigint> {
  try {
    const status = (await live.client.call("getState", { circuit })).status;
    return status?.stats?.totalSuccesses ?? 0n;
  } catch (err) {
    if ((err as { code?: number }).code === 5) return 0n;
    throw err;
  }
}

/** Runs `program` and checks it printed `expected` and the server counted one more success on `circuit`. */
async function expectGuardedSuccess(circuit: string, run: () => Promise<string>, expected: string): Promise<void> {
  const before = await successes(circuit);
  expect(await run()).toBe(expected);
  expect(await successes(circuit)).toBe(before + 1n);
}

beforeAll(async () => {
  checkBuild("client");
  scratch = mkdtempSync(join(root, ".tools", "readme-clients-"));
  const child = spawn("bash", [`${root}scripts/install-python-client.sh`], { stdio: ["ignore", "inherit", "inherit"] });
  const [code] = (await once(child, "exit")) as [number | null];
  if (code !== 0) throw new Error(`scripts/install-python-client.sh failed (exit ${code}); its output is above`);
}, 300_000);

afterAll(() => {
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
});

describe("README.md, Wire it into your agent", () => {
  it("shows one three-line guarded call per language: TypeScript, Python, Python asyncio, Go", () => {
    const ts = blocks("ts");
    const py = blocks("python");
    const go = blocks("go");
    expect(ts.length).toBe(1);
    expect(py.length).toBe(2);
    expect(go.length).toBe(1);
    for (const block of [...ts, ...py, ...go]) expect(block.split("\n").length, block).toBe(3);
    expect(py[0]).toContain("from breakerbox import Breakerbox");
    expect(py[1]).toContain("from breakerbox import AsyncBreakerbox");
  });

  it("TypeScript: runs with the workspace's @breakerbox/client", async () => {
    // Inside the checkout, so `@breakerbox/client` resolves through node_modules as in a user's project.
    const file = join(scratch, "guard.mjs");
    writeFileSync(
      file,
      ['const prompt = "hello";', 'async function callModel(p) { return "answer to " + p; }', ...lines(blocks("ts")[0]!), "console.log(answer);", "await bb.close();"].join("\n"),
    );
    await expectGuardedSuccess("llm.openai", async () => (await exec(process.execPath, [file], { timeout: 60_000 })).stdout, "answer to hello\n");
  });

  it("Python: runs with the installed breakerbox package", async () => {
    const program = ['prompt = "hello"', 'def call_openai(p): return "answer to " + p', ...lines(blocks("python")[0]!), "print(answer)"].join("\n");
    const python = `${root}.tools/python-client-venv/bin/python`;
    await expectGuardedSuccess("llm.openai", async () => (await exec(python, ["-c", program], { timeout: 60_000 })).stdout, "answer to hello\n");
  });

  it("Python asyncio: runs with the installed breakerbox package", async () => {
    const body = lines(blocks("python")[1]!).map((l) => `    ${l}`);
    const program = [
      "import asyncio",
      'prompt = "hello"',
      'async def ask_claude(p): return "answer to " + p',
      "async def main():",
      ...body,
      "    print(answer)",
      "asyncio.run(main())",
    ].join("\n");
    const python = `${root}.tools/python-client-venv/bin/python`;
    await expectGuardedSuccess("llm.anthropic", async () => (await exec(python, ["-c", program], { timeout: 60_000 })).stdout, "answer to hello\n");
  });

  it("Go: runs with clients/go required through a replace", async () => {
    const dir = join(scratch, "go");
    mkdirSync(dir);
    writeFileSync(
      join(dir, "go.mod"),
      [
        "module readme.example/agent",
        "",
        "go 1.26.0",
        "",
        "require github.com/breakerbox/breakerbox/clients/go v0.0.0",
        "",
        `replace github.com/breakerbox/breakerbox/clients/go => ${root}clients/go`,
        "",
        `replace github.com/breakerbox/breakerbox/gen/go => ${root}gen/go`,
        "",
      ].join("\n"),
    );
    copyFileSync(`${root}clients/go/go.sum`, join(dir, "go.sum"));
    writeFileSync(
      join(dir, "main.go"),
      [
        "package main",
        "",
        'import (\n\t"context"\n\t"fmt"\n\t"os"\n\n\tbreakerbox "github.com/breakerbox/breakerbox/clients/go"\n)',
        "",
        'func callModel(context.Context) error { fmt.Println("model called"); return nil }',
        "",
        "func main() {",
        "\tctx := context.Background()",
        ...lines(blocks("go")[0]!).map((l) => `\t${l}`),
        '\tif err != nil {\n\t\tfmt.Println("error:", err)\n\t\tos.Exit(1)\n\t}',
        "}",
      ].join("\n"),
    );
    const run = async (): Promise<string> => {
      try {
        return (await exec("go", ["run", "-mod=mod", "."], { cwd: dir, timeout: 240_000, env: { ...process.env, GOFLAGS: "-mod=mod" } })).stdout;
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string; message: string };
        throw new Error(`go run failed:\n${e.stdout ?? ""}\n${e.stderr ?? e.message}`);
      }
    };
    await expectGuardedSuccess("llm.openai", run, "model called\n");
  }, 300_000);
});
