/**
 * Keeps README.md true: runs every shell example of its grpcurl and curl
 * sections, as written, against a live server (only the ports are changed to
 * the server's free ones), and checks what the reader is told to expect.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { useTestServer } from "../support/use-test-server.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const readme = readFileSync(`${root}README.md`, "utf8");

/** The ```sh blocks between two headings. */
function shellBlocks(fromHeading: string, toHeading: string): string[] {
  const start = readme.indexOf(fromHeading);
  const end = readme.indexOf(toHeading, start);
  expect(start, `README has "${fromHeading}"`).toBeGreaterThanOrEqual(0);
  expect(end, `README has "${toHeading}" after it`).toBeGreaterThan(start);
  return [...readme.slice(start, end).matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

const { server } = useTestServer();

const execFileAsync = promisify(execFile);

/** Runs a block with bash (asynchronously: the server under test lives in this process). */
async function run(block: string): Promise<string> {
  const script = block
    .replaceAll("localhost:50051", server.grpcAddress)
    .replaceAll("localhost:8080", server.httpUrl.replace("http://", ""));
  const { stdout } = await execFileAsync("bash", ["-euo", "pipefail", "-c", script], {
    cwd: root,
    env: { ...process.env, PATH: `${root}.tools/bin:${process.env.PATH}` },
    encoding: "utf8",
    timeout: 60_000,
  });
  return stdout;
}

describe("README examples", () => {
  it("every grpcurl example runs as written and the API behaves as described", async () => {
    const blocks = shellBlocks("## Try it with grpcurl", "## The same API over HTTP");
    expect(blocks.length).toBeGreaterThanOrEqual(8);
    const outputs: string[] = [];
    for (const block of blocks) outputs.push(await run(block));
    const all = outputs.join("\n");
    expect(all).toContain("breakerbox.v1.CircuitService\ngrpc.health.v1.Health\ngrpc.reflection.v1.ServerReflection\ngrpc.reflection.v1alpha.ServerReflection");
    // describe shows the doc comments, straight from the proto.
    expect(all).toContain("Acquire asks whether a call to the dependency behind `circuit` may go ahead.");
    expect(all).toContain('"status": "SERVING"');
    expect(all).toContain('"allowed": true');
    expect(all).toContain('"circuit": "agent.researcher.eu"');
    expect(all).toContain('"snapshotComplete"');
  }, 90_000); // longer than one block's 60 s run bound plus the others, so a hung block fails naming its command

  it("the curl examples answer over Connect", async () => {
    const [block] = shellBlocks("## The same API over HTTP", "## How a circuit behaves");
    const out = await run(block!);
    expect(out).toMatch(/^\{"allowed":true,"permit":"[^"]+","state":"STATE_CLOSED"\}okready$/);
  }, 90_000); // longer than the block's 60 s run bound, so a hung block fails naming its command

  it("the reported failure and the retry_after hint left the state the README describes", async () => {
    const gpt = await server.store.get("llm.openai.gpt");
    // Acquired twice, one FAILURE reported, then Reset by the admin example.
    expect(gpt?.state).toBe("CLOSED");
    expect(gpt?.config.failureThreshold).toBe(3);
    const fenced = await server.store.get("tool.search");
    expect(fenced?.state).toBe("CLOSED");
    const history = (await server.store.history("tool.search", 10))?.entries;
    expect(history?.map((h) => (h.kind === "transition" ? `${h.event.from}->${h.event.to}` : "config"))).toEqual([
      "FORCED_OPEN->CLOSED",
      "CLOSED->FORCED_OPEN",
    ]);
  });
});
