/**
 * watch() decides on the error reason, not the code alone: a stream cut for
 * falling behind (WATCHER_TOO_SLOW) resumes at once with the last resume
 * token; RESUME_TOKEN_EXPIRED starts over without one; the server's
 * RetryInfo is a floor under the reconnect backoff. A fake transport scripts
 * the answers and records each Watch request with when it was made.
 */
import { create } from "@bufbuild/protobuf";
import { describe, expect, it, vi } from "vitest";
import { WatchResponseSchema, type WatchResponse } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { BreakerboxRpcError } from "../../clients/typescript/src/errors.js";
import type { Transport } from "../../clients/typescript/src/grpc-transport.js";
import { watchUpdates } from "../../clients/typescript/src/watch.js";

/** snapshot_complete as the server sends it: the token in the marker and on the message. */
const complete = (token: string): WatchResponse =>
  create(WatchResponseSchema, { kind: { case: "snapshotComplete", value: { resumeToken: token } }, resumeToken: token });

function rpcError(code: number, codeName: string, reason: string, retryDelayMs?: number): BreakerboxRpcError {
  return new BreakerboxRpcError(code, codeName, "m", { reason, retryDelayMs, fieldViolations: [], metadata: {} });
}

/** Each Watch yields its script's messages, then throws its error (or waits to be aborted). */
function scripted(scripts: { messages: WatchResponse[]; error?: Error }[]) {
  const calls: { resumeToken: string; at: number }[] = [];
  const transport: Transport = {
    unary: () => Promise.reject(new Error("not used")),
    watch(request, signal) {
      calls.push({ resumeToken: request.resumeToken ?? "", at: performance.now() });
      const script = scripts.shift() ?? { messages: [] };
      return (async function* () {
        yield* script.messages;
        if (script.error !== undefined) throw script.error;
        await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
      })();
    },
    close: () => {},
  };
  return { transport, calls };
}

async function run(scripts: Parameters<typeof scripted>[0], updates: number, backoff = { initialMs: 200, maxMs: 200 }) {
  const { transport, calls } = scripted(scripts);
  const closing = new AbortController();
  const it = watchUpdates({}, { transport, backoff, closing: closing.signal, onTransition: () => {} });
  for (let i = 0; i < updates; i++) await it.next();
  closing.abort();
  await it.return!(undefined);
  return calls;
}

describe("watch() by error reason", () => {
  it("resumes at once with the last token after WATCHER_TOO_SLOW", async () => {
    // Timers are fake and never advanced: the second Watch happens with no timer firing, so not
    // after the 200 ms backoff (an elapsed-time bound would break on a slow machine).
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const { transport, calls } = scripted([{ messages: [complete("t1")], error: rpcError(8, "RESOURCE_EXHAUSTED", "WATCHER_TOO_SLOW", 0) }, { messages: [complete("t2")] }]);
      const closing = new AbortController();
      const it = watchUpdates({}, { transport, backoff: { initialMs: 200, maxMs: 200 }, closing: closing.signal, onTransition: () => {} });
      expect((await it.next()).value).toMatchObject({ type: "snapshot_complete" });
      const second = it.next();
      await vi.advanceTimersByTimeAsync(0);
      expect(calls.map((c) => c.resumeToken)).toEqual(["", "t1"]);
      expect(vi.getTimerCount()).toBe(0);
      expect((await second).value).toMatchObject({ type: "snapshot_complete" });
      closing.abort();
      await it.return!(undefined);
    } finally {
      vi.useRealTimers();
    }
  });

  it("starts over without a token after RESUME_TOKEN_EXPIRED", async () => {
    const calls = await run([{ messages: [complete("t1")], error: rpcError(11, "OUT_OF_RANGE", "RESUME_TOKEN_EXPIRED") }, { messages: [complete("t2")] }], 2, { initialMs: 1, maxMs: 1 });
    expect(calls.map((c) => c.resumeToken)).toEqual(["", ""]);
  });

  it("waits at least the RetryInfo delay after STORE_UNAVAILABLE", async () => {
    const calls = await run([{ messages: [complete("t1")], error: rpcError(14, "UNAVAILABLE", "STORE_UNAVAILABLE", 300) }, { messages: [complete("t2")] }], 2, { initialMs: 1, maxMs: 1 });
    expect(calls.map((c) => c.resumeToken)).toEqual(["", "t1"]);
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(290);
  });
});
