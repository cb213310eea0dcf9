/**
 * Access control over the network, as clients meet it: every RPC, with no
 * key, an unknown key, an agent key and an admin key, on the gRPC port
 * (grpc-js) and the HTTP port (Connect and gRPC-Web clients), with the exact
 * code and message of each refusal. Then what stays open, the actor in
 * history, the SDK's apiKey option, the operator's grpcurl and curl examples
 * of docs/operations.md, and the start-up behaviour of the real process
 * (where it binds, what it logs).
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Writable } from "node:stream";
import { create, toBinary, type DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CircuitService, Outcome, State } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/ts/grpc/health/v1/health_pb.js";
import { createBreakerbox, BreakerboxRpcError } from "@breakerbox/client";
import { connect, grpc, unary } from "../support/grpc-call.js";
import { spawnMain, startReplica, stopReplicas } from "../support/replicas.js";
import { startRealClockServer, type TestServer } from "../support/test-server.js";
import { useTestServer } from "../support/use-test-server.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const AGENT_KEY = "agent-Zq0dW8mE1vT5yK3uN6rB";
const ADMIN_KEY = "admin-Hs4pL9cX2jF7gV0aQ8wD";
const API_KEYS = `agents:agent:${AGENT_KEY},ops:admin:${ADMIN_KEY}`;

type Who = "no key" | "unknown key" | "agent" | "admin";
const HEADERS: Record<Who, Record<string, string>> = {
  "no key": {},
  "unknown key": { authorization: "Bearer not-a-key-0123456789abcdef" },
  agent: { authorization: `Bearer ${AGENT_KEY}` },
  admin: { authorization: `Bearer ${ADMIN_KEY}` },
};

/** A call's outcome, the same shape whatever the client: code 0 is OK. */
interface Outcome_ {
  code: number;
  message: string;
}

type Name = keyof typeof CircuitService.method;

/** A client of one port and protocol, normalised so one table drives all three. */
interface AnyClient {
  label: string;
  call(name: Name, request: object, headers: Record<string, string>): Promise<Outcome_>;
}

function grpcClientOf(port: number): AnyClient & { close(): void } {
  const client = connect(port);
  return {
    label: "gRPC port (grpc-js)",
    async call(name, request, headers) {
      const method = CircuitService.method[name] as DescMethod;
      try {
        if (method.methodKind === "server_streaming") {
          const metadata = new grpc.Metadata();
          for (const [k, v] of Object.entries(headers)) metadata.set(k, v);
          const call = client.makeServerStreamRequest(
            `/${CircuitService.typeName}/${method.name}`,
            (m: never) => Buffer.from(toBinaryOf(method, m)),
            (b: Buffer) => b,
            request as never,
            metadata,
            {},
          );
          // The first message (the snapshot) proves the stream was admitted.
          for await (const _ of call) break;
          call.cancel();
          return { code: 0, message: "" };
        }
        await unary(client, method as never, request as never, { headers });
        return { code: 0, message: "" };
      } catch (e) {
        const err = e as grpc.ServiceError;
        return { code: err.code, message: err.details };
      }
    },
    close: () => client.close(),
  };
}

function toBinaryOf(method: DescMethod, init: object): Uint8Array {
  return toBinary(method.input, create(method.input, init as never));
}

function connectClientOf(label: string, transport: Transport): AnyClient {
  const client = createClient(CircuitService, transport) as unknown as Record<
    string,
    (req: object, options: { headers: Record<string, string>; signal?: AbortSignal }) => unknown
  >;
  return {
    label,
    async call(name, request, headers) {
      try {
        if (name === "watch") {
          const abort = new AbortController();
          const stream = client[name]!(request, { headers, signal: abort.signal }) as AsyncIterable<unknown>;
          for await (const _ of stream) break;
          abort.abort();
          return { code: 0, message: "" };
        }
        await client[name]!(request, { headers });
        return { code: 0, message: "" };
      } catch (e) {
        const err = ConnectError.from(e);
        return { code: err.code, message: err.rawMessage };
      }
    },
  };
}

