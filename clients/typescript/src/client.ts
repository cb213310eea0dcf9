/**
 * The Breakerbox agent SDK: `createBreakerbox({ address })` and `run(circuit, fn)`.
 *
 * Contract of the Acquire/Report dance as the SDK plays it:
 * - every allowed call is reported exactly once (one Report per permit), with
 *   its measured duration;
 * - a denied call never runs `fn`;
 * - while a circuit is known OPEN (a denial with retry_after > 0, or a Watch
 *   event this client received) the SDK denies locally, without a round trip,
 *   until the time the service said it may admit again; then it asks again.
 *
 * The Client composes the parts: the gRPC transport, known-open.ts (local
 * fail fast), service-gate.ts (the service unreachable), report-queue.ts
 * (Reports sent in the background, batched), run.ts and stream.ts (the call
 * wrappers) and watch.ts (the reconnecting stream).
 */
import { hostname } from "node:os";
import type { Outcome } from "./vocabulary.js";
import type { Clock } from "./classify.js";
import { denialOf, reportRequestOf, reportResultOf, stateOf } from "./convert.js";
import { soonestRetryMs, type CircuitDenial } from "./errors.js";
import { createGrpcTransport, type Transport } from "./grpc-transport.js";
import { KnownOpen } from "./known-open.js";
import { Backoff, ReportQueue } from "./report-queue.js";
import { denied, guarded, type Reporter } from "./run.js";
import { ServiceGate } from "./service-gate.js";
import { guardedStream } from "./stream.js";
import type {
  AcquireAnyResult,
  AcquireResult,
  Breakerbox,
  BreakerboxOptions,
  ReportOptions,
  ReportResult,
  RunOptions,
  StreamOptions,
  WatchOptions,
  WatchUpdate,
} from "./types.js";
import { watchUpdates } from "./watch.js";

/** `<hostname>:<pid>`, in the characters the service accepts: each agent process is one reporter. */
export function defaultAgentInstanceId(): string {
  return `${hostname()}:${process.pid}`.replace(/[^A-Za-z0-9._:/@-]/g, "-").slice(0, 128);
}

/** The outcome of a Report that was dropped unsent, for `onReportError`. */
export class ReportDroppedError extends Error {
  override readonly name = "ReportDroppedError";
  readonly reason = "REPORT_DROPPED";
}

class Client implements Breakerbox {
  private readonly transport: Transport;
  private readonly known: KnownOpen;
  private readonly gate: ServiceGate;
  private readonly reports: ReportQueue;
  /** What `guarded` needs of this client. */
  private readonly callContext: { clock: Clock; defaultTimeoutMs: number | undefined };
  private readonly closing = new AbortController();
  private closed: Promise<void> | undefined;
  /** Sent as agent_instance_id with Acquire, AcquireAny and Report ("" for none). */
  private readonly agentInstanceId: string;

  constructor(private readonly options: BreakerboxOptions) {
    if (options.transport !== undefined && options.transport !== "grpc") throw new Error(`unsupported transport ${String(options.transport)}`);
    this.transport = createGrpcTransport({
      address: options.address,
      ...(options.credentials !== undefined && { credentials: options.credentials }),
      ...(options.tls !== undefined && { tls: options.tls }),
      ...(options.apiKey !== undefined && { apiKey: options.apiKey }),
      ...(options.metadata !== undefined && { metadata: options.metadata }),
      rpcTimeoutMs: options.rpcTimeoutMs ?? 2000,
      // grpc-js backs off reconnecting up to 120 s by default: after an outage
      // the client would go without the service that long. Retry within seconds.
      channelOptions: { "grpc.max_reconnect_backoff_ms": 5000, ...options.channelOptions },
    });
    this.agentInstanceId = options.agentInstanceId ?? defaultAgentInstanceId();
    const clock = options.clock ?? Date;
    this.callContext = { clock, defaultTimeoutMs: options.defaultTimeoutMs };
    this.known = new KnownOpen(clock, options.failFast !== false);
    const onReportError = (err: unknown, circuit: string): void => {
      try {
        options.onReportError?.(err, circuit);
      } catch {
        // The caller's handler must not stop the report loop.
      }
    };
    this.reports = new ReportQueue({
      transport: this.transport,
      maxSize: Math.max(1, options.reportQueueSize ?? 10_000),
      backoff: new Backoff(100, 5000),
      lingerMs: Math.max(0, options.reportLingerMs ?? 2),
      onUnreachable: (e) => this.gate.markDown(e),
      onDelivered: () => this.gate.markUp(),
      onReportError,
      onDropped: (circuit) => onReportError(new ReportDroppedError(`a Report for ${circuit} was dropped unsent`), circuit),
    });
    this.gate = new ServiceGate({
      clock,
      policy: options.whenUnavailable ?? "failOpen",
      serviceRetryMs: options.serviceRetryMs ?? 5000,
      localConfig: options.localConfig,
      serviceReporter: (circuit, permit) => this.serviceReporter(circuit, permit),
      onUp: () => this.reports.nudge(),
    });
  }

  /** The reporter of a service permit: queues the outcome; `run` does not wait for it. */
  private serviceReporter(circuit: string, permit: string): Reporter {
    return (outcome, durationMs, retryAfterMs) => {
      const options: ReportOptions = { durationMs, ...(retryAfterMs !== undefined && { retryAfterMs }) };
      this.reports.put({ ...reportRequestOf(circuit, permit, outcome, options), circuit, agentInstanceId: this.agentInstanceId });
    };
  }

