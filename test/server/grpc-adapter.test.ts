import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { HandlerContext } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AcquireRequestSchema,
  AcquireResponseSchema,
  CircuitService,
  State,
} from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import type { AcquireRequest } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { addService } from "../../src/server/grpc-adapter.js";
import { createGrpcServer } from "../../src/server/grpc.js";
import type { GrpcServer } from "../../src/server/grpc.js";
import { chat, count, EchoService } from "./echo-service.js";
import { createFakeCircuitService } from "./fake-circuit-service.js";
import {
  bidiStream,
  clientStream,
  connect,
  grpc,
  serverStream,
  statusOf,
  take,
  unary,
  unaryRaw,
} from "../support/grpc-call.js";

const { acquire, report, getState, watch } = CircuitService.method;

describe("grpc adapter: CircuitService on grpc-js", () => {
  const fake = createFakeCircuitService();
  const internalErrors: { err: unknown; method: string }[] = [];
  let server: GrpcServer;
  let client: grpc.Client;

  beforeAll(async () => {
    server = createGrpcServer({
      circuitService: fake.impl,
      onInternalError: (err, method) => internalErrors.push({ err, method: method.name }),
    });
    const port = await server.listen("127.0.0.1", 0);
    client = connect(port);
  });

  afterAll(async () => {
    client.close();
    await server.shutdown(1000);
  });

  it("answers a unary call with the handler's message, headers and trailers", async () => {
    const { message, header, trailer } = await unary(client, acquire, { circuit: "llm.openai" }, { headers: { "x-agent": "researcher" } });
    expect(message).toEqual(
      create(AcquireResponseSchema, { allowed: true, permit: "permit-llm.openai", state: State.CLOSED }),
    );
    expect(header.get("x-agent")).toEqual(["researcher"]);
    expect(trailer.get("x-served-by")).toEqual(["fake"]);
    expect(fake.seen.peer).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it("completes init objects returned by handlers into messages", async () => {
    const acquired = await unary(client, acquire, { circuit: "init" });
    expect(acquired.message).toEqual(create(AcquireResponseSchema, { allowed: true, permit: "from-init" }));
    const reported = await unary(client, report, { circuit: "x", permit: "p" });
    expect(reported.message.state).toBe(State.OPEN);
    expect(reported.message.duplicate).toBe(true);
  });

  it("maps a ConnectError to its status code and raw message", async () => {
    const err = await unary(client, acquire, { circuit: "" }).catch((e: grpc.ServiceError) => e);
    expect(err).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: "circuit must not be empty" });
  });

  it("hides other errors behind INTERNAL and reports them", async () => {
    const err = await unary(client, acquire, { circuit: "boom" }).catch((e: grpc.ServiceError) => e);
    expect(err).toMatchObject({ code: grpc.status.INTERNAL, details: "internal error" });
    expect(internalErrors.at(-1)).toMatchObject({ method: "Acquire" });
    expect(String(internalErrors.at(-1)?.err)).toContain("hunter2");
  });

  it("answers UNIMPLEMENTED for a method the implementation lacks", async () => {
    const err = await unary(client, getState, { circuit: "x" }).catch((e: grpc.ServiceError) => e);
    expect(err).toMatchObject({
      code: grpc.status.UNIMPLEMENTED,
      details: "breakerbox.v1.CircuitService.GetState is not implemented",
    });
  });

  it("answers INVALID_ARGUMENT for a request body that cannot be decoded", async () => {
    // Field 1 (circuit) claims 5 bytes but only 1 follows.
    const err = await unaryRaw(client, acquire, Buffer.from([0x0a, 0x05, 0x61])).catch((e: grpc.ServiceError) => e);
    expect(err).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    expect((err as grpc.ServiceError).details).toContain("request could not be decoded as breakerbox.v1.AcquireRequest");
  });

  it("aborts ctx.signal with DeadlineExceeded when the client's deadline passes", async () => {
    const aborted = fake.seen.aborted;
    const err = await unary(client, acquire, { circuit: "wait-signal" }, { deadlineMs: 100 }).catch((e: grpc.ServiceError) => e);
    expect(err).toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED });
    await aborted;
    expect(fake.seen.abortReason).toBeInstanceOf(ConnectError);
    expect((fake.seen.abortReason as ConnectError).code).toBe(Code.DeadlineExceeded);
  });

  it("streams every message of a server stream and ends with OK", async () => {
    const call = serverStream(client, watch, { prefix: "many" });
    const status = statusOf(call);
    let count = 0;
    let last = "";
    for await (const message of call) {
      count++;
      if (message.kind.case === "snapshot") last = message.kind.value.circuit;
    }
    expect(count).toBe(2000);
    expect(last).toBe("c1999");
    expect((await status).code).toBe(grpc.status.OK);
  });

  it("ends the handler's iterator when the client cancels a waiting stream", async () => {
    const finished = fake.seen.watchFinished;
    const call = serverStream(client, watch, { prefix: "" });
    call.on("error", () => {}); // CANCELLED is expected
    const names = (await take(call[Symbol.asyncIterator](), 3)).map((m) => (m.kind.case === "snapshot" ? m.kind.value.circuit : "?"));
    expect(names).toEqual(["a", "b", "c"]);
    call.cancel();
    await expect(finished).resolves.toBe("");
  });

  it("stops pulling and returns the iterator when a client cancels a stream blocked on backpressure", async () => {
    const finished = fake.seen.watchFinished;
    const call = serverStream(client, watch, { prefix: "endless" });
    call.on("error", () => {});
    await take(call[Symbol.asyncIterator](), 10);
    call.cancel();
    await expect(finished).resolves.toBe("endless");
    const yielded = fake.seen.endlessYielded;
    // Backpressure bounds how far the producer ran ahead of the reader.
    expect(yielded).toBeLessThan(5000);
    await new Promise((r) => setTimeout(r, 50));
    expect(fake.seen.endlessYielded).toBe(yielded);
  });

  it("ends a stream with the ConnectError's code after the messages already sent", async () => {
    const call = serverStream(client, watch, { prefix: "fail" });
    const received: unknown[] = [];
    const err = await (async () => {
      for await (const m of call) received.push(m);
    })().catch((e: grpc.ServiceError) => e);
    expect(received).toHaveLength(1);
    expect(err).toMatchObject({ code: grpc.status.OUT_OF_RANGE, details: "resume token expired" });
  });

  it("ends a stream with INTERNAL when the handler throws a plain error", async () => {
    const call = serverStream(client, watch, { prefix: "crash" });
    const err = await (async () => {
      for await (const _ of call) {
        // drain
      }
    })().catch((e: grpc.ServiceError) => e);
    expect(err).toMatchObject({ code: grpc.status.INTERNAL, details: "internal error" });
    expect(internalErrors.at(-1)).toMatchObject({ method: "Watch" });
  });
});

