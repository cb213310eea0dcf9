/**
 * `@breakerbox/client/ai-sdk`: the AI SDK middleware against a real
 * in-process Breakerbox (gRPC, memory store, manual clock shared with the
 * SDK client), driven through the AI SDK itself (generateText, streamText,
 * wrapLanguageModel) with its own mock models. States are read back with
 * GetState; call counts are the mock models' own.
 */
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { APICallError, generateText, RetryError, streamText, wrapLanguageModel } from "ai";
import { MockLanguageModelV4 } from "ai/test";
import type { LanguageModelV4GenerateResult, LanguageModelV4StreamPart, LanguageModelV4StreamResult } from "@ai-sdk/provider";
import { describe, expect, it } from "vitest";
import { State } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { CallTimeoutError, CircuitOpenError } from "@breakerbox/client";
import { breakerboxMiddleware } from "@breakerbox/client/ai-sdk";
import { useTestServer } from "../support/use-test-server.js";

const OPEN_SECONDS = 30;
const { server, client: admin, sdk: bb } = useTestServer({
  env: {
    CIRCUIT_BREAKER_FAILURE_THRESHOLD: "3",
    CIRCUIT_BREAKER_TIMEOUT_SECONDS: String(OPEN_SECONDS),
    CIRCUIT_BREAKER_MAX_TIMEOUT_SECONDS: "600",
    CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS: "1",
    CIRCUIT_BREAKER_SUCCESS_THRESHOLD: "2",
  },
  sdk: true,
});

const usage = {
  inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 1, text: 1, reasoning: 0 },
};

function answer(text: string): LanguageModelV4GenerateResult {
  return { content: [{ type: "text", text }], finishReason: { unified: "stop", raw: "stop" }, usage, warnings: [] };
}

function parts(text: string): LanguageModelV4StreamPart[] {
  return [
    { type: "stream-start", warnings: [] },
    { type: "text-start", id: "t" },
    { type: "text-delta", id: "t", delta: text },
    { type: "text-end", id: "t" },
    { type: "finish", finishReason: { unified: "stop", raw: "stop" }, usage },
  ];
}

/** A stream of `list`, then (with `thenError`) an error instead of its end. */
function streamOf(list: LanguageModelV4StreamPart[], thenError?: unknown): LanguageModelV4StreamResult {
  let i = 0;
  return {
    // One part per pull: an error() in start() would drop the parts queued before it.
    stream: new ReadableStream({
      pull(c) {
        const next = list[i++];
        if (next !== undefined) c.enqueue(next);
        else if (thenError === undefined) c.close();
        else c.error(thenError);
      },
    }),
  };
}

function apiError(statusCode: number, responseHeaders: Record<string, string> = {}): APICallError {
  return new APICallError({ message: `HTTP ${statusCode}`, url: "https://llm.example/v1/chat", requestBodyValues: {}, statusCode, responseHeaders, isRetryable: false });
}

const failing = (modelId: string, err: () => unknown = () => apiError(500)) =>
  new MockLanguageModelV4({
    modelId,
    doGenerate: async () => {
      throw err();
    },
    doStream: async () => {
      throw err();
    },
  });

const healthy = (modelId: string, text = "primary") =>
  new MockLanguageModelV4({ modelId, doGenerate: async () => answer(text), doStream: async () => streamOf(parts(text)) });

const fallbackModel = () =>
  new MockLanguageModelV4({ modelId: "fallback", doGenerate: async () => answer("from fallback"), doStream: async () => streamOf(parts("from fallback")) });

/** The circuit's status on the server, once the client's queued Reports were delivered. */
async function status(circuit: string) {
  expect(await bb.flush(5000)).toBe(true);
  return (await admin.call("getState", { circuit })).status!;
}

