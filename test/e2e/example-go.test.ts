/**
 * examples/go-agent (a user of clients/go), run as a user would: built with the Go toolchain and run
 * as its own process against a live server over the network, with the
 * README's settings (failure threshold 3, open duration 0.3 s, one probe
 * closes). The server's clock is the test's: the circuit stays OPEN, and the
 * agent keeps getting its fallback, until the test has seen a fallback and
 * moves the clock past the open duration. So the run never depends on how
 * fast this machine is, and every line of the story is exact.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { State } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { startForwarder } from "../support/tcp-forwarder.js";
import { useTestServer } from "../support/use-test-server.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const agentDir = `${root}examples/go-agent`;
const exec = promisify(execFile);

/** The server settings examples/go-agent/README.md starts `npm start` with. */
const README_ENV = {
  CIRCUIT_BREAKER_FAILURE_THRESHOLD: "3",
  CIRCUIT_BREAKER_TIMEOUT_SECONDS: "0.3",
  CIRCUIT_BREAKER_SUCCESS_THRESHOLD: "1",
};

let tmp: string;
let agent: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "go-agent-"));
  agent = join(tmp, "go-agent");
  // The first build downloads grpc-go and protobuf through the Go module proxy.
  try {
    await exec("go", ["build", "-o", agent, "."], { cwd: agentDir, timeout: 280_000 });
  } catch (err) {
    const e = err as { code?: string; stderr?: string; message: string };
    if (e.code === "ENOENT") throw new Error("`go` is not on PATH: install Go 1.26 or later (https://go.dev/dl/) to build examples/go-agent");
    throw new Error(`go build in examples/go-agent failed: ${e.stderr ?? e.message}`);
  }
}, 300_000);

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

interface AgentRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: string[];
  stderr: string;
}

/**
 * Runs the built agent with `args` and only PATH plus `env` in its
 * environment; `onLine` sees each stdout line as it is printed (and the
 * process, to signal it). SIGKILLs it
 * after `timeoutMs` (the result then shows the signal).
 */
async function runAgent(
  args: string[],
  env: Record<string, string>,
  onLine: (line: string, child: ChildProcess) => void = () => {},
  timeoutMs = 30_000,
): Promise<AgentRun> {
  const child = spawn(agent, args, { env: { PATH: process.env.PATH ?? "", ...env } });
  const lines: string[] = [];
  let stderr = "";
  let buffer = "";
  child.stdout.on("data", (chunk: Buffer) => {
    buffer += chunk.toString("utf8");
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      lines.push(line);
      onLine(line, child);
    }
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (c, s) => resolve([c, s]));
  });
  clearTimeout(timer);
  if (buffer !== "") lines.push(buffer);
  return { code, signal, lines, stderr };
}

/** Everything the agent printed, for failure messages. */
function transcript(run: AgentRun): string {
  return `exit ${run.code ?? run.signal}\n--- stdout\n${run.lines.join("\n")}\n--- stderr\n${run.stderr}`;
}

