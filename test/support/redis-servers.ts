/**
 * Real Redis topologies for tests: a single redis-server, a Cluster of
 * masters, and Sentinel (one master, one replica, three sentinels), each a set
 * of child processes on free ports of 127.0.0.1 with throwaway temp dirs.
 *
 *   const redis = await startRedis();            // redis.url, redis.port
 *   await redis.kill(); await redis.restart();   // outage: SIGKILL, then same port and dir
 *   const cluster = await startRedisCluster();   // cluster.nodes for new Cluster(nodes)
 *   const s = await startRedisSentinel();        // new Redis({ sentinels: s.sentinels, name: s.name })
 *   await s.killMaster(); await s.waitForFailover(20_000);
 *   await redis.stop(); await cluster.stop(); await s.stop();
 *
 * Binaries come from PATH (scripts/install-redis.sh installs them; the vitest
 * global setup runs it when they are missing). Nothing is logged on success;
 * a server that fails to start throws with the tail of its own log.
 *
 * Cleanup: every child process is tracked and SIGKILLed when the owning
 * process exits (normally or on SIGINT/SIGTERM/SIGHUP), and its temp dir
 * removed. For owners that die harder than that (SIGKILL), each child is also
 * recorded in a registry under os.tmpdir(); reapOrphanedRedis(), run by the
 * vitest global teardown and before the first start of every test process,
 * kills children whose owner is gone. Ports in use by any live owner are
 * recorded there too, so a port freed by kill() is not handed to a parallel
 * test process before restart() takes it back.
 */
import { spawn, type ChildProcess } from "node:child_process";
import {
  accessSync,
  constants as fsConstants,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";

export const REDIS_HOST = "127.0.0.1";

export interface RedisEndpoint {
  host: string;
  port: number;
}

/** A reply of the small RESP2 client below. Error replies reject with RedisReplyError. */
export type RedisReply = string | number | null | RedisReply[];

export class RedisReplyError extends Error {
  override name = "RedisReplyError";
}

export interface StartRedisOptions {
  /** `--appendonly yes` (data survives kill()/restart()). Default false: `--save "" --appendonly no`. */
  appendonly?: boolean;
  /** `requirepass`: the password of the `default` user. */
  password?: string;
  /**
   * An ACL user with full access (`~* &* +@all`). When given without
   * `password`, the `default` user is turned off, so only this user can connect.
   */
  user?: { name: string; password: string };
  /** Extra config as command-line arguments, e.g. ["--maxmemory", "64mb"]. */
  args?: string[];
  /** How long to wait for PING after spawning (default 20 s). */
  startTimeoutMs?: number;
}

export interface RedisServer extends RedisEndpoint {
  /** redis://127.0.0.1:port, with user:password@ (URL-encoded) when the server requires auth. */
  readonly url: string;
  /** The server's temp dir (--dir): nodes.conf, appendonly files. Removed by stop(). */
  readonly dir: string;
  readonly username: string | undefined;
  readonly password: string | undefined;
  /** pid of the current process; undefined while stopped or killed. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** SIGTERM, wait for exit (SIGKILL after 10 s), remove the temp dir, release the port. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit; keeps port and dir for restart(). For outage tests. */
  kill(): Promise<void>;
  /** Start again on the same port and dir (stopping it first if running); resolves on PING. */
  restart(): Promise<void>;
  /** SIGSTOP: the port stays open but nothing answers (a hung server, for timeout tests). */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  /** One command on a fresh connection (authenticated as this server requires). */
  command(...args: (string | number)[]): Promise<RedisReply>;
  /** The server's log output so far (the last 64 KiB). */
  logs(): string;
}

export interface RedisCluster {
  /** Seed nodes for `new Cluster(nodes)`. */
  nodes: RedisEndpoint[];
  /** The master processes, in nodes order (kill/restart one for outage tests). */
  servers: RedisServer[];
  stop(): Promise<void>;
}

export interface StartRedisClusterOptions {
  /** Number of masters, no replicas (default 3, the minimum redis-cli accepts). */
  masters?: number;
  /** Default 20 s. */
  startTimeoutMs?: number;
}

export interface RedisSentinelSetup {
  /** The monitored master's name: "breakerbox". */
  name: string;
  /** For `new Redis({ sentinels, name })`. */
  sentinels: RedisEndpoint[];
  /** The sentinel processes, in sentinels order. */
  sentinelServers: RedisServer[];
  /** The initial master and replica (roles swap after a failover). */
  master: RedisServer;
  replica: RedisServer;
  /** SIGKILL the initial master (it stays down until master.restart()). */
  killMaster(): Promise<void>;
  /**
   * Polls `SENTINEL get-master-addr-by-name` on every live sentinel until all
   * of them name the initial replica, and that replica reports role:master.
   */
  waitForFailover(timeoutMs?: number): Promise<RedisEndpoint>;
  stop(): Promise<void>;
}

export interface StartRedisSentinelOptions {
  /** Default 1000. */
  downAfterMs?: number;
  /** Default 5000. */
  failoverTimeoutMs?: number;
  /** How long to wait for the sentinels to agree on master, replica and each other (default 30 s). */
  startTimeoutMs?: number;
}

// ---------------------------------------------------------------------------
// binaries

const binCache = new Map<string, string>();

/** Absolute path of a Redis binary on PATH, or a helpful error. */
export function redisBinary(name: "redis-server" | "redis-sentinel" | "redis-cli" | "redis-benchmark"): string {
  const cached = binCache.get(name);
  if (cached) return cached;
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, fsConstants.X_OK);
      binCache.set(name, candidate);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(
    `${name} not found on PATH. Install Redis with: bash scripts/install-redis.sh ` +
      `(Debian/Ubuntu packages redis-server, redis-sentinel, redis-tools)`,
  );
}

