/**
 * TLS on both listeners, with certificates openssl makes at test time: real
 * grpc-js clients, connect-node Connect and gRPC-Web clients and node:https
 * requests that trust the test CA get through (with an API key where access
 * control wants one); plaintext clients and clients that do not trust the
 * certificate are refused at the handshake; with a client CA, only clients
 * presenting a certificate it signed get in. Also the SDK's `tls` option and
 * the try-out commands of docs/operations.md.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CircuitService } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/ts/grpc/health/v1/health_pb.js";
import { startBreakerbox, type RunningBreakerbox } from "../../src/app.js";
import { BreakerboxRpcError, createBreakerbox } from "@breakerbox/client";
import { loadConfig } from "../../src/config/index.js";
import { makeTestCerts, type TestCerts } from "../support/certs.js";
import { grpc, unary } from "../support/grpc-call.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const AGENT_KEY = "tls-agent-key-7Hq2mZ9xK4";

async function start(env: Record<string, string>): Promise<RunningBreakerbox> {
  const config = loadConfig({ BREAKERBOX_GRPC_PORT: "0", BREAKERBOX_HTTP_PORT: "0", BREAKERBOX_HOST: "127.0.0.1", ...env });
  return startBreakerbox(config, { logger: pino({ level: "silent" }) });
}

interface HttpsOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** GET over HTTPS with node:https; rejects with the TLS error when the handshake fails. */
function httpsGet(url: string, options: HttpsOptions): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ...options, agent: false }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString("utf8")));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/**
 * Health/Check on the gRPC port with these credentials: the status name, or
 * the error code's name. TLS clients dial "localhost" (a name in the test
 * certificate): grpc-js would send an IP address as the TLS server name,
 * which Node flags as deprecated.
 */
async function grpcHealth(port: number, credentials: grpc.ChannelCredentials): Promise<string> {
  const client = new grpc.Client(`localhost:${port}`, credentials);
  try {
    const { message } = await unary(client, Health.method.check, { service: "" }, { deadlineMs: 5000 });
    return HealthCheckResponse_ServingStatus[message.status];
  } catch (e) {
    return grpc.status[(e as grpc.ServiceError).code];
  } finally {
    client.close();
  }
}

let certs: TestCerts;
beforeAll(() => {
  certs = makeTestCerts();
});
afterAll(() => {
  certs.remove();
});

