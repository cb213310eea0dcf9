/**
 * The HTTP listener: CircuitService and Health over the Connect protocol
 * (JSON and binary, curl-friendly), gRPC-Web and gRPC via connect-node, plus
 * the liveness and readiness probes. Plain node:http (HTTP/1.1): gRPC proper
 * needs HTTP/2 and is served by the gRPC port.
 */
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { createRegistry, type DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues } from "@connectrpc/connect";
import type { ConnectRouter, Interceptor, ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { CircuitService } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { file_google_rpc_error_details } from "../../gen/ts/google/rpc/error_details_pb.js";
import { Health } from "../../gen/ts/grpc/health/v1/health_pb.js";
import { reasonedError } from "./error-details.js";
import { peerKey } from "./grpc-adapter.js";
import { interceptService, type Interceptor as MethodInterceptor } from "./interceptor.js";
import type { ServerTlsOptions } from "./grpc.js";
import { createHealthImpl, HealthRegistry } from "./health.js";
import { applyOriginPolicy, type HttpOriginPolicy } from "./http-origin.js";
import { judgeRequestBodies, refuseMalformedRequests } from "./malformed-requests.js";
import { internalError } from "./status.js";

/** The answer of a readiness check. */
export interface Readiness {
  ready: boolean;
  /** Why not ready, one short line (shown in the 503 body). */
  reason?: string;
}

/** Options of {@link createHttpServer}. */
export interface HttpServerOptions {
  /** The CircuitService handlers; absent methods answer unimplemented. */
  circuitService: Partial<ServiceImpl<typeof CircuitService>>;
  /**
   * Serving status for grpc.health.v1.Health; pass the gRPC server's registry
   * so both ports agree. Default: a new registry with "" SERVING.
   */
  health?: HealthRegistry;
  /**
   * Decides GET /readyz: 200 "ready" when `ready`, else 503 with `reason`.
   * Called on every probe, so keep it cheap and synchronous. A throw counts as
   * not ready. Default: always ready.
   */
  readiness?: () => Readiness;
  /**
   * Wrap every method of CircuitService and Health (not those of `routes`),
   * the first outermost; see src/server/interceptor.ts. Pass the gRPC
   * server's list, so both ports run the same access control and metrics.
   * What an interceptor throws at registration is thrown by createHttpServer.
   * Default: none.
   */
  interceptors?: readonly MethodInterceptor[];
  /** Register more Connect services or RPCs on the same router (without `interceptors`). */
  routes?: (router: ConnectRouter) => void;
  /**
   * Handles requests for paths nobody else serves (the place for /metrics and
   * the dashboard). Return false (without touching `res`) for a path it does
   * not serve: the request then gets 404 "not found", as it does when no
   * fallback is given. Returning nothing (void) means handled.
   */
  fallback?: (req: IncomingMessage, res: ServerResponse) => boolean | void;
  /**
   * Called with every non-ConnectError a handler throws; the client gets
   * code internal, message "internal error" (connect-node alone would send the
   * original message). Must not throw.
   */
  onInternalError?: (err: unknown, method: DescMethod) => void;
  /** Largest request message accepted, in bytes. Default 4 MiB, like the gRPC port. */
  readMaxBytes?: number;
  /**
   * Serve HTTPS (still HTTP/1.1, so Connect, gRPC-Web, probes and /metrics
   * work as over plain HTTP) with this certificate; with `clientCa`, clients
   * must present a certificate it signed. Default: plain HTTP.
   */
  tls?: ServerTlsOptions;
  /**
   * Host and Origin allow-lists and CORS (http-origin.ts), applied to every
   * request but the liveness and readiness probes. Default: none (any Host,
   * any Origin, no CORS headers).
   */
  originPolicy?: HttpOriginPolicy;
}

/** An HTTP listener built by {@link createHttpServer}. */
export interface HttpServer {
  /** The underlying node:http server (node:https with `tls`). */
  readonly server: Server | HttpsServer;
  /** The registry Health answers from. */
  readonly health: HealthRegistry;
  /**
   * Starts listening on `host:port` (port 0 picks a free port) and resolves to
   * the bound port; rejects if the address cannot be bound. Call once.
   */
  listen(host: string, port: number): Promise<number>;
  /**
   * Graceful stop: /readyz answers 503 "shutting down", Health is marked
   * NOT_SERVING and its Watch streams end, the listener stops accepting, idle
   * keep-alive connections close, and connections close after their current
   * response. In-flight requests get up to `graceMs`; then every handler
   * signal aborts (code unavailable, so streams end with a status), and
   * shortly after the remaining sockets are destroyed. Resolves when every
   * connection is closed. Idempotent.
   */
  shutdown(graceMs: number): Promise<void>;
}

/** The google.rpc detail types BatchReport results carry, for their JSON form. */
const ERROR_DETAIL_TYPES = createRegistry(file_google_rpc_error_details);

/** How long streams get, after their signal aborted, to write their final status. */
const ABORT_GRACE_MS = 250;

/** Builds the HTTP server. Nothing listens until `listen`. */
export function createHttpServer(options: HttpServerOptions): HttpServer {
  const health = options.health ?? new HealthRegistry();
  const shutdownController = new AbortController();
  const interceptors = options.interceptors ?? [];
  // Wrapped here, not inside routes(), so a refused registration throws from createHttpServer.
  const circuitService = interceptService(CircuitService, options.circuitService, interceptors);
  const healthService = interceptService(Health, createHealthImpl(health), interceptors);
  const readMaxBytes = options.readMaxBytes ?? 4 * 1024 * 1024;
  const connectHandler = connectNodeAdapter({
    routes(router) {
      router.service(CircuitService, circuitService);
      judgeRequestBodies(router, CircuitService.typeName, readMaxBytes);
      router.service(Health, healthService);
      options.routes?.(router);
    },
    grpc: true,
    grpcWeb: true,
    connect: true,
    readMaxBytes,
    // BatchReport's per-item google.rpc.Status packs ErrorInfo, RetryInfo and
    // BadRequest in Any; Connect JSON can only write an Any whose type it knows.
    jsonOptions: { registry: ERROR_DETAIL_TYPES },
    shutdownSignal: shutdownController.signal,
    interceptors: [hideInternalErrors(options.onInternalError), refuseMalformedRequests()],
    contextValues: (req) => createContextValues().set(peerKey, peerOf(req.socket)),
    fallback: (req, res) => {
      // A fallback answers false for paths it does not serve (void = served).
      const served = options.fallback !== undefined && options.fallback(req as IncomingMessage, res as ServerResponse) !== false;
      if (!served) sendText(res as ServerResponse, 404, "not found");
    },
  });

  let shuttingDown = false;
  const inFlight = new Set<ServerResponse>();

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    inFlight.add(res);
    res.once("close", () => {
      inFlight.delete(res);
      // The connection is idle only after node has finished with this
      // response; close it then rather than wait for keep-alive to expire.
      if (shuttingDown) setImmediate(() => server.closeIdleConnections());
    });
    if (shuttingDown) res.setHeader("connection", "close");
    const path = (req.url ?? "/").split("?", 1)[0];
    if (path === "/healthz") {
      probe(req, res, 200, "ok");
    } else if (path === "/readyz") {
      const readiness = shuttingDown ? { ready: false, reason: "shutting down" } : check(options.readiness);
      probe(req, res, readiness.ready ? 200 : 503, readiness.ready ? "ready" : (readiness.reason ?? "not ready"));
    } else if (options.originPolicy === undefined || !applyOriginPolicy(options.originPolicy, req, res)) {
      connectHandler(req, res);
    }
  };
  const tls = options.tls;
  const server: Server | HttpsServer =
    tls === undefined
      ? createServer(handle)
      : createHttpsServer(
          {
            cert: tls.cert,
            key: tls.key,
            ...(tls.clientCa === undefined ? {} : { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true }),
          },
          handle,
        );

  let shutdownPromise: Promise<void> | undefined;

  return {
    server,
    health,
    listen(host, port) {
      return new Promise((resolve, reject) => {
        const onError = (err: Error): void => reject(err);
        server.once("error", onError);
        server.listen(port, host, () => {
          server.off("error", onError);
          resolve((server.address() as AddressInfo).port);
        });
      });
    },
    shutdown(graceMs) {
      shutdownPromise ??= (async () => {
        shuttingDown = true;
        health.shutdown();
        // Responses not started yet will close their connection when done.
        for (const res of inFlight) {
          if (!res.headersSent) res.setHeader("connection", "close");
        }
        const closed = new Promise<void>((resolve) => {
          if (!server.listening) resolve();
          else server.close(() => resolve());
        });
        server.closeIdleConnections();
        if (await settlesWithin(closed, graceMs)) return;
        shutdownController.abort(reasonedError("the server is shutting down", "SHUTTING_DOWN"));
        if (await settlesWithin(closed, ABORT_GRACE_MS)) return;
        server.closeAllConnections();
        await closed;
      })();
      return shutdownPromise;
    },
  };
}

