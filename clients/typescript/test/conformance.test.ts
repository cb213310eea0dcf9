/**
 * Plays clients/conformance/scenarios.yaml with the TypeScript client, every
 * scenario in file order, exactly as clients/conformance/README.md describes
 * the steps (and as the Python player, clients/python/tests/test_conformance.py,
 * reads them). It starts the harness itself (`process.execPath
 * clients/conformance/harness.mjs`, which serves the repo's built dist/), and
 * the scenarios its ready line hands over become this file's tests, so one
 * added to the file is played without a change here; a step, option or
 * expectation this player does not know fails the scenario.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { CircuitOpenError, createBreakerbox, type Breakerbox, type BreakerboxOptions, type WatchUpdate } from "@breakerbox/client";
import { Pin, State as PbState } from "../../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { createCircuitClient, type CircuitClient } from "../../../test/support/grpc-client.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const FALLBACK = "fallback value";
/** The client's rpc_timeout when a scenario sets none (the clients' default): `fast` is half of it. */
const DEFAULT_RPC_TIMEOUT = 2.0;
/** How long a `flush` step may wait for the queue to drain, in ms. */
const FLUSH_TIMEOUT_MS = 30_000;
/** How long the harness may take to start a server (two cores, shared with other test runs). */
const START_TIMEOUT_MS = 60_000;

type Step = Record<string, unknown>;
interface Scenario {
  name: string;
  about?: string;
  client?: Record<string, unknown> | null;
  steps: Step[];
}
type Reply = Record<string, unknown>;

