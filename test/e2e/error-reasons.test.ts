/**
 * Every ErrorReason the server produces, produced against a real server and
 * read back through every client stack (error-readers/readers.ts): grpc-js,
 * Connect and gRPC-web on the HTTP port, grpcurl, Python (grpcio-status) and
 * Go (status.Details). Each must see the exact code, reason and domain, plus
 * the metadata, RetryInfo and BadRequest field violations the reason carries
 * (src/server/error-details.ts, docs/clients.md §Errors).
 *
 * The situations (a server with API keys, one at its Watch limit, a broken
 * store, a shutdown, a stopped Redis) are set up once each; every reader then
 * runs all of that situation's calls, the Python and Go readers in one process.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CircuitService, WatchRequestSchema, WatchResponseSchema } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { ERROR_DOMAIN, ERROR_REASONS, type ReasonName } from "../../src/server/error-details.js";
import { encodeWatchToken } from "../../src/service/watch-token.js";
import { useRedis } from "../support/process-fixtures.js";
import { useTestServer, useTestServers } from "../support/use-test-server.js";
import {
  buildGoReader,
  observedOfConnectError,
  observedOfGrpcJsError,
  READERS,
  type ErrorCall,
  type Observed,
  type ReaderName,
} from "./error-readers/readers.js";

const AGENT_KEY = "agent-Zq0dW8mE1vT5yK3uN6rB";
const ADMIN_KEY = "admin-Hs4pL9cX2jF7gV0aQ8wD";
const KEYS = { BREAKERBOX_API_KEYS: `agents:agent:${AGENT_KEY},ops:admin:${ADMIN_KEY}` };
const ADMIN = { authorization: `Bearer ${ADMIN_KEY}` };
const AGENT = { authorization: `Bearer ${AGENT_KEY}` };

/** Readers that cannot produce a scenario's call, and why. */
type Exclusions = Partial<Record<ReaderName, string>>;
const NO_RAW_BYTES: Exclusions = {
  connect: "Connect clients only send decodable messages",
  "grpc-web": "Connect clients only send decodable messages",
  grpcurl: "grpcurl only sends decodable messages",
};

/** One reason, the call that produces it, and what its details must say beyond code, reason and domain. */
interface Scenario {
  reason: ReasonName;
  call: ErrorCall;
  metadata?: Record<string, string>;
  fieldViolations?: string[];
  exclude?: Exclusions;
}

const ALL_READERS = Object.keys(READERS) as ReaderName[];

function expected(s: Scenario): Observed {
  const spec = ERROR_REASONS[s.reason];
  return {
    code: spec.code,
    reason: s.reason,
    domain: ERROR_DOMAIN,
    metadata: s.metadata ?? {},
    retryDelayMs: spec.retryDelayMs ?? null,
    fieldViolations: s.fieldViolations ?? [],
  };
}

/** Runs every scenario on every reader not excluded; returns actual and expected keyed "REASON via reader". */
async function runAll(server: { grpcAddress: string; httpUrl: string }, scenarios: readonly Scenario[]) {
  const actual: Record<string, Observed> = {};
  const wanted: Record<string, Observed> = {};
  for (const reader of ALL_READERS) {
    const mine = scenarios.filter((s) => s.exclude?.[reader] === undefined);
    const seen = await READERS[reader](server, mine.map((s) => s.call));
    mine.forEach((s, i) => {
      const key = `${s.reason} (${s.call.method} #${scenarios.indexOf(s)}) via ${reader}`;
      actual[key] = seen[i]!;
      wanted[key] = expected(s);
    });
  }
  return { actual, wanted };
}

/** Every reason a scenario below produces, to check the matrix is complete. */
const covered = new Set<ReasonName>();
function cover(scenarios: Scenario[]): Scenario[] {
  for (const s of scenarios) covered.add(s.reason);
  return scenarios;
}

