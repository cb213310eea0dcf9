/**
 * BatchReport's handler: a report that fails unexpectedly (a bug, not a bad
 * request) answers INTERNAL "internal error" in its result like any RPC would,
 * and its original error reaches onBatchReportError (the error interceptor
 * never sees it: the call itself succeeds). Bad requests are not reported there.
 */
import { create } from "@bufbuild/protobuf";
import { createContextValues, type HandlerContext } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { BatchReportRequestSchema, Outcome } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { createCircuitServiceImpl } from "../../src/server/circuit-service.js";
import { Breakerbox } from "../../src/service/breakerbox.js";
import { createMemoryStore } from "../../src/store/memory.js";
import { BUILTIN_DEFAULTS, BUILTIN_PRESETS } from "../../src/engine/index.js";

describe("BatchReport handler", () => {
  it("answers an unexpected failure INTERNAL in its result and hands the error to onBatchReportError", async () => {
    const store = createMemoryStore({ layers: { defaults: BUILTIN_DEFAULTS, presets: BUILTIN_PRESETS, rules: [] }, tickIntervalMs: 0 });
    const bug = new Error("disk on fire");
    store.report = async (circuit) => {
      if (circuit === "bug.x") throw bug;
      throw new Error("unreachable");
    };
    const seen: [unknown, number][] = [];
    const impl = createCircuitServiceImpl({ service: new Breakerbox({ store }), onBatchReportError: (err, i) => seen.push([err, i]) });
    const ctx = { values: createContextValues(), signal: new AbortController().signal } as unknown as HandlerContext;
    const req = create(BatchReportRequestSchema, {
      reports: [
        { circuit: "", permit: "p", outcome: Outcome.SUCCESS },
        { circuit: "bug.x", permit: "p", outcome: Outcome.SUCCESS },
      ],
    });
    const res = await (impl.batchReport as (r: typeof req, c: HandlerContext) => Promise<{ results: { result: { case: string; value: { code: number; message: string } } }[] }>)(req, ctx);
    expect(res.results.map((r) => [r.result.case, r.result.value.code, r.result.value.message])).toEqual([
      ["error", 3, "reports[0].circuit is required"],
      ["error", 13, "internal error"],
    ]);
    expect(seen).toEqual([[bug, 1]]);
    await store.close();
  });
});
