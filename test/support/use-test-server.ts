/**
 * The end-to-end setup as a vitest fixture: an in-process Breakerbox on free
 * ports (test-server.ts) with the clients the suites talk to it through,
 * started before the suite's tests and stopped, clients first, after them.
 *
 *   const { server, client } = useTestServer({ env: { BREAKERBOX_API_KEYS: KEYS } });
 *   it("...", async () => {
 *     await client.call("acquire", { circuit: "x" });   // grpc-js
 *     server.clock.advance(30_000);                      // the store's manual clock
 *   });
 *
 * Tests that start their own servers (one per test, or a restart behind one
 * address: tcp-forwarder.ts, never a port freed and bound again) take a pool
 * instead: `const servers = useTestServers()`, then
 * `await servers.start(options)` in the test; the pool stops them after it.
 */
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { Logger } from "pino";
import { afterEach } from "vitest";
import { CircuitService } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { createBreakerbox, type Breakerbox, type BreakerboxOptions } from "@breakerbox/client";
import { makeTestCerts, type TestCerts } from "./certs.js";
import { lateBound, useFixture } from "./fixture.js";
import { grpc } from "./grpc-call.js";
import { createCircuitClient, type CircuitClient } from "./grpc-client.js";
import { startRealClockServer, startTestServer, type RunningTestServer, type TestServer } from "./test-server.js";

export interface TestServerOptions {
  /** Parsed like the process environment (BREAKERBOX_*, CIRCUIT_BREAKER_*); both ports default to 0 (free). */
  env?: Record<string, string>;
  /**
   * "manual" (default): a memory store on a manual clock the test moves
   * (`server.clock`), jitter fixed, no background ticks. "real": the store
   * `env` configures (memory, or Redis with REDIS_URL), on the real clock,
   * as `npm start` runs it.
   */
  clock?: "manual" | "real";
  /**
   * Serve both ports over TLS with a certificate from a fresh test CA
   * (certs.ts, removed at stop); every client of the fixture trusts that CA.
   */
  tls?: boolean;
  /** The server's logger; default silent. */
  logger?: Logger;
  /**
   * Also make a TypeScript SDK client (`sdk`) with these options; its address
   * is the server's, and on the manual clock it shares `server.clock` unless
   * the options give a clock.
   */
  sdk?: true | Omit<BreakerboxOptions, "address">;
}

/** A server and its clients; each field is ready from the suite's beforeAll on. */
export interface TestServerFixture<S extends RunningTestServer = TestServer> {
  server: S;
  /** grpc-js CircuitService client (plaintext HTTP/2 to the gRPC port). */
  client: CircuitClient;
  /** Connect CircuitService client of the HTTP port (HTTP/1.1). */
  connect: Client<typeof CircuitService>;
  /** The SDK client, with the `sdk` option (using it otherwise throws). */
  sdk: Breakerbox;
  /** The CA and certificates, with the `tls` option (using them otherwise throws). */
  certs: TestCerts;
}

type ManualOptions = TestServerOptions & { clock?: "manual" };
type RealOptions = TestServerOptions & { clock: "real" };

interface Started extends TestServerFixture<RunningTestServer> {
  /** Closes the clients, then stops the server; idempotent. */
  stop(): Promise<void>;
}

/** Stands in for what the options did not ask for: any use throws, naming the option that makes it. */
function notAskedFor<T extends object>(option: string): T {
  return lateBound(option, () => {
    throw new Error(`not made: pass the \`${option}\` option to useTestServer() or start()`);
  });
}

async function start(options: TestServerOptions): Promise<Started> {
  const certs = options.tls === true ? makeTestCerts() : undefined;
  const tlsEnv: Record<string, string> =
    certs === undefined ? {} : { BREAKERBOX_TLS_CERT_FILE: certs.files.serverCert, BREAKERBOX_TLS_KEY_FILE: certs.files.serverKey };
  const env = { ...tlsEnv, ...options.env };
  const startOptions = options.logger === undefined ? {} : { logger: options.logger };
  let server: RunningTestServer;
  try {
    server = options.clock === "real" ? await startRealClockServer(env, startOptions) : await startTestServer(env, startOptions);
  } catch (err) {
    certs?.remove();
    throw err;
  }
  const client = createCircuitClient(server.grpcAddress, certs === undefined ? undefined : grpc.credentials.createSsl(certs.ca));
  const nodeOptions = certs === undefined ? {} : { nodeOptions: { ca: certs.ca } };
  const connect = createClient(CircuitService, createConnectTransport({ baseUrl: server.httpUrl, httpVersion: "1.1", ...nodeOptions }));
  let sdk: Breakerbox | undefined;
  if (options.sdk !== undefined) {
    const sdkOptions = options.sdk === true ? {} : options.sdk;
    const clock = "clock" in server ? { clock: server.clock as TestServer["clock"] } : {};
    const tls = certs === undefined ? {} : { tls: { rootCert: certs.ca } };
    sdk = createBreakerbox({ ...clock, ...tls, ...sdkOptions, address: server.grpcAddress });
  }
  let stopped: Promise<void> | undefined;
  return {
    server,
    client,
    connect,
    sdk: sdk ?? notAskedFor("sdk"),
    certs: certs ?? notAskedFor("tls"),
    stop() {
      stopped ??= (async () => {
        sdk?.close();
        client.close();
        await server.stop();
        certs?.remove();
      })();
      return stopped;
    },
  };
}

/**
 * One server for the current suite (the file at top level, else the
 * enclosing describe): started in beforeAll, its clients closed and the
 * server stopped in afterAll. The returned fields are late-bound views
 * (fixture.ts), so they can be destructured at collection time.
 */
export function useTestServer(options?: ManualOptions): TestServerFixture<TestServer>;
export function useTestServer(options: RealOptions): TestServerFixture<RunningTestServer>;
export function useTestServer(options: TestServerOptions = {}): TestServerFixture<RunningTestServer> {
  const started = useFixture("the test server", () => start(options), (s) => s.stop());
  return {
    server: lateBound("the test server", () => started.server),
    client: lateBound("the test server's client", () => started.client),
    connect: lateBound("the test server's Connect client", () => started.connect),
    sdk: lateBound("the test server's SDK client", () => started.sdk),
    certs: lateBound("the test server's certificates", () => started.certs),
  };
}

/** Servers a test starts itself; every one still running is stopped after that test. */
export interface TestServerPool {
  start(options?: ManualOptions): Promise<TestServerFixture<TestServer>>;
  start(options: RealOptions): Promise<TestServerFixture<RunningTestServer>>;
}

/** Registers afterEach on the current suite to stop what `start()` started during each test. */
export function useTestServers(): TestServerPool {
  const running: Started[] = [];
  afterEach(async () => {
    for (const s of running.splice(0)) await s.stop();
  });
  return {
    async start(options: TestServerOptions = {}) {
      const s = await start(options);
      running.push(s);
      return s as never;
    },
  };
}