describe("grpc adapter: client and bidi streaming on a bare grpc-js server", () => {
  const server = new grpc.Server();
  let client: grpc.Client;

  beforeAll(async () => {
    addService(server, EchoService, {
      async count(requests: AsyncIterable<AcquireRequest>) {
        const names: string[] = [];
        for await (const r of requests) names.push(r.circuit);
        return { allowed: true, permit: names.join(",") };
      },
      async *chat(requests: AsyncIterable<AcquireRequest>, ctx: HandlerContext) {
        for await (const r of requests) {
          if (r.circuit === "stop") return;
          yield { permit: `${r.circuit}@${ctx.protocolName}` };
        }
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    client = connect(port);
  });

  afterAll(() => {
    client.close();
    server.forceShutdown();
  });

  it("collects a client stream into one response", async () => {
    const { call, response } = clientStream(client, count);
    for (const circuit of ["a", "b", "c"]) call.write(create(AcquireRequestSchema, { circuit }));
    call.end();
    expect((await response).permit).toBe("a,b,c");
  });

  it("answers each bidi request in order and ends with OK when the handler returns", async () => {
    const call = bidiStream(client, chat);
    const status = statusOf(call);
    const responses = call[Symbol.asyncIterator]();
    call.write(create(AcquireRequestSchema, { circuit: "one" }));
    expect((await responses.next()).value?.permit).toBe("one@grpc");
    call.write(create(AcquireRequestSchema, { circuit: "two" }));
    expect((await responses.next()).value?.permit).toBe("two@grpc");
    // The handler stops reading early; the response side must still close cleanly.
    call.write(create(AcquireRequestSchema, { circuit: "stop" }));
    expect((await responses.next()).done).toBe(true);
    expect((await status).code).toBe(grpc.status.OK);
    call.end();
  });

  it("fails a bidi call with INVALID_ARGUMENT when a streamed request cannot be decoded", async () => {
    const call = client.makeBidiStreamRequest(
      `/test.v1.EchoService/Chat`,
      (b: Buffer) => b,
      (b: Buffer) => b,
      new grpc.Metadata(),
      {},
    );
    call.on("data", () => {});
    call.on("error", () => {});
    call.write(Buffer.from([0x0a, 0x05, 0x61]));
    const status = await statusOf(call);
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toContain("could not be decoded");
  });
});