let goDir: string;
beforeAll(async () => {
  execFileSync("bash", ["scripts/install-python-example.sh"], { stdio: "inherit" });
  goDir = await mkdtemp(join(tmpdir(), "error-readers-"));
  await buildGoReader(join(goDir, "read-errors"));
}, 300_000);
afterAll(async () => {
  await rm(goDir, { recursive: true, force: true });
});


/** `permit` with the last character of its seq (the field before the MAC) changed. */
function mutateSeq(permit: string): string {
  const at = permit.lastIndexOf(".") - 1;
  return permit.slice(0, at) + (permit[at] === "z" ? "y" : "z") + permit.slice(at + 1);
}

/** A config file with one pattern rule, which DeletePatternRule must refuse to delete. */
const configDir = mkdtempSync(join(tmpdir(), "error-reasons-"));
writeFileSync(join(configDir, "breakerbox.json"), JSON.stringify({ rules: [{ pattern: "file.*", config: { failure_threshold: 3 } }] }));
afterAll(() => rmSync(configDir, { recursive: true, force: true }));

describe("requests refused for what they say (API keys on, manual clock)", () => {
  const { server, client } = useTestServer({ env: { ...KEYS, BREAKERBOX_CONFIG: join(configDir, "breakerbox.json") } });

  it("every client reads code, reason, domain and details", async () => {
    const acquire = (circuit: string) => client.call("acquire", { circuit }, ADMIN);
    const other = await acquire("p.other");
    const own = await acquire("p.b");
    await client.call("configure", { target: { case: "circuit", value: "p.exp" }, config: { permitTtl: durationFromMs(1000) } }, ADMIN);
    const stale = await acquire("p.exp");
    server.clock.advance(1000);
    const permitOf = (d: unknown): string => (d as { permit: string }).permit;
    const report = (circuit: string, permit: string): ErrorCall => ({
      method: "Report",
      request: { circuit, permit, outcome: "OUTCOME_FAILURE" },
      metadata: AGENT,
    });
    const scenarios = cover([
      { reason: "INVALID_FIELD", call: { method: "Acquire", request: { circuit: "" }, metadata: AGENT }, fieldViolations: ["circuit"] },
      {
        reason: "INVALID_FIELD",
        call: {
          method: "Configure",
          request: { circuit: "c", config: { failureRateThreshold: 1.5, slowCallRateThreshold: 2 } },
          metadata: ADMIN,
        },
        fieldViolations: ["config.failure_rate_threshold", "config.slow_call_rate_threshold"],
      },
      { reason: "INVALID_FIELD", call: { method: "Configure", request: { circuit: "c", preset: "nope" }, metadata: ADMIN }, fieldViolations: ["preset"] },
      {
        reason: "MALFORMED_REQUEST",
        // Field 1 as a length-delimited string longer than the body.
        call: { method: "Acquire", raw: Buffer.from([0x0a, 0x7f, 0x61]).toString("base64"), metadata: AGENT },
        exclude: NO_RAW_BYTES,
      },
      { reason: "PAGE_TOKEN_INVALID", call: { method: "ListCircuits", request: { pageToken: "garbage" }, metadata: AGENT }, fieldViolations: ["page_token"] },
      { reason: "RESUME_TOKEN_INVALID", call: { method: "Watch", request: { resumeToken: "not-a-token" }, metadata: AGENT }, fieldViolations: ["resume_token"] },
      // A token this server could have written, for a position the log no longer holds.
      { reason: "RESUME_TOKEN_EXPIRED", call: { method: "Watch", request: { resumeToken: encodeWatchToken({ circuits: [], prefix: "" }, "00000000-1") }, metadata: AGENT } },
      { reason: "CIRCUIT_NOT_FOUND", call: { method: "GetState", request: { circuit: "never.seen" }, metadata: AGENT }, metadata: { circuit: "never.seen" } },
      { reason: "PATTERN_RULE_NOT_FOUND", call: { method: "DeletePatternRule", request: { pattern: "nope.*" }, metadata: ADMIN }, metadata: { pattern: "nope.*" } },
      { reason: "PATTERN_RULE_FROM_FILE", call: { method: "DeletePatternRule", request: { pattern: "file.*" }, metadata: ADMIN }, metadata: { pattern: "file.*" } },
      { reason: "PERMIT_MALFORMED", call: report("p.b", "made-up") },
      { reason: "PERMIT_FOREIGN", call: report("p.b", permitOf(other)), metadata: { circuit: "p.b" } },
      // p.b's own permit with the last character of its seq changed: the MAC no longer matches.
      { reason: "PERMIT_BAD_SIGNATURE", call: report("p.b", mutateSeq(permitOf(own))) },
      { reason: "PERMIT_EXPIRED", call: report("p.exp", permitOf(stale)), metadata: { circuit: "p.exp", permitTtl: "1s" } },
      { reason: "PERMIT_UNKNOWN", call: report("p.never", permitOf(other)), metadata: { circuit: "p.never" } },
      { reason: "CREDENTIALS_MISSING", call: { method: "GetState", request: { circuit: "p.b" } } },
      { reason: "CREDENTIALS_INVALID", call: { method: "GetState", request: { circuit: "p.b" }, metadata: { authorization: "Bearer not-a-key-0123456789abcdef" } } },
      {
        reason: "ROLE_INSUFFICIENT",
        call: { method: "Reset", request: { circuit: "p.b" }, metadata: AGENT },
        metadata: { method: "Reset", requiredRole: "admin", role: "agent" },
      },
    ]);
    const { actual, wanted } = await runAll(server, scenarios);
    expect(actual).toEqual(wanted);
  }, 120_000);
});