const ADMIN_RPCS = new Set<Name>(["reset", "forceState", "configure", "deletePatternRule"]);

/** A valid request for each RPC (a fresh permit for Report), so an admitted call answers OK. */
async function requestFor(name: Name, server: TestServer): Promise<object> {
  switch (name) {
    case "acquire":
      return { circuit: "ac.x" };
    case "acquireAny":
      return { circuits: ["ac.x", "ac.y"] };
    case "report": {
      const permit = (await server.store.acquire("ac.x")).permit;
      return { circuit: "ac.x", permit, outcome: Outcome.SUCCESS };
    }
    case "getState":
      return { circuit: "ac.x" };
    case "listCircuits":
      return { prefix: "ac." };
    case "getHistory":
      return { circuit: "ac.x" };
    case "watch":
      return { circuits: ["ac.x"] };
    case "reset":
      return { circuit: "ac.x" };
    case "forceState":
      return { circuit: "ac.x", state: State.CLOSED };
    case "configure":
      return { target: { case: "circuit", value: "ac.x" }, config: { failureThreshold: 7 } };
    case "batchReport": {
      const permit = (await server.store.acquire("ac.x")).permit;
      return { reports: [{ circuit: "ac.x", permit, outcome: Outcome.SUCCESS }] };
    }
    case "listPatternRules":
      return {};
    case "deletePatternRule":
      await server.store.configurePattern("ac.*", { patch: { failureThreshold: 9 }, replace: false }, "setup");
      return { pattern: "ac.*" };
  }
}

function expected(name: Name, who: Who): Outcome_ {
  const rpc = CircuitService.method[name].name;
  switch (who) {
    case "no key":
      return { code: Code.Unauthenticated, message: "missing API key: send 'authorization: Bearer <key>'" };
    case "unknown key":
      return { code: Code.Unauthenticated, message: "unknown API key" };
    case "agent":
      return ADMIN_RPCS.has(name)
        ? { code: Code.PermissionDenied, message: `API key 'agents' has role agent; ${rpc} needs role admin` }
        : { code: 0, message: "" };
    case "admin":
      return { code: 0, message: "" };
  }
}

const WHO: Who[] = ["no key", "unknown key", "agent", "admin"];
const NAMES = Object.keys(CircuitService.method) as Name[];

const KEYED = { BREAKERBOX_HOST: "127.0.0.1", BREAKERBOX_API_KEYS: API_KEYS };

