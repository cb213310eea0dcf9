/**
 * The HTTP port's Host and Origin allow-lists and CORS, over real HTTP with
 * the Host and Origin headers a browser would send (a DNS-rebinding page
 * names the attacker's host; a cross-site page sends its own origin).
 */
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpServer, type HttpServer } from "../../src/server/http.js";
import { checkOrigin, isLoopbackBind, originPolicyFor } from "../../src/server/http-origin.js";
import type { IncomingMessage } from "node:http";
import { createFakeCircuitService } from "./fake-circuit-service.js";

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request to 127.0.0.1:`port` with the given headers (Host included, which fetch cannot set). */
function send(port: number, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const ACQUIRE = "/breakerbox.v1.CircuitService/Acquire";
const JSON_BODY = JSON.stringify({ circuit: "x" });

function acquire(port: number, headers: Record<string, string>): Promise<Answer> {
  return send(port, "POST", ACQUIRE, { "content-type": "application/json", ...headers }, JSON_BODY);
}

describe("HTTP Host and Origin policy, bound to loopback with defaults", () => {
  const fake = createFakeCircuitService();
  let server: HttpServer;
  let port: number;

  beforeAll(async () => {
    server = createHttpServer({ circuitService: fake.impl, originPolicy: originPolicyFor("127.0.0.1", undefined, ["https://dash.example.com"]) });
    port = await server.listen("127.0.0.1", 0);
  });
  afterAll(async () => {
    await server.shutdown(1000);
  });

  it("answers requests naming a loopback host: localhost, 127.0.0.1 and [::1], any port", async () => {
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, "LOCALHOST"]) {
      const res = await acquire(port, { host });
      expect(res.status, host).toBe(200);
      expect(JSON.parse(res.body)).toMatchObject({ allowed: true });
    }
  });

  it("refuses a request naming another host (DNS rebinding) with 403 naming the setting, and calls nothing", async () => {
    fake.seen.peer = "not called";
    const res = await acquire(port, { host: `attacker.example:${port}`, origin: `http://attacker.example:${port}` });
    expect(res.status).toBe(403);
    expect(res.body).toBe('forbidden: host "attacker.example" is not allowed (BREAKERBOX_HTTP_ALLOWED_HOSTS)');
    expect(fake.seen.peer).toBe("not called");
  });

  it("refuses the dashboard and /metrics paths under another host too, but answers the probes", async () => {
    expect((await send(port, "GET", "/", { host: "attacker.example" })).status).toBe(403);
    expect((await send(port, "GET", "/metrics", { host: "attacker.example" })).status).toBe(403);
    const probe = await send(port, "GET", "/healthz", { host: "10.0.0.7:8080" });
    expect([probe.status, probe.body]).toEqual([200, "ok"]);
  });

  it("answers a same-origin browser call (the dashboard's own) with no CORS headers", async () => {
    const res = await acquire(port, { host: `localhost:${port}`, origin: `http://localhost:${port}` });
    expect(res.status).toBe(200);
    expect(res.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("refuses a cross-origin call from an origin not configured, even to an allowed host", async () => {
    const res = await acquire(port, { host: `localhost:${port}`, origin: "http://localhost:3000" });
    expect(res.status).toBe(403);
    expect(res.body).toBe('forbidden: origin "http://localhost:3000" is not allowed (BREAKERBOX_HTTP_CORS_ORIGINS)');
    const nullOrigin = await acquire(port, { host: `localhost:${port}`, origin: "null" });
    expect(nullOrigin.status).toBe(403);
  });

  it("grants CORS to a configured origin: preflight, then the call with allow and expose headers", async () => {
    const preflight = await send(port, "OPTIONS", ACQUIRE, {
      host: `localhost:${port}`,
      origin: "https://dash.example.com",
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type,connect-protocol-version,authorization",
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers["access-control-allow-origin"]).toBe("https://dash.example.com");
    expect(String(preflight.headers["access-control-allow-methods"]).split(", ")).toContain("POST");
    const allowed = String(preflight.headers["access-control-allow-headers"]).toLowerCase().split(", ");
    expect(allowed).toEqual(expect.arrayContaining(["content-type", "connect-protocol-version", "authorization"]));

    const res = await acquire(port, { host: `localhost:${port}`, origin: "https://dash.example.com" });
    expect(res.status).toBe(200);
    expect(res.headers["access-control-allow-origin"]).toBe("https://dash.example.com");
    expect(String(res.headers["access-control-expose-headers"]).toLowerCase()).toContain("grpc-status-details-bin");
  });

  it("refuses a preflight from an origin not configured", async () => {
    const res = await send(port, "OPTIONS", ACQUIRE, { host: `localhost:${port}`, origin: "https://evil.example", "access-control-request-method": "POST" });
    expect(res.status).toBe(403);
    expect(res.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("answers non-browser clients (no Origin) as before", async () => {
    const res = await acquire(port, { host: `127.0.0.1:${port}` });
    expect(res.status).toBe(200);
  });
});

describe("originPolicyFor", () => {
  const req = (host: string | undefined, origin?: string): IncomingMessage =>
    ({ headers: { ...(host === undefined ? {} : { host }), ...(origin === undefined ? {} : { origin }) } }) as IncomingMessage;

  it("defaults to the loopback names on a loopback bind, any host elsewhere", () => {
    expect(originPolicyFor("127.0.0.1", undefined, []).allowedHosts).toEqual(new Set(["localhost", "127.0.0.1", "::1"]));
    expect(originPolicyFor("::1", undefined, []).allowedHosts).toEqual(new Set(["localhost", "127.0.0.1", "::1"]));
    expect(originPolicyFor("0.0.0.0", undefined, []).allowedHosts).toBe("any");
    expect(originPolicyFor("10.1.2.3", undefined, []).allowedHosts).toBe("any");
  });

  it("takes the configured list, * meaning any, names in any case and IPv6 in brackets", () => {
    expect(originPolicyFor("127.0.0.1", ["Breakerbox.Internal", "[fd00::1]"], []).allowedHosts).toEqual(new Set(["breakerbox.internal", "fd00::1"]));
    expect(originPolicyFor("127.0.0.1", ["localhost", "*"], []).allowedHosts).toBe("any");
    const policy = originPolicyFor("0.0.0.0", ["breakerbox.internal"], []);
    expect(checkOrigin(policy, req("breakerbox.internal:8080"))).toEqual({ allowed: true });
    expect(checkOrigin(policy, req("[fd00::1]:8080"))).toMatchObject({ allowed: false });
    expect(checkOrigin(policy, req(undefined))).toEqual({ allowed: false, message: "request has no Host header (BREAKERBOX_HTTP_ALLOWED_HOSTS)" });
  });

  it("with any host, still refuses cross-origin calls from origins not configured", () => {
    const policy = originPolicyFor("0.0.0.0", undefined, []);
    expect(checkOrigin(policy, req("anything:8080"))).toEqual({ allowed: true });
    expect(checkOrigin(policy, req("anything:8080", "http://anything:8080"))).toEqual({ allowed: true });
    expect(checkOrigin(policy, req("anything:8080", "http://elsewhere:8080"))).toMatchObject({ allowed: false });
  });

  it("knows which binds are loopback", () => {
    expect(["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"].map(isLoopbackBind)).toEqual([true, true, true, true, true]);
    expect(["0.0.0.0", "::", "10.0.0.1", "example.com"].map(isLoopbackBind)).toEqual([false, false, false, false]);
  });
});
