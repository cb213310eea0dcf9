/**
 * Keeps the Metrics section of docs/operations.md and the metrics variables
 * of docs/configuration.md true: the metric table lists exactly what
 * /metrics exports, the shell example runs as written against a live server,
 * and the sample output it shows has the shape a real scrape has.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { Mode, Outcome } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { loadConfig } from "../../src/config/index.js";
import { createCircuitClient } from "../support/grpc-client.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { parseExposition, scrape, type Exposition } from "./exposition.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const operations = readFileSync(`${root}docs/operations.md`, "utf8");
const start = operations.indexOf("\n## Metrics\n");
const section = operations.slice(start, operations.indexOf("\n## ", start + 5));
/** The fenced code blocks of the section whose info string is `lang` ("" for none), in order. */
function blocks(lang: string): string[] {
  const out: string[] = [];
  let open: { lang: string; lines: string[] } | undefined;
  for (const line of section.split("\n")) {
    if (line.startsWith("```")) {
      if (open === undefined) {
        open = { lang: line.slice(3).trim(), lines: [] };
      } else {
        if (open.lang === lang) out.push(open.lines.join("\n") + "\n");
        open = undefined;
      }
    } else {
      open?.lines.push(line);
    }
  }
  return out;
}

let server: TestServer;
let live: Exposition;

beforeAll(async () => {
  server = await startTestServer({ CIRCUIT_BREAKER_FAILURE_THRESHOLD: "2" });
  const client = createCircuitClient(server.grpcAddress);
  try {
    const c = "llm.openai.gpt";
    for (const outcome of [Outcome.SUCCESS, Outcome.FAILURE, Outcome.FAILURE]) {
      const a = await client.call("acquire", { circuit: c });
      await client.call("report", { circuit: c, permit: a.permit, outcome, duration: durationFromMs(3) });
    }
    expect((await client.call("acquire", { circuit: c })).allowed).toBe(false);
    // And a shadow-mode circuit, so every family has a sample.
    const shadow = "docs.shadow";
    await client.call("configure", { target: { case: "circuit", value: shadow }, config: { failureThreshold: 1, mode: Mode.SHADOW } });
    const a = await client.call("acquire", { circuit: shadow });
    await client.call("report", { circuit: shadow, permit: a.permit, outcome: Outcome.FAILURE, duration: durationFromMs(3) });
    expect((await client.call("acquire", { circuit: shadow })).shadowDenied).toBe(true);
  } finally {
    client.close();
  }
  live = await scrape(server.httpUrl);
});

afterAll(async () => {
  await server?.stop();
});

describe("docs/operations.md, Metrics", () => {
  it("lists exactly the breakerbox metrics /metrics exports, with their types and labels", () => {
    expect(start).toBeGreaterThan(0);
    const rows = [...section.matchAll(/^\| `(breakerbox_[a-z_]+)` \| (\w+) \|([^|]*)\|/gm)].map((m) => ({
      name: m[1]!,
      type: m[2]!,
      labels: [...m[3]!.matchAll(/`([a-z_]+)`/g)].map((l) => l[1]!).sort(),
    }));
    const exported = [...live.types.keys()].filter((n) => n.startsWith("breakerbox_")).sort();
    expect(rows.map((r) => r.name).sort()).toEqual(exported);
    for (const r of rows) {
      expect(live.types.get(r.name), r.name).toBe(r.type);
      const suffix = r.type === "histogram" ? "_count" : "";
      const sample = live.samples.find((s) => s.name === r.name + suffix);
      expect(sample, `a sample of ${r.name}`).toBeDefined();
      expect(Object.keys(sample!.labels).sort(), r.name).toEqual(r.labels);
    }
  });

  it("runs its shell example as written, and its sample output has the real shape", async () => {
    const [script] = blocks("sh");
    expect(script).toBeDefined();
    const { stdout } = await promisify(execFile)("bash", ["-euo", "pipefail", "-c", script!.replaceAll("localhost:8080", server.httpUrl.slice(7))], {
      encoding: "utf8",
      timeout: 30_000,
    });
    const ran = parseExposition(stdout);
    expect(ran.samples.length).toBeGreaterThan(0);
    expect(ran.samples.find((s) => s.name === "breakerbox_circuit_state" && s.labels.circuit === "llm.openai.gpt" && s.value === 1)?.labels.state).toBe(
      "OPEN",
    );

    // The output shown in the doc (values aside) is made of series a real scrape has.
    const shown = blocks("").find((b) => b.startsWith("breakerbox_"));
    expect(shown).toBeDefined();
    const doc = parseExposition(
      shown!
        .split("\n")
        .filter((l) => l !== "..." && l !== "")
        .join("\n") + "\n",
    );
    for (const s of doc.samples) {
      const match = live.samples.find((l) => l.name === s.name && JSON.stringify(l.labels) === JSON.stringify(s.labels));
      expect(match, `${s.name}${JSON.stringify(s.labels)}`).toBeDefined();
    }
  });

  it("shows a scrape config that is valid YAML for every replica", () => {
    const [yaml] = blocks("yaml");
    const parsed = YAML.parse(yaml!) as { scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] };
    expect(parsed.scrape_configs[0]!.job_name).toBe("breakerbox"); // what alerts.yml assumes
  });
});

describe("docs/configuration.md, metrics variables", () => {
  it("states the defaults loadConfig uses", () => {
    const doc = readFileSync(`${root}docs/configuration.md`, "utf8");
    const config = loadConfig({});
    expect(doc).toContain(`| \`BREAKERBOX_METRICS_MAX_CIRCUITS\` | \`${config.metricsMaxCircuits}\` | integer 0–100000 |`);
    expect(doc).toContain(`| \`BREAKERBOX_METRICS_RESYNC_SECONDS\` | \`${config.metricsResyncMs / 1000}\` | seconds, 0–604800 |`);
  });
});
