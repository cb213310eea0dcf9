/**
 * Keeps docs/admin.md true: runs every ```sh recipe of it, as written and in
 * order (they tell one story), with the real grpcurl against a live server
 * (only the ports are changed to the server's free ones), and checks each
 * recipe's output against the state the story has reached.
 *
 * The story's world is made first through the gRPC API, as agents would make
 * it: a few healthy circuits and two LLM circuits that have just opened. The
 * server's clock is the test's manual clock, so timestamps are exact and
 * time passes (OPEN -> HALF_OPEN) without sleeping. Between recipes the test
 * plays the agents where the doc says something happened meanwhile.
 *
 * The recipes send `authorization: Bearer $BREAKERBOX_ADMIN_KEY`; the server
 * enforces API keys and has an admin key named "oncall", the actor history
 * shows. One more test runs a recipe with no key against a server without
 * access control, as the doc promises it works.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Outcome, State } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { grpc } from "../support/grpc-call.js";
import type { RunningTestServer } from "../support/test-server.js";
import { useTestServer, useTestServers } from "../support/use-test-server.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const doc = readFileSync(`${root}docs/admin.md`, "utf8");
/** A recipe: a ```sh block, and the plain ``` block after it that shows its output. */
interface Recipe {
  block: string;
  sample?: string;
}
const recipes: Recipe[] = [];
for (const [, info, body] of doc.matchAll(/```(\w*)\n([\s\S]*?)```/g)) {
  const last = recipes[recipes.length - 1];
  if (info === "sh") recipes.push({ block: body! });
  else if (info === "" && last !== undefined && last.sample === undefined) last.sample = body!;
}
const blocks = recipes.map((r) => r.block);

const ADMIN_KEY = `admin-${randomBytes(16).toString("hex")}`;
const AGENT_KEY = `agent-${randomBytes(16).toString("hex")}`;
const API_KEYS = `oncall:admin:${ADMIN_KEY},fleet:agent:${AGENT_KEY}`;
const AGENT = { authorization: `Bearer ${AGENT_KEY}` };

/** grpcurl's exit status for a gRPC error: 64 + the status code. */
const exitFor = (code: grpc.status): number => 64 + code;

// Parsed JSON as grpcurl prints it: deliberately loose, the assertions pin it down.
type Json = any;

/**
 * The top-level JSON objects in `text`, in order (grpcurl prints one per
 * message, a stream several; curl prints them back to back). Text between
 * objects is skipped.
 */
function jsonDocs(text: string): Json[] {
  const docs: Json[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === "\\") i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"' && depth > 0) {
      inString = true;
    } else if (ch === "{") {
      if (depth === 0) start = i;
      depth++;
    } else if (ch === "}" && depth > 0) {
      depth--;
      if (depth === 0) docs.push(JSON.parse(text.slice(start, i + 1)));
    }
  }
  return docs;
}

/** Event ids are "<log epoch>-<n>"; the epoch is random per store. */
const normalizeIds = (text: string): string => text.replace(/"[0-9a-f]{8}-(\d+)"/g, '"<epoch>-$1"');

/**
 * The doc's sample output is real: every line of it, in order, is a line of
 * what the recipe printed (stdout, then stderr). "…" stands for whatever was
 * left out: a line that is only "…" skips any lines, "…" inside a line any text.
 */