describe("with API keys: every RPC on both ports", () => {
  const { server, connect: connectClient } = useTestServer({ env: KEYED });
  let clients: AnyClient[];
  let grpcClient: ReturnType<typeof grpcClientOf>;

  beforeAll(async () => {
    await server.store.acquire("ac.x");
    grpcClient = grpcClientOf(server.app.grpcPort);
    clients = [
      grpcClient,
      connectClientOf("HTTP port (Connect JSON)", createConnectTransport({ baseUrl: server.httpUrl, httpVersion: "1.1", useBinaryFormat: false })),
      connectClientOf("HTTP port (gRPC-Web)", createGrpcWebTransport({ baseUrl: server.httpUrl, httpVersion: "1.1" })),
    ];
  });

  afterAll(() => {
    grpcClient.close();
  });

  it("covers every RPC of the proto", () => {
    expect(NAMES.sort()).toEqual(
      ["acquire", "acquireAny", "batchReport", "configure", "deletePatternRule", "forceState", "getHistory", "getState", "listCircuits", "listPatternRules", "report", "reset", "watch"].sort(),
    );
  });

  it.each(WHO)("%s: the same answer for every RPC on every port and protocol", async (who) => {
    const got: Record<string, Outcome_> = {};
    const want: Record<string, Outcome_> = {};
    for (const client of clients) {
      for (const name of NAMES) {
        const key = `${client.label} ${CircuitService.method[name].name}`;
        got[key] = await client.call(name, await requestFor(name, server), HEADERS[who]);
        want[key] = expected(name, who);
      }
    }
    expect(got).toEqual(want);
  });

  it("refuses another scheme than Bearer as UNAUTHENTICATED, saying how to send the key", async () => {
    for (const client of clients) {
      const got = await client.call("acquire", { circuit: "ac.x" }, { authorization: `Basic ${ADMIN_KEY}` });
      expect(got, client.label).toEqual({
        code: Code.Unauthenticated,
        message: "the authorization header must use the Bearer scheme: send 'authorization: Bearer <key>'",
      });
    }
  });

  it("records the admin key's name as the actor of Reset, ForceState and Configure", async () => {
    const grpcAdmin = HEADERS.admin;
    await server.store.acquire("ac.actor");
    await clients[0]!.call("configure", { target: { case: "circuit", value: "ac.actor" }, config: { failureThreshold: 9 } }, grpcAdmin);
    await clients[1]!.call("forceState", { circuit: "ac.actor", state: State.FORCED_OPEN }, grpcAdmin);
    await clients[2]!.call("reset", { circuit: "ac.actor" }, grpcAdmin);
    const { entries } = await connectClient.getHistory({ circuit: "ac.actor" }, { headers: HEADERS.agent });
    // Newest first.
    expect(entries.map((e) => [e.entry.case, e.entry.value?.actor])).toEqual([
      ["transition", "ops"],
      ["transition", "ops"],
      ["configChange", "ops"],
    ]);
  });

  it("keeps health, reflection and the probes open", async () => {
    const health = connect(server.app.grpcPort);
    try {
      const checked = await unary(health, Health.method.check, { service: "" });
      expect(checked.message.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    } finally {
      health.close();
    }
    const connectHealth = createClient(Health, createConnectTransport({ baseUrl: server.httpUrl, httpVersion: "1.1" }));
    expect((await connectHealth.check({ service: CircuitService.typeName })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    expect(await (await fetch(`${server.httpUrl}/healthz`)).text()).toBe("ok");
    expect(await (await fetch(`${server.httpUrl}/readyz`)).text()).toBe("ready");
    const { stdout } = await promisify(execFile)(`${root}.tools/bin/grpcurl`, ["-plaintext", server.grpcAddress, "list"], { encoding: "utf8" });
    expect(stdout).toContain("breakerbox.v1.CircuitService\n");
  });
});

describe("with access control off", () => {
  const { server } = useTestServer({ env: { BREAKERBOX_HOST: "127.0.0.1" } });

  it("lets every caller do everything and records the actor as anonymous", async () => {
    const client = grpcClientOf(server.app.grpcPort);
    try {
      await server.store.acquire("off.x");
      for (const name of NAMES) {
        expect(await client.call(name, await requestFor(name, server), {}), name).toEqual({ code: 0, message: "" });
      }
      expect(await client.call("reset", { circuit: "off.x" }, HEADERS["unknown key"])).toEqual({ code: 0, message: "" });
      const history = (await server.store.history("off.x", 10))?.entries;
      expect(history?.map((h) => (h.kind === "transition" ? h.event.actor : h.change.actor))).toEqual(["anonymous"]);
    } finally {
      client.close();
    }
  });
});

describe("logs", () => {
  it("name the key of a refused call and never contain a key", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString("utf8").split("\n").filter((l) => l !== ""));
        done();
      },
    });
    // Started and stopped here, not by a fixture: the shutdown's lines are checked too.
    const { app } = await startRealClockServer(KEYED, { logger: pino({ level: "debug" }, sink) });
    const client = grpcClientOf(app.grpcPort);
    try {
      for (const who of WHO) {
        await client.call("reset", { circuit: "log.x" }, HEADERS[who]);
        await client.call("acquire", { circuit: "log.x" }, HEADERS[who]);
      }
    } finally {
      client.close();
      await app.stop();
    }
    const text = lines.join("\n");
    expect(text).not.toContain(AGENT_KEY);
    expect(text).not.toContain(ADMIN_KEY);
    expect(text).not.toContain("not-a-key-0123456789abcdef");
    const rejected = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l["msg"] === "request rejected");
    expect(rejected.map((l) => [l["method"], l["code"], l["reason"]])).toEqual([
      ["Reset", Code.Unauthenticated, "missing API key: send 'authorization: Bearer <key>'"],
      ["Acquire", Code.Unauthenticated, "missing API key: send 'authorization: Bearer <key>'"],
      ["Reset", Code.Unauthenticated, "unknown API key"],
      ["Acquire", Code.Unauthenticated, "unknown API key"],
      ["Reset", Code.PermissionDenied, "API key 'agents' has role agent; Reset needs role admin"],
      // The agent's Acquire and the admin's Reset and Acquire succeed.
    ]);
  });
});

