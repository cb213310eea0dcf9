/**
 * examples/python-agent, run as its README says: a virtualenv built with the
 * README's commands (scripts/install-python-example.sh, cached in .tools/:
 * the `breakerbox` package from clients/python),
 * a live server with the README's settings on the real clock (the agent is a
 * separate process that waits out the open duration itself), and `python
 * agent.py` as a real process. It must see its circuit open and close again.
 * The command lines, the server settings and the sample output's transitions
 * are read from the README, so the README cannot drift from what runs.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { State } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { useTestServers } from "../support/use-test-server.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const example = `${root}examples/python-agent`;
const venv = `${root}.tools/python-agent-venv`;
const readme = readFileSync(`${example}/README.md`, "utf8");
const blocks = [...readme.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1]!, text: m[2]! }));

/** The one fenced block of `lang` that contains `marker`. */
function block(lang: string, marker: string): string {
  const found = blocks.filter((b) => b.lang === lang && b.text.includes(marker));
  expect(found.length, `README.md has one \`\`\`${lang} block with "${marker}"`).toBe(1);
  return found[0]!.text;
}

/** The CIRCUIT_BREAKER_* settings the README starts `npm start` with. */
const serverEnv: Record<string, string> = Object.fromEntries(
  [...block("sh", "npm start").matchAll(/\b(CIRCUIT_BREAKER_[A-Z_]+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]),
);
/** The arguments after `python agent.py` in the README's run command. */
const readmeArgs = (() => {
  const line = block("sh", "python agent.py")
    .split("\n")
    .find((l) => l.startsWith("python agent.py"));
  return line!.split(/\s+/).slice(2);
})();

/** Live servers in this process, on free ports, on the real clock (the app's own memory store); stopped after each test. */
const servers = useTestServers();

interface AgentRun {
  code: number | null;
  stdout: string;
  stderr: string;
  lines: string[];
}

/**
 * Runs `python <script> ...args` in examples/python-agent with the venv
 * activated (its bin/ first on PATH, VIRTUAL_ENV set) and only `env` besides;
 * SIGKILLs it after `timeoutMs` and resolves with what it printed.
 */
function runPython(args: string[], env: Record<string, string>, options: { timeoutMs?: number; stdin?: string } = {}): Promise<AgentRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(`${venv}/bin/python`, args, {
      cwd: example,
      env: { PATH: `${venv}/bin:${process.env.PATH ?? ""}`, VIRTUAL_ENV: venv, ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    const timer = setTimeout(() => {
      stderr += `\n[test: killed after ${options.timeoutMs ?? 20_000} ms]`;
      child.kill("SIGKILL");
    }, options.timeoutMs ?? 20_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, lines: stdout.split("\n").filter((l) => l !== "") });
    });
    child.stdin.end(options.stdin ?? "");
  });
}

/** Runs `check`; on failure, adds the agent's whole output to the error, so a red run says what the agent saw. */
function withOutput(run: AgentRun, check: () => void): void {
  try {
    check();
  } catch (err) {
    if (err instanceof Error) err.message += `\n--- exit code ${run.code}; agent stdout:\n${run.stdout}--- agent stderr:\n${run.stderr}`;
    throw err;
  }
}

const transitionsOf = (lines: string[]): string[] => lines.filter((l) => l.startsWith("watch: "));

beforeAll(async () => {
  // The README's `python3 -m venv` and `pip install -r requirements.txt`; a
  // no-op when current. Its output shows, so a first run says what it installs.
  const child = spawn("bash", [`${root}scripts/install-python-example.sh`], { stdio: ["ignore", "inherit", "inherit"] });
  const [code] = (await once(child, "exit")) as [number | null];
  if (code !== 0) throw new Error(`scripts/install-python-example.sh failed (exit ${code}); its output is above`);
}, 300_000);

