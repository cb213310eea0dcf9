/**
 * Steady agent traffic for the chaos test (test/e2e/chaos.test.ts): a few
 * simulated agents doing Acquire → Report over a handful of circuits, spread
 * across replicas that come and go, plus one Watch per replica. Everything
 * they see is recorded so the test can judge it afterwards:
 *
 * - every call's answer (OK or a gRPC code), so unexpected codes are found;
 * - every probe permit granted, with the moments that bound when the server
 *   decided it, so over-granted probes can be counted soundly (probeOvergrants);
 * - every Watch message's stats, and how each Watch stream ended.
 *
 * Ordering uses a sequence counter bumped at every request sent and every
 * answer received, never elapsed time; the one use of the clock is to leave
 * out of the count probes whose permit had already expired (their slot is
 * free again).
 */
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { status as Status } from "@grpc/grpc-js";
import { DenyReason, Outcome, type CircuitStats } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { decodePermit, splitPermit } from "../../src/engine/index.js";
import { CallError } from "./grpc-client.js";
import type { Replica } from "./replicas.js";

/** The replicas the traffic runs on; an entry is undefined while that replica is down. */
export type ReplicaSlots = (Replica | undefined)[];

/** One answered call. */
export interface CallRecord {
  method: "acquire" | "report";
  replica: number;
  circuit: string;
  /** "OK" or the gRPC status code name. */
  code: string;
  details: string;
}

/** A probe permit (kind "p") an Acquire granted. */
export interface ProbeGrant {
  circuit: string;
  generation: number;
  body: string;
  replica: number;
  /** Sequence number when the Acquire was sent and when its answer came. */
  sentSeq: number;
  doneSeq: number;
  /** Date.now() when the answer came (compared with permit expiries only). */
  doneWallMs: number;
  expiresAtMs: number;
  /** The Redis incarnation the Acquire was sent and answered in; undefined when a data loss fell between. */
  incarnation: number | undefined;
  /** Sequence number when its Report was sent; undefined when never sent. */
  reportSentSeq?: number;
}

/** A probe grant that, by the recorded order, found half_open_max_calls probes already out. */
export interface Overgrant {
  grant: ProbeGrant;
  /** The probes of the same circuit, generation and incarnation certainly outstanding when it was decided. */
  outstanding: ProbeGrant[];
}

export interface TrafficOptions {
  circuits: readonly string[];
  /** Probability that an allowed call fails, per circuit. */
  failureRate: (circuit: string) => number;
  agents: number;
  random: () => number;
  /** half_open_max_calls of every traffic circuit. */
  halfOpenMaxCalls: number;
  /** Prefix the Watches subscribe to. */
  watchPrefix: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function codeOf(err: unknown): { code: string; details: string } {
  if (err instanceof CallError) return { code: Status[err.code] ?? String(err.code), details: err.details };
  return { code: "THROWN", details: err instanceof Error ? err.message : String(err) };
}

/**
 * Runs the agents and Watches until stop(). `slots` is read at every call,
 * so the test swaps replicas in and out by assigning to it; bumpIncarnation()
 * marks a Redis data loss.
 */
export class ChaosTraffic {
  readonly calls: CallRecord[] = [];
  readonly probes: ProbeGrant[] = [];
  /** Every stats block a Watch message carried whose half_open_in_flight exceeds half_open_max_calls. */
  readonly watchOverflows: string[] = [];
  /** Acquires denied because every probe slot was taken (HALF_OPEN_FULL): the limit was put to the test. */
  halfOpenFullDenials = 0;
  /** Watch messages received, per replica slot. */
  readonly watchMessages: number[];
  /** How Watch streams ended ("replica 2: UNAVAILABLE ..."). */
  readonly watchEnds: string[] = [];
  private seq = 0;
  private incarnation = 0;
  private stopped = false;
  private paused = false;
  private busy = 0;
  private resumed: Promise<void> = Promise.resolve();
  private resume: () => void = () => {};
  private readonly agents: Promise<void>[] = [];
  private readonly watches: Promise<void>[] = [];
  private readonly watchCancels = new Map<number, () => void>();