// ---------------------------------------------------------------------------
// process tracking, registry and orphan reaping

const registryDir = join(tmpdir(), "breakerbox-redis-registry");
const tempPrefix = join(tmpdir(), "breakerbox-redis-");
const children = new Set<ChildProcess>();
const liveDirs = new Set<string>();
const ownPorts = new Set<number>();
let hooksInstalled = false;
let reaped = false;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  // A zombie (dead, not yet reaped: common under a container's pid 1) answers kill(0) too.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true; // no /proc (not Linux): trust kill(0)
  }
}

function procCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

function killAllSync(): void {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    if (child.pid !== undefined) safeUnlink(join(registryDir, `proc-${child.pid}.json`));
  }
  children.clear();
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
  liveDirs.clear();
  for (const port of ownPorts) safeUnlink(join(registryDir, `port-${port}`));
  ownPorts.clear();
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", killAllSync);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = (): void => {
      killAllSync();
      // Keep the default behaviour (terminate) unless someone else handles the signal.
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

function safeUnlink(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // gone already
  }
}

/**
 * Kills redis processes started by test processes that no longer exist (and
 * removes their temp dirs and port records). Safe to run while other test
 * runs are live: only children of dead owners are touched, and only when
 * their command line still names the recorded port.
 */
export function reapOrphanedRedis(): { killed: number } {
  let killed = 0;
  let entries: string[];
  try {
    entries = readdirSync(registryDir);
  } catch {
    return { killed };
  }
  for (const entry of entries) {
    const path = join(registryDir, entry);
    try {
      if (entry.startsWith("port-")) {
        const owner = Number(readFileSync(path, "utf8"));
        if (!Number.isInteger(owner) || !isAlive(owner)) safeUnlink(path);
      } else if (entry.startsWith("proc-")) {
        const rec = JSON.parse(readFileSync(path, "utf8")) as { owner: number; pid: number; port: number; dir: string };
        if (isAlive(rec.owner)) continue;
        const cmd = procCmdline(rec.pid);
        if (cmd.includes("redis") && cmd.includes(`${rec.port}`)) {
          try {
            process.kill(rec.pid, "SIGKILL");
            killed++;
          } catch {
            // raced with its exit
          }
        }
        if (rec.dir.startsWith(tempPrefix)) rmSync(rec.dir, { recursive: true, force: true });
        safeUnlink(path);
      }
    } catch {
      // a record being written or removed concurrently: leave it
    }
  }
  return { killed };
}

