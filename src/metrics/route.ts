/**
 * GET /metrics: the Prometheus scrape endpoint, for the HTTP server's
 * `fallback` hook. The route answers only its own path and returns false for
 * any other, so several routes (metrics, the dashboard) can share the hook.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { BreakerboxMetrics } from "./metrics.js";

/** Serves the request and returns true, or returns false without touching it when the path is not its own. */
export type HttpRoute = (req: IncomingMessage, res: ServerResponse) => boolean;

/** Options of {@link createMetricsRoute}. */
export interface MetricsRouteOptions {
  /** Default "/metrics". */
  path?: string;
  /** Called when collecting fails (the scrape gets 500); must not throw. */
  onError?: (err: unknown) => void;
}

/**
 * GET (or HEAD) `path` answers 200 with every metric in the Prometheus text
 * format; other methods get 405 with `allow: GET, HEAD`. The endpoint needs no
 * credentials (it names circuits and counts, never keys or permits). A query
 * string is ignored.
 */
export function createMetricsRoute(metrics: BreakerboxMetrics, options: MetricsRouteOptions = {}): HttpRoute {
  const path = options.path ?? "/metrics";
  return (req, res) => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    if ((q < 0 ? url : url.slice(0, q)) !== path) return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      send(res, 405, "text/plain; charset=utf-8", "method not allowed", { allow: "GET, HEAD" });
      return true;
    }
    metrics.exposition().then(
      (body) => send(res, 200, metrics.contentType, req.method === "HEAD" ? undefined : body, {}, Buffer.byteLength(body)),
      (err: unknown) => {
        try {
          options.onError?.(err);
        } catch {
          // A failing logger must not leave the scrape unanswered.
        }
        send(res, 500, "text/plain; charset=utf-8", "metrics collection failed; see the server log");
      },
    );
    return true;
  };
}

function send(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string | undefined,
  headers: Record<string, string> = {},
  length = body === undefined ? 0 : Buffer.byteLength(body),
): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { ...headers, "content-type": contentType, "cache-control": "no-store", "content-length": length });
  res.end(body);
}
