/**
 * The hand-written encoders of Acquire's and Report's replies write exactly
 * what protobuf-es's toBinary writes, for every combination of set fields
 * and the edge values of each.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import {
  AcquireResponseSchema,
  DenyReason,
  Outcome,
  ReportDisposition,
  ReportResponseSchema,
  State,
} from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { encodeAcquireResponse, encodeReportResponse } from "../../src/server/hot-path-encoders.js";

const permits = ["", "1y7mkjr.0.c.mwt9cj4a.c2fad91", "x".repeat(127), "x".repeat(128), "ü-é", "p".repeat(300)];
const retryAfters = [undefined, 0, 1, 999, 1000, 1500, 59_982, 600_000, 86_400_000 * 7];
const states = [State.UNSPECIFIED, State.CLOSED, State.OPEN, State.HALF_OPEN, State.FORCED_OPEN, State.DISABLED, 200, -1];
const reasons = [DenyReason.UNSPECIFIED, DenyReason.OPEN, DenyReason.FORCED_OPEN, DenyReason.HALF_OPEN_FULL];

describe("hot-path encoders", () => {
  it("encode AcquireResponse exactly as toBinary does", () => {
    let cases = 0;
    for (const allowed of [false, true])
      for (const permit of permits)
        for (const state of states)
          for (const ms of retryAfters)
            for (const reason of reasons)
              for (const shadowDenied of [false, true]) {
                const m = create(AcquireResponseSchema, {
                  allowed,
                  permit,
                  state,
                  reason,
                  shadowDenied,
                  ...(ms === undefined ? {} : { retryAfter: durationFromMs(ms) }),
                });
                const expected = Buffer.from(toBinary(AcquireResponseSchema, m));
                expect(encodeAcquireResponse(m), JSON.stringify({ allowed, permit, state, ms, reason, shadowDenied })).toEqual(expected);
                cases += 1;
              }
    expect(cases).toBe(2 * permits.length * states.length * retryAfters.length * reasons.length * 2);
  });

  it("encode ReportResponse exactly as toBinary does", () => {
    const dispositions = [ReportDisposition.UNSPECIFIED, ReportDisposition.RECORDED, ReportDisposition.STALE, ReportDisposition.DUPLICATE, ReportDisposition.CONFLICT, 300, -2];
    const outcomes = [Outcome.UNSPECIFIED, Outcome.SUCCESS, Outcome.FAILURE, Outcome.TIMEOUT, Outcome.IGNORED, 128, -1];
    let cases = 0;
    for (const state of states)
      for (const duplicate of [false, true])
        for (const stale of [false, true])
          for (const disposition of dispositions)
            for (const recordedOutcome of outcomes) {
              const m = create(ReportResponseSchema, { state, duplicate, stale, disposition, recordedOutcome });
              expect(encodeReportResponse(m), JSON.stringify({ state, duplicate, stale, disposition, recordedOutcome })).toEqual(
                Buffer.from(toBinary(ReportResponseSchema, m)),
              );
              cases += 1;
            }
    expect(cases).toBe(states.length * 4 * dispositions.length * outcomes.length);
  });
});
