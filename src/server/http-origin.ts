/**
 * Who may talk to the HTTP port from a browser: a Host allow-list (against
 * DNS rebinding, which lets a web page reach a loopback-bound, keyless
 * server under a name the attacker controls) and an Origin allow-list with
 * CORS (so only configured sites' scripts may call the API cross-origin).
 * Clients that are not browsers send no Origin and pass the Origin check;
 * they still need an allowed Host. docs/security.md explains the threat.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { isIP } from "node:net";
import { cors } from "@connectrpc/connect";

/** The HTTP port's Host and Origin policy. */
export interface HttpOriginPolicy {
  /** Host names (lower case, no port; IPv6 without brackets) a request may name, or "any". */
  readonly allowedHosts: ReadonlySet<string> | "any";
  /** Origins (`scheme://host[:port]`, lower case) whose scripts may call cross-origin, with CORS. */
  readonly corsOrigins: ReadonlySet<string>;
}

/** The host names a loopback-bound server answers to by default. */
export const LOOPBACK_HOST_NAMES: readonly string[] = ["localhost", "127.0.0.1", "::1"];

/** Whether binding `host` listens on loopback only. */
export function isLoopbackBind(host: string): boolean {
  const h = host.toLowerCase();
  return h === "localhost" || h === "::1" || h === "[::1]" || (isIP(h) === 4 && h.startsWith("127."));
}

/**
 * The policy for a server bound to `bindHost`: `allowedHosts` when given
 * ("*" among them means any), else the loopback names when bound to
 * loopback and any host otherwise (a server on a network address is reached
 * under names we cannot guess, and needs API keys there anyway).
 */
export function originPolicyFor(bindHost: string, allowedHosts: readonly string[] | undefined, corsOrigins: readonly string[]): HttpOriginPolicy {
  const hosts = allowedHosts ?? (isLoopbackBind(bindHost) ? LOOPBACK_HOST_NAMES : ["*"]);
  return {
    allowedHosts: hosts.includes("*") ? "any" : new Set(hosts.map(normalHostName)),
    corsOrigins: new Set(corsOrigins.map((o) => o.toLowerCase())),
  };
}

/** What {@link checkOrigin} decided for one request. */
export type OriginDecision =
  | { allowed: true; /** Set when the request is a cross-origin call from a configured origin. */ corsOrigin?: string }
  | { allowed: false; message: string };

/** Applies `policy` to a request's Host and Origin headers. */
export function checkOrigin(policy: HttpOriginPolicy, req: IncomingMessage): OriginDecision {
  const host = req.headers.host;
  if (policy.allowedHosts !== "any") {
    if (host === undefined) return { allowed: false, message: "request has no Host header (BREAKERBOX_HTTP_ALLOWED_HOSTS)" };
    const name = hostNameOf(host);
    if (!policy.allowedHosts.has(name)) {
      return { allowed: false, message: `host ${JSON.stringify(name)} is not allowed (BREAKERBOX_HTTP_ALLOWED_HOSTS)` };
    }
  }
  const origin = req.headers.origin;
  if (origin === undefined) return { allowed: true };
  const lower = origin.toLowerCase();
  if (policy.corsOrigins.has(lower)) return { allowed: true, corsOrigin: origin };
  // Same origin: the page was served by this server under an allowed Host
  // (the dashboard's own calls). The scheme is not compared: TLS is the
  // listener's, and a page cannot claim another origin's host.
  if (host !== undefined && originHost(lower) === host.toLowerCase()) return { allowed: true };
  return { allowed: false, message: `origin ${JSON.stringify(origin)} is not allowed (BREAKERBOX_HTTP_CORS_ORIGINS)` };
}

/**
 * Answers a request the policy refuses (403 with the reason) or a CORS
 * preflight (OPTIONS with Origin), and sets the CORS headers on an allowed
 * cross-origin call. Returns true when it answered the request itself.
 */
export function applyOriginPolicy(policy: HttpOriginPolicy, req: IncomingMessage, res: ServerResponse): boolean {
  const decision = checkOrigin(policy, req);
  if (!decision.allowed) {
    const body = `forbidden: ${decision.message}`;
    res.writeHead(403, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store", "content-length": Buffer.byteLength(body) });
    res.end(body);
    return true;
  }
  if (decision.corsOrigin === undefined) {
    if (req.method === "OPTIONS" && req.headers.origin !== undefined) {
      // Same-origin pages never preflight; answer without granting anything.
      res.writeHead(204, { "content-length": 0 });
      res.end();
      return true;
    }
    return false;
  }
  res.setHeader("access-control-allow-origin", decision.corsOrigin);
  res.setHeader("vary", "Origin");
  if (req.method === "OPTIONS") {
    res.writeHead(204, {
      "access-control-allow-methods": cors.allowedMethods.join(", "),
      "access-control-allow-headers": [...cors.allowedHeaders, "Authorization"].join(", "),
      "access-control-max-age": "7200",
      "content-length": 0,
    });
    res.end();
    return true;
  }
  res.setHeader("access-control-expose-headers", cors.exposedHeaders.join(", "));
  return false;
}

/** "Example.COM:8080" → "example.com"; "[::1]:8080" → "::1". */
function hostNameOf(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    return end < 0 ? h : h.slice(1, end);
  }
  const colon = h.indexOf(":");
  return colon < 0 ? h : h.slice(0, colon);
}

function normalHostName(name: string): string {
  const h = name.trim().toLowerCase();
  return h.startsWith("[") && h.endsWith("]") ? h.slice(1, -1) : h;
}

/** "http://localhost:8080" → "localhost:8080"; undefined when it is not an origin. */
function originHost(origin: string): string | undefined {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/]+)$/.exec(origin);
  return m?.[1];
}