function ensureRegistry(): void {
  if (!reaped) {
    reaped = true;
    reapOrphanedRedis();
  }
  mkdirSync(registryDir, { recursive: true });
  installHooks();
}

// ---------------------------------------------------------------------------
// free ports

async function ephemeralPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen({ host: REDIS_HOST, port: 0, exclusive: true }, () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", () => resolve(false));
    srv.listen({ host: REDIS_HOST, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** Records the port as ours in the cross-process registry; false when a live owner has it. */
function claimPort(port: number): boolean {
  if (ownPorts.has(port)) return false;
  const path = join(registryDir, `port-${port}`);
  try {
    writeFileSync(path, String(process.pid), { flag: "wx" });
  } catch {
    let owner = NaN;
    try {
      owner = Number(readFileSync(path, "utf8"));
    } catch {
      // vanished: try again below
    }
    if (Number.isInteger(owner) && isAlive(owner)) return false;
    writeFileSync(path, String(process.pid));
  }
  ownPorts.add(port);
  return true;
}

function releasePort(port: number): void {
  if (ownPorts.delete(port)) safeUnlink(join(registryDir, `port-${port}`));
}

/**
 * A free port on 127.0.0.1 not claimed by any live test process. With
 * `clusterBus`, port + 10000 (the cluster bus) is free and claimed too.
 */
export async function getFreePort(opts: { clusterBus?: boolean } = {}): Promise<number> {
  ensureRegistry();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = await ephemeralPort();
    if (opts.clusterBus) {
      if (port + 10000 > 65535) continue;
      if (!(await canBind(port + 10000))) continue;
    }
    if (!claimPort(port)) continue;
    if (opts.clusterBus && !claimPort(port + 10000)) {
      releasePort(port);
      continue;
    }
    return port;
  }
  throw new Error("could not find a free port on 127.0.0.1");
}

// ---------------------------------------------------------------------------
// a minimal RESP2 client (readiness checks and admin commands, independent of ioredis)

function encodeCommand(args: (string | number)[]): string {
  let out = `*${args.length}\r\n`;
  for (const a of args) {
    const s = String(a);
    out += `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
  }
  return out;
}

/** Parses one reply at `pos`; undefined when the buffer does not hold all of it yet. */
function parseReply(buf: Buffer, pos: number): { value: RedisReply | RedisReplyError; next: number } | undefined {
  const eol = buf.indexOf("\r\n", pos);
  if (eol < 0) return undefined;
  const type = String.fromCharCode(buf[pos] ?? 0);
  const line = buf.toString("utf8", pos + 1, eol);
  switch (type) {
    case "+":
      return { value: line, next: eol + 2 };
    case "-":
      return { value: new RedisReplyError(line), next: eol + 2 };
    case ":":
      return { value: Number(line), next: eol + 2 };
    case "$": {
      const len = Number(line);
      if (len < 0) return { value: null, next: eol + 2 };
      if (buf.length < eol + 2 + len + 2) return undefined;
      return { value: buf.toString("utf8", eol + 2, eol + 2 + len), next: eol + 2 + len + 2 };
    }
    case "*": {
      const n = Number(line);
      if (n < 0) return { value: null, next: eol + 2 };
      const items: RedisReply[] = [];
      let next = eol + 2;
      for (let i = 0; i < n; i++) {
        const item = parseReply(buf, next);
        if (!item) return undefined;
        if (item.value instanceof RedisReplyError) return item; // nested errors (EXEC) are not needed here
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      return { value: new RedisReplyError(`unexpected reply type ${JSON.stringify(type)}`), next: buf.length };
  }
}

export interface RedisCommandOptions {
  /** AUTH arguments sent first: [password] or [username, password]. */
  auth?: string[];
  /** Default 2000 ms. */
  timeoutMs?: number;
}

/**
 * Sends one command on a fresh connection and resolves its reply (RESP2,
 * no HELLO). Rejects with RedisReplyError on an error reply, and on
 * connection errors or timeout.
 */
export async function redisCommand(
  endpoint: RedisEndpoint,
  args: (string | number)[],
  opts: RedisCommandOptions = {},
): Promise<RedisReply> {
  const commands = opts.auth?.length ? [["AUTH", ...opts.auth], args] : [args];
  return new Promise<RedisReply>((resolve, reject) => {
    const socket = new Socket();
    let buf = Buffer.alloc(0);
    let pos = 0;
    const replies: (RedisReply | RedisReplyError)[] = [];
    let settled = false;
    const finish = (err: Error | undefined, value?: RedisReply): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (err) reject(err);
      else resolve(value ?? null);
    };
    socket.setTimeout(opts.timeoutMs ?? 2000, () =>
      finish(new Error(`redis ${endpoint.host}:${endpoint.port}: ${String(args[0])} timed out`)),
    );
    socket.once("error", (err) => finish(err));
    socket.once("close", () => finish(new Error(`redis ${endpoint.host}:${endpoint.port}: connection closed`)));
    socket.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const parsed = parseReply(buf, pos);
        if (!parsed) break;
        replies.push(parsed.value);
        pos = parsed.next;
      }
      if (replies.length < commands.length) return;
      const bad = replies.find((r) => r instanceof RedisReplyError);
      if (bad instanceof RedisReplyError) finish(bad);
      else finish(undefined, replies[replies.length - 1] as RedisReply);
    });
    socket.connect(endpoint.port, endpoint.host, () => {
      socket.write(commands.map(encodeCommand).join(""));
    });
  });
}

/** Parses INFO / CLUSTER INFO text into a map. */
export function parseInfo(text: RedisReply): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of String(text ?? "").split("\r\n")) {
    const i = line.indexOf(":");
    if (i > 0 && !line.startsWith("#")) out.set(line.slice(0, i), line.slice(i + 1));
  }
  return out;
}

/** A flat [k1, v1, k2, v2, ...] reply (SENTINEL replicas entries) as a map. */
function pairs(reply: RedisReply): Map<string, string> {
  const out = new Map<string, string>();
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) out.set(String(reply[i]), String(reply[i + 1]));
  }
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `check` until it returns a value other than undefined/false, or
 * throws with `describe()` (the last observed state) after timeoutMs.
 */
async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  opts: { timeoutMs: number; intervalMs?: number; describe?: () => string },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const detail = opts.describe?.() ?? (lastError instanceof Error ? lastError.message : "");
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${what}${detail ? `: ${detail}` : ""}`);
    }
    await sleep(opts.intervalMs ?? 50);
  }
}