/** The harness as a child process: its JSON lines, its commands, and the server behind `direct`. */
class Harness {
  private readonly replies: Reply[] = [];
  private waiting: ((r: Reply | undefined) => void) | undefined;
  private readonly stderrLines: string[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private readonly admins = new Map<string, CircuitClient>();
  address = "";
  direct = "";
  scenarios: Scenario[] = [];
  /** What a scenario left behind, for the next one to undo. */
  killed = false;
  blackholed = false;

  private constructor(private readonly proc: ChildProcessWithoutNullStreams) {
    createInterface({ input: proc.stdout }).on("line", (line) => {
      let message: Reply;
      try {
        message = JSON.parse(line) as Reply;
      } catch {
        return;
      }
      const w = this.waiting;
      this.waiting = undefined;
      if (w !== undefined) w(message);
      else this.replies.push(message);
    });
    createInterface({ input: proc.stderr }).on("line", (line) => {
      this.stderrLines.push(line);
      if (this.stderrLines.length > 300) this.stderrLines.shift();
    });
    proc.once("exit", () => {
      const w = this.waiting;
      this.waiting = undefined;
      w?.(undefined);
    });
  }

  static async start(): Promise<Harness> {
    const proc = spawn(process.execPath, [`${root}clients/conformance/harness.mjs`], { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
    const h = new Harness(proc);
    const ready = await h.reply(START_TIMEOUT_MS);
    if (ready?.event !== "ready") {
      h.close();
      throw new Error(`the harness did not get ready: ${JSON.stringify(ready)}\n${h.stderr()}`);
    }
    h.address = String(ready.address);
    h.direct = String(ready.direct);
    h.scenarios = ready.scenarios as Scenario[];
    return h;
  }

  private reply(timeoutMs: number): Promise<Reply | undefined> {
    const next = this.replies.shift();
    if (next !== undefined) return Promise.resolve(next);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.waiting = (r) => {
        clearTimeout(timer);
        resolve(r);
      };
    });
  }

  /** Sends a command and waits for its {"ok": name} answer; one at a time. */
  command(name: string): Promise<Reply> {
    const run = async (): Promise<Reply> => {
      this.proc.stdin.write(`${name}\n`);
      const r = await this.reply(START_TIMEOUT_MS);
      if (r?.ok !== name) throw new Error(`the harness answered ${JSON.stringify(r)} to ${name}`);
      if (name === "kill") this.killed = true;
      else if (name === "start") [this.direct, this.killed, this.blackholed] = [String(r.direct), false, false];
      else if (name === "blackhole") this.blackholed = true;
      else if (name === "restore") this.blackholed = false;
      return r;
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Undoes what a scenario left (a killed server, a blackhole), so the next one starts on a working path. */
  async heal(): Promise<void> {
    if (this.killed) await this.command("start");
    if (this.blackholed) await this.command("restore");
  }

  /** A client of the server itself (`direct`), which sees it while the client's path is cut. */
  admin(): CircuitClient {
    let c = this.admins.get(this.direct);
    if (c === undefined) this.admins.set(this.direct, (c = createCircuitClient(this.direct)));
    return c;
  }

  async status(circuit: string) {
    const r = await this.admin().call("getState", { circuit });
    if (r.status === undefined) throw new Error(`GetState ${circuit}: no status`);
    return r.status;
  }

  stderr(): string {
    return `--- conformance harness stderr (server logs included):\n${this.stderrLines.join("\n")}`;
  }

  close(): void {
    for (const c of this.admins.values()) c.close();
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.stdin.end("exit\n");
  }
}

/** An HTTP error shaped like the OpenAI and Anthropic JS SDKs' APIError: `status` and `headers`, no SDK needed. */
class APIError extends Error {
  constructor(
    readonly status: number,
    readonly headers: Headers,
  ) {
    super(`${status} status code (conformance)`);
  }
}

/** What a guarded call or stream gave back, and what its function did. */
interface Outcome {
  value?: unknown;
  items: unknown[];
  error?: unknown;
  ran: boolean;
  /** The function's own error, compared by identity. */
  raised?: unknown;
  fallbackGot?: unknown;
}

const CLIENT_OPTIONS = new Set(["on_unavailable", "rpc_timeout", "service_retry", "local_failure_threshold", "local_open_seconds"]);
const POLICIES: Record<string, BreakerboxOptions["whenUnavailable"]> = { fail_open: "failOpen", fail_closed: "failClosed" };
const STATS = { successes: "totalSuccesses", failures: "totalFailures", ignored: "totalIgnored" } as const;
const PINS: Record<string, Pin> = { FORCED_OPEN: Pin.FORCED_OPEN, RELEASE: Pin.NONE };

/** A scenario's `client` options as the TypeScript client's own options of that meaning. */
function clientOptions(address: string, o: Record<string, unknown>): BreakerboxOptions {
  const unknown = Object.keys(o).filter((k) => !CLIENT_OPTIONS.has(k));
  if (unknown.length > 0) throw new Error(`client options this player does not know: ${unknown.join(", ")}`);
  const seconds = (k: string): number | undefined => (o[k] === undefined ? undefined : Number(o[k]) * 1000);
  const options: BreakerboxOptions = { address };
  if (o.on_unavailable !== undefined) {
    const policy = POLICIES[String(o.on_unavailable)];
    if (policy === undefined) throw new Error(`on_unavailable this player does not know: ${String(o.on_unavailable)}`);
    options.whenUnavailable = policy;
  }
  if (o.rpc_timeout !== undefined) options.rpcTimeoutMs = seconds("rpc_timeout")!;
  if (o.service_retry !== undefined) options.serviceRetryMs = seconds("service_retry")!;
  if (o.local_failure_threshold !== undefined || o.local_open_seconds !== undefined) {
    options.localConfig = {
      ...(o.local_failure_threshold !== undefined && { failureThreshold: Number(o.local_failure_threshold) }),
      ...(o.local_open_seconds !== undefined && { openDurationMs: seconds("local_open_seconds")! }),
    };
  }
  return options;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

class Player {
  private watch: AsyncIterableIterator<WatchUpdate> | undefined;
  private pump: Promise<void> | undefined;
  private readonly events: (WatchUpdate | { error: unknown })[] = [];
  private eventArrived: (() => void) | undefined;

  constructor(
    private readonly harness: Harness,
    readonly bb: Breakerbox,
    private readonly circuit: string,
    private readonly rpcTimeout: number,
  ) {}

  async step(step: Step): Promise<void> {
    if ("call" in step || "stream" in step) return this.guarded(step);
    if ("flush" in step) {
      expect(await this.bb.flush(FLUSH_TIMEOUT_MS), "the queued Reports were not delivered within the flush timeout").toBe(true);
      return;
    }
    if ("state" in step) {
      const got = PbState[(await this.harness.status(this.circuit)).state];
      expect(got, "state").toBe(step.state);
      return;
    }
    if ("stats" in step) {
      const want = step.stats as Record<string, number>;
      const unknown = Object.keys(want).filter((k) => !(k in STATS));
      if (unknown.length > 0) throw new Error(`stats this player does not know: ${unknown.join(", ")}`);
      const s = (await this.harness.status(this.circuit)).stats;
      const got = Object.fromEntries(Object.keys(want).map((k) => [k, Number(s?.[STATS[k as keyof typeof STATS]] ?? 0)]));
      expect(got, "stats").toEqual(want);
      return;
    }
    if ("sleep" in step) {
      await sleep(Number(step.sleep) * 1000);
      return;
    }
    if ("harness" in step) {
      await this.harness.command(String(step.harness));
      return;
    }
    if ("force" in step) {
      const pin = PINS[String(step.force)];
      if (pin === undefined) throw new Error(`a force this player does not know: ${String(step.force)}`);
      await this.harness.admin().call("forceState", { circuit: this.circuit, pin });
      return;
    }
    if ("watch_start" in step) return this.watchStart();
    if ("watch_expect" in step) return this.watchExpect(step.watch_expect as Record<string, unknown>);
    if ("watch_stop" in step) return this.watchStop();
    throw new Error(`a step this player does not know: ${Object.keys(step).join(", ")}`);
  }

  // -- call and stream ---------------------------------------------------------

  private async guarded(step: Step): Promise<void> {
    const times = Number(step.times ?? 1);
    for (let i = 0; i < times; i++) {
      if (step.retry_for === undefined) {
        await this.once(step);
        continue;
      }
      const deadline = performance.now() + Number(step.retry_for) * 1000;
      for (;;) {
        try {
          await this.once(step);
          break;
        } catch (err) {
          if (performance.now() >= deadline) throw new Error(`not within retry_for ${String(step.retry_for)} s; last try: ${(err as Error).message}`);
          await sleep(200);
        }
      }
    }
  }

  private async once(step: Step): Promise<void> {
    const started = performance.now();
    const isStream = "stream" in step;
    const out = isStream ? await this.stream(String(step.stream), step.fallback === true) : await this.call(String(step.call), (step.headers ?? {}) as Record<string, string>, step.fallback === true);
    const elapsed = (performance.now() - started) / 1000;
    checkExpect(step, out, isStream);
    if (step.fast === true) {
      expect(elapsed, `took ${elapsed.toFixed(3)} s, not fast (< ${this.rpcTimeout / 2} s, half the rpc_timeout)`).toBeLessThan(this.rpcTimeout / 2);
    }
    if (step.max_elapsed !== undefined) {
      expect(elapsed, `took ${elapsed.toFixed(3)} s, more than max_elapsed ${String(step.max_elapsed)} s`).toBeLessThanOrEqual(Number(step.max_elapsed));
    }
  }

  private async call(name: string, headers: Record<string, string>, fallback: boolean): Promise<Outcome> {
    if (!["ok", "fail", "ok_then_blackhole"].includes(name) && !/^http_\d{3}$/.test(name)) throw new Error(`unknown call function ${name}`);
    const out: Outcome = { items: [], ran: false };
    const fn = async (): Promise<string> => {
      out.ran = true;
      if (name === "fail") throw (out.raised = new Error("conformance: the dependency failed"));
      if (name.startsWith("http_")) throw (out.raised = new APIError(Number(name.slice(5)), new Headers(headers)));
      if (name === "ok_then_blackhole") await this.harness.command("blackhole");
      return "ok";
    };
    const options = fallback
      ? {
          fallback: (err: CircuitOpenError) => {
            out.fallbackGot = err;
            return FALLBACK;
          },
        }
      : {};
    try {
      out.value = await this.bb.run(this.circuit, fn, options);
    } catch (err) {
      out.error = err;
    }
    return out;
  }

  private async stream(name: string, fallback: boolean): Promise<Outcome> {
    if (name !== "ok" && name !== "fail_midway") throw new Error(`unknown stream function ${name}`);
    const out: Outcome = { items: [], ran: false };
    async function* chunks(): AsyncGenerator<string> {
      out.ran = true;
      yield "a";
      yield "b";
      if (name === "fail_midway") throw (out.raised = new Error("conformance: the stream broke"));
    }
    const options = fallback
      ? {
          fallback: (err: CircuitOpenError) => {
            out.fallbackGot = err;
            return [FALLBACK];
          },
        }
      : {};
    try {
      for await (const item of this.bb.runStream(this.circuit, () => chunks(), options)) out.items.push(item);
    } catch (err) {
      out.error = err;
    }
    return out;
  }

  // -- watch -------------------------------------------------------------------

  private watchStart(): void {
    const watch = this.bb.watch({ circuits: [this.circuit] });
    this.watch = watch;
    const push = (e: WatchUpdate | { error: unknown }): void => {
      this.events.push(e);
      this.eventArrived?.();
    };
    this.pump = (async () => {
      try {
        for await (const u of watch) push(u);
      } catch (error) {
        push({ error }); // handed to the next watch_expect
      }
    })();
  }

  private async nextEvent(deadline: number, within: number): Promise<WatchUpdate> {
    while (this.events.length === 0) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`no watch event within ${within} s`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.eventArrived = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.eventArrived = undefined;
    }
    const e = this.events.shift()!;
    if ("error" in e) throw new Error(`the watch ended with ${String(e.error)}`);
    return e;
  }

  private async watchExpect(want: Record<string, unknown>): Promise<void> {
    if (this.watch === undefined) throw new Error("watch_expect without watch_start");
    const within = Number(want.within ?? 5);
    const deadline = performance.now() + within * 1000;
    const u = await this.nextEvent(deadline, within);
    if (want.kind === "snapshot") {
      expect(u.type, `expected a snapshot, got ${described(u)}`).toBe("snapshot");
      if (u.type !== "snapshot") return;
      expect([u.circuit, u.state]).toEqual([this.circuit, want.state]);
      // The snapshot is whole, and the watch holds a position to resume from,
      // only with its snapshot_complete marker: a cut before it rightly brings a second snapshot.
      const end = await this.nextEvent(deadline, within);
      expect(end.type, "the end of the snapshot").toBe("snapshot_complete");
    } else if (want.kind === "transition") {
      expect(u.type, `expected a transition, got ${described(u)}`).toBe("transition");
      if (u.type !== "transition") return;
      expect([u.circuit, u.to]).toEqual([this.circuit, want.to]);
    } else {
      throw new Error(`a watch_expect kind this player does not know: ${String(want.kind)}`);
    }
  }

  async watchStop(): Promise<void> {
    if (this.watch === undefined) return;
    await this.watch.return?.(undefined);
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([this.pump!.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 10_000)))]);
    clearTimeout(timer);
    expect(ended, "the watch did not end after return()").toBe(true);
    this.watch = undefined;
  }
}