  constructor(
    private readonly slots: ReplicaSlots,
    private readonly opts: TrafficOptions,
  ) {
    this.watchMessages = slots.map(() => 0);
  }

  start(): void {
    for (let i = 0; i < this.opts.agents; i++) this.agents.push(this.agent(i));
    for (let r = 0; r < this.slots.length; r++) this.watches.push(this.watch(r));
  }

  /** A Redis data loss: grants on either side of it are not compared. */
  bumpIncarnation(): void {
    this.incarnation++;
  }

  /** Agents finish the call in hand and wait; resolves once none is in a call. */
  async pause(): Promise<void> {
    this.paused = true;
    this.resumed = new Promise((r) => (this.resume = r));
    while (this.busy > 0) await sleep(10);
  }

  unpause(): void {
    this.paused = false;
    this.resume();
  }

  /** Calls answered OK by replica `r` since index `from` of `calls`. */
  okCallsOn(r: number, from: number): number {
    let n = 0;
    for (let i = from; i < this.calls.length; i++) {
      const c = this.calls[i]!;
      if (c.replica === r && c.code === "OK") n++;
    }
    return n;
  }

  /** Ends the Watch of replica slot `r` (its replica is going away); the watch loop reopens it once the slot is filled again. */
  dropWatch(r: number): void {
    this.watchCancels.get(r)?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unpause();
    for (const cancel of this.watchCancels.values()) cancel();
    await Promise.all([...this.agents, ...this.watches]);
  }

  private live(): number[] {
    const out: number[] = [];
    this.slots.forEach((r, i) => {
      if (r !== undefined && r.child.exitCode === null && r.child.signalCode === null) out.push(i);
    });
    return out;
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.opts.random() * items.length)]!;
  }

  private async agent(id: number): Promise<void> {
    const random = this.opts.random;
    while (!this.stopped) {
      if (this.paused) {
        await this.resumed;
        continue;
      }
      const live = this.live();
      if (live.length === 0) {
        await sleep(50);
        continue;
      }
      this.busy++;
      try {
        await this.oneCall(id, this.pick(live), this.pick(this.opts.circuits));
      } finally {
        this.busy--;
      }
      await sleep(5 + Math.floor(random() * 20));
    }
  }

  /** Acquire on replica `r`; when allowed, Report through a live replica picked at random. */
  private async oneCall(agent: number, r: number, circuit: string): Promise<void> {
    const replica = this.slots[r]!;
    const sentSeq = ++this.seq;
    const inc0 = this.incarnation;
    let answer;
    try {
      answer = await replica.client.call("acquire", { circuit, agentInstanceId: `agent-${agent}` });
    } catch (err) {
      this.calls.push({ method: "acquire", replica: r, circuit, ...codeOf(err) });
      await sleep(30);
      return;
    }
    const doneSeq = ++this.seq;
    this.calls.push({ method: "acquire", replica: r, circuit, code: "OK", details: "" });
    if (!answer.allowed) {
      if (answer.reason === DenyReason.HALF_OPEN_FULL) this.halfOpenFullDenials++;
      await sleep(30);
      return;
    }
    const body = splitPermit(answer.permit)?.body;
    const permit = body === undefined ? undefined : decodePermit(body);
    let probe: ProbeGrant | undefined;
    if (permit?.kind === "probe") {
      probe = {
        circuit,
        generation: permit.generation,
        body: body!,
        replica: r,
        sentSeq,
        doneSeq,
        doneWallMs: Date.now(),
        expiresAtMs: permit.expiresAt,
        incarnation: inc0 === this.incarnation ? inc0 : undefined,
      };
      this.probes.push(probe);
    }
    // The call to the dependency; a probe's is slower (a recovering dependency), so the probe slots fill up.
    await sleep(probe === undefined ? Math.floor(this.opts.random() * 15) : 30 + Math.floor(this.opts.random() * 70));
    const live = this.live();
    if (live.length === 0) return;
    const via = this.pick(live);
    const outcome = this.opts.random() < this.opts.failureRate(circuit) ? Outcome.FAILURE : Outcome.SUCCESS;
    if (probe !== undefined) probe.reportSentSeq = ++this.seq;
    try {
      await this.slots[via]!.client.call("report", {
        circuit,
        permit: answer.permit,
        outcome,
        duration: durationFromMs(5),
        agentInstanceId: `agent-${agent}`,
      });
      this.calls.push({ method: "report", replica: via, circuit, code: "OK", details: "" });
    } catch (err) {
      this.calls.push({ method: "report", replica: via, circuit, ...codeOf(err) });
    }
  }

  /** One Watch per replica slot, reopened (with a fresh snapshot) whenever it ends, until stop(). */
  private async watch(r: number): Promise<void> {
    while (!this.stopped) {
      const replica = this.slots[r];
      if (replica === undefined || replica.child.exitCode !== null || replica.child.signalCode !== null) {
        await sleep(100);
        continue;
      }
      const stream = replica.client.stream("watch", { prefix: this.opts.watchPrefix });
      this.watchCancels.set(r, () => stream.cancel());
      try {
        for await (const m of stream.messages) {
          this.watchMessages[r]!++;
          const v = m.kind.value;
          const stats: CircuitStats | undefined =
            m.kind.case === "event" || m.kind.case === "snapshot" || m.kind.case === "status" ? m.kind.value.stats : undefined;
          if (stats !== undefined && stats.halfOpenInFlight > this.opts.halfOpenMaxCalls) {
            const name = v !== undefined && "circuit" in v ? String(v.circuit) : "?";
            this.watchOverflows.push(`replica ${r}: ${m.kind.case} of ${name} with half_open_in_flight ${stats.halfOpenInFlight}`);
          }
          if (this.stopped) break;
        }
        this.watchEnds.push(`replica ${r}: ended`);
      } catch (err) {
        const { code, details } = codeOf(err);
        this.watchEnds.push(`replica ${r}: ${code} ${details}`);
      } finally {
        this.watchCancels.delete(r);
      }
      if (!this.stopped) await sleep(200);
    }
  }
}