describe("the TypeScript SDK with apiKey", () => {
  const { server } = useTestServer({ env: KEYED });

  it("sends the key with Acquire, Report and Watch", async () => {
    const bb = createBreakerbox({ address: server.grpcAddress, apiKey: AGENT_KEY });
    try {
      expect(await bb.run("sdk.x", async () => "done")).toBe("done");
      const watch = bb.watch({ circuits: ["sdk.x"] });
      const first = await watch.next();
      expect(first.value).toMatchObject({ type: "snapshot", circuit: "sdk.x", state: "CLOSED" });
      await watch.return?.(undefined);
      expect(await bb.flush(5000)).toBe(true); // run queues its Report; it is sent in the background
      expect((await server.store.get("sdk.x"))?.stats.totalSuccesses).toBe(1);
    } finally {
      bb.close();
    }
  });

  it("fails every call with UNAUTHENTICATED without a key, Watch included, and does not go degraded", async () => {
    const bb = createBreakerbox({ address: server.grpcAddress });
    try {
      let ran = false;
      const err = await bb.run("sdk.y", async () => (ran = true)).catch((e: unknown) => e);
      expect(ran).toBe(false);
      expect(BreakerboxRpcError.is(err)).toBe(true);
      expect(err).toMatchObject({ code: 16, codeName: "UNAUTHENTICATED", details: "missing API key: send 'authorization: Bearer <key>'" });
      expect(bb.status().degraded).toBe(false);
      const watchErr = await bb.watch({ circuits: ["sdk.y"] }).next().catch((e: unknown) => e);
      expect(watchErr).toMatchObject({ code: 16, details: "missing API key: send 'authorization: Bearer <key>'" });
    } finally {
      bb.close();
    }
  });

  it("refuses contradicting options", () => {
    expect(() => createBreakerbox({ address: server.grpcAddress, apiKey: AGENT_KEY, metadata: { Authorization: "Bearer x" } })).toThrow(
      "give either apiKey or an authorization entry in metadata, not both",
    );
    expect(() => createBreakerbox({ address: server.grpcAddress, apiKey: " " })).toThrow("apiKey is empty");
  });
});

