/**
 * Reports off the caller's critical path: `run` puts its outcome here and
 * returns; one background loop sends what is queued with BatchReport (up to
 * 100 reports per RPC), retried with jittered exponential backoff while the
 * service is unreachable, and flushed (within a bound) on close. The same
 * design as the Python (`_report_queue.py`) and Go (`reporter.go`) clients.
 *
 * A batch smaller than 100 waits up to `lingerMs` (default 2 ms) for more
 * reports first: an agent making calls back to back then sends one
 * BatchReport per several calls instead of one per call, which is what kept
 * a guarded call near one Acquire round trip in bench/client-overhead (the
 * Report RPCs otherwise compete with the next Acquire for the server).
 * `flush()` and `close()` cut the wait short.
 *
 * The queue is bounded: when full, the OLDEST report is dropped (and counted
 * in `dropped`): its permit may have expired anyway (permit_ttl), and memory
 * stays bounded through a long outage. A permit's outcome counts once, so a
 * report re-sent after a lost answer is harmless (DUPLICATE).
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Status } from "./gen/google/rpc/status_pb.js";
import type { ReportRequestSchema } from "./gen/breakerbox/v1/breakerbox_pb.js";
import { detailsOfStatus } from "./error-details.js";
import { BreakerboxRpcError } from "./errors.js";
import type { Transport } from "./grpc-transport.js";
import { isUnreachable } from "./service-gate.js";

/** BatchReport takes 1 to 100 reports. */
const BATCH_SIZE = 100;

export type QueuedReport = MessageInitShape<typeof ReportRequestSchema> & { circuit: string };

/** Jittered exponential delays: uniform in [d/2, d], d doubling from `baseMs` up to `capMs`. */
export class Backoff {
  private attempt = 0;
  constructor(
    private readonly baseMs: number,
    private readonly capMs: number,
    private readonly random: () => number = Math.random,
  ) {}
  next(): number {
    const d = Math.min(this.capMs, this.baseMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return d / 2 + this.random() * (d / 2);
  }
  reset(): void {
    this.attempt = 0;
  }
}

export interface ReportQueueOptions {
  transport: Transport;
  /** Most reports held (default 10,000); when full the oldest is dropped. */
  maxSize: number;
  backoff: Backoff;
  /** How long a batch smaller than BATCH_SIZE waits for more reports before it is sent (0: at once). */
  lingerMs: number;
  /** The service was unreachable (the error says so): the service-down memo. */
  onUnreachable(err: BreakerboxRpcError): void;
  /** The service answered a BatchReport. */
  onDelivered(): void;
  /** A report dropped unsent: the queue was full (the oldest), or `close()` gave up on it. */
  onDropped(circuit: string): void;
  /** A report the service refused for good (e.g. PERMIT_EXPIRED), or a batch that failed otherwise; `err` says why. */
  onReportError(err: unknown, circuit: string): void;
}

export class ReportQueue {
  private readonly items: QueuedReport[] = [];
  /** The batch being sent (not yet delivered nor put back). */
  private sending: QueuedReport[] = [];
  /** Aborted when `close()` gives up: cancels the batch in flight. */
  private readonly abandon = new AbortController();
  /** Reports put back after a failed attempt, still queued (for `status().pendingReports`). */
  private retrying = 0;
  private running: Promise<void> | undefined;
  private wakeSleep: (() => void) | undefined;
  /** Ends the linger before a batch: a full batch is queued, or flush/close want it now. */
  private wakeLinger: (() => void) | undefined;
  private idleWaiters: (() => void)[] = [];
  private stopped = false;
  /** Reports dropped because the queue was full or the client closed before they could be sent. */
  dropped = 0;

  constructor(private readonly options: ReportQueueOptions) {}

  /** Queued or being sent. */
  get size(): number {
    return this.items.length + this.sending.length;
  }

  /** Queued after an attempt found the service unreachable, waiting for the next try. */
  get pending(): number {
    return Math.min(this.retrying, this.items.length);
  }

  /** Queues a report and returns at once; the loop sends it. After `close()` it is dropped. */
  put(report: QueuedReport): void {
    if (this.stopped) {
      this.drop(report);
      return;
    }
    if (this.items.length >= this.options.maxSize) {
      this.drop(this.items.shift()!);
      if (this.retrying > 0) this.retrying--;
    }
    this.items.push(report);
    if (this.items.length >= BATCH_SIZE) this.wakeLinger?.();
    this.kick();
  }

  /** The service is back: a batch waiting out its backoff is sent now. */
  nudge(): void {
    this.wakeSleep?.();
  }

  private drop(report: QueuedReport): void {
    this.dropped++;
    this.options.onDropped(report.circuit);
  }

  /** Starts the loop unless it runs; a report put while it was ending starts it again. */
  private kick(): void {
    // The loop catches what the service answers; this only guards against a callback's bug.
    this.running ??= this.loop()
      .catch(() => undefined)
      .finally(() => {
        this.running = undefined;
        if (this.items.length > 0 && !this.stopped) this.kick();
      });
  }

