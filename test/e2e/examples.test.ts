/**
 * The example agents, run as a user would against a live server: each must
 * see its circuit open and close again.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { checkBuild } from "../../scripts/build-stamp.mjs";
import { useReplica } from "../support/process-fixtures.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const run = promisify(execFile);
const server = useReplica({
  CIRCUIT_BREAKER_FAILURE_THRESHOLD: "3",
  CIRCUIT_BREAKER_TIMEOUT_SECONDS: "0.3",
  CIRCUIT_BREAKER_SUCCESS_THRESHOLD: "1",
});

describe("examples/typescript-agent", () => {
  it("sees its circuit open, uses the fallback, and sees it close again", async () => {
    checkBuild("client"); // the agent imports @breakerbox/client's dist/: never a stale one
    const { stdout } = await run(process.execPath, [`${root}examples/typescript-agent/agent.mjs`, server.grpc, "example.flaky-tool", "40"], {
      cwd: root,
      timeout: 60_000,
    });
    const lines = stdout.trim().split("\n");
    const transitions = lines.filter((l) => l.startsWith("watch: "));
    expect(transitions.slice(0, 3)).toEqual([
      "watch: CLOSED -> OPEN (consecutive_failures)",
      "watch: OPEN -> HALF_OPEN (open_duration_elapsed)",
      expect.stringMatching(/^watch: HALF_OPEN -> (CLOSED \(probes_succeeded\)|OPEN \(probe_failed\))$/),
    ]);
    expect(transitions.at(-1)).toBe("watch: HALF_OPEN -> CLOSED (probes_succeeded)");
    expect(lines.some((l) => /^call \d+: fallback \(circuit OPEN, retry in \d+ ms\)$/.test(l))).toBe(true);
    expect(lines.at(-1)).toMatch(/^done: 40 calls, [1-9]\d* fallbacks$/);
    // The last calls reach the healed tool.
    expect(lines.filter((l) => /^call \d+: result \d+$/.test(l)).length).toBeGreaterThan(5);
  }, 90_000); // longer than the agent's own 60 s run bound, so a hung agent fails naming its command
});