// --- internals -------------------------------------------------------------

function check(readiness: (() => Readiness) | undefined): Readiness {
  if (readiness === undefined) return { ready: true };
  try {
    return readiness();
  } catch {
    return { ready: false, reason: "readiness check failed" };
  }
}

function probe(req: IncomingMessage, res: ServerResponse, status: number, body: string): void {
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.setHeader("allow", "GET, HEAD");
    sendText(res, 405, "method not allowed");
    return;
  }
  sendText(res, status, body, req.method === "HEAD");
}

function sendText(res: ServerResponse, status: number, body: string, headOnly = false): void {
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "cache-control": "no-store",
    "content-length": Buffer.byteLength(body),
  });
  res.end(headOnly ? undefined : body);
}

function peerOf(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string {
  if (socket.remoteAddress === undefined) return "unknown";
  return socket.remotePort === undefined ? socket.remoteAddress : `${socket.remoteAddress}:${socket.remotePort}`;
}

/** Resolves true if `promise` settles within `ms`, false otherwise; never leaves a timer behind. */
async function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Replaces every non-ConnectError from a handler (thrown, rejected, or raised
 * by a response stream) with ConnectError "internal error", after reporting
 * it, so internals do not reach clients. Errors after the caller went away are
 * not reported: nobody can be told, and they are usually the abort itself.
 */
function hideInternalErrors(onInternalError: HttpServerOptions["onInternalError"]): Interceptor {
  const hide = (err: unknown, method: DescMethod, signal: AbortSignal): ConnectError => {
    if (err instanceof ConnectError) return err;
    if (signal.aborted) return new ConnectError("the call was aborted", Code.Canceled);
    try {
      onInternalError?.(err, method);
    } catch {
      // A failing logger must not replace the answer.
    }
    return internalError();
  };
  async function* guard<T>(messages: AsyncIterable<T>, method: DescMethod, signal: AbortSignal): AsyncGenerator<T> {
    try {
      yield* messages;
    } catch (err) {
      throw hide(err, method, signal);
    }
  }
  return (next) => async (req) => {
    try {
      const res = await next(req);
      if (!res.stream) return res;
      return { ...res, message: guard(res.message, req.method, req.signal) };
    } catch (err) {
      throw hide(err, req.method, req.signal);
    }
  };
}
