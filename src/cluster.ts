/**
 * BREAKERBOX_WORKERS > 1: several server processes on one host, one port pair.
 *
 * The primary (this module's runPrimary) serves nothing itself: it forks the
 * workers with node:cluster, each running the whole server (both ports), and
 * keeps them running. The sharing is node:cluster's, not `reusePort`: grpc-js
 * listens through http2.createServer().listen(), an ordinary net.Server, so
 * in a worker that listen goes through the primary like the HTTP server's
 * does, and it works on every platform (reusePort is Linux/BSD only, and
 * grpc-js offers no way to pass it). On Linux the primary accepts and hands
 * connections to the workers in turn (round robin), so gRPC's long-lived
 * HTTP/2 connections spread by connection, not by call.
 *
 * Circuits live in Redis (config refuses the memory store with workers), so
 * the workers are replicas like separate hosts' are. What a single process
 * would have to itself is handled here: the "breakerbox listening" line
 * (once, by the primary), /metrics (a scrape reaches one worker, which asks
 * the primary for the sum over all workers), restarts and shutdown.
 */
import cluster, { type Worker } from "node:cluster";
import { createServer } from "node:net";
import { AggregatorRegistry, type Registry } from "prom-client";
import type { RunningBreakerbox } from "./app.js";
import type { AppConfig } from "./config/index.js";
import type { Logger } from "./logger.js";

/** Worker → primary: listening, with the ports it bound. */
const READY = "breakerbox:ready";
/** Worker → primary: a scrape arrived; answer the sum over workers. */
const SCRAPE = "breakerbox:scrape";
/** Primary → worker: the aggregated exposition (or why not). */
const SCRAPED = "breakerbox:scraped";
/** Primary → worker: send your registry's metrics as JSON. */
const COLLECT = "breakerbox:collect";
/** Worker → primary: its metrics as JSON. */
const COLLECTED = "breakerbox:collected";

/** A scrape waits this long for the workers' metrics before answering 500. */
const SCRAPE_TIMEOUT_MS = 5000;
/** Restart backoff: first delay, doubling per death in a row, up to the max. */
const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 10_000;
/** A worker that lived this long resets the backoff. */
const HEALTHY_AFTER_MS = 30_000;

/** One worker's metrics, as its registry's getMetricsAsJSON gives them. */
type MetricsJson = Awaited<ReturnType<Registry["getMetricsAsJSON"]>>;

interface Message {
  type?: string;
  id?: number;
  grpcPort?: number;
  httpPort?: number;
  text?: string;
  error?: string;
  metrics?: MetricsJson;
}

/** A free TCP port on `host`, for port 0: every worker must get the same one. */
async function freePort(host: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port: 0, exclusive: true }, resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error(`could not pick a free port on ${host}`);
  return address.port;
}

/**
 * Runs the primary: forks `config.workers` workers, calls `announce` once all
 * listen, restarts a worker that dies (with a backoff), answers the workers'
 * /metrics with the sum over all of them, and on SIGTERM/SIGINT stops them
 * and exits. Startup fails (exit 1) if a worker dies before all listen.
 */