describe("TLS on both ports", () => {
  let app: RunningBreakerbox;
  let httpsUrl: string;

  beforeAll(async () => {
    app = await start({
      BREAKERBOX_TLS_CERT_FILE: certs.files.serverCert,
      BREAKERBOX_TLS_KEY_FILE: certs.files.serverKey,
      BREAKERBOX_API_KEYS: `agents:agent:${AGENT_KEY}`,
    });
    httpsUrl = `https://127.0.0.1:${app.httpPort}`;
  });
  afterAll(async () => {
    await app.stop();
  });

  it("serves gRPC over TLS to a grpc-js client that trusts the CA, with the API key as metadata", async () => {
    expect(await grpcHealth(app.grpcPort, grpc.credentials.createSsl(certs.ca))).toBe("SERVING");
    const client = new grpc.Client(`localhost:${app.grpcPort}`, grpc.credentials.createSsl(certs.ca));
    try {
      const { message } = await unary(client, CircuitService.method.acquire, { circuit: "tls.x" }, { headers: { authorization: `Bearer ${AGENT_KEY}` } });
      expect(message.allowed).toBe(true);
      const refused = await unary(client, CircuitService.method.acquire, { circuit: "tls.x" }).catch((e: grpc.ServiceError) => e);
      expect(refused).toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    } finally {
      client.close();
    }
  });

  it("serves Connect and gRPC-Web over HTTPS (HTTP/1.1), and the probes", async () => {
    for (const transport of [
      createConnectTransport({ baseUrl: httpsUrl, httpVersion: "1.1", nodeOptions: { ca: certs.ca } }),
      createGrpcWebTransport({ baseUrl: httpsUrl, httpVersion: "1.1", nodeOptions: { ca: certs.ca } }),
    ]) {
      const client = createClient(CircuitService, transport);
      const res = await client.acquire({ circuit: "tls.y" }, { headers: { authorization: `Bearer ${AGENT_KEY}` } });
      expect(res.allowed).toBe(true);
      const refused = await client.acquire({ circuit: "tls.y" }).catch((e: unknown) => ConnectError.from(e));
      expect(refused).toMatchObject({ code: Code.Unauthenticated });
    }
    expect(await httpsGet(`${httpsUrl}/healthz`, { ca: certs.ca })).toEqual({ status: 200, body: "ok" });
    expect(await httpsGet(`${httpsUrl}/readyz`, { ca: certs.ca })).toEqual({ status: 200, body: "ready" });
  });

  it("refuses plaintext clients on both ports", async () => {
    expect(await grpcHealth(app.grpcPort, grpc.credentials.createInsecure())).toBe("UNAVAILABLE");
    await expect(fetch(`http://127.0.0.1:${app.httpPort}/healthz`)).rejects.toThrow();
  });

  it("refuses clients that do not trust the certificate", async () => {
    expect(await grpcHealth(app.grpcPort, grpc.credentials.createSsl())).toBe("UNAVAILABLE");
    await expect(httpsGet(`${httpsUrl}/healthz`, {})).rejects.toMatchObject({ code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" });
  });

  it("the SDK connects with tls.rootCert and apiKey", async () => {
    const bb = createBreakerbox({ address: `localhost:${app.grpcPort}`, tls: { rootCert: certs.ca }, apiKey: AGENT_KEY });
    try {
      expect(await bb.run("tls.sdk", async () => 42)).toBe(42);
    } finally {
      bb.close();
    }
    // tls: true trusts the system CAs only, which did not sign the test certificate.
    const untrusting = createBreakerbox({ address: `localhost:${app.grpcPort}`, tls: true, apiKey: AGENT_KEY, rpcTimeoutMs: 2000 });
    try {
      const err = await untrusting.acquire("tls.sdk").catch((e: unknown) => e);
      expect(BreakerboxRpcError.is(err) && err.codeName).toBe("UNAVAILABLE");
    } finally {
      untrusting.close();
    }
  });

  it("the SDK refuses contradicting TLS options", () => {
    const address = `127.0.0.1:${app.grpcPort}`;
    expect(() => createBreakerbox({ address, tls: true, credentials: grpc.credentials.createInsecure() })).toThrow("give either tls or credentials, not both");
    expect(() => createBreakerbox({ address, tls: { clientCert: certs.clientCert } })).toThrow("tls.clientCert and tls.clientKey go together");
  });
});

describe("mutual TLS (BREAKERBOX_TLS_CLIENT_CA_FILE)", () => {
  let app: RunningBreakerbox;
  let httpsUrl: string;

  beforeAll(async () => {
    app = await start({
      BREAKERBOX_TLS_CERT_FILE: certs.files.serverCert,
      BREAKERBOX_TLS_KEY_FILE: certs.files.serverKey,
      BREAKERBOX_TLS_CLIENT_CA_FILE: certs.files.ca,
    });
    httpsUrl = `https://127.0.0.1:${app.httpPort}`;
  });
  afterAll(async () => {
    await app.stop();
  });

  it("admits a client with a certificate the CA signed, on both ports", async () => {
    expect(await grpcHealth(app.grpcPort, grpc.credentials.createSsl(certs.ca, certs.clientKey, certs.clientCert))).toBe("SERVING");
    expect(await httpsGet(`${httpsUrl}/healthz`, { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey })).toEqual({ status: 200, body: "ok" });
    const bb = createBreakerbox({
      address: `localhost:${app.grpcPort}`,
      tls: { rootCert: certs.ca, clientCert: certs.clientCert, clientKey: certs.clientKey },
    });
    try {
      expect(await bb.run("mtls.sdk", async () => "in")).toBe("in");
    } finally {
      bb.close();
    }
  });

  it("refuses a client without a certificate, on both ports", async () => {
    expect(await grpcHealth(app.grpcPort, grpc.credentials.createSsl(certs.ca))).toBe("UNAVAILABLE");
    await expect(httpsGet(`${httpsUrl}/healthz`, { ca: certs.ca })).rejects.toThrow();
  });
});

describe("the TLS try-out of docs/operations.md", () => {
  it("makes a certificate that grpcurl and curl trust with -cacert / --cacert", async () => {
    const doc = readFileSync(`${root}docs/operations.md`, "utf8");
    const section = doc.slice(doc.indexOf("### TLS"), doc.indexOf("\n## ", doc.indexOf("### TLS")));
    const [makeCert, useCert] = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(makeCert).toContain("openssl req -x509");
    expect(section).toContain("BREAKERBOX_TLS_CERT_FILE=cert.pem BREAKERBOX_TLS_KEY_FILE=key.pem npm start");
    const dir = mkdtempSync(join(tmpdir(), "breakerbox-doc-tls-"));
    const run = promisify(execFile);
    const env = { ...process.env, PATH: `${root}.tools/bin:${process.env.PATH}` };
    let app: RunningBreakerbox | undefined;
    try {
      await run("bash", ["-euo", "pipefail", "-c", makeCert!], { cwd: dir, env });
      // What `BREAKERBOX_TLS_CERT_FILE=cert.pem BREAKERBOX_TLS_KEY_FILE=key.pem npm start` starts, on free ports.
      app = await start({ BREAKERBOX_TLS_CERT_FILE: join(dir, "cert.pem"), BREAKERBOX_TLS_KEY_FILE: join(dir, "key.pem") });
      const script = useCert!
        .replaceAll("localhost:50051", `127.0.0.1:${app.grpcPort}`)
        .replaceAll("localhost:8080", `127.0.0.1:${app.httpPort}`);
      const { stdout } = await run("bash", ["-euo", "pipefail", "-c", script], { cwd: dir, env, encoding: "utf8" });
      expect(stdout).toContain('"status": "SERVING"');
      expect(stdout.endsWith("ok")).toBe(true);
    } finally {
      await app?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
