/**
 * Access control in parts: the key table (src/service/access.ts), the Bearer
 * header (src/server/auth.ts), and reading one header on each listener
 * without building the whole context (requestHeaderOf). The end-to-end
 * behaviour of every RPC on both ports is in test/e2e/access-control.test.ts.
 */
import { inspect } from "node:util";
import type { HandlerContext } from "@connectrpc/connect";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CircuitService } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import {
  AccessControl,
  PermissionDeniedError,
  REQUIRED_ROLE,
  UnauthenticatedError,
  type ApiKey,
} from "../../src/service/access.js";
import { bearerToken } from "../../src/server/auth.js";
import { requestHeaderOf } from "../../src/server/grpc-adapter.js";
import { createGrpcServer, type GrpcServer } from "../../src/server/grpc.js";
import { createHttpServer, type HttpServer } from "../../src/server/http.js";
import { connect, grpc, unary } from "../support/grpc-call.js";

const AGENT_KEY = "agent-key-0123456789abcdef";
const ADMIN_KEY = "admin-key-0123456789abcdef";
const KEYS: ApiKey[] = [
  { name: "agents", role: "agent", key: AGENT_KEY },
  { name: "ops", role: "admin", key: ADMIN_KEY },
];

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error("expected a throw");
}

describe("AccessControl", () => {
  const access = new AccessControl(KEYS);

  it("knows a key by its token and names it", () => {
    expect(access.authenticate(AGENT_KEY)).toEqual({ name: "agents", role: "agent" });
    expect(access.authenticate(ADMIN_KEY)).toEqual({ name: "ops", role: "admin" });
    expect(access.principals).toEqual([
      { name: "agents", role: "agent" },
      { name: "ops", role: "admin" },
    ]);
  });

  it("refuses a missing token, pointing at the header to send", () => {
    for (const token of [undefined, ""]) {
      const err = thrown(() => access.authenticate(token));
      expect(err).toBeInstanceOf(UnauthenticatedError);
      expect((err as Error).message).toBe("missing API key: send 'authorization: Bearer <key>'");
    }
  });

  it("refuses an unknown token without repeating it, also one that differs by a character or in case", () => {
    for (const token of ["nope", `${AGENT_KEY}x`, AGENT_KEY.slice(0, -1), AGENT_KEY.toUpperCase(), ` ${AGENT_KEY}`]) {
      const err = thrown(() => access.authenticate(token));
      expect(err).toBeInstanceOf(UnauthenticatedError);
      expect((err as Error).message).toBe("unknown API key");
    }
  });

  it("lets an agent key call the agent RPCs and an admin key call everything", () => {
    const agent = access.authenticate(AGENT_KEY);
    const admin = access.authenticate(ADMIN_KEY);
    for (const method of ["Acquire", "AcquireAny", "Report", "BatchReport", "GetState", "ListCircuits", "GetHistory", "Watch", "ListPatternRules"]) {
      expect(() => access.authorize(agent, method)).not.toThrow();
      expect(() => access.authorize(admin, method)).not.toThrow();
    }
    for (const method of ["Reset", "ForceState", "Configure", "DeletePatternRule"]) {
      expect(() => access.authorize(admin, method)).not.toThrow();
      const err = thrown(() => access.authorize(agent, method));
      expect(err).toBeInstanceOf(PermissionDeniedError);
      expect((err as Error).message).toBe(`API key 'agents' has role agent; ${method} needs role admin`);
    }
  });

  it("needs admin for an RPC nobody classified (a new RPC is closed until decided)", () => {
    const err = thrown(() => access.check(AGENT_KEY, "DropEverything"));
    expect((err as Error).message).toBe("API key 'agents' has role agent; DropEverything needs role admin");
    expect(access.check(ADMIN_KEY, "DropEverything")).toEqual({ name: "ops", role: "admin" });
  });

  it("classifies every CircuitService RPC of the proto", () => {
    const unclassified = CircuitService.methods.map((m) => m.name).filter((name) => !Object.hasOwn(REQUIRED_ROLE, name));
    expect(unclassified).toEqual([]);
    const admin = Object.keys(REQUIRED_ROLE).filter((name) => REQUIRED_ROLE[name] === "admin");
    expect(admin.sort()).toEqual(["Configure", "DeletePatternRule", "ForceState", "Reset"]);
  });

  it("does not keep the keys themselves, only their digests", () => {
    const everything = inspect(access, { depth: 10, showHidden: true });
    expect(everything).toContain("Map(2)");
    expect(everything).not.toContain(AGENT_KEY);
    expect(everything).not.toContain(ADMIN_KEY);
  });

  it("refuses to be built without keys or with duplicates (config.ts reports these to the operator)", () => {
    expect(() => new AccessControl([])).toThrow(/at least one API key/);
    expect(() => new AccessControl([...KEYS, { name: "ops", role: "agent", key: "another-key-0123456789" }])).toThrow(/duplicate/);
    expect(() => new AccessControl([...KEYS, { name: "other", role: "agent", key: AGENT_KEY }])).toThrow(/duplicate/);
  });
});

