/**
 * clients/python, the `breakerbox` package, checked as a user gets it: the
 * wheel and sdist built with `python -m build` and installed into a venv
 * (scripts/install-python-client.sh, cached in .tools/ until the sources
 * change), `mypy --strict` over the installed package, and its pytest suite
 * (clients/python/tests) against a live server on free ports, whose gRPC
 * address it reads from BREAKERBOX_TEST_ADDRESS, and the conformance scenarios
 * (tests/test_conformance.py starts clients/conformance/harness.mjs itself,
 * with the `node` of node_modules/.bin). A red run carries pytest's output.
 * The package's copy of the generated stubs must equal gen/python.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { lstatSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { useTestServer } from "../support/use-test-server.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const client = `${root}clients/python`;
const venv = `${root}.tools/python-client-venv`;

/** The settings clients/python/tests/conftest.py assumes (FAILURE_THRESHOLD, OPEN_SECONDS). */
const live = useTestServer({
  env: { CIRCUIT_BREAKER_FAILURE_THRESHOLD: "3", CIRCUIT_BREAKER_TIMEOUT_SECONDS: "60" },
  clock: "real",
});

interface Run {
  code: number | null;
  output: string;
}

/** Runs a venv tool in clients/python; resolves with its exit code and interleaved output. */
async function venvTool(tool: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const child = spawn(`${venv}/bin/${tool}`, args, {
    cwd: client,
    // node_modules/.bin first: the conformance harness runs on the project's Node.
    env: { PATH: `${venv}/bin:${root}node_modules/.bin:${process.env.PATH ?? ""}`, VIRTUAL_ENV: venv, HOME: process.env.HOME ?? "/tmp", ...env },
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  const [code] = (await once(child, "close")) as [number | null];
  return { code, output };
}

beforeAll(async () => {
  const child = spawn("bash", [`${root}scripts/install-python-client.sh`], { stdio: ["ignore", "inherit", "inherit"] });
  const [code] = (await once(child, "exit")) as [number | null];
  if (code !== 0) throw new Error(`scripts/install-python-client.sh failed (exit ${code}); its output is above`);
}, 300_000);

describe("clients/python", () => {
  it("ships the generated stubs of gen/python: src/breakerbox/v1 is a link to them, not a copy", () => {
    const shipped = `${client}/src/breakerbox/v1`;
    expect(lstatSync(shipped).isSymbolicLink()).toBe(true);
    expect(realpathSync(shipped)).toBe(realpathSync(`${root}gen/python/breakerbox/v1`));
  });

  it("is clean under mypy --strict as installed", async () => {
    // The cache lives in the venv, which is rebuilt whenever the package changes: a cache
    // in the checkout could describe an older install.
    const run = await venvTool("mypy", ["--strict", "--config-file", "pyproject.toml", "--cache-dir", `${venv}/.mypy_cache`, "-p", "breakerbox"]);
    expect(run.code, run.output).toBe(0);
  });

  it("runs the README's three-line guarded call as written", async () => {
    const readme = readFileSync(`${client}/README.md`, "utf8");
    const snippets = [...readme.matchAll(/```python\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => b.includes("from breakerbox import Breakerbox"));
    expect(snippets.length, "README.md has one ```python block importing Breakerbox").toBe(1);
    const lines = snippets[0]!.trim().split("\n");
    expect(lines.length).toBe(3);
    // Only the address changes; the dependency it guards is defined around it.
    const program = [
      'prompt = "hello"',
      'def call_openai(p): return "answer to " + p',
      ...lines.map((l) => l.replace("localhost:50051", live.server.grpcAddress)),
      "print(answer)",
    ].join("\n");
    const run = await venvTool("python", ["-c", program]);
    expect(run.output).toBe("answer to hello\n");
    expect(run.code).toBe(0);
    const status = (await live.client.call("getState", { circuit: "llm.openai" })).status!;
    expect(status.stats).toMatchObject({ totalSuccesses: 1n, totalFailures: 0n });
  });

  it("passes its pytest suite against a live server", async () => {
    const run = await venvTool("python", ["-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "tests"], {
      BREAKERBOX_TEST_ADDRESS: live.server.grpcAddress,
    });
    expect(run.code, run.output).toBe(0);
    expect(run.output).toMatch(/\b\d+ passed\b/);
    expect(run.output).not.toMatch(/\b(failed|error|skipped)\b/);
    // Every conformance scenario was played, with both clients.
    const { scenarios } = parse(readFileSync(`${root}clients/conformance/scenarios.yaml`, "utf8")) as { scenarios: { name: string }[] };
    expect(scenarios.length).toBeGreaterThan(0);
    for (const { name } of scenarios) {
      for (const kind of ["sync", "async"]) expect(run.output).toContain(`PASSED tests/test_conformance.py::test_scenario[${name}-${kind}]`);
    }
  }, 300_000);
});