function expectSample(sample: string, r: BlockRun): void {
  const printed = normalizeIds(r.stdout + r.stderr).split("\n");
  let from = 0;
  for (const line of normalizeIds(sample).split("\n")) {
    if (line.trim() === "…" || line === "") continue;
    const pattern = new RegExp(`^${line.split("…").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
    const found = printed.findIndex((p, i) => i >= from && pattern.test(p));
    expect(found, `sample line ${JSON.stringify(line)} printed (after line ${from} of the output)`).toBeGreaterThanOrEqual(0);
    from = found + 1;
  }
}

const names = (list: Json): string[] => (list.circuits ?? []).map((c: Json) => c.circuit);
const at = (hhmmss: string): string => `2026-01-01T${hhmmss}Z`;

interface BlockRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  env?: Record<string, string>;
  /** Called with everything printed so far, each time more arrives; its promise is awaited before the run resolves. */
  onStdout?: (soFar: string) => Promise<void> | undefined;
}

const { server, client } = useTestServer({ env: { BREAKERBOX_API_KEYS: API_KEYS } });
let workDir: string;
/** The actor history records for the recipes' key. */
const actor = "oncall";

/**
 * Runs a block with bash like a reader would paste it (with -euo pipefail, so
 * a failing command is not hidden), in a scratch directory, with grpcurl from
 * .tools/bin on the PATH and the admin key exported.
 */
function run(block: string, target: RunningTestServer, options: RunOptions = {}): Promise<BlockRun> {
  const script = block
    .replaceAll("localhost:50051", target.grpcAddress)
    .replaceAll("localhost:8080", target.httpUrl.replace("http://", ""));
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-euo", "pipefail", "-c", script], {
      cwd: workDir,
      env: { ...process.env, PATH: `${root}.tools/bin:${process.env.PATH}`, BREAKERBOX_ADMIN_KEY: ADMIN_KEY, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    const pending: Promise<void>[] = [];
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      const p = options.onStdout?.(stdout);
      if (p !== undefined) pending.push(p);
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      Promise.all(pending).then(() => resolve({ code, stdout, stderr }), reject);
    });
  });
}

/** An agent's call: Acquire, then Report `outcome` (the last one with `retryAfterSeconds`, if given). */
async function call(circuit: string, outcome: "ok" | "fail", retryAfterSeconds?: number): Promise<void> {
  const a = await client.call("acquire", { circuit }, AGENT);
  expect(a.allowed, `${circuit} admits the agent's call`).toBe(true);
  await client.call(
    "report",
    {
      circuit,
      permit: a.permit,
      outcome: outcome === "ok" ? Outcome.SUCCESS : Outcome.FAILURE,
      ...(retryAfterSeconds === undefined ? {} : { retryAfter: { seconds: BigInt(retryAfterSeconds) } }),
    },
    AGENT,
  );
}

async function calls(circuit: string, outcome: "ok" | "fail", n: number, retryAfterLast?: number): Promise<void> {
  for (let i = 1; i <= n; i++) await call(circuit, outcome, i === n ? retryAfterLast : undefined);
}

const SECOND = 1000;

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), "breakerbox-admin-doc-"));

  // The night so far (the clock starts at 2026-01-01T00:00:00Z).
  server.clock.advance((3 * 3600 + 10 * 60) * SECOND); // 03:10:00: healthy traffic
  await calls("agent.researcher.eu", "ok", 2);
  await calls("agent.researcher.us", "ok", 2);
  await calls("tool.search", "ok", 3);
  await calls("llm.mistral", "ok", 2);
  server.clock.advance(90 * SECOND); // 03:11:30: Anthropic fails, the last answer says Retry-After: 300
  await calls("llm.anthropic", "fail", 5, 300);
  server.clock.advance(35 * SECOND); // 03:12:05: OpenAI fails
  await calls("llm.openai.gpt", "fail", 5);
  server.clock.advance(35 * SECOND); // 03:12:40: the on-call engineer starts typing
});

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

/** What one recipe is and what it must print. */
interface Step {
  title: string;
  /** Text the block must contain: keeps this list and the doc in step. */
  contains: string;
  /** Exit status; 0 unless the recipe ends with a gRPC error on purpose. */
  exit?: number;
  options?: () => RunOptions;
  /** What agents do after this recipe, before the next one. */
  after?: () => Promise<void>;
  check(r: BlockRun): void | Promise<void>;
}

const IO_CONFIG = {
  enabled: true,
  failureThreshold: 5,
  failureRateThreshold: 0.5,
  minimumCalls: 10,
  window: "120s",
  slowCallDuration: "2s",
  slowCallRateThreshold: 0.5,
  openDuration: "15s",
  backoffMultiplier: 2,
  maxOpenDuration: "120s",
  halfOpenMaxCalls: 3,
  successThreshold: 3,
  permitTtl: "10s",
  jitter: 0.1,
  mode: "MODE_ENFORCE",
  minDistinctReporters: 1,
};

/** The llm preset under the `llm.*` rule (open_duration 20s) of the Configure recipe. */
const LLM_RULE_CONFIG = {
  enabled: true,
  failureThreshold: 3,
  failureRateThreshold: 0.5,
  minimumCalls: 10,
  window: "120s",
  slowCallDuration: "60s",
  slowCallRateThreshold: 0.8,
  openDuration: "20s",
  backoffMultiplier: 2,
  maxOpenDuration: "600s",
  halfOpenMaxCalls: 1,
  successThreshold: 2,
  permitTtl: "180s",
  jitter: 0.2,
  mode: "MODE_ENFORCE",
  minDistinctReporters: 1,
};

/** The resume token the Watch recipe ended with, and the events that happened after it. */
let watchEnd = "";