export async function runPrimary(config: AppConfig, logger: Logger, announce: (grpcPort: number, httpPort: number) => void): Promise<void> {
  // Port 0: pick the ports here. Letting each worker listen on 0 would rely on
  // the order of its two listens (node:cluster matches port-0 listens by
  // order), which grpc-js's asynchronous bind does not fix.
  const grpcPort = config.grpcPort === 0 ? await freePort(config.host) : config.grpcPort;
  const httpPort = config.httpPort === 0 ? await freePort(config.host) : config.httpPort;
  const env = { BREAKERBOX_GRPC_PORT: String(grpcPort), BREAKERBOX_HTTP_PORT: String(httpPort) };

  const ready = new Set<Worker>();
  const started = new Map<Worker, number>();
  let announced = false;
  let stopping = false;
  let deathsInARow = 0;

  const fork = (): void => {
    const worker = cluster.fork(env);
    started.set(worker, Date.now());
  };

  // One collection round over the workers at a time: scrapes that arrive
  // while one runs share its answer, so concurrent /metrics requests (any
  // client of the HTTP port can send them) cost one round, not one each.
  interface Round {
    id: number;
    rest: Set<Worker>;
    parts: MetricsJson[];
    replies: ((m: Message) => void)[];
    timer: NodeJS.Timeout;
  }
  let round: Round | undefined;
  let nextRound = 0;
  const finish = (r: Round, m: Message): void => {
    if (round !== r) return; // timed out or failed already
    round = undefined;
    clearTimeout(r.timer);
    for (const reply of r.replies) reply(m);
  };
  const scrape = (from: Worker, id: number): void => {
    const reply = (m: Message): void => {
      if (from.isConnected()) from.send({ type: SCRAPED, id, ...m });
    };
    if (round !== undefined) {
      round.replies.push(reply);
      return;
    }
    const rest = new Set([...ready].filter((w) => w.isConnected()));
    const r: Round = {
      id: nextRound++,
      rest,
      parts: [],
      replies: [reply],
      timer: setTimeout(() => finish(r, { error: `timed out waiting for ${rest.size} worker(s) after ${SCRAPE_TIMEOUT_MS} ms` }), SCRAPE_TIMEOUT_MS),
    };
    round = r;
    for (const w of rest) w.send({ type: COLLECT, id: r.id });
  };
  const collected = (worker: Worker, m: Message): void => {
    const r = round;
    if (r === undefined || m.id !== r.id || !r.rest.delete(worker)) return;
    if (m.error !== undefined) return finish(r, { error: m.error });
    r.parts.push(m.metrics ?? []);
    if (r.rest.size === 0) sum(r);
  };
  /** Every worker asked has answered or exited: the sum of what they gave. */
  const sum = (r: Round): void => {
    if (r.parts.length === 0) return finish(r, { error: "every worker exited during the scrape" });
    AggregatorRegistry.aggregate(r.parts).metrics().then(
      (text) => finish(r, { text }),
      (err: unknown) => finish(r, { error: err instanceof Error ? err.message : String(err) }),
    );
  };

  cluster.on("message", (worker, m: Message) => {
    if (m.type === READY) {
      ready.add(worker);
      logger.debug({ pid: worker.process.pid }, "worker listening");
      if (!announced && ready.size === config.workers) {
        announced = true;
        announce(grpcPort, httpPort);
      }
    } else if (m.type === SCRAPE && m.id !== undefined) {
      scrape(worker, m.id);
    } else if (m.type === COLLECTED) {
      collected(worker, m);
    }
  });

  cluster.on("exit", (worker, code, signal) => {
    ready.delete(worker);
    // Its counters died with it: the round sums the workers that are left.
    if (round?.rest.delete(worker) && round.rest.size === 0) sum(round);
    const pid = worker.process.pid;
    if (stopping) return;
    if (!announced) {
      // A worker that cannot start (port taken, Redis refused) would fail the same way again.
      if (process.exitCode === 1) return; // said so already, for the first one
      logger.fatal({ pid, code, signal }, "a worker exited before all were listening; stopping");
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill("SIGTERM");
      process.exitCode = 1;
      return;
    }
    const lived = Date.now() - (started.get(worker) ?? 0);
    started.delete(worker);
    deathsInARow = lived >= HEALTHY_AFTER_MS ? 1 : deathsInARow + 1;
    const delayMs = Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** (deathsInARow - 1));
    logger.error(
      { pid, code, signal, livedMs: lived, restartInMs: delayMs },
      `worker exited unexpectedly (${signal ?? `exit code ${code}`}); restarting it`,
    );
    setTimeout(() => {
      if (!stopping) fork();
    }, delayMs).unref();
  });

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    if (signals > 1) {
      logger.warn({ signal }, "second signal: killing the workers, exiting now");
      for (const w of workers) w.process.kill("SIGKILL");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, graceMs: config.shutdownGraceMs, workers: workers.length }, "shutting down");
    let failed = false;
    let left = workers.length;
    const finish = (): void => {
      logger.info("stopped");
      logger.flush();
      process.exit(failed ? 1 : 0);
    };
    if (left === 0) return finish();
    for (const w of workers) {
      w.once("exit", (code) => {
        if (code !== 0) failed = true;
        if (--left === 0) finish();
      });
      // SIGTERM, not worker.kill(): each worker runs its own graceful stop.
      w.process.kill("SIGTERM");
    }
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);

  for (let i = 0; i < config.workers; i++) fork();
}

/**
 * In a worker: tells the primary it listens, serves /metrics as the sum over
 * all workers, and stops (`stop`) when the primary goes away.
 */
export function joinPrimary(app: RunningBreakerbox, stop: (reason: string) => void): void {
  const send = (m: Message): void => {
    if (process.connected) process.send?.(m);
  };
  // One scrape in flight per worker: concurrent /metrics requests share it.
  let waiting: { id: number; resolve: (text: string) => void; reject: (err: Error) => void } | undefined;
  let inFlight: Promise<string> | undefined;
  let nextId = 0;
  app.metrics.serveAsWorker(process.pid, () => {
    inFlight ??= new Promise<string>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => reject(new Error("the primary did not answer the scrape")), SCRAPE_TIMEOUT_MS + 1000);
      waiting = {
        id,
        resolve: (text) => (clearTimeout(timer), resolve(text)),
        reject: (err) => (clearTimeout(timer), reject(err)),
      };
      send({ type: SCRAPE, id });
    }).finally(() => {
      waiting = undefined;
      inFlight = undefined;
    });
    return inFlight;
  });
  process.on("message", (m: Message) => {
    if (m.type === COLLECT) {
      app.metrics.registry.getMetricsAsJSON().then(
        (metrics) => send({ type: COLLECTED, id: m.id, metrics }),
        (err: unknown) => send({ type: COLLECTED, id: m.id, error: err instanceof Error ? err.message : String(err) }),
      );
    } else if (m.type === SCRAPED && waiting !== undefined && m.id === waiting.id) {
      if (m.text !== undefined) waiting.resolve(m.text);
      else waiting.reject(new Error(m.error ?? "no metrics"));
    }
  });
  // The primary died (SIGKILL, crash): nobody restarts or shuts us down, so stop.
  process.on("disconnect", () => stop("primary gone"));
  send({ type: READY, grpcPort: app.grpcPort, httpPort: app.httpPort });
}