  async acquire(circuit: string, options: { signal?: AbortSignal } = {}): Promise<AcquireResult> {
    const local = this.known.denial(circuit);
    if (local !== undefined) return { allowed: false, ...local };
    const r = await this.transport.unary("acquire", { circuit, agentInstanceId: this.agentInstanceId }, options.signal);
    if (r.allowed) {
      this.known.admitted(circuit);
      return { allowed: true, circuit, permit: r.permit, state: stateOf(r.state), shadowDenied: r.shadowDenied };
    }
    const denial = denialOf(circuit, r);
    this.known.denied(denial);
    return { allowed: false, ...denial };
  }

  async acquireAny(circuits: readonly string[], options: { signal?: AbortSignal } = {}): Promise<AcquireAnyResult> {
    const localDenials: CircuitDenial[] = [];
    const ask: string[] = [];
    for (const c of circuits) {
      const d = this.known.denial(c);
      if (d !== undefined) localDenials.push(d);
      else ask.push(c);
    }
    if (ask.length === 0) return { allowed: false, denials: localDenials, retryAfterMs: soonestRetryMs(localDenials) };
    const r = await this.transport.unary("acquireAny", { circuits: ask, agentInstanceId: this.agentInstanceId }, options.signal);
    const remote = r.denials.map((d) => denialOf(d.circuit, d));
    for (const d of remote) this.known.denied(d);
    // In the caller's order of candidates.
    const denials = circuits.flatMap((c) => [...localDenials, ...remote].filter((d) => d.circuit === c));
    if (r.allowed) {
      this.known.admitted(r.circuit);
      return { allowed: true, circuit: r.circuit, permit: r.permit, state: stateOf(r.state), denials };
    }
    return { allowed: false, denials, retryAfterMs: soonestRetryMs(denials) };
  }

  async report(circuit: string, permit: string, outcome: Outcome, options: ReportOptions = {}): Promise<ReportResult> {
    const request = { ...reportRequestOf(circuit, permit, outcome, options), agentInstanceId: this.agentInstanceId };
    return reportResultOf(await this.transport.unary("report", request));
  }

  async run<T>(circuit: string, fn: (signal: AbortSignal) => Promise<T>, options: RunOptions<T> = {}): Promise<T> {
    options.signal?.throwIfAborted();
    const a = await this.gate.admit(circuit, (s) => this.acquire(circuit, { signal: withCaller(s, options.signal) }));
    if (!a.allowed) return denied(a.error, options);
    return guarded(circuit, a.reporter, fn, options, this.callContext);
  }

  async runAny<T>(circuits: readonly string[], fn: (circuit: string, signal: AbortSignal) => Promise<T>, options: RunOptions<T> = {}): Promise<T> {
    options.signal?.throwIfAborted();
    const a = await this.gate.admitAny(circuits, (s) => this.acquireAny(circuits, { signal: withCaller(s, options.signal) }));
    if (!a.allowed) return denied(a.error, options);
    const chosen = a.circuit;
    return guarded(chosen, a.reporter, (s) => fn(chosen, s), options, this.callContext);
  }

  runStream<T>(
    circuit: string,
    fn: (signal: AbortSignal) => AsyncIterable<T> | Iterable<T> | Promise<AsyncIterable<T> | Iterable<T>>,
    options: StreamOptions<T> = {},
  ): AsyncIterableIterator<T> {
    const admit = () => this.gate.admit(circuit, (s) => this.acquire(circuit, { signal: withCaller(s, options.signal) }));
    return guardedStream(circuit, admit, fn, options, this.callContext);
  }

  wrap<A extends unknown[], T>(circuit: string, fn: (signal: AbortSignal, ...args: A) => Promise<T>, options?: RunOptions<T>): (...args: A) => Promise<T> {
    return (...args: A) => this.run(circuit, (signal) => fn(signal, ...args), options);
  }

  watch(options: WatchOptions = {}): AsyncIterableIterator<WatchUpdate> {
    return watchUpdates(options, {
      transport: this.transport,
      backoff: { initialMs: this.options.watchBackoff?.initialMs ?? 100, maxMs: this.options.watchBackoff?.maxMs ?? 5000 },
      closing: this.closing.signal,
      onTransition: (e) => this.known.transition(e),
    });
  }

  knownOpenUntil(circuit: string): number | undefined {
    return this.known.until(circuit);
  }

  status(): { degraded: boolean; pendingReports: number; queuedReports: number; droppedReports: number } {
    return {
      degraded: this.gate.isDown(),
      pendingReports: this.reports.pending,
      queuedReports: this.reports.size,
      droppedReports: this.reports.dropped,
    };
  }

  flush(timeoutMs?: number): Promise<boolean> {
    return this.reports.flush(timeoutMs);
  }

  async flushPending(): Promise<void> {
    // As before the queue: nothing to wait for while the service is known down, and bounded.
    if (!this.gate.isDown()) await this.reports.flush(this.options.closeTimeoutMs ?? 5000);
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      this.closing.abort();
      await this.reports.close(this.options.closeTimeoutMs ?? 5000);
      this.transport.close();
    })();
    return this.closed;
  }
}

/** The gate's signal, aborted also by the caller's. */
function withCaller(gate: AbortSignal, caller: AbortSignal | undefined): AbortSignal {
  return caller === undefined ? gate : AbortSignal.any([gate, caller]);
}

/**
 * Creates a Breakerbox client over one gRPC channel. Nothing is sent until
 * the first call. Call `close()` when done. Throws at once for options that
 * cannot work: TypeError for `tls` together with `credentials`, `apiKey`
 * together with an `authorization` metadata entry, an empty `apiKey`, or a
 * client certificate without its key; Error for a transport other than "grpc".
 */
export function createBreakerbox(options: BreakerboxOptions): Breakerbox {
  return new Client(options);
}