const steps: Step[] = [
  {
    title: "list: the services and the methods of CircuitService",
    contains: "localhost:50051 list breakerbox.v1.CircuitService",
    check: (r) => {
      expect(r.stdout).toBe(
        [
          "breakerbox.v1.CircuitService",
          "grpc.health.v1.Health",
          "grpc.reflection.v1.ServerReflection",
          "grpc.reflection.v1alpha.ServerReflection",
          ...[
            "Acquire",
            "AcquireAny",
            "BatchReport",
            "Configure",
            "DeletePatternRule",
            "ForceState",
            "GetHistory",
            "GetState",
            "ListCircuits",
            "ListPatternRules",
            "Report",
            "Reset",
            "Watch",
          ].map(
            (m) => `breakerbox.v1.CircuitService.${m}`,
          ),
          "",
        ].join("\n"),
      );
    },
  },
  {
    title: "describe a method: its doc comment from the proto",
    contains: "describe breakerbox.v1.CircuitService.ForceState",
    check: (r) => {
      expect(r.stdout).toBe(
        [
          "breakerbox.v1.CircuitService.ForceState is a method:",
          "// ForceState pins a circuit to FORCED_OPEN (deny all) or DISABLED (allow",
          "// all, still record stats), or releases it to CLOSED (admin). The circuit is",
          "// created if it does not exist yet, so a dependency can be fenced off before",
          "// any agent calls it.",
          "rpc ForceState ( .breakerbox.v1.ForceStateRequest ) returns ( .breakerbox.v1.ForceStateResponse );",
          "",
        ].join("\n"),
      );
    },
  },
  {
    title: "describe a message and an enum, with field comments",
    contains: "describe breakerbox.v1.State",
    check: (r) => {
      expect(r.stdout).toMatch(/^breakerbox\.v1\.ConfigureRequest is a message:\n\/\/ Request of Configure\.\nmessage ConfigureRequest \{\n/);
      expect(r.stdout).toContain("  oneof target {\n");
      expect(r.stdout).toContain("  // True drops every earlier explicit setting of this target first, so unset\n");
      expect(r.stdout).toContain("  bool replace = 5;\n");
      expect(r.stdout).toContain("breakerbox.v1.State is an enum:\n// State of a circuit.\nenum State {\n");
      expect(r.stdout).toContain("  // Admin state: every call is denied until released.\n  STATE_FORCED_OPEN = 4;\n");
    },
  },
  {
    title: "health check",
    contains: "grpc.health.v1.Health/Check",
    check: (r) => {
      expect(jsonDocs(r.stdout)).toEqual([{ status: "SERVING" }]);
    },
  },
  {
    title: "triage: the OPEN circuits",
    contains: `-d '{"state":"STATE_OPEN"}'`,
    check: (r) => {
      const docs = jsonDocs(r.stdout);
      expect(docs).toHaveLength(1);
      const [list] = docs;
      expect(names(list)).toEqual(["llm.anthropic", "llm.openai.gpt"]);
      expect(list.nextPageToken).toBeUndefined();
      const [anthropic, openai] = list.circuits;
      expect(anthropic).toMatchObject({ state: "STATE_OPEN", since: at("03:11:30"), openUntil: at("03:16:30"), generation: "1" });
      expect(anthropic.stats).toEqual({ windowCalls: "5", windowFailures: "5", failureRate: 1, consecutiveFailures: 5, totalFailures: "5" });
      expect(anthropic.config.openDuration).toBe("60s");
      expect(openai).toMatchObject({ state: "STATE_OPEN", since: at("03:12:05"), openUntil: at("03:13:05") });
      expect(openai.stats.consecutiveFailures).toBe(5);
    },
  },
  {
    title: "triage: why, from each open circuit's history",
    contains: "echo \"== $c\"",
    check: (r) => {
      const sections = r.stdout.split(/^== /m).filter((s) => s !== "");
      expect(sections.map((s) => s.slice(0, s.indexOf("\n")))).toEqual(["llm.anthropic", "llm.openai.gpt"]);
      const [anthropic, openai] = sections.map((s) => jsonDocs(s));
      expect(anthropic).toHaveLength(1);
      expect(anthropic![0].entries).toHaveLength(1);
      expect(anthropic![0].entries[0].transition).toMatchObject({
        circuit: "llm.anthropic",
        fromState: "STATE_CLOSED",
        toState: "STATE_OPEN",
        reason: "consecutive_failures",
        at: at("03:11:30"),
        openUntil: at("03:16:30"),
        generation: "1",
        stats: { consecutiveFailures: 5, windowFailures: "5" },
      });
      // Traffic opened it: no actor; the principal is the agents' key whose Report drove it.
      expect(anthropic![0].entries[0].transition.actor).toBeUndefined();
      expect(anthropic![0].entries[0].transition.principal).toEqual({ keyName: "fleet" });
      expect(anthropic![0].entries[0].transition.cause).toBe("TRANSITION_CAUSE_CONSECUTIVE_FAILURES");
      expect(openai![0].entries).toHaveLength(1);
      expect(openai![0].entries[0].transition).toMatchObject({
        circuit: "llm.openai.gpt",
        toState: "STATE_OPEN",
        reason: "consecutive_failures",
        at: at("03:12:05"),
      });
    },
  },
  {
    title: "GetState of one circuit",
    contains: `-d '{"circuit":"llm.openai.gpt"}' \\\n  localhost:50051 breakerbox.v1.CircuitService/GetState`,
    check: (r) => {
      const docs = jsonDocs(r.stdout);
      expect(docs).toHaveLength(1);
      expect(docs[0].status).toEqual({
        circuit: "llm.openai.gpt",
        state: "STATE_OPEN",
        config: {
          enabled: true,
          failureThreshold: 5,
          failureRateThreshold: 0.5,
          minimumCalls: 10,
          window: "120s",
          slowCallDuration: "0s",
          slowCallRateThreshold: 1,
          openDuration: "60s",
          backoffMultiplier: 1,
          maxOpenDuration: "600s",
          halfOpenMaxCalls: 3,
          successThreshold: 3,
          permitTtl: "30s",
          jitter: 0,
          mode: "MODE_ENFORCE",
          minDistinctReporters: 1,
        },
        stats: { windowCalls: "5", windowFailures: "5", failureRate: 1, consecutiveFailures: 5, totalFailures: "5" },
        generation: "1",
        since: at("03:12:05"),
        openUntil: at("03:13:05"),
        configSources: ["defaults"],
        configSourceDetails: [{ kind: "CONFIG_SOURCE_KIND_DEFAULTS" }],
      });
    },
  },
  {
    title: "ListCircuits: every circuit, one line each",
    contains: "console.log(s.circuit, s.state)",
    check: (r) => {
      expect(r.stdout).toBe(
        [
          "agent.researcher.eu STATE_CLOSED",
          "agent.researcher.us STATE_CLOSED",
          "llm.anthropic STATE_OPEN",
          "llm.mistral STATE_CLOSED",
          "llm.openai.gpt STATE_OPEN",
          "tool.search STATE_CLOSED",
          "",
        ].join("\n"),
      );
    },
  },
  {
    title: "ListCircuits by prefix, and by prefix and state",
    contains: `{"prefix":"llm.","state":"STATE_CLOSED"}`,
    check: (r) => {
      const docs = jsonDocs(r.stdout);
      expect(docs.map(names)).toEqual([["llm.anthropic", "llm.mistral", "llm.openai.gpt"], ["llm.mistral"]]);
      expect(docs[1].circuits[0].stats).toEqual({ totalSuccesses: "2" });
    },
  },
  {
    title: "ListCircuits paging",
    contains: "page_token",
    check: (r) => {
      const firstLine = r.stdout.slice(0, r.stdout.indexOf("\n"));
      // The token is opaque (bound to the empty prefix and state); the doc shows the real one.
      expect(firstLine).toMatch(/^next page token: [A-Za-z0-9_-]+$/);
      const docs = jsonDocs(r.stdout);
      expect(docs).toHaveLength(1);
      expect(names(docs[0])).toEqual(["llm.openai.gpt", "tool.search"]);
      expect(docs[0].nextPageToken).toBeUndefined();
    },
  },
  {
    title: "Configure one circuit with a patch: state and counters kept",
    contains: `"config":{"failure_threshold":8,"open_duration":"30s"}`,
    check: (r) => {
      const [res] = jsonDocs(r.stdout);
      expect(res.status).toMatchObject({
        circuit: "llm.openai.gpt",
        state: "STATE_OPEN",
        since: at("03:12:05"),
        openUntil: at("03:13:05"),
        generation: "1",
        configSources: ["circuit", "defaults"],
      });
      expect(res.status.config).toMatchObject({ failureThreshold: 8, openDuration: "30s", halfOpenMaxCalls: 3 });
      expect(res.status.stats).toEqual({ windowCalls: "5", windowFailures: "5", failureRate: 1, consecutiveFailures: 5, totalFailures: "5" });
    },
  },
  {
    title: "Configure one circuit from a preset",
    contains: `{"circuit":"tool.search","preset":"io"}`,
    check: (r) => {
      const [res] = jsonDocs(r.stdout);
      expect(res.status).toMatchObject({ circuit: "tool.search", state: "STATE_CLOSED", configSources: ["circuit", "preset:io", "defaults"] });
      expect(res.status.config).toEqual(IO_CONFIG);
    },
  },
  {
    title: "Configure a pattern rule",
    contains: `{"pattern":"llm.*","preset":"llm","config":{"open_duration":"20s"}}`,
    check: async (r) => {
      const docs = jsonDocs(r.stdout);
      expect(docs).toHaveLength(2);
      expect(docs[0]).toEqual({
        matchedCircuits: 3,
        rule: {
          pattern: "llm.*",
          precedence: 1,
          config: { openDuration: "20s" },
          preset: "llm",
          origin: "PATTERN_RULE_ORIGIN_RUNTIME",
          updateTime: at("03:12:40"),
          updatedBy: { keyName: "oncall" },
        },
      });
      expect(docs[1].status).toMatchObject({
        circuit: "llm.anthropic",
        state: "STATE_OPEN",
        openUntil: at("03:16:30"),
        configSources: ["pattern:llm.*", "preset:llm", "defaults"],
      });
      expect(docs[1].status.config).toEqual(LLM_RULE_CONFIG);
      // The circuit's own settings win over the rule.
      const gpt = (await client.call("getState", { circuit: "llm.openai.gpt" }, AGENT)).status!;
      expect(gpt.configSources).toEqual(["circuit", "pattern:llm.*", "preset:llm", "defaults"]);
      expect(gpt.config?.failureThreshold).toBe(8);
      expect(gpt.config?.openDuration?.seconds).toBe(30n);
      expect(gpt.config?.successThreshold).toBe(2);
    },
  },
  {
    title: "Configure with replace: earlier settings dropped",
    contains: `"replace":true,"config":{"open_duration":"45s"}`,
    check: (r) => {
      const [res] = jsonDocs(r.stdout);
      expect(res.status).toMatchObject({
        circuit: "llm.openai.gpt",
        state: "STATE_OPEN",
        configSources: ["circuit", "pattern:llm.*", "preset:llm", "defaults"],
      });
      expect(res.status.config).toEqual({ ...LLM_RULE_CONFIG, openDuration: "45s" });
    },
  },
  {
    title: "ListPatternRules: the rules in the order they are consulted",
    contains: "CircuitService/ListPatternRules",
    check: (r) => {
      expect(jsonDocs(r.stdout)).toEqual([{ rules: [{ pattern: "llm.*", precedence: 1, config: { openDuration: "20s" }, preset: "llm", origin: "PATTERN_RULE_ORIGIN_RUNTIME", updateTime: at("03:12:40"), updatedBy: { keyName: "oncall" } }] }]);
    },
  },
  {
    title: "a pattern rule consulted first: precedence",
    contains: `{"pattern":"tool.s*","precedence":0,"config":{"failure_threshold":6}}`,
    check: async (r) => {
      // Precedence 0 is a zero value: grpcurl leaves it out.
      expect(jsonDocs(r.stdout)).toEqual([
        { matchedCircuits: 1, rule: { pattern: "tool.*", precedence: 2, config: { failureThreshold: 4 }, origin: "PATTERN_RULE_ORIGIN_RUNTIME", updateTime: at("03:12:40"), updatedBy: { keyName: "oncall" } } },
        { matchedCircuits: 1, rule: { pattern: "tool.s*", config: { failureThreshold: 6 }, origin: "PATTERN_RULE_ORIGIN_RUNTIME", updateTime: at("03:12:40"), updatedBy: { keyName: "oncall" } } },
      ]);
      const rules = (await client.call("listPatternRules", {}, AGENT)).rules.map((rule) => [rule.pattern, rule.precedence]);
      expect(rules).toEqual([["tool.s*", 0], ["llm.*", 1], ["tool.*", 2]]);
      const search = (await client.call("getState", { circuit: "tool.search" }, AGENT)).status!;
      expect([search.configSources, search.config?.failureThreshold]).toEqual([["circuit", "pattern:tool.s*", "preset:io", "defaults"], 6]);
    },
  },
  {
    title: "DeletePatternRule: its circuits fall back",
    contains: "CircuitService/DeletePatternRule",
    check: async (r) => {
      expect(jsonDocs(r.stdout)).toEqual([{ rule: { pattern: "tool.s*", config: { failureThreshold: 6 }, origin: "PATTERN_RULE_ORIGIN_RUNTIME", updateTime: at("03:12:40"), updatedBy: { keyName: "oncall" } }, matchedCircuits: 1 }]);
      const search = (await client.call("getState", { circuit: "tool.search" }, AGENT)).status!;
      expect([search.configSources, search.config?.failureThreshold]).toEqual([["circuit", "pattern:tool.*", "preset:io", "defaults"], 4]);
      const changes = (await client.call("getHistory", { circuit: "tool.search" }, AGENT)).entries.flatMap((e) =>
        e.entry.case === "configChange" ? [[e.entry.value.target, e.entry.value.newConfig?.failureThreshold]] : [],
      );
      // Newest first: the delete, the tool.s* rule, the tool.* rule, the preset.
      expect(changes).toEqual([["tool.s*", 4], ["tool.s*", 6], ["tool.*", 4], ["tool.search", 5]]);
    },
  },
  {
    title: "update_mask: set some settings, clear others, keep the rest",
    contains: `"update_mask":{"paths":["jitter","preset"]}`,
    check: (r) => {
      const [res] = jsonDocs(r.stdout);
      expect(res.status.config).toEqual({
        ...IO_CONFIG,
        failureThreshold: 4,
        slowCallDuration: "0s",
        slowCallRateThreshold: 1,
        openDuration: "60s",
        backoffMultiplier: 1,
        maxOpenDuration: "600s",
        permitTtl: "30s",
        jitter: 0,
      });
      expect(res.status.configSources).toEqual(["circuit", "pattern:tool.*", "defaults"]);
      expect(res.status.configSourceDetails).toEqual([
        { kind: "CONFIG_SOURCE_KIND_CIRCUIT" },
        { kind: "CONFIG_SOURCE_KIND_PATTERN_RULE", name: "tool.*" },
        { kind: "CONFIG_SOURCE_KIND_DEFAULTS" },
      ]);
    },
  },
  {
    title: "ForceState FORCED_OPEN, and what an agent's Acquire gets",
    contains: `"pin":"PIN_FORCED_OPEN"`,
    check: (r) => {
      const docs = jsonDocs(r.stdout);
      expect(docs).toHaveLength(2);
      expect(docs[0].status).toMatchObject({ circuit: "tool.search", state: "STATE_FORCED_OPEN", since: at("03:12:40"), generation: "1" });
      // allowed=false and retry_after=0 are zero values: grpcurl leaves them out.
      expect(docs[1]).toEqual({ state: "STATE_FORCED_OPEN", reason: "DENY_REASON_FORCED_OPEN" });
    },
  },
  {
    title: "ForceState DISABLED",
    contains: `"pin":"PIN_DISABLED"`,
    check: (r) => {
      const [res] = jsonDocs(r.stdout);
      expect(res.status).toMatchObject({ circuit: "tool.search", state: "STATE_DISABLED", generation: "2" });
      expect(res.status.stats).toEqual({ totalSuccesses: "3", totalRejections: "1" });
    },
  },
  {
    title: "ForceState CLOSED releases",
    contains: `{"circuit":"tool.search","pin":"PIN_NONE"}`,
    check: (r) => {
      const [res] = jsonDocs(r.stdout);
      expect(res.status).toMatchObject({ circuit: "tool.search", state: "STATE_CLOSED", generation: "3" });
      expect(res.status.stats).toEqual({ totalSuccesses: "3", totalRejections: "1" });
    },
  },
  {
    title: "Reset",
    contains: "CircuitService/Reset",
    check: (r) => {
      const [res] = jsonDocs(r.stdout);
      expect(res.status).toMatchObject({ circuit: "llm.openai.gpt", state: "STATE_CLOSED", since: at("03:12:40"), generation: "2" });
      expect(res.status.openUntil).toBeUndefined();
      // Window and failure counters are clean; the life totals stay.
      expect(res.status.stats).toEqual({ totalFailures: "5" });
    },
  },
  {
    title: "GetHistory: transitions and config changes, with the actor",
    contains: `{"circuit":"llm.openai.gpt","page_size":10}`,
    check: (r) => {
      const [res] = jsonDocs(r.stdout);
      const entries: Json[] = res.entries;
      expect(
        entries.map((e) =>
          e.transition !== undefined
            ? `${e.transition.fromState}->${e.transition.toState} ${e.transition.reason} ${e.transition.actor ?? "-"}`
            : `config ${e.configChange.target} ${e.configChange.actor}`,
        ),
      ).toEqual([
        `STATE_OPEN->STATE_CLOSED reset ${actor}`,
        `config llm.openai.gpt ${actor}`,
        `config llm.* ${actor}`,
        `config llm.openai.gpt ${actor}`,
        "STATE_CLOSED->STATE_OPEN consecutive_failures -",
      ]);
      expect(entries[0].transition).toMatchObject({ at: at("03:12:40"), generation: "2", stats: { totalFailures: "5" }, principal: { keyName: actor } });
      // Every config change names the circuit it changed, a pattern's too.
      expect(entries.flatMap((e) => (e.configChange === undefined ? [] : [[e.configChange.circuit, e.configChange.principal]]))).toEqual(
        [1, 2, 3].map(() => ["llm.openai.gpt", { keyName: actor }]),
      );
      const patch = entries[3].configChange;
      expect([patch.oldConfig.failureThreshold, patch.newConfig.failureThreshold]).toEqual([5, 8]);
      expect([patch.oldConfig.openDuration, patch.newConfig.openDuration]).toEqual(["60s", "30s"]);
      expect(patch.newConfigSources).toEqual([{ kind: "CONFIG_SOURCE_KIND_CIRCUIT" }, { kind: "CONFIG_SOURCE_KIND_DEFAULTS" }]);
      const replaced = entries[1].configChange;
      expect([replaced.oldConfig.failureThreshold, replaced.newConfig.failureThreshold]).toEqual([8, 3]);
      expect(replaced.newConfigSources.map((s: Json) => `${s.kind} ${s.name ?? ""}`)).toEqual([
        "CONFIG_SOURCE_KIND_CIRCUIT ",
        "CONFIG_SOURCE_KIND_PATTERN_RULE llm.*",
        "CONFIG_SOURCE_KIND_PRESET llm",
        "CONFIG_SOURCE_KIND_DEFAULTS ",
      ]);
      expect([replaced.oldConfig.openDuration, replaced.newConfig.openDuration]).toEqual(["30s", "45s"]);
    },
  },
  {
    title: "GetHistory paging: the next older page",
    contains: `older entries follow`,
    check: (r) => {
      expect(r.stderr).toBe("");
      expect(r.stdout.split("\n").map((l) => l.replace(/^\S+ /, ""))).toEqual([
        `config of llm.* changed by ${actor}`,
        `config of llm.openai.gpt changed by ${actor}`,
        "entries follow",
        "",
      ]);
    },
  },
  {
    title: "GetHistory as a timeline",
    contains: `{"circuit":"tool.search","page_size":10}`,
    check: (r) => {
      expect(r.stdout).toBe(
        [
          `${at("03:12:40")} STATE_DISABLED -> STATE_CLOSED (released) by ${actor}`,
          `${at("03:12:40")} STATE_FORCED_OPEN -> STATE_DISABLED (disabled) by ${actor}`,
          `${at("03:12:40")} STATE_CLOSED -> STATE_FORCED_OPEN (forced_open) by ${actor}`,
          // Newest first: the update_mask, the tool.s* delete and write, the tool.* rule, the preset.
          `${at("03:12:40")} config of tool.search changed by ${actor}`,
          `${at("03:12:40")} config of tool.s* changed by ${actor}`,
          `${at("03:12:40")} config of tool.s* changed by ${actor}`,
          `${at("03:12:40")} config of tool.* changed by ${actor}`,
          `${at("03:12:40")} config of tool.search changed by ${actor}`,
          "",
        ].join("\n"),
      );
    },
  },
  {
    title: "Watch a prefix: snapshot, then the event as it happens",
    contains: "| tee watch.log",
    exit: exitFor(grpc.status.DEADLINE_EXCEEDED),
    options: () => {
      let driven: Promise<void> | undefined;
      return {
        // Once the snapshot is complete, agents fail on llm.mistral (threshold 3 under the llm.* rule).
        onStdout: (soFar) => {
          if (driven === undefined && jsonDocs(soFar).some((d) => d.snapshotComplete !== undefined)) {
            driven = calls("llm.mistral", "fail", 3);
            return driven;
          }
          return undefined;
        },
      };
    },
    after: async () => {
      // While nobody watches: mistral's 20 s pass, a read turns it HALF_OPEN, two probes succeed.
      server.clock.advance(20 * SECOND); // 03:13:00
      expect((await client.call("getState", { circuit: "llm.mistral" }, AGENT)).status?.state).toBe(State.HALF_OPEN);
      await calls("llm.mistral", "ok", 2);
      expect((await client.call("getState", { circuit: "llm.mistral" }, AGENT)).status?.state).toBe(State.CLOSED);
    },
    check: (r) => {
      expect(r.stderr).toContain("Code: DeadlineExceeded");
      const docs = jsonDocs(r.stdout);
      expect(docs.map((d) => Object.keys(d)[0])).toEqual(["snapshot", "snapshot", "snapshot", "snapshotComplete", "event"]);
      expect(
        docs
          .slice(0, 3)
          .map((d) => `${d.snapshot.circuit} ${d.snapshot.state}`)
          .sort(),
      ).toEqual(["llm.anthropic STATE_OPEN", "llm.mistral STATE_CLOSED", "llm.openai.gpt STATE_CLOSED"]);
      const token: string = docs[3].snapshotComplete.resumeToken;
      expect(token).not.toBe("");
      expect(docs[3].resumeToken).toBe(token);
      expect(docs.slice(0, 3).map((d) => d.resumeToken)).toEqual([undefined, undefined, undefined]);
      const event = docs[4].event;
      expect(event).toMatchObject({
        circuit: "llm.mistral",
        fromState: "STATE_CLOSED",
        toState: "STATE_OPEN",
        reason: "consecutive_failures",
        at: at("03:12:40"),
        openUntil: at("03:13:00"),
        stats: { consecutiveFailures: 3 },
        // The agents' Report drove it: their key, no actor.
        principal: { keyName: "fleet" },
        cause: "TRANSITION_CAUSE_CONSECUTIVE_FAILURES",
      });
      expect(event.actor).toBeUndefined();
      expect(event.eventId).not.toBe(token);
      // The resume token is opaque: not the event id.
      expect(docs[4].resumeToken).toEqual(expect.any(String));
      expect([token, event.eventId]).not.toContain(docs[4].resumeToken);
      // tee kept the same for the resume recipe.
      expect(readFileSync(join(workDir, "watch.log"), "utf8")).toBe(r.stdout);
      watchEnd = event.eventId;
    },
  },
  {
    title: "Watch resumed from the last resumeToken: exactly the missed events, no snapshot",
    contains: "resume_token",
    exit: exitFor(grpc.status.DEADLINE_EXCEEDED),
    check: async (r) => {
      expect(r.stderr).toContain("Code: DeadlineExceeded");
      const history = (await server.store.history("llm.mistral", 10))?.entries;
      const ids = history!.flatMap((h) => (h.kind === "transition" ? [h.event.eventId] : []));
      // Newest first: CLOSED (probes), HALF_OPEN, OPEN (the one the watch saw).
      expect(ids[2]).toBe(watchEnd);
      const docs = jsonDocs(r.stdout);
      expect(docs.map((d) => Object.keys(d)[0])).toEqual(["event", "event"]);
      expect(docs.map((d) => [d.event.circuit, d.event.fromState, d.event.toState, d.event.reason, d.event.eventId])).toEqual([
        ["llm.mistral", "STATE_OPEN", "STATE_HALF_OPEN", "open_duration_elapsed", ids[1]],
        ["llm.mistral", "STATE_HALF_OPEN", "STATE_CLOSED", "probes_succeeded", ids[0]],
      ]);
    },
  },
  {
    title: "the same over HTTP with curl (Connect)",
    contains: "curl -s",
    check: (r) => {
      const lines = r.stdout.split("\n");
      expect(lines).toHaveLength(3);
      expect(lines[2]).toBe("");
      const list = JSON.parse(lines[0]!);
      expect(names(list)).toEqual(["llm.anthropic"]);
      expect(list.circuits[0]).toMatchObject({ state: "STATE_OPEN", openUntil: at("03:16:30") });
      const reset = JSON.parse(lines[1]!);
      expect(reset.status).toMatchObject({ circuit: "llm.anthropic", state: "STATE_CLOSED", generation: "2" });
    },
  },
  {
    title: "a typo in a circuit name: NotFound",
    contains: "llm.opneai.gpt",
    exit: exitFor(grpc.status.NOT_FOUND),
    check: (r) => {
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain("Code: NotFound\n");
      expect(r.stderr).toContain('Message: circuit "llm.opneai.gpt" does not exist');
    },
  },
  {
    title: "a ForceState without a pin: InvalidArgument naming the field",
    contains: `{"circuit":"tool.search","pin":"PIN_UNSPECIFIED"}`,
    exit: exitFor(grpc.status.INVALID_ARGUMENT),
    check: (r) => {
      expect(r.stdout).toBe("");
      // The details name the reason and the field (docs/clients.md §Errors).
      expect(r.stderr).toBe(
        [
          "ERROR:",
          "  Code: InvalidArgument",
          "  Message: pin is required: PIN_FORCED_OPEN, PIN_DISABLED or PIN_NONE (to release)",
          "  Details:",
          "  1)\t{",
          '    \t  "@type": "type.googleapis.com/google.rpc.ErrorInfo",',
          '    \t  "domain": "breakerbox.v1",',
          '    \t  "reason": "INVALID_FIELD"',
          "    \t}",
          "  2)\t{",
          '    \t  "@type": "type.googleapis.com/google.rpc.BadRequest",',
          '    \t  "fieldViolations": [',
          "    \t    {",
          '    \t      "field": "pin",',
          '    \t      "description": "is required: PIN_FORCED_OPEN, PIN_DISABLED or PIN_NONE (to release)"',
          "    \t    }",
          "    \t  ]",
          "    \t}",
          "",
        ].join("\n"),
      );
    },
  },
];

describe("docs/admin.md recipes, in order, against a live server", () => {
  it("the doc has one checked step per recipe, in this order", () => {
    expect(blocks.map((b, i) => (steps[i] !== undefined && b.includes(steps[i].contains) ? "ok" : b.slice(0, 120)))).toEqual(
      steps.map(() => "ok"),
    );
    expect(blocks).toHaveLength(steps.length);
  });

  steps.forEach((step, i) => {
    it(`${i + 1}. ${step.title}`, async () => {
      const block = blocks[i];
      expect(block, `docs/admin.md has recipe ${i + 1}`).toBeDefined();
      expect(block).toContain(step.contains);
      const r = await run(block!, server, step.options?.() ?? {});
      expect({ code: r.code, stderr: step.exit === undefined ? r.stderr : "(checked below)" }).toEqual({
        code: step.exit ?? 0,
        stderr: step.exit === undefined ? "" : "(checked below)",
      });
      await step.check(r);
      expect(recipes[i]!.sample, `docs/admin.md shows the output of recipe ${i + 1}`).toBeDefined();
      expectSample(recipes[i]!.sample!, r);
      await step.after?.();
    });
  });
});

describe("docs/admin.md claims beside the recipes", () => {
  const servers = useTestServers();

  it("while access control is off, the recipes work with BREAKERBOX_ADMIN_KEY empty, and history says anonymous", async () => {
    const { server: plain, client: agent } = await servers.start();
    for (let i = 0; i < 5; i++) {
      const a = await agent.call("acquire", { circuit: "llm.openai.gpt" });
      await agent.call("report", { circuit: "llm.openai.gpt", permit: a.permit, outcome: Outcome.FAILURE });
    }
    // "STATE_CLOSED only releases a pinned circuit": on an OPEN one it changes nothing.
    const released = await agent.call("forceState", { circuit: "llm.openai.gpt", state: State.CLOSED });
    expect(released.status?.state).toBe(State.OPEN);
    const reset = blocks.find((b) => b.includes("CircuitService/Reset"))!;
    const r = await run(reset, plain, { env: { BREAKERBOX_ADMIN_KEY: "" } });
    expect([r.code, r.stderr]).toEqual([0, ""]);
    expect(jsonDocs(r.stdout)[0].status).toMatchObject({ circuit: "llm.openai.gpt", state: "STATE_CLOSED" });
    const history = (await plain.store.history("llm.openai.gpt", 1))?.entries;
    expect(history?.[0]).toMatchObject({ kind: "transition", event: { reason: "reset", actor: "anonymous" } });

    // "replace:true alone drops all of a circuit's own settings."
    await agent.call("configure", { target: { case: "circuit", value: "llm.openai.gpt" }, config: { failureThreshold: 8 } });
    const dropped = await agent.call("configure", { target: { case: "circuit", value: "llm.openai.gpt" }, replace: true });
    expect(dropped.status?.config?.failureThreshold).toBe(5);
  });

  it("while access control is on, a recipe without the key is Unauthenticated", async () => {
    const getState = blocks.find((b) => b.includes("CircuitService/GetState") && b.includes("llm.openai.gpt"))!;
    const r = await run(getState, server, { env: { BREAKERBOX_ADMIN_KEY: "" } });
    expect(r.code).toBe(exitFor(grpc.status.UNAUTHENTICATED));
    expect(r.stderr).toContain("Code: Unauthenticated\n");
  });
});