// ---------------------------------------------------------------------------
// one managed redis-server / redis-sentinel process

const LOG_LIMIT = 64 * 1024;

class StartError extends Error {
  constructor(
    message: string,
    readonly addressInUse: boolean,
  ) {
    super(message);
  }
}

interface ProcessSpec {
  kind: "redis-server" | "redis-sentinel";
  port: number;
  dir: string;
  /** Arguments after the binary (config file and/or --options). */
  args: string[];
  auth: string[] | undefined;
  username: string | undefined;
  password: string | undefined;
  startTimeoutMs: number;
  /** Other ports claimed for this process (cluster bus), released on stop. */
  extraPorts: number[];
}

class ManagedRedis implements RedisServer {
  readonly host = REDIS_HOST;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private log = "";
  private stopped = false;

  constructor(private readonly spec: ProcessSpec) {}

  get port(): number {
    return this.spec.port;
  }
  get dir(): string {
    return this.spec.dir;
  }
  get username(): string | undefined {
    return this.spec.username;
  }
  get password(): string | undefined {
    return this.spec.password;
  }
  get url(): string {
    const { username, password } = this.spec;
    const cred =
      password === undefined
        ? ""
        : `${username ? encodeURIComponent(username) : ""}:${encodeURIComponent(password)}@`;
    return `redis://${cred}${this.host}:${this.port}`;
  }
  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  logs(): string {
    return this.log;
  }