describe("examples/go-agent", () => {
  const { server, client } = useTestServer({ env: README_ENV });

  it("its README starts the server with these settings and quotes the agent's code as it is", async () => {
    const readme = await readFile(`${agentDir}/README.md`, "utf8");
    const env = Object.entries(README_ENV).map(([k, v]) => `${k}=${v}`).join(" ");
    expect(readme).toContain(`npm ci && ${env} npm start\n`);
    expect(readme).toContain("cd examples/go-agent && go run .\n");
    // Compared line by line without indentation: the README dedents.
    const flat = (text: string): string => text.split("\n").map((l) => l.trim()).join("\n");
    const sources = flat((await Promise.all(["main.go", "watch.go"].map((f) => readFile(`${agentDir}/${f}`, "utf8")))).join("\n"));
    const blocks = [...readme.matchAll(/```go\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThan(0);
    for (const block of blocks) expect(sources, `README block not found in the sources:\n${block}`).toContain(flat(block).trim());
  });

  it("is gofmt- and vet-clean, and its unit tests pass", async () => {
    const { stdout: unformatted } = await exec("gofmt", ["-l", "."], { cwd: agentDir });
    expect(unformatted, "files gofmt would change").toBe("");
    await exec("go", ["vet", "./..."], { cwd: agentDir, timeout: 120_000 });
    const { stdout } = await exec("go", ["test", "./..."], { cwd: agentDir, timeout: 120_000 });
    expect(stdout).toMatch(/^ok\s+github\.com\/breakerbox\/breakerbox\/examples\/go-agent\s/);
  }, 240_000);

  it("sees its circuit open, uses the fallback while OPEN, and sees it close again", async () => {
    const circuit = "example.flaky-tool";
    let advanced = false;
    // As the README runs it (`go run .`, 40 calls, 50 ms apart, the tool's
    // calls 5 to 7 failing), with the address from BREAKERBOX_ADDRESS.
    const run = await runAgent([], { BREAKERBOX_ADDRESS: server.grpcAddress }, (line) => {
      // The circuit is OPEN and the agent is on its fallback: move the clock
      // well past the open duration (300 ms). The agent keeps calling every
      // 50 ms meanwhile, so its next Acquire finds the circuit due for
      // HALF_OPEN.
      if (!advanced && line.includes(": fallback (circuit OPEN")) {
        advanced = true;
        server.clock.advance(1_000);
      }
    });
    try {
      expect(run.code).toBe(0);
      expect(run.stderr).toBe("");
      const transitions = run.lines.filter((l) => l.startsWith("watch: "));
      expect(transitions).toEqual([
        "watch: CLOSED -> OPEN (consecutive_failures)",
        "watch: OPEN -> HALF_OPEN (open_duration_elapsed)",
        "watch: HALF_OPEN -> CLOSED (probes_succeeded)",
      ]);

      // Every call in order: 4 results, the tool's 3 failures, then only
      // fallbacks while OPEN (the clock has not moved: exactly 300 ms to
      // wait), then the healed tool answers (its 8th call was the probe).
      const calls = run.lines.filter((l) => l.startsWith("call "));
      expect(calls).toHaveLength(40);
      const fallbacks = calls.filter((l) => l.includes(": fallback ")).length;
      expect(fallbacks).toBeGreaterThanOrEqual(1);
      const expected = [
        ...[1, 2, 3, 4].map((n) => `call ${n}: result ${n}`),
        ...[5, 6, 7].map((n) => `call ${n}: error: tool failed on call ${n} (503 Service Unavailable)`),
        ...Array.from({ length: fallbacks }, (_, i) => `call ${8 + i}: fallback (circuit OPEN, retry in 300 ms)`),
        ...Array.from({ length: 40 - 7 - fallbacks }, (_, i) => `call ${8 + fallbacks + i}: result ${8 + i}`),
      ];
      expect(calls).toEqual(expected);
      expect(run.lines.at(-1)).toBe(`done: 40 calls, ${fallbacks} fallbacks`);

      // Breakerbox's side: closed again, and every call was acquired and
      // reported (the fallbacks as rejections).
      const { status } = await client.call("getState", { circuit });
      expect(status?.state).toBe(State.CLOSED);
      expect(status?.stats?.totalFailures).toBe(3n);
      expect(status?.stats?.totalSuccesses).toBe(BigInt(40 - 3 - fallbacks));
      expect(status?.stats?.totalRejections).toBe(BigInt(fallbacks));
      expect(status?.stats?.totalIgnored).toBe(0n);
    } catch (err) {
      console.error(`go-agent run:\n${transcript(run)}`);
      throw err;
    }
  });

  it("ends cleanly on SIGTERM, reporting the call it cancelled", async () => {
    const circuit = "example.sigterm";
    let child: ChildProcess | undefined;
    const run = await runAgent(
      ["-circuit", circuit, "-calls", "100000", "-fail", "100000-100000"],
      { BREAKERBOX_ADDRESS: server.grpcAddress },
      (line, proc) => {
        child = proc;
        if (line.startsWith("call 3: ")) child.kill("SIGTERM");
      },
    );
    expect(run.code, transcript(run)).toBe(0);
    expect(run.stderr).toBe("");
    const last = run.lines.at(-1) ?? "";
    const made = Number(/^done: (\d+) calls, 0 fallbacks$/.exec(last)?.[1]);
    expect(made, transcript(run)).toBeGreaterThanOrEqual(3);
    // Each call was reported: a success, or IGNORED for the one SIGTERM cut short.
    const { status } = await client.call("getState", { circuit });
    expect(status!.stats!.totalSuccesses + status!.stats!.totalIgnored).toBe(BigInt(made));
  });

  it("rejects a bad -fail range, naming the flag, and exits 1", async () => {
    const run = await runAgent(["-fail", "7-5"], { BREAKERBOX_ADDRESS: server.grpcAddress });
    expect(run.code, transcript(run)).toBe(1);
    expect(run.lines).toEqual([]);
    expect(run.stderr).toBe('go-agent: -fail "7-5": want FROM-TO with 1 <= FROM <= TO, e.g. 5-7\n');
  });
});

describe("examples/go-agent without a reachable Breakerbox", () => {
  it("fails open: calls the dependency without a permit and says so on stderr", async () => {
    // An address where every connection is reset, held for the whole run (a port freed for the
    // purpose could be taken by another process before the agent dials it).
    const nowhere = await startForwarder();
    const run = await runAgent(["-calls", "3"], { BREAKERBOX_ADDRESS: nowhere.address }).finally(() => nowhere.close());
    expect(run.code, transcript(run)).toBe(0);
    expect(run.lines).toEqual(["call 1: result 1", "call 2: result 2", "call 3: result 3", "done: 3 calls, 0 fallbacks"]);
    // Said once: the client's service-down memo answers the calls after the first (clients/go).
    const failOpen = run.stderr.split("\n").filter((l) => l.includes('msg="breakerbox unreachable: calling without a permit (fail open)"'));
    expect(failOpen, transcript(run)).toHaveLength(1);
    expect(run.stderr).toContain('msg="watch: no snapshot within 5s; calling anyway"');
  });
});

describe("examples/go-agent with access control on", () => {
  const key = "go-agent-test-key-0123456789";
  const { server, client } = useTestServer({ env: { ...README_ENV, BREAKERBOX_API_KEYS: `go-example:agent:${key}` } });

  it("sends BREAKERBOX_API_KEY on every call, Watch included", async () => {
    const run = await runAgent(["-circuit", "example.keyed", "-calls", "3", "-interval", "1ms"], {
      BREAKERBOX_ADDRESS: server.grpcAddress,
      BREAKERBOX_API_KEY: key,
    });
    expect(run.code, transcript(run)).toBe(0);
    expect(run.stderr).toBe("");
    expect(run.lines).toEqual(["call 1: result 1", "call 2: result 2", "call 3: result 3", "done: 3 calls, 0 fallbacks"]);
    const { status } = await client.call("getState", { circuit: "example.keyed" }, { authorization: `Bearer ${key}` });
    expect(status?.stats?.totalSuccesses).toBe(3n);
  });

  it("without the key, stops at the Watch with UNAUTHENTICATED instead of calling", async () => {
    const run = await runAgent(["-circuit", "example.unkeyed"], { BREAKERBOX_ADDRESS: server.grpcAddress }, undefined, 10_000);
    expect(run.code, transcript(run)).toBe(1);
    expect(run.lines).toEqual([]);
    expect(run.stderr).toMatch(/^go-agent: watch example\.unkeyed at 127\.0\.0\.1:\d+: rpc error: code = Unauthenticated desc = .+\n$/);
  });
});