describe("limits and failures of the server", () => {
  const { server } = useTestServer({ env: { ...KEYS, BREAKERBOX_MAX_WATCH_STREAMS: "1" } });
  const watch: ErrorCall = { method: "Watch", request: { prefix: "w." }, metadata: AGENT };

  it("TOO_MANY_WATCHERS, then INTERNAL from a failing store, then SHUTTING_DOWN", async () => {
    // The one stream the limit allows, held open by another client.
    const holder = new grpc.Client(server.grpcAddress, grpc.credentials.createInsecure());
    const metadata = new grpc.Metadata();
    metadata.set("authorization", AGENT.authorization);
    const held = holder.makeServerStreamRequest(
      `/${CircuitService.typeName}/Watch`,
      (m: Uint8Array) => Buffer.from(m),
      (b: Buffer) => fromBinary(WatchResponseSchema, b),
      toBinary(WatchRequestSchema, create(WatchRequestSchema, { prefix: "w." })),
      metadata,
    );
    await new Promise((resolve) => held.once("data", resolve));
    try {
      const limited = await runAll(server, cover([{ reason: "TOO_MANY_WATCHERS", call: watch, metadata: { limit: "1", scope: "replica" } }]));
      expect(limited.actual).toEqual(limited.wanted);

      // A store that throws what it should never throw: the client sees INTERNAL and nothing of it.
      const get = server.store.get.bind(server.store);
      server.store.get = () => Promise.reject(new Error("redis://user:hunter2@db failed"));
      try {
        const broken = await runAll(server, cover([{ reason: "INTERNAL", call: { method: "GetState", request: { circuit: "x" }, metadata: AGENT } }]));
        expect(broken.actual).toEqual(broken.wanted);
      } finally {
        server.store.get = get;
      }

      server.app.service.shutdown();
      const closing = await runAll(server, cover([{ reason: "SHUTTING_DOWN", call: watch }]));
      expect(closing.actual).toEqual(closing.wanted);
    } finally {
      held.cancel();
      holder.close();
    }
  }, 120_000);
});

describe("a store at its circuit cap", () => {
  const servers = useTestServers();

  it("CIRCUIT_CAP_REACHED with the circuit, the limit and RetryInfo 60 s on every client", async () => {
    // The real clock: the store app.ts builds from BREAKERBOX_MAX_CIRCUITS, as `npm start` runs it.
    const { server, client } = await servers.start({ clock: "real", env: { BREAKERBOX_MAX_CIRCUITS: "1" } });
    expect((await client.call("acquire", { circuit: "cap.held" })).allowed).toBe(true);
    const full = await runAll(
      server,
      cover([{ reason: "CIRCUIT_CAP_REACHED", call: { method: "Acquire", request: { circuit: "cap.new" } }, metadata: { circuit: "cap.new", limit: "1" } }]),
    );
    expect(full.actual).toEqual(full.wanted);
  }, 120_000);
});