describe("examples/python-agent", () => {
  it("runs as its README says: sees the circuit open, uses the fallback, and sees it close again", async () => {
    expect(serverEnv).toEqual({
      CIRCUIT_BREAKER_FAILURE_THRESHOLD: "3",
      CIRCUIT_BREAKER_TIMEOUT_SECONDS: "1",
      CIRCUIT_BREAKER_SUCCESS_THRESHOLD: "1",
    });
    const { server, client } = await servers.start({ env: serverEnv, clock: "real" });
    const run = await runPython(["agent.py", ...readmeArgs], { BREAKERBOX_ADDRESS: server.grpcAddress });

    let results = 0;
    let deniedByBreakerbox = 0;
    withOutput(run, () => {
      expect(run.code).toBe(0);
      expect(run.stderr).toBe("");
      // The tool fails on its calls 5 to 8. Three failures in a row open the
      // circuit; the first probe meets the 4th failure and re-opens it; the
      // next probe succeeds and closes it. Only the number of fallbacks
      // depends on timing, so the transitions are exact.
      const expected = [
        "watch: CLOSED -> OPEN (consecutive_failures)",
        "watch: OPEN -> HALF_OPEN (open_duration_elapsed)",
        "watch: HALF_OPEN -> OPEN (probe_failed)",
        "watch: OPEN -> HALF_OPEN (open_duration_elapsed)",
        "watch: HALF_OPEN -> CLOSED (probes_succeeded)",
      ];
      expect(transitionsOf(run.lines)).toEqual(expected);
      // The README's sample output shows the same transitions.
      expect(transitionsOf(block("", "done: ").split("\n"))).toEqual(expected);

      const calls = run.lines.filter((l) => l.startsWith("call "));
      expect(calls.map((l) => Number(/^call (\d+): /.exec(l)?.[1]))).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      const errors = calls.filter((l) => / error: /.test(l)).map((l) => l.replace(/^call \d+: /, ""));
      expect(errors).toEqual([5, 6, 7, 8].map((n) => `error: tool failed on call ${n}`));
      const fallbackLines = calls.filter((l) => / fallback /.test(l));
      expect(fallbackLines.length).toBeGreaterThan(0);
      for (const l of fallbackLines) expect(l).toMatch(/^call \d+: fallback \(circuit OPEN(, known locally)?, retry in \d+ ms\)$/);
      // Once denied (or told by the Watch), the client knows the circuit is
      // OPEN until its retry_after and denies without asking Breakerbox.
      expect(fallbackLines.some((l) => l.includes("known locally"))).toBe(true);
      const resultLines = calls.filter((l) => / result /.test(l));
      expect(resultLines.length + errors.length + fallbackLines.length).toBe(40);
      // The tool counts its own calls: denied calls never reached it.
      expect(resultLines.at(-1)).toMatch(new RegExp(`: result ${resultLines.length + errors.length}$`));
      expect(run.lines.at(-1)).toBe(`done: 40 calls, ${fallbackLines.length} fallbacks`);
      // The healed tool answers once the circuit has closed.
      expect(run.lines.slice(run.lines.indexOf(expected[4]!)).some((l) => / result /.test(l))).toBe(true);
      results = resultLines.length;
      deniedByBreakerbox = fallbackLines.filter((l) => !l.includes("known locally")).length;
    });

    // The server's side of the story.
    const status = (await client.call("getState", { circuit: "example.flaky-tool" })).status!;
    expect(State[status.state]).toBe("CLOSED");
    expect(status.generation).toBe(5n);
    expect(status.stats).toMatchObject({
      totalSuccesses: BigInt(results),
      totalFailures: 4n,
      totalTimeouts: 0n,
      totalIgnored: 0n,
      // Only the denials Breakerbox decided count as its rejections.
      totalRejections: BigInt(deniedByBreakerbox),
    });
  });

  it("sends BREAKERBOX_API_KEY as a bearer token, and passes a Retry-After from the tool's errors with the Report", async () => {
    const key = "python-example-agent-key-0123456789";
    const { server, client } = await servers.start({ env: { ...serverEnv, BREAKERBOX_API_KEYS: `py-agent:agent:${key}` }, clock: "real" });

    const refused = await runPython(["agent.py", "--calls", "1"], { BREAKERBOX_ADDRESS: server.grpcAddress });
    withOutput(refused, () => {
      expect(refused.code).toBe(1);
      expect(refused.stdout).toBe("");
      expect(refused.stderr).toMatch(/^error: Breakerbox Watch: UNAUTHENTICATED: .*\(set BREAKERBOX_API_KEY to an agent key of the server's BREAKERBOX_API_KEYS\)\n$/);
    });

    // Calls 5 to 7 fail with `Retry-After: 30`; the third opens the circuit, for 30 s instead of 1 s.
    const run = await runPython(["agent.py", "--circuit", "example.rate-limited", "--calls", "7", "--retry-after", "30"], {
      BREAKERBOX_ADDRESS: server.grpcAddress,
      BREAKERBOX_API_KEY: key,
    });
    withOutput(run, () => {
      expect(run.code).toBe(0);
      expect(run.stderr).toBe("");
      expect(transitionsOf(run.lines)).toEqual(["watch: CLOSED -> OPEN (consecutive_failures)"]);
      expect(run.lines.at(-1)).toBe("done: 7 calls, 0 fallbacks");
    });
    const status = (
      await client.call("getState", { circuit: "example.rate-limited" }, { authorization: `Bearer ${key}` })
    ).status!;
    expect(State[status.state]).toBe("OPEN");
    const ms = (t: { seconds: bigint; nanos: number } | undefined): number => Number(t!.seconds) * 1000 + t!.nanos / 1e6;
    expect(ms(status.openUntil) - ms(status.since)).toBe(30_000);
  });

  it("runs the README's `Use it in your agent` snippet as written", async () => {
    const { server, client } = await servers.start({ clock: "real" });
    // Only the port of the HTTP endpoint it guards changes: the server's free one.
    const snippet = block("python", "from breakerbox import").replace("localhost:8080", `127.0.0.1:${server.app.httpPort}`);
    const run = await runPython(["-"], { BREAKERBOX_ADDRESS: server.grpcAddress }, { stdin: snippet });
    withOutput(run, () => {
      expect(run.code).toBe(0);
      expect(run.stderr).toBe("");
      expect(run.stdout).toBe("ok\n");
    });
    const status = (await client.call("getState", { circuit: "http.local.healthz" })).status!;
    expect(status.stats).toMatchObject({ totalSuccesses: 1n, totalFailures: 0n });
  });
});