describe("the operator's examples in docs/operations.md", () => {
  const { server } = useTestServer({ env: KEYED });
  beforeAll(async () => {
    await server.store.acquire("llm.openai.gpt");
  });

  /** The ```sh blocks of the "Calling with a key" part of the access-control section. */
  function blocks(): string[] {
    const doc = readFileSync(`${root}docs/operations.md`, "utf8");
    const start = doc.indexOf("### Calling with a key");
    const end = doc.indexOf("\n#", start + 5);
    expect(start).toBeGreaterThan(0);
    return [...doc.slice(start, end < 0 ? undefined : end).matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  }

  it("act with the admin key and are refused without it, with grpcurl and curl", async () => {
    const outputs: string[] = [];
    for (const block of blocks()) {
      const script = block
        .replaceAll("localhost:50051", server.grpcAddress)
        .replaceAll("localhost:8080", server.httpUrl.replace("http://", ""));
      const { stdout, stderr } = await promisify(execFile)("bash", ["-euo", "pipefail", "-c", script], {
        cwd: root,
        env: { ...process.env, PATH: `${root}.tools/bin:${process.env.PATH}`, AGENT_KEY, ADMIN_KEY },
        encoding: "utf8",
        timeout: 60_000,
      });
      outputs.push(stdout, stderr);
    }
    const all = outputs.join("\n");
    expect(all).toContain('"allowed": true');
    expect(all).toContain('"actor": "ops"');
    expect(all).toContain("  Code: Unauthenticated\n  Message: missing API key: send 'authorization: Bearer <key>'");
    expect(all).toContain("  Code: PermissionDenied\n  Message: API key 'agents' has role agent; Reset needs role admin");
    expect(all).toContain('"state":"STATE_CLOSED"');
    expect(all).toContain(
      '{"code":"unauthenticated","message":"missing API key: send \'authorization: Bearer <key>\'","details":[{"type":"google.rpc.ErrorInfo","debug":{"reason":"CREDENTIALS_MISSING","domain":"breakerbox.v1"}',
    );
    const history = (await server.store.history("llm.openai.gpt", 10))?.entries;
    expect(history?.map((h) => (h.kind === "transition" ? [h.event.to, h.event.actor] : ["config", h.change.actor]))).toEqual([
      ["CLOSED", "ops"],
      ["FORCED_OPEN", "ops"],
    ]);
  }, 90_000); // longer than one block's 60 s run bound plus the others, so a hung block fails naming its command
});

describe("the process at start", () => {
  afterEach(async () => {
    await stopReplicas();
  });

  it("without keys binds 127.0.0.1 and warns that access control is off", async () => {
    const replica = await startReplica({});
    const logs = replica.logs();
    const warning = logs.find((l) => l.level === "warn");
    expect(warning?.msg).toBe(
      "access control is off (no API keys): listening on 127.0.0.1 only; set BREAKERBOX_API_KEYS to serve other hosts, or BREAKERBOX_HOST to override",
    );
    const listening = logs.find((l) => l.msg === "breakerbox listening");
    expect(listening).toMatchObject({ accessControl: "off", apiKeys: [], tls: "off" });
    expect(String(listening?.["grpc"])).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(replica.problems()).toEqual([]);
  });

  it("with keys binds 0.0.0.0, logs the key names only, and admits the admin key", async () => {
    const replica = await startReplica({ BREAKERBOX_API_KEYS: API_KEYS });
    const listening = replica.logs().find((l) => l.msg === "breakerbox listening");
    expect(listening).toMatchObject({ accessControl: "api keys", apiKeys: ["agents (agent)", "ops (admin)"] });
    expect(String(listening?.["grpc"])).toMatch(/^0\.0\.0\.0:\d+$/);
    expect(replica.logs().filter((l) => l.level === "warn")).toEqual([]);
    expect(replica.lines.join("\n")).not.toContain(AGENT_KEY);
    await expect(replica.client.call("reset", { circuit: "p.x" })).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    await replica.client.call("acquire", { circuit: "p.x" }, HEADERS.agent);
    const reset = await replica.client.call("reset", { circuit: "p.x" }, HEADERS.admin);
    expect(reset.status?.state).toBe(State.CLOSED);
    expect(replica.problems()).toEqual([]);
  });

  it("without keys on a non-loopback BREAKERBOX_HOST starts, but warns loudly", async () => {
    const replica = await startReplica({ BREAKERBOX_HOST: "0.0.0.0" });
    expect(replica.logs().filter((l) => l.level === "warn").map((l) => l.msg)).toEqual([
      "ACCESS CONTROL IS OFF and BREAKERBOX_HOST=0.0.0.0 is not a loopback address: anyone who can reach these ports can Reset, ForceState and Configure every circuit; set BREAKERBOX_API_KEYS (name:role:key,...) or bind 127.0.0.1",
    ]);
  });

  it("refuses a short key, naming the variable but not the key", async () => {
    const child = spawnMain({ BREAKERBOX_API_KEYS: "ops:admin:short-secret" });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
    expect(code).toBe(2);
    expect(stderr).toContain('BREAKERBOX_API_KEYS: entry 1 ("ops"): key must be at least 16 characters of visible ASCII (no spaces)');
    expect(stderr).not.toContain("short-secret");
  });
});
