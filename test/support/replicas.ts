/**
 * Real Breakerbox processes for end-to-end tests: `node dist/src/main.js`
 * (built by `npm test` before the suites) on free ports, as an operator runs
 * it, with a grpc-js client already connected.
 *
 *   const a = await startReplica({ REDIS_URL: redis.url });
 *   await a.client.call("acquire", { circuit: "x" });
 *   expect(a.problems()).toEqual([]);     // no error lines, nothing on stderr, still running
 *   await stopReplicas();                 // afterEach/afterAll: SIGKILL whatever is left
 *
 * The bound ports come from the JSON log line "breakerbox listening" (the
 * process is started with BREAKERBOX_GRPC_PORT=0 and BREAKERBOX_HTTP_PORT=0).
 * Every spawned process is tracked and SIGKILLed by stopReplicas() and when
 * the test process exits.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { checkBuild } from "../../scripts/build-stamp.mjs";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/ts/grpc/health/v1/health_pb.js";
import { createCircuitClient, type CircuitClient } from "./grpc-client.js";
import { connect, unary } from "./grpc-call.js";

export { ServingStatus };

const root = fileURLToPath(new URL("../..", import.meta.url));
/** The built entry point. */
export const MAIN = `${root}dist/src/main.js`;

/** One parsed JSON log line of the process. */
export type LogLine = Record<string, unknown> & { level?: string; msg?: string };

export interface Replica {
  child: ChildProcessWithoutNullStreams;
  /** host:port of the gRPC listener. */
  grpc: string;
  /** http://host:port of the HTTP listener. */
  http: string;
  /** stdout lines so far (raw). */
  lines: string[];
  /** stdout lines so far, parsed (lines that are not JSON are kept as {msg: line, level: "raw"}). */
  logs(): LogLine[];
  /** stderr so far. */
  stderr(): string;
  /** A grpc-js CircuitService client connected to this replica (closed by stop()/stopReplicas()). */
  client: CircuitClient;
  /**
   * What should not be there after a test: log lines at error or fatal level,
   * lines that are not JSON, anything on stderr, and an exit while the test
   * still expected the process to run. Empty when healthy.
   */
  problems(): string[];
  /** grpc.health.v1.Health/Check on the gRPC port (service "" unless given). */
  health(service?: string): Promise<ServingStatus>;
  /** GET /readyz: status code and body. */
  readyz(): Promise<{ status: number; body: string }>;
  /** SIGTERM and wait for exit (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<ChildProcessWithoutNullStreams>();
const clients = new Set<CircuitClient>();
let exitHookInstalled = false;
let buildChecked = false;

function killAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  children.clear();
}

/**
 * Spawns `node dist/src/main.js` with only PATH, both ports 0 and `env` in
 * its environment (nothing of the test's own environment leaks in). Use
 * startReplica() to also wait for it to listen.
 */
export function spawnMain(env: Record<string, string>): ChildProcessWithoutNullStreams {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first (npm test does)`);
  if (!buildChecked) {
    checkBuild("server"); // a test run alone must not start a build older than src/ and its Lua
    buildChecked = true;
  }
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", killAll);
  }
  const child = spawn(process.execPath, [MAIN], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", BREAKERBOX_GRPC_PORT: "0", BREAKERBOX_HTTP_PORT: "0", ...env },
  });
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

function parseLine(line: string): LogLine {
  try {
    const v = JSON.parse(line) as unknown;
    if (v !== null && typeof v === "object" && !Array.isArray(v)) return v as LogLine;
  } catch {
    // not JSON
  }
  return { level: "raw", msg: line };
}

/**
 * Starts one process and resolves once it logs "breakerbox listening"
 * (within `startTimeoutMs`, default 30 s); rejects with its output if it
 * exits or stays silent.
 */
export async function startReplica(env: Record<string, string> = {}, options: { startTimeoutMs?: number } = {}): Promise<Replica> {
  const child = spawnMain(env);
  const lines: string[] = [];
  let stderr = "";
  let buffer = "";
  let expectRunning = true;
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const listening = await new Promise<{ grpc: string; http: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`no "breakerbox listening" line within ${startTimeoutMs} ms; stdout:\n${lines.join("\n")}\nstderr:\n${stderr}`));
    }, startTimeoutMs);
    child.stdout.on("data", (chunk: Buffer) => {
      buffer += chunk.toString("utf8");
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        lines.push(line);
        const entry = parseLine(line);
        if (entry.msg === "breakerbox listening") {
          clearTimeout(timer);
          resolve({ grpc: String(entry.grpc), http: `http://${String(entry.http)}` });
        }
      }
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code ?? signal} before listening; stdout:\n${lines.join("\n")}\nstderr:\n${stderr}`));
    });
  });
  const client = createCircuitClient(listening.grpc);
  clients.add(client);
  const healthClient = connect(Number(listening.grpc.slice(listening.grpc.lastIndexOf(":") + 1)));
  const logs = (): LogLine[] => lines.map(parseLine);
  return {
    child,
    grpc: listening.grpc,
    http: listening.http,
    lines,
    logs,
    stderr: () => stderr,
    client,
    problems() {
      const out: string[] = [];
      for (const l of logs()) {
        if (l.level === "error" || l.level === "fatal" || l.level === "raw") out.push(`log: ${JSON.stringify(l)}`);
      }
      if (stderr.trim() !== "") out.push(`stderr: ${stderr.trim()}`);
      if (expectRunning && (child.exitCode !== null || child.signalCode !== null)) {
        out.push(`process exited unexpectedly with ${child.exitCode ?? child.signalCode}`);
      }
      return out;
    },
    async health(service = "") {
      const r = await unary(healthClient, Health.method.check, { service }, { deadlineMs: 5000 });
      return r.message.status;
    },
    async readyz() {
      const res = await fetch(`${listening.http}/readyz`, { signal: AbortSignal.timeout(5000) });
      return { status: res.status, body: await res.text() };
    },
    async stop(graceMs = 10_000) {
      expectRunning = false;
      client.close();
      clients.delete(client);
      healthClient.close();
      if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode };
      const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const [code, signal] = await exited;
      clearTimeout(timer);
      return { code, signal };
    },
  };
}

/** Starts `n` replicas with the same environment, in parallel. */
export async function startReplicas(n: number, env: Record<string, string>): Promise<Replica[]> {
  const started = await Promise.allSettled(Array.from({ length: n }, () => startReplica(env)));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed !== undefined) {
    await stopReplicas();
    throw failed.reason;
  }
  return started.map((r) => (r as PromiseFulfilledResult<Replica>).value);
}

/** Closes every client and SIGKILLs every process these helpers started that is still running. */
export async function stopReplicas(): Promise<void> {
  for (const c of clients) c.close();
  clients.clear();
  const running = [...children].filter((c) => c.exitCode === null && c.signalCode === null);
  const exits = running.map((c) => once(c, "exit"));
  for (const c of running) c.kill("SIGKILL");
  await Promise.all(exits);
}

/**
 * Polls `check` every `intervalMs` until it returns something other than
 * undefined/false, and returns that; throws after `timeoutMs` naming `what`
 * and the last value or error seen (from `describe`, else the last error).
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  opts: { timeoutMs: number; intervalMs?: number; describe?: () => string },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let last = "";
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
      last = "";
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() >= deadline) {
      const detail = opts.describe?.() ?? last;
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${what}${detail === "" ? "" : `; last seen: ${detail}`}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
  }
}
