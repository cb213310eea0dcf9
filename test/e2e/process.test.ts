/**
 * The real process, as `npm start` runs it (node dist/src/main.js, built by
 * `npm test` before the suites): start-up, refusal of a bad config, and a
 * graceful SIGTERM that ends Watch streams cleanly and exits 0.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { status as Status } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { Outcome, State } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { createCircuitClient, nextWithin } from "../support/grpc-client.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const main = `${root}dist/src/main.js`;

interface Started {
  child: ChildProcessWithoutNullStreams;
  grpc: string;
  http: string;
  lines: string[];
}

const children: ChildProcessWithoutNullStreams[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill("SIGKILL");
});

function spawnMain(env: Record<string, string>): ChildProcessWithoutNullStreams {
  expect(existsSync(main), "dist/src/main.js exists (npm test builds it first)").toBe(true);
  const child = spawn(process.execPath, [main], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", BREAKERBOX_GRPC_PORT: "0", BREAKERBOX_HTTP_PORT: "0", ...env },
  });
  children.push(child);
  return child;
}

async function start(env: Record<string, string> = {}): Promise<Started> {
  const child = spawnMain(env);
  const lines: string[] = [];
  let buffer = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "breakerbox listening" line; got:\n${lines.join("\n")}`)), 20_000);
    child.stdout.on("data", (chunk: Buffer) => {
      buffer += chunk.toString("utf8");
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        lines.push(line);
        const entry = JSON.parse(line) as { msg: string; grpc?: string; http?: string };
        if (entry.msg === "breakerbox listening") {
          clearTimeout(timer);
          resolve({ child, grpc: entry.grpc!, http: entry.http!, lines });
        }
      }
    });
    child.once("exit", (code) => reject(new Error(`exited with ${code} before listening:\n${lines.join("\n")}`)));
  });
}

describe("the breakerbox process", () => {
  it("serves, logs one line per transition, and on SIGTERM ends Watch streams with OK and exits 0", async () => {
    const s = await start({ CIRCUIT_BREAKER_FAILURE_THRESHOLD: "2" });
    const client = createCircuitClient(s.grpc);
    const watch = client.stream("watch", {});
    const it = watch.messages[Symbol.asyncIterator]();
    expect((await nextWithin(it, 5000, "snapshot_complete")).kind.case).toBe("snapshotComplete");

    for (let i = 0; i < 2; i++) {
      const a = await client.call("acquire", { circuit: "proc.dep" });
      await client.call("report", { circuit: "proc.dep", permit: a.permit, outcome: Outcome.FAILURE });
    }
    const event = await nextWithin(it, 5000, "the OPEN event");
    expect(event.kind.case === "event" && event.kind.value.toState).toBe(State.OPEN);

    const streamStatus = new Promise<number>((resolve) => watch.call.on("status", (st) => resolve(st.code)));
    const exited = once(s.child, "exit");
    s.child.kill("SIGTERM");
    const [code, signal] = (await exited) as [number | null, string | null];
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(await streamStatus).toBe(Status.OK);
    client.close();

    const logged = s.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const transitions = logged.filter((l) => l.msg === "circuit transition");
    expect(transitions).toHaveLength(1);
    expect(transitions[0]).toMatchObject({
      level: "info",
      circuit: "proc.dep",
      from: "CLOSED",
      to: "OPEN",
      reason: "consecutive_failures",
      consecutiveFailures: 2,
    });
    // Nothing per request at info: the only info lines are start, transition, shutdown.
    expect(logged.filter((l) => l.level === "info").map((l) => l.msg)).toEqual([
      "breakerbox listening",
      "circuit transition",
      "shutting down",
      "stopped",
    ]);
  });

  it("refuses to start on a bad variable, naming it and what it accepts", async () => {
    const child = spawnMain({ CIRCUIT_BREAKER_FAILURE_RATE_THRESHOLD: "1.5", BREAKERBOX_GRPC_PORT: "70000" });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
    const [code] = (await once(child, "exit")) as [number];
    expect(code).toBe(2);
    expect(stderr).toContain("CIRCUIT_BREAKER_FAILURE_RATE_THRESHOLD: failure_rate_threshold must be a number from 0 to 1, got 1.5");
    expect(stderr).toContain("BREAKERBOX_GRPC_PORT");
  });
});
