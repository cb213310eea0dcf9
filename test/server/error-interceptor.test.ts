/**
 * The error boundary interceptor on its own: what handlers throw leaves as the
 * status src/server/status.ts maps it to, as they threw it (synchronously,
 * as a rejection, or from a stream), and is logged once per kind per interval.
 */
import { Writable } from "node:stream";
import { Code, ConnectError } from "@connectrpc/connect";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { CircuitService } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { createErrorInterceptor } from "../../src/server/error-interceptor.js";
import { CircuitNotFoundError } from "../../src/service/errors.js";
import { StoreUnavailableError } from "../../src/store/store.js";

function logged(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line !== "") lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: "debug" }, sink), lines };
}

const ctx = {} as never;
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("the error interceptor", () => {
  it("maps a synchronous throw synchronously, a rejection as a rejection, and passes answers through", async () => {
    const { logger } = logged();
    const boundary = createErrorInterceptor({ logger });
    const sync = boundary(() => {
      throw new CircuitNotFoundError("x");
    }, CircuitService.method.getState);
    let thrown: unknown;
    try {
      sync({}, ctx);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(ConnectError);
    expect((thrown as ConnectError).code).toBe(Code.NotFound);
    const rejected = boundary(() => Promise.reject(new StoreUnavailableError("redis down")), CircuitService.method.acquire);
    await expect(rejected({}, ctx)).rejects.toMatchObject({ code: Code.Unavailable, rawMessage: "redis down" });
    const answer = { allowed: true };
    expect(boundary(() => answer, CircuitService.method.acquire)({}, ctx)).toBe(answer);
    await expect(boundary(async () => answer, CircuitService.method.acquire)({}, ctx)).resolves.toBe(answer);
  });

  it("maps a stream's failure where the stream fails, after the messages already produced", async () => {
    const { logger } = logged();
    const stream = createErrorInterceptor({ logger })(async function* () {
      yield "first";
      throw new Error("store exploded");
    }, CircuitService.method.watch);
    const got: unknown[] = [];
    const err = await (async () => {
      for await (const m of stream({}, ctx) as AsyncIterable<unknown>) got.push(m);
    })().catch((e: unknown) => e);
    expect(got).toEqual(["first"]);
    expect(err).toMatchObject({ code: Code.Internal, rawMessage: "internal error" });
  });

  it("logs client errors and outages once per kind per interval, and every internal error", async () => {
    const { logger, lines } = logged();
    const boundary = createErrorInterceptor({ logger, repeatLogIntervalMs: 60_000 });
    const notFound = boundary(() => {
      throw new CircuitNotFoundError("x");
    }, CircuitService.method.getState);
    const down = boundary(() => {
      throw new StoreUnavailableError("redis down");
    }, CircuitService.method.acquire);
    const bug = boundary(() => {
      throw new Error("bug");
    }, CircuitService.method.report);
    for (let i = 0; i < 3; i++) {
      for (const call of [notFound, down, bug]) expect(() => call({}, ctx)).toThrow();
    }
    await flush();
    expect(lines.map((l) => [l["msg"], l["method"]])).toEqual([
      ["request rejected", "GetState"],
      ["store unavailable; calls answered UNAVAILABLE", "Acquire"],
      ["request failed", "Report"],
      ["request failed", "Report"],
      ["request failed", "Report"],
    ]);
    expect(lines[0]).toMatchObject({ code: Code.NotFound, heldBack: 0 });
  });
});