describe("a watcher that falls behind", () => {
  const { server, connect } = useTestServer();

  it("is cut with WATCHER_TOO_SLOW, RetryInfo 0 and the backlog limit (grpc-js)", async () => {
    const grpcClient = new grpc.Client(server.grpcAddress, grpc.credentials.createInsecure());
    try {
      const stream = grpcClient.makeServerStreamRequest(
        `/${CircuitService.typeName}/Watch`,
        (m: Uint8Array) => Buffer.from(m),
        (b: Buffer) => b,
        toBinary(WatchRequestSchema, create(WatchRequestSchema, { circuits: ["slow"] })),
        new grpc.Metadata(),
      );
      await new Promise((resolve) => stream.once("data", resolve));
      // Stop reading: HTTP/2 flow control stalls the server's writes, and the
      // hub's queue takes the rest until it overflows.
      stream.pause();
      for (let i = 0; i < 12_000; i++) await server.store.force("slow", i % 2 === 0 ? "FORCED_OPEN" : "CLOSED", "test");
      const error = await new Promise<grpc.ServiceError>((resolve, reject) => {
        stream.on("data", () => {});
        stream.once("error", resolve);
        stream.once("end", () => reject(new Error("the stream ended without an error")));
        stream.resume();
      });
      const observed = observedOfGrpcJsError(error);
      expect(observed).toEqual(expected({ reason: "WATCHER_TOO_SLOW", call: { method: "Watch" }, metadata: { limit: "10000" } }));
      covered.add("WATCHER_TOO_SLOW");
    } finally {
      grpcClient.close();
    }
  }, 60_000);

  it("is cut with WATCHER_TOO_SLOW on the HTTP port too (Connect)", async () => {
    const messages = connect.watch({ circuits: ["slow.http"] })[Symbol.asyncIterator]();
    await messages.next();
    // Not pulling: TCP backpressure stalls the server's writes.
    for (let i = 0; i < 12_000; i++) await server.store.force("slow.http", i % 2 === 0 ? "FORCED_OPEN" : "CLOSED", "test");
    let error: unknown;
    try {
      for (;;) if ((await messages.next()).done === true) break;
    } catch (e) {
      error = e;
    }
    expect(observedOfConnectError(ConnectError.from(error))).toEqual(
      expected({ reason: "WATCHER_TOO_SLOW", call: { method: "Watch" }, metadata: { limit: "10000" } }),
    );
  }, 60_000);

  // grpcurl, Python and Go read every message as it comes (their readers
  // cannot be paused from here); they decode RESOURCE_EXHAUSTED details
  // above (TOO_MANY_WATCHERS) the same way.
});

describe("a store that cannot be reached", () => {
  const redis = useRedis();
  const servers = useTestServers();

  it("STORE_UNAVAILABLE with RetryInfo 1 s on every client", async () => {
    const { server } = await servers.start({ clock: "real", env: { REDIS_URL: redis.url, BREAKERBOX_REDIS_TIMEOUT_SECONDS: "0.5" } });
    await redis.kill();
    const down = await runAll(server, cover([{ reason: "STORE_UNAVAILABLE", call: { method: "GetState", request: { circuit: "x" } } }]));
    expect(down.actual).toEqual(down.wanted);
  }, 120_000);
});

describe("the matrix", () => {
  it("produces every ErrorReason but the reserved ones", () => {
    const notReserved = (Object.keys(ERROR_REASONS) as ReasonName[]).filter((r) => ERROR_REASONS[r].reserved !== true);
    expect([...covered].sort()).toEqual(notReserved.sort());
  });
});