describe("bearerToken", () => {
  it.each([
    ["Bearer abc", "abc"],
    ["bearer abc", "abc"],
    ["BEARER   abc  ", "abc"],
    ["Bearer\tabc", "abc"],
  ])("reads %j as %j", (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });

  it.each([[undefined], [null], [""], ["   "], ["Bearer"], ["Bearer   "]])("finds no key in %j", (header) => {
    expect(bearerToken(header)).toBeUndefined();
  });

  it.each([["Basic dXNlcjpwYXNz"], ["abcdefabcdefabcdef"], ["Bearerabc"], ["Token abc"]])(
    "refuses %j, saying which scheme to use",
    (header) => {
      const err = thrown(() => bearerToken(header));
      expect(err).toBeInstanceOf(UnauthenticatedError);
      expect((err as Error).message).toBe("the authorization header must use the Bearer scheme: send 'authorization: Bearer <key>'");
    },
  );
});

describe("requestHeaderOf on both listeners", () => {
  // A GetState handler that answers with what requestHeaderOf read, and
  // whether the context had to build its Headers for it.
  const seen: { value: string | undefined; builtHeaders: boolean }[] = [];
  const impl = {
    getState(_req: unknown, ctx: HandlerContext) {
      const value = requestHeaderOf(ctx, "authorization");
      // The gRPC context keeps its lazily built Headers in a private field.
      const builtHeaders = (ctx as unknown as { requestHeaders?: Headers }).requestHeaders !== undefined;
      seen.push({ value, builtHeaders });
      return { status: { circuit: value ?? "(none)" } };
    },
  };
  let grpcServer: GrpcServer;
  let httpServer: HttpServer;
  let grpcClient: grpc.Client;
  let httpPort: number;

  beforeAll(async () => {
    grpcServer = createGrpcServer({ circuitService: impl, reflection: false });
    httpServer = createHttpServer({ circuitService: impl });
    grpcClient = connect(await grpcServer.listen("127.0.0.1", 0));
    httpPort = await httpServer.listen("127.0.0.1", 0);
  });

  afterAll(async () => {
    grpcClient.close();
    await Promise.all([grpcServer.shutdown(1000), httpServer.shutdown(1000)]);
  });

  it("reads gRPC metadata without building ctx.requestHeader", async () => {
    seen.length = 0;
    const { message } = await unary(grpcClient, CircuitService.method.getState, { circuit: "x" }, { headers: { authorization: "Bearer k" } });
    expect(message.status?.circuit).toBe("Bearer k");
    await unary(grpcClient, CircuitService.method.getState, { circuit: "x" });
    expect(seen).toEqual([
      { value: "Bearer k", builtHeaders: false },
      { value: undefined, builtHeaders: false },
    ]);
  });

  it("reads the HTTP header on the Connect port", async () => {
    seen.length = 0;
    const client = createClient(
      CircuitService,
      createConnectTransport({ baseUrl: `http://127.0.0.1:${httpPort}`, httpVersion: "1.1" }),
    );
    const res = await client.getState({ circuit: "x" }, { headers: { authorization: "Bearer k" } });
    expect(res.status?.circuit).toBe("Bearer k");
    await client.getState({ circuit: "x" });
    expect(seen.map((s) => s.value)).toEqual(["Bearer k", undefined]);
  });
});