/** streamText read to its end: the text it streamed and the errors it carried or threw. */
async function streamed(model: Parameters<typeof streamText>[0]["model"]): Promise<{ text: string; errors: unknown[] }> {
  const result = streamText({ model, prompt: "hi", maxRetries: 0, onError: () => {} });
  let text = "";
  const errors: unknown[] = [];
  try {
    for await (const part of result.fullStream) {
      if (part.type === "text-delta") text += part.text;
      if (part.type === "error") errors.push(part.error);
    }
  } catch (err) {
    errors.push(err); // a stream that broke (rather than carrying an error part) throws here
  }
  return { text, errors };
}

describe("breakerboxMiddleware with generateText", () => {
  it("opens the model's circuit (llm.<provider>.<modelId>) after the failure threshold; then the fallback answers and the model is not called", async () => {
    const primary = failing("gen-trip");
    const fallback = fallbackModel();
    const model = wrapLanguageModel({ model: primary, middleware: breakerboxMiddleware(bb, { fallback }) });
    for (let i = 0; i < 3; i++) {
      const err = await generateText({ model, prompt: "hi", maxRetries: 0 }).catch((e: unknown) => e);
      expect(APICallError.isInstance(err) && err.statusCode).toBe(500); // the provider's own error, not a wrapper
    }
    const s = await status("llm.mock-provider.gen-trip");
    expect(s.state).toBe(State.OPEN);
    expect(s.stats!.totalFailures).toBe(3n);
    expect(primary.doGenerateCalls.length).toBe(3);
    expect(fallback.doGenerateCalls.length).toBe(0);

    const { text } = await generateText({ model, prompt: "hi", maxRetries: 0 });
    expect(text).toBe("from fallback");
    expect(primary.doGenerateCalls.length).toBe(3);
    expect(fallback.doGenerateCalls.length).toBe(1);
    expect(fallback.doGenerateCalls[0]!.prompt).toEqual(primary.doGenerateCalls[0]!.prompt);
  });

  it("throws the client's CircuitOpenError while OPEN when no fallback is given", async () => {
    const primary = failing("gen-nofallback");
    const model = wrapLanguageModel({ model: primary, middleware: breakerboxMiddleware(bb, { circuit: "ai.gen.nofallback" }) });
    for (let i = 0; i < 3; i++) await expect(generateText({ model, prompt: "hi", maxRetries: 0 })).rejects.toThrow("HTTP 500");
    expect((await status("ai.gen.nofallback")).state).toBe(State.OPEN);
    const err = await generateText({ model, prompt: "hi", maxRetries: 0 }).catch((e: unknown) => e);
    expect(CircuitOpenError.is(err)).toBe(true);
    expect((err as CircuitOpenError).circuit).toBe("ai.gen.nofallback");
    expect((err as CircuitOpenError).state).toBe("OPEN");
    expect(primary.doGenerateCalls.length).toBe(3);
  });

  it("closes again after the open duration once the half-open probes succeed", async () => {
    let down = true;
    const primary = new MockLanguageModelV4({
      modelId: "gen-recover",
      doGenerate: async () => {
        if (down) throw apiError(503);
        return answer("recovered");
      },
    });
    const model = wrapLanguageModel({ model: primary, middleware: breakerboxMiddleware(bb, { fallback: fallbackModel() }) });
    const circuit = "llm.mock-provider.gen-recover";
    for (let i = 0; i < 3; i++) await generateText({ model, prompt: "hi", maxRetries: 0 }).catch(() => undefined);
    expect((await status(circuit)).state).toBe(State.OPEN);
    down = false;
    server.clock.advance(OPEN_SECONDS * 1000);
    expect((await generateText({ model, prompt: "hi", maxRetries: 0 })).text).toBe("recovered"); // probe 1 of 2
    expect((await status(circuit)).state).toBe(State.HALF_OPEN);
    expect((await generateText({ model, prompt: "hi", maxRetries: 0 })).text).toBe("recovered"); // probe 2 of 2
    const s = await status(circuit);
    expect(s.state).toBe(State.CLOSED);
    expect(s.stats!.totalSuccesses).toBe(2n);
    expect(primary.doGenerateCalls.length).toBe(5);
  });

  it("reports a 400 APICallError as IGNORED: it never opens the circuit, and the caller gets the error itself", async () => {
    const thrown = apiError(400);
    const primary = failing("gen-400", () => thrown);
    const model = wrapLanguageModel({ model: primary, middleware: breakerboxMiddleware(bb) });
    for (let i = 0; i < 4; i++) await expect(generateText({ model, prompt: "hi", maxRetries: 0 })).rejects.toBe(thrown);
    const s = await status("llm.mock-provider.gen-400");
    expect(s.state).toBe(State.CLOSED);
    expect(s.stats!.totalIgnored).toBe(4n);
    expect(s.stats!.totalFailures).toBe(0n);
    expect(primary.doGenerateCalls.length).toBe(4);
  });

  it("opens for at least a 429's retry-after-ms, longer than the configured open duration", async () => {
    const hintMs = 120_000;
    const primary = failing("gen-429", () => apiError(429, { "retry-after-ms": String(hintMs) }));
    const model = wrapLanguageModel({ model: primary, middleware: breakerboxMiddleware(bb) });
    const circuit = "llm.mock-provider.gen-429";
    const before = server.clock.now();
    for (let i = 0; i < 3; i++) await expect(generateText({ model, prompt: "hi", maxRetries: 0 })).rejects.toThrow("HTTP 429");
    const s = await status(circuit);
    expect(s.state).toBe(State.OPEN);
    expect(timestampMs(s.openUntil!) - before).toBeGreaterThanOrEqual(hintMs);
    server.clock.advance(OPEN_SECONDS * 1000 * 2); // twice the configured duration: still OPEN
    expect((await status(circuit)).state).toBe(State.OPEN);
    await expect(generateText({ model, prompt: "hi", maxRetries: 0 })).rejects.toSatisfy((e: unknown) => CircuitOpenError.is(e));
    server.clock.advance(hintMs - OPEN_SECONDS * 1000 * 2);
    expect((await status(circuit)).state).toBe(State.HALF_OPEN);
    expect(primary.doGenerateCalls.length).toBe(3);
  });
});