/** An update for a message: its fields without the raw protobuf message. */
function described(u: WatchUpdate): string {
  const { raw: _raw, ...rest } = u as WatchUpdate & { raw?: unknown };
  return JSON.stringify(rest);
}

function checkExpect(step: Step, out: Outcome, isStream: boolean): void {
  const expected = step.expect;
  const got = isStream ? out.items : out.value;
  if (expected === "ok") {
    expect(out.error, `expected ok, got ${String(out.error)}`).toBeUndefined();
    expect(out.ran, "the function did not run").toBe(true);
    expect(got).toEqual(isStream ? ["a", "b"] : "ok");
  } else if (expected === "raised") {
    expect(out.ran, `the function did not run (got ${String(out.error)})`).toBe(true);
    expect(out.raised, "the function raised nothing").toBeDefined();
    expect(out.error, `expected the function's own error ${String(out.raised)}, got ${String(out.error)}`).toBe(out.raised);
    if (isStream) expect(out.items, "items before the error").toEqual(["a", "b"]);
  } else if (expected === "open" || expected === "unavailable") {
    expect(out.ran, "the function ran").toBe(false);
    expect(CircuitOpenError.is(out.error), `expected CircuitOpenError, got ${String(out.error)} (value ${JSON.stringify(out.value)})`).toBe(true);
    const err = out.error as CircuitOpenError;
    if (expected === "open") expect(err.reason, `denied as unavailable, not open: ${err.message}`).not.toBe("SERVICE_UNAVAILABLE");
    else expect(err.reason, `denied, but not as unavailable: ${err.message}`).toBe("SERVICE_UNAVAILABLE");
    if (step.retry_after_min !== undefined) {
      expect(err.retryAfterMs / 1000, `retry_after ${err.retryAfterMs} ms < ${String(step.retry_after_min)} s`).toBeGreaterThanOrEqual(Number(step.retry_after_min));
    }
  } else if (expected === "fallback") {
    expect(step.fallback, "expect: fallback needs fallback: true").toBe(true);
    expect(out.ran, "the function ran").toBe(false);
    expect(out.error, `expected the fallback's value, got ${String(out.error)}`).toBeUndefined();
    expect(got).toEqual(isStream ? [FALLBACK] : FALLBACK);
    expect(CircuitOpenError.is(out.fallbackGot), "the fallback got a CircuitOpenError").toBe(true);
  } else {
    throw new Error(`an expect this player does not know: ${String(expected)}`);
  }
}

const harness = await Harness.start();
afterAll(() => harness.close());

describe("conformance scenarios (clients/conformance/scenarios.yaml)", () => {
  it("the harness handed over scenarios", () => {
    expect(harness.scenarios.length).toBeGreaterThan(0);
  });

  for (const scenario of harness.scenarios) {
    it(scenario.name, { timeout: 180_000 }, async () => {
      const o = scenario.client ?? {};
      const circuit = `conformance.${scenario.name}.typescript.${randomBytes(4).toString("hex")}`;
      const bb = createBreakerbox(clientOptions(harness.address, o));
      const player = new Player(harness, bb, circuit, o.rpc_timeout === undefined ? DEFAULT_RPC_TIMEOUT : Number(o.rpc_timeout));
      try {
        for (const [index, step] of scenario.steps.entries()) {
          try {
            await player.step(step);
          } catch (err) {
            const e = err as Error;
            e.message = `${scenario.name} step ${index + 1} ${JSON.stringify(step)}: ${e.message}\n${harness.stderr().split("\n").slice(-40).join("\n")}`;
            throw e;
          }
        }
      } finally {
        try {
          await player.watchStop();
          await bb.close();
        } finally {
          await harness.heal();
        }
      }
    });
  }
});