  /**
   * Resolves true once nothing is queued or in flight (every report delivered,
   * or refused for good); false if `timeoutMs` passed first (undefined: no bound).
   * A report that waits for its next try is sent now rather than after its backoff.
   */
  flush(timeoutMs?: number): Promise<boolean> {
    if (this.size === 0) return Promise.resolve(true);
    this.wakeSleep?.();
    this.wakeLinger?.();
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.push(done);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.idleWaiters = this.idleWaiters.filter((w) => w !== done);
          resolve(false);
        }, timeoutMs);
      }
    });
  }

  /**
   * Sends what is queued for at most `timeoutMs`, then drops (and counts)
   * the rest; later `put`s are dropped. Resolves with how many were dropped here.
   */
  async close(timeoutMs: number): Promise<number> {
    const flushed = await this.flush(timeoutMs);
    this.stopped = true;
    this.wakeSleep?.();
    if (flushed) return 0;
    // The batch in flight too: its answer is no longer awaited.
    const left = [...this.sending.splice(0), ...this.items.splice(0)];
    this.retrying = 0;
    this.abandon.abort();
    for (const r of left) this.drop(r);
    this.settleIdle();
    return left.length;
  }

  private settleIdle(): void {
    if (this.size !== 0) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private async loop(): Promise<void> {
    while (this.items.length > 0 && !this.stopped) {
      if (this.items.length < BATCH_SIZE && this.options.lingerMs > 0 && this.idleWaiters.length === 0) await this.linger();
      if (this.stopped) break;
      const batch = this.items.splice(0, BATCH_SIZE);
      this.retrying = Math.max(0, this.retrying - batch.length);
      this.sending = batch;
      let retry: QueuedReport[] = [];
      try {
        retry = await this.send(batch);
      } finally {
        this.sending = [];
      }
      if (retry.length > 0 && !this.stopped) {
        this.items.unshift(...retry);
        this.retrying += retry.length;
        // Reports queued meanwhile are newer: the oldest go when over the bound.
        while (this.items.length > this.options.maxSize) this.drop(this.items.shift()!);
        await this.sleep(this.options.backoff.next());
      } else {
        this.options.backoff.reset();
      }
      this.settleIdle();
    }
    this.settleIdle();
  }

  /** Sends one batch; returns the reports to try again (the service or its store was unreachable). */
  private async send(batch: QueuedReport[]): Promise<QueuedReport[]> {
    let results;
    try {
      results = (await this.options.transport.unary("batchReport", { reports: batch }, this.abandon.signal)).results;
    } catch (e) {
      if (this.stopped) return []; // close() gave up on it, and counted it dropped
      if (isUnreachable(e)) {
        this.options.onUnreachable(e);
        return batch;
      }
      // Refused as a whole (e.g. UNAUTHENTICATED): retrying cannot help.
      for (const r of batch) this.options.onReportError(e, r.circuit);
      return [];
    }
    this.options.onDelivered();
    const again: QueuedReport[] = [];
    results.forEach((res, i) => {
      const report = batch[i];
      if (report === undefined || res.result.case !== "error") return;
      const err = rpcErrorOfStatus(res.result.value);
      // Its store was unreachable: the permit still counts once it is back.
      if (isUnreachable(err)) again.push(report);
      else this.options.onReportError(err, report.circuit);
    });
    return again;
  }

  /** Waits `lingerMs` for more reports, or less when woken (a full batch, flush, close). */
  private linger(): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(t);
        this.wakeLinger = undefined;
        resolve();
      };
      const t = setTimeout(wake, this.options.lingerMs);
      this.wakeLinger = wake;
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(wake, ms);
      function wake(): void {
        clearTimeout(t);
        resolve();
      }
      this.wakeSleep = () => {
        this.wakeSleep = undefined;
        wake();
      };
    });
  }
}

/** A BatchReport result's google.rpc.Status as the error Report would have thrown. */
function rpcErrorOfStatus(status: Status): BreakerboxRpcError {
  return new BreakerboxRpcError(status.code, CODE_NAMES[status.code] ?? String(status.code), status.message, detailsOfStatus(status));
}

const CODE_NAMES: Record<number, string> = {
  1: "CANCELLED",
  2: "UNKNOWN",
  3: "INVALID_ARGUMENT",
  4: "DEADLINE_EXCEEDED",
  5: "NOT_FOUND",
  6: "ALREADY_EXISTS",
  7: "PERMISSION_DENIED",
  8: "RESOURCE_EXHAUSTED",
  9: "FAILED_PRECONDITION",
  10: "ABORTED",
  11: "OUT_OF_RANGE",
  12: "UNIMPLEMENTED",
  13: "INTERNAL",
  14: "UNAVAILABLE",
  15: "DATA_LOSS",
  16: "UNAUTHENTICATED",
};