describe("breakerboxMiddleware with streamText", () => {
  it("opens after failed stream starts; then the fallback model streams and the model is not called", async () => {
    const primary = failing("stream-trip");
    const fallback = fallbackModel();
    const model = wrapLanguageModel({ model: primary, middleware: breakerboxMiddleware(bb, { fallback }) });
    for (let i = 0; i < 3; i++) {
      const { text, errors } = await streamed(model);
      expect(text).toBe("");
      expect(errors.map((e) => APICallError.isInstance(e) && e.statusCode)).toEqual([500]);
    }
    expect((await status("llm.mock-provider.stream-trip")).state).toBe(State.OPEN);
    expect(primary.doStreamCalls.length).toBe(3);
    expect(await streamed(model)).toEqual({ text: "from fallback", errors: [] });
    expect(primary.doStreamCalls.length).toBe(3);
    expect(fallback.doStreamCalls.length).toBe(1);
  });

  it("counts an error thrown mid-stream as a FAILURE, after the parts before it reached the reader", async () => {
    const primary = new MockLanguageModelV4({
      modelId: "stream-midway",
      doStream: async () => streamOf(parts("partial").slice(0, 3), new Error("connection reset")),
    });
    const model = wrapLanguageModel({ model: primary, middleware: breakerboxMiddleware(bb) });
    const circuit = "llm.mock-provider.stream-midway";
    const first = await streamed(model);
    expect(first.text).toBe("partial");
    expect(first.errors.map((e) => (e as Error).message)).toEqual(["connection reset"]);
    const s = await status(circuit);
    expect(s.stats!.totalFailures).toBe(1n);
    expect(s.stats!.totalSuccesses).toBe(0n);
    await streamed(model);
    await streamed(model);
    expect((await status(circuit)).state).toBe(State.OPEN);
  });

  it("counts an error part in the stream as a FAILURE", async () => {
    const primary = new MockLanguageModelV4({
      modelId: "stream-errorpart",
      doStream: async () => streamOf([...parts("x").slice(0, 3), { type: "error", error: apiError(529) }, ...parts("x").slice(3)]),
    });
    const model = wrapLanguageModel({ model: primary, middleware: breakerboxMiddleware(bb) });
    for (let i = 0; i < 3; i++) expect((await streamed(model)).errors.length).toBe(1);
    const s = await status("llm.mock-provider.stream-errorpart");
    expect(s.state).toBe(State.OPEN);
    expect(s.stats!.totalFailures).toBe(3n);
  });

  it("reports a stream when it ends, not when it starts", async () => {
    let push!: ReadableStreamDefaultController<LanguageModelV4StreamPart>;
    const primary = new MockLanguageModelV4({
      modelId: "stream-late",
      doStream: async () => ({ stream: new ReadableStream<LanguageModelV4StreamPart>({ start: (c) => void (push = c) }) }),
    });
    const model = wrapLanguageModel({ model: primary, middleware: breakerboxMiddleware(bb) });
    const circuit = "llm.mock-provider.stream-late";
    const { stream } = await model.doStream({ prompt: [{ role: "user", content: [{ type: "text", text: "hi" }] }] });
    const reader = stream.getReader();
    for (const p of parts("slow").slice(0, 3)) push.enqueue(p);
    for (let i = 0; i < 3; i++) await reader.read();
    let s = await status(circuit);
    expect(s.stats!.totalSuccesses).toBe(0n);
    expect(s.stats!.totalFailures).toBe(0n);
    for (const p of parts("slow").slice(3)) push.enqueue(p);
    push.close();
    while (!(await reader.read()).done);
    // The reader saw the end only after the outcome was settled and queued for the Report.
    s = await status(circuit);
    expect(s.stats!.totalSuccesses).toBe(1n);
    expect(s.state).toBe(State.CLOSED);
  });

  it("reports a stream its reader cancelled as IGNORED, and cancels the model's stream", async () => {
    let cancelledWith: unknown;
    const primary = new MockLanguageModelV4({
      modelId: "stream-cancel",
      doStream: async () => ({
        stream: new ReadableStream<LanguageModelV4StreamPart>({
          start: (c) => c.enqueue({ type: "stream-start", warnings: [] }),
          cancel: (reason) => void (cancelledWith = reason),
        }),
      }),
    });
    const model = wrapLanguageModel({ model: primary, middleware: breakerboxMiddleware(bb) });
    const { stream } = await model.doStream({ prompt: [{ role: "user", content: [{ type: "text", text: "hi" }] }] });
    const reader = stream.getReader();
    expect((await reader.read()).value).toEqual({ type: "stream-start", warnings: [] });
    await reader.cancel("user went away");
    expect(cancelledWith).toBe("user went away");
    const s = await status("llm.mock-provider.stream-cancel"); // cancel() resolved once the outcome was reported
    expect(s.stats!.totalIgnored).toBe(1n);
    expect(s.stats!.totalSuccesses).toBe(0n);
    expect(s.stats!.totalFailures).toBe(0n);
  });

  it("times a stream out as a whole: TIMEOUT is reported, the stream errors with CallTimeoutError and the model's signal is aborted", async () => {
    const primary = new MockLanguageModelV4({
      modelId: "stream-timeout",
      doStream: async () => ({ stream: new ReadableStream<LanguageModelV4StreamPart>({ start: (c) => c.enqueue({ type: "stream-start", warnings: [] }) }) }),
    });
    const model = wrapLanguageModel({ model: primary, middleware: breakerboxMiddleware(bb, { timeoutMs: 50 }) });
    const { stream } = await model.doStream({ prompt: [{ role: "user", content: [{ type: "text", text: "hi" }] }] });
    const reader = stream.getReader();
    await reader.read();
    const err = await reader.read().catch((e: unknown) => e); // the stream never ends by itself
    expect(CallTimeoutError.is(err)).toBe(true);
    expect((err as CallTimeoutError).circuit).toBe("llm.mock-provider.stream-timeout");
    expect(primary.doStreamCalls[0]!.abortSignal?.aborted).toBe(true);
    const s = await status("llm.mock-provider.stream-timeout"); // the stream errored once the outcome was reported
    expect(s.stats!.totalTimeouts).toBe(1n);
    expect(s.stats!.totalSuccesses).toBe(0n);
  });

  it("closes again after half-open probes that stream to their end", async () => {
    let down = true;
    const primary = new MockLanguageModelV4({
      modelId: "stream-recover",
      doStream: async () => (down ? streamOf(parts("no").slice(0, 2), new Error("overloaded")) : streamOf(parts("back"))),
    });
    const model = wrapLanguageModel({ model: primary, middleware: breakerboxMiddleware(bb, { fallback: fallbackModel() }) });
    const circuit = "llm.mock-provider.stream-recover";
    for (let i = 0; i < 3; i++) await streamed(model);
    expect((await status(circuit)).state).toBe(State.OPEN);
    expect((await streamed(model)).text).toBe("from fallback");
    down = false;
    server.clock.advance(OPEN_SECONDS * 1000);
    expect((await streamed(model)).text).toBe("back");
    expect((await status(circuit)).state).toBe(State.HALF_OPEN);
    expect((await streamed(model)).text).toBe("back");
    expect((await status(circuit)).state).toBe(State.CLOSED);
    expect(primary.doStreamCalls.length).toBe(5);
  });
});