  command(...args: (string | number)[]): Promise<RedisReply> {
    return redisCommand(this, args, { auth: this.spec.auth });
  }

  /** Spawns the process and resolves once it answers PING. */
  async launch(): Promise<void> {
    if (this.stopped) throw new Error(`redis on port ${this.port} was stopped; start a new one`);
    const bin = redisBinary(this.spec.kind);
    const child = spawn(bin, this.spec.args, { cwd: this.spec.dir, stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    let spawnError: Error | undefined;
    const append = (chunk: Buffer): void => {
      this.log += chunk.toString("utf8");
      if (this.log.length > LOG_LIMIT) this.log = this.log.slice(-LOG_LIMIT);
    };
    child.stdout?.on("data", append);
    child.stderr?.on("data", append);
    child.on("error", (err) => {
      spawnError = err;
    });
    this.exited = new Promise<void>((resolve) => {
      child.once("close", () => resolve());
      child.once("error", () => resolve());
    });
    if (child.pid !== undefined) {
      children.add(child);
      const record = join(registryDir, `proc-${child.pid}.json`);
      writeFileSync(record, JSON.stringify({ owner: process.pid, pid: child.pid, port: this.port, dir: this.dir }));
      child.once("exit", () => {
        children.delete(child);
        safeUnlink(record);
      });
    }

    const deadline = Date.now() + this.spec.startTimeoutMs;
    for (;;) {
      if (spawnError || child.exitCode !== null || child.signalCode !== null) {
        await Promise.race([this.exited, sleep(500)]);
        const how = spawnError ? spawnError.message : `exited with ${child.exitCode ?? child.signalCode}`;
        throw new StartError(
          `${this.spec.kind} on ${this.host}:${this.port} ${how} before answering PING.\n` +
            `command: ${bin} ${this.spec.args.join(" ")}\n--- log ---\n${this.log}`,
          /Address already in use/i.test(this.log),
        );
      }
      try {
        const reply = await redisCommand(this, ["PING"], { auth: this.spec.auth, timeoutMs: 1000 });
        if (reply === "PONG") return;
      } catch {
        // not listening yet, or LOADING
      }
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        await this.exited;
        throw new StartError(
          `${this.spec.kind} on ${this.host}:${this.port} did not answer PING within ${this.spec.startTimeoutMs} ms.\n` +
            `command: ${bin} ${this.spec.args.join(" ")}\n--- log ---\n${this.log}`,
          false,
        );
      }
      await sleep(25);
    }
  }

  private async terminate(signal: "SIGTERM" | "SIGKILL"): Promise<void> {
    const child = this.child;
    if (!child || !this.running) {
      await this.exited;
      return;
    }
    child.kill(signal);
    if (signal === "SIGTERM") {
      child.kill("SIGCONT"); // a paused process cannot act on SIGTERM
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await this.exited;
      clearTimeout(timer);
    } else {
      await this.exited;
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.terminate("SIGTERM");
    liveDirs.delete(this.dir);
    await rm(this.dir, { recursive: true, force: true });
    releasePort(this.port);
    for (const p of this.spec.extraPorts) releasePort(p);
  }

  async kill(): Promise<void> {
    await this.terminate("SIGKILL");
  }

  async restart(): Promise<void> {
    if (this.stopped) throw new Error(`redis on port ${this.port} was stopped (stop() is final; for an outage use kill() then restart())`);
    await this.terminate("SIGTERM");
    // The port was ours all along (registry), but a stranger may still have
    // grabbed it: retry briefly on "Address already in use".
    for (let attempt = 0; ; attempt++) {
      try {
        await this.launch();
        return;
      } catch (err) {
        if (!(err instanceof StartError && err.addressInUse) || attempt >= 20) throw err;
        await sleep(250);
      }
    }
  }

  pause(): void {
    if (this.running) this.child?.kill("SIGSTOP");
  }

  resume(): void {
    if (this.running) this.child?.kill("SIGCONT");
  }
}

/**
 * Creates the temp dir and claims ports, then launches; on "Address already
 * in use" (another program took the port after we probed it) starts over on
 * new ports. Returns the running server.
 *
 * This is the one place the tests probe a free port, free it and hand the
 * number to a process: redis-server cannot bind port 0 and say which port it
 * got (`--port 0` turns TCP off), so the race that every other test avoids
 * by binding port 0 in the process under test (replicas.ts reads the bound
 * ports from "breakerbox listening") or by keeping its own listener
 * (tcp-forwarder.ts) is handled here by retrying on EADDRINUSE with a fresh
 * port. restart() reuses its own port by design (an outage on the same
 * address), kept claimed in the registry meanwhile, and retries the same way.
 */
async function launchFresh(
  make: (port: number, dir: string) => Promise<ProcessSpec> | ProcessSpec,
  opts: { clusterBus?: boolean } = {},
): Promise<ManagedRedis> {
  for (let attempt = 0; ; attempt++) {
    const port = await getFreePort(opts);
    const dir = await mkdtemp(tempPrefix);
    liveDirs.add(dir);
    const server = new ManagedRedis(await make(port, dir));
    try {
      await server.launch();
      return server;
    } catch (err) {
      await server.stop();
      if (!(err instanceof StartError && err.addressInUse) || attempt >= 4) throw err;
    }
  }
}

/**
 * Like Promise.all, but waits for every start to settle, so that a failure
 * leaves nothing half-started behind: the started ones land in `into` (for the
 * caller's cleanup) before the first failure is thrown.
 */
async function startAll<T>(starts: Promise<T>[], into: T[]): Promise<T[]> {
  const results = await Promise.allSettled(starts);
  for (const r of results) if (r.status === "fulfilled") into.push(r.value);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
  return into.slice(-results.length);
}

function baseServerArgs(port: number, dir: string): string[] {
  return [
    "--port", String(port),
    "--bind", REDIS_HOST,
    "--dir", dir,
    "--daemonize", "no",
    "--protected-mode", "no",
    "--logfile", "",
    "--loglevel", "notice",
    "--save", "",
    "--enable-debug-command", "local",
    // A replica's full sync starts at once (the default waits 5 s for more replicas).
    "--repl-diskless-sync-delay", "0",
  ];
}

// ---------------------------------------------------------------------------
// public starters

/** One redis-server on a free port of 127.0.0.1 with its own temp dir; resolves when it answers PING. */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  return launchFresh((port, dir) => {
    const args = [...baseServerArgs(port, dir), "--appendonly", options.appendonly ? "yes" : "no"];
    let auth: string[] | undefined;
    if (options.password !== undefined) {
      args.push("--requirepass", options.password);
      auth = [options.password];
    }
    if (options.user) {
      const { name, password } = options.user;
      args.push("--user", name, "on", `>${password}`, "~*", "&*", "+@all");
      if (options.password === undefined) args.push("--user", "default", "off");
      auth = [name, password];
    }
    args.push(...(options.args ?? []));
    return {
      kind: "redis-server",
      port,
      dir,
      args,
      auth,
      username: options.user?.name,
      password: options.user?.password ?? options.password,
      startTimeoutMs: options.startTimeoutMs ?? 20_000,
      extraPorts: [],
    };
  });
}

/**
 * A Redis Cluster of `masters` (default 3) masters, no replicas, created with
 * `redis-cli --cluster create`; resolves when every node reports
 * cluster_state:ok and knows every other node.
 */
export async function startRedisCluster(options: StartRedisClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  if (masters < 3) throw new Error("redis-cli --cluster create needs at least 3 masters");
  const startTimeoutMs = options.startTimeoutMs ?? 20_000;
  const servers: ManagedRedis[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    const started = await startAll(
      Array.from({ length: masters }, () =>
        launchFresh(
          (port, dir) => ({
            kind: "redis-server",
            port,
            dir,
            args: [
              ...baseServerArgs(port, dir),
              "--appendonly", "no",
              "--cluster-enabled", "yes",
              "--cluster-config-file", "nodes.conf",
              "--cluster-node-timeout", "2000",
              "--cluster-announce-ip", REDIS_HOST,
            ],
            auth: undefined,
            username: undefined,
            password: undefined,
            startTimeoutMs,
            extraPorts: [port + 10000],
          }),
          { clusterBus: true },
        ),
      ),
      servers,
    );
    const addrs = started.map((s) => `${s.host}:${s.port}`);
    await runRedisCli(["--cluster", "create", ...addrs, "--cluster-replicas", "0", "--cluster-yes"], started);

    const states = new Map<number, string>();
    await waitFor(
      "cluster_state:ok on every node",
      async () => {
        const infos = await Promise.all(
          started.map(async (s) => {
            const info = parseInfo(await s.command("CLUSTER", "INFO"));
            states.set(
              s.port,
              `state=${info.get("cluster_state")} known=${info.get("cluster_known_nodes")} slots_ok=${info.get("cluster_slots_ok")}`,
            );
            return info;
          }),
        );
        return infos.every(
          (i) =>
            i.get("cluster_state") === "ok" &&
            i.get("cluster_known_nodes") === String(masters) &&
            i.get("cluster_slots_ok") === "16384",
        );
      },
      {
        timeoutMs: startTimeoutMs,
        intervalMs: 100,
        describe: () => [...states].map(([p, s]) => `${p}: ${s}`).join("; "),
      },
    );
    return { nodes: started.map((s) => ({ host: s.host, port: s.port })), servers: started, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function runRedisCli(args: string[], servers: ManagedRedis[]): Promise<string> {
  const bin = redisBinary("redis-cli");
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
    children.add(child);
    let out = "";
    child.stdout?.on("data", (c: Buffer) => (out += c.toString("utf8")));
    child.stderr?.on("data", (c: Buffer) => (out += c.toString("utf8")));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, 60_000);
    child.once("error", (err) => {
      clearTimeout(timer);
      children.delete(child);
      reject(err);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      if (code === 0) return resolve(out);
      const logs = servers.map((s) => `--- ${s.host}:${s.port} log ---\n${s.logs()}`).join("\n");
      const how = timedOut ? "did not finish within 60 s and was killed" : `failed (${code ?? signal})`;
      reject(new Error(`redis-cli ${args.join(" ")} ${how}:\n${out}\n${logs}`));
    });
  });
}

/**
 * Sentinel: a master, a replica (--replicaof) and three redis-sentinel
 * processes monitoring it as "breakerbox" (quorum 2). Resolves when every
 * sentinel names the master, sees the replica with a working link, and knows
 * the two other sentinels.
 */
export async function startRedisSentinel(options: StartRedisSentinelOptions = {}): Promise<RedisSentinelSetup> {
  const name = "breakerbox";
  const downAfterMs = options.downAfterMs ?? 1000;
  const failoverTimeoutMs = options.failoverTimeoutMs ?? 5000;
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const all: RedisServer[] = [];
  const sentinelServers: ManagedRedis[] = [];
  let master: RedisServer | undefined;
  let replica: RedisServer | undefined;
  const stop = async (): Promise<void> => {
    // Sentinels first, so that stopping the master does not start a failover.
    await Promise.all(sentinelServers.map((s) => s.stop()));
    await Promise.all(all.map((s) => s.stop()));
  };
  try {
    master = await startRedis();
    all.push(master);
    const masterPort = master.port;
    replica = await startRedis({ args: ["--replicaof", REDIS_HOST, String(masterPort)] });
    all.push(replica);
    const rep = replica;
    await waitFor(
      "the replica's link to the master",
      async () => parseInfo(await rep.command("INFO", "replication")).get("master_link_status") === "up",
      { timeoutMs: startTimeoutMs, intervalMs: 50 },
    );

    const started = await startAll(
      [0, 1, 2].map(() =>
        launchFresh(async (port, dir) => {
          const conf = join(dir, "sentinel.conf");
          await writeFile(
            conf,
            [
              `port ${port}`,
              `bind ${REDIS_HOST}`,
              `daemonize no`,
              `protected-mode no`,
              `logfile ""`,
              `dir ${dir}`,
              `sentinel resolve-hostnames no`,
              `sentinel announce-ip ${REDIS_HOST}`,
              `sentinel monitor ${name} ${REDIS_HOST} ${masterPort} 2`,
              `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
              `sentinel failover-timeout ${name} ${failoverTimeoutMs}`,
              `sentinel parallel-syncs ${name} 1`,
              "",
            ].join("\n"),
          );
          return {
            kind: "redis-sentinel",
            port,
            dir,
            args: [conf],
            auth: undefined,
            username: undefined,
            password: undefined,
            startTimeoutMs: 20_000,
            extraPorts: [],
          };
        }),
      ),
      sentinelServers,
    );

    const status = new Map<number, string>();
    await waitFor(
      "the sentinels to agree on master, replica and each other",
      async () => {
        const ok = await Promise.all(
          started.map(async (s) => {
            const addr = await s.command("SENTINEL", "get-master-addr-by-name", name);
            const replicas = ((await s.command("SENTINEL", "replicas", name)) as RedisReply[]).map(pairs);
            const peers = (await s.command("SENTINEL", "sentinels", name)) as RedisReply[];
            const seen = replicas.find((r) => r.get("port") === String(rep.port));
            status.set(
              s.port,
              `master=${JSON.stringify(addr)} replica=${seen ? `${seen.get("flags")}/${seen.get("master-link-status")}` : "unknown"} peers=${peers.length}`,
            );
            return (
              Array.isArray(addr) &&
              addr[1] === String(masterPort) &&
              seen?.get("flags") === "slave" &&
              seen.get("master-link-status") === "ok" &&
              peers.length === started.length - 1
            );
          }),
        );
        return ok.every(Boolean);
      },
      {
        timeoutMs: startTimeoutMs,
        intervalMs: 100,
        describe: () => [...status].map(([p, s]) => `sentinel ${p}: ${s}`).join("; "),
      },
    );
    const rep0 = rep;
    const m = master;
    return {
      name,
      sentinels: started.map((s) => ({ host: s.host, port: s.port })),
      sentinelServers: started,
      master: m,
      replica: rep0,
      killMaster: () => m.kill(),
      waitForFailover: async (timeoutMs = 20_000) => {
        const seen = new Map<number, string>();
        await waitFor(
          `failover of "${name}" to the replica on port ${rep0.port}`,
          async () => {
            const live = started.filter((s) => s.running);
            const answers = await Promise.all(
              live.map(async (s) => {
                const addr = await s.command("SENTINEL", "get-master-addr-by-name", name).catch((e: Error) => e.message);
                seen.set(s.port, JSON.stringify(addr));
                return Array.isArray(addr) && addr[1] === String(rep0.port);
              }),
            );
            if (live.length === 0 || !answers.every(Boolean)) return false;
            return parseInfo(await rep0.command("INFO", "replication")).get("role") === "master";
          },
          {
            timeoutMs,
            intervalMs: 100,
            describe: () => [...seen].map(([p, a]) => `sentinel ${p} says ${a}`).join("; "),
          },
        );
        return { host: rep0.host, port: rep0.port };
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