/**
 * Probe grants that found half_open_max_calls probes already out. What is
 * counted: for a probe grant G, a probe P of the same circuit, generation and
 * Redis incarnation is certainly outstanding when the server decided G if P's
 * grant was answered before G was sent, P's Report was not yet sent when G's
 * answer came (or never was), and P's permit had not expired by then (with
 * `expiryMarginMs` to spare). G plus such P's may never exceed `max`.
 * Grants whose Acquire straddled a Redis data loss are left out.
 */
export function probeOvergrants(probes: readonly ProbeGrant[], max: number, expiryMarginMs = 500): Overgrant[] {
  const episodes = new Map<string, ProbeGrant[]>();
  for (const p of probes) {
    if (p.incarnation === undefined) continue;
    const key = `${p.incarnation}/${p.circuit}/${p.generation}`;
    const list = episodes.get(key) ?? [];
    list.push(p);
    episodes.set(key, list);
  }
  const out: Overgrant[] = [];
  for (const list of episodes.values()) {
    for (const g of list) {
      const outstanding = list.filter(
        (p) =>
          p !== g &&
          p.doneSeq < g.sentSeq &&
          (p.reportSentSeq === undefined || p.reportSentSeq > g.doneSeq) &&
          p.expiresAtMs > g.doneWallMs + expiryMarginMs,
      );
      if (outstanding.length + 1 > max) out.push({ grant: g, outstanding });
    }
  }
  return out;
}

/** Probe grants that had at least one other probe certainly outstanding (shows the check is not vacuous). */
export function concurrentProbeGrants(probes: readonly ProbeGrant[]): number {
  return probeOvergrants(probes, 1).length;
}