describe("breakerboxMiddleware under generateText's own retries", () => {
  // The AI SDK retries a retryable APICallError itself (maxRetries), honouring
  // its retry-after-ms: each retry is a guarded call of its own. 200 ms leaves
  // time for the failure's Report (it lingers 2 ms) to reach the server.
  const retryable = () =>
    new APICallError({ message: "HTTP 500", url: "https://llm.example/v1/chat", requestBodyValues: {}, statusCode: 500, responseHeaders: { "retry-after-ms": "200" }, isRetryable: true });
  const flaky = (modelId: string) => {
    const model = new MockLanguageModelV4({
      modelId,
      doGenerate: async () => {
        model.calls++;
        throw retryable();
      },
    }) as MockLanguageModelV4 & { calls: number };
    model.calls = 0;
    return model;
  };

  it("a retry that finds the circuit OPEN gets the fallback model's answer", async () => {
    const primary = flaky("retrying");
    const model = wrapLanguageModel({ model: primary, middleware: breakerboxMiddleware(bb, { fallback: fallbackModel() }) });
    const result = await generateText({ model, prompt: "hi", maxRetries: 5 });
    expect(result.text).toBe("from fallback");
    expect(primary.calls).toBe(3); // the threshold: the fourth attempt was denied
    expect((await status("llm.mock-provider.retrying")).state).toBe(State.OPEN);
  });

  it("without a fallback, the AI SDK's RetryError carries the CircuitOpenError as its lastError", async () => {
    const primary = flaky("retrying-bare");
    const model = wrapLanguageModel({ model: primary, middleware: breakerboxMiddleware(bb) });
    const err = await generateText({ model, prompt: "hi", maxRetries: 5 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(RetryError.isInstance(err)).toBe(true);
    expect(CircuitOpenError.is((err as RetryError).lastError)).toBe(true);
    expect((err as RetryError).errors).toHaveLength(4);
    expect(primary.calls).toBe(3);
  });
});
