/**
 * BatchReport, agent_instance_id and principals over a real grpc-js client:
 * a batch answers each report in request order with exactly what Report
 * answers (its response, or its status code and message), applies reports of
 * one circuit in order, refuses the batch as a whole only for its size; and
 * the API key's name plus the declared agent instance reach GetHistory as the
 * principal of what the caller caused.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { status as Status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import {
  Outcome,
  ReportDisposition,
  ReportResponseSchema,
  State,
  type ReportRequestSchema,
  type ReportResponse,
} from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { CallError } from "../support/grpc-client.js";
import { useTestServer } from "../support/use-test-server.js";

const AGENT_KEY = "agent-Bt5nR2kW8qL1xJ7mC4vH";
const ADMIN_KEY = "admin-Gy3sD9fP6hZ0tN2wE5uK";
const AGENT = { authorization: `Bearer ${AGENT_KEY}` };
const ADMIN = { authorization: `Bearer ${ADMIN_KEY}` };

const { client } = useTestServer({
  env: { BREAKERBOX_HOST: "127.0.0.1", BREAKERBOX_API_KEYS: `agents:agent:${AGENT_KEY},ops:admin:${ADMIN_KEY}`, CIRCUIT_BREAKER_FAILURE_THRESHOLD: "3" },
});

type ReportInit = MessageInitShape<typeof ReportRequestSchema>;

/** The CallError `call` fails with. */
const failure = (call: Promise<unknown>): Promise<CallError> =>
  call.then(
    () => Promise.reject(new Error("expected the call to fail")),
    (e: unknown) => (e instanceof CallError ? e : Promise.reject(e)),
  );

async function permit(circuit: string, agentInstanceId = ""): Promise<string> {
  const r = await client.call("acquire", { circuit, agentInstanceId }, AGENT);
  expect(r.allowed).toBe(true);
  return r.permit;
}

function response(init: MessageInitShape<typeof ReportResponseSchema>): ReportResponse {
  return create(ReportResponseSchema, init);
}

/** What Report alone answers for `report`: its response, or {code, message} of its failure. */
async function reportAlone(report: ReportInit): Promise<{ response: ReportResponse } | { code: number; message: string }> {
  try {
    return { response: await client.call("report", report, AGENT) };
  } catch (e) {
    if (!(e instanceof CallError)) throw e;
    return { code: e.code, message: e.details };
  }
}

describe("BatchReport", () => {
  it("answers each report in request order, as Report would: responses and exact error statuses", async () => {
    const [a, b] = ["batch.mixed.a", "batch.mixed.b"];
    const pa = await permit(a);
    const pb = await permit(b);
    const unreported = await permit(a);
    const reports: ReportInit[] = [
      { circuit: a, permit: pa, outcome: Outcome.FAILURE },
      { circuit: a, permit: pa, outcome: Outcome.SUCCESS }, // the same permit, another outcome
      { circuit: "", permit: pa, outcome: Outcome.FAILURE },
      { circuit: a, permit: "not-a-permit", outcome: Outcome.FAILURE },
      { circuit: a, permit: unreported, outcome: 42 as Outcome },
      { circuit: b, permit: pb, outcome: Outcome.SUCCESS, agentInstanceId: "has space" },
      { circuit: b, permit: pb, outcome: Outcome.SUCCESS, agentInstanceId: "pod-1" },
      { circuit: a, permit: unreported, outcome: Outcome.SUCCESS, duration: durationFromMs(-5) },
      { circuit: b, permit: pb, outcome: Outcome.SUCCESS, agentInstanceId: "pod-1" },
      { circuit: "batch.mixed.never", permit: pa, outcome: Outcome.SUCCESS },
    ];
    const { results } = await client.call("batchReport", { reports }, AGENT);
    expect(results.map((r) => r.result.case)).toEqual(["response", "response", "error", "error", "error", "error", "response", "error", "response", "error"]);
    const value = (i: number): unknown => results[i]!.result.value;
    expect(value(0)).toEqual(
      response({ state: State.CLOSED, disposition: ReportDisposition.RECORDED, recordedOutcome: Outcome.FAILURE }),
    );
    expect(value(1)).toEqual(
      response({ state: State.CLOSED, disposition: ReportDisposition.CONFLICT, recordedOutcome: Outcome.FAILURE, duplicate: true }),
    );
    const error = (i: number): { code: number; message: string } => {
      const r = results[i]!.result;
      if (r.case !== "error") throw new Error(`result ${i} is not an error`);
      return { code: r.value.code, message: r.value.message };
    };
    expect(error(2)).toEqual({ code: Status.INVALID_ARGUMENT, message: "reports[2].circuit is required" });
    expect(error(3)).toMatchObject({ code: Status.FAILED_PRECONDITION });
    expect(error(4)).toEqual({
      code: Status.INVALID_ARGUMENT,
      message: "reports[4].outcome has unknown value 42; use OUTCOME_SUCCESS, OUTCOME_FAILURE, OUTCOME_TIMEOUT or OUTCOME_IGNORED",
    });
    expect(error(5)).toEqual({ code: Status.INVALID_ARGUMENT, message: "reports[5].agent_instance_id may hold only letters, digits and . _ : / @ -" });
    expect(value(6)).toEqual(response({ state: State.CLOSED, disposition: ReportDisposition.RECORDED, recordedOutcome: Outcome.SUCCESS }));
    expect(error(7)).toEqual({ code: Status.INVALID_ARGUMENT, message: "reports[7].duration must not be negative" });
    expect(value(8)).toEqual(
      response({ state: State.CLOSED, disposition: ReportDisposition.DUPLICATE, recordedOutcome: Outcome.SUCCESS, duplicate: true }),
    );
    expect(error(9)).toMatchObject({ code: Status.FAILED_PRECONDITION });

    // The failed ones fail exactly as Report alone does (same code, same message; field names unprefixed there).
    expect(await reportAlone(reports[3]!)).toEqual(error(3));
    expect(await reportAlone(reports[9]!)).toEqual(error(9));
    // Nothing but reports 0 and 6 counted.
    const stats = async (circuit: string) => (await client.call("getState", { circuit }, AGENT)).status!.stats!;
    expect(await stats(a)).toMatchObject({ totalFailures: 1n, totalSuccesses: 0n });
    expect(await stats(b)).toMatchObject({ totalFailures: 0n, totalSuccesses: 1n });
  });

  it("applies the reports of one circuit in order, interleaved with others", async () => {
    const [a, b] = ["batch.order.a", "batch.order.b"];
    const permits = [await permit(a), await permit(b), await permit(a), await permit(a), await permit(b)];
    const circuits = [a, b, a, a, b];
    const { results } = await client.call(
      "batchReport",
      { reports: permits.map((p, i) => ({ circuit: circuits[i]!, permit: p, outcome: Outcome.FAILURE })) },
      AGENT,
    );
    // The third failure of `a` (report 3) opens it; `b` has two and stays CLOSED.
    expect(results.map((r) => (r.result.case === "response" ? `${State[r.result.value.state]} ${ReportDisposition[r.result.value.disposition]}` : "error"))).toEqual([
      "CLOSED RECORDED",
      "CLOSED RECORDED",
      "CLOSED RECORDED",
      "OPEN RECORDED",
      "CLOSED RECORDED",
    ]);
  });

  it("refuses an empty batch and one of more than 100 reports as a whole, applying none", async () => {
    const circuit = "batch.size";
    const p = await permit(circuit);
    const empty = await failure(client.call("batchReport", { reports: [] }, AGENT));
    expect([empty.code, empty.details]).toEqual([Status.INVALID_ARGUMENT, "reports must hold at least one report"]);
    const reports = Array.from({ length: 101 }, () => ({ circuit, permit: p, outcome: Outcome.FAILURE }));
    const tooMany = await failure(client.call("batchReport", { reports }, AGENT));
    expect([tooMany.code, tooMany.details]).toEqual([Status.INVALID_ARGUMENT, "reports has 101 reports; at most 100 per call"]);
    expect((await client.call("getState", { circuit }, AGENT)).status!.stats).toMatchObject({ totalFailures: 0n });
    const hundred = await client.call("batchReport", { reports: reports.slice(0, 100) }, AGENT);
    expect(hundred.results.map((r) => (r.result.case === "response" ? ReportDisposition[r.result.value.disposition] : "error"))).toEqual([
      "RECORDED",
      ...Array<string>(99).fill("DUPLICATE"),
    ]);
  });

  it("needs an API key like Report", async () => {
    const e = await failure(client.call("batchReport", { reports: [{ circuit: "batch.key", permit: "x", outcome: Outcome.SUCCESS }] }));
    expect(e.code).toBe(Status.UNAUTHENTICATED);
  });
});

describe("agent_instance_id", () => {
  const tooLong = "a".repeat(129);
  const cases: [string, () => Promise<unknown>, string][] = [
    ["Acquire, too long", () => client.call("acquire", { circuit: "aid.x", agentInstanceId: tooLong }, AGENT), "agent_instance_id is 129 characters long; at most 128 are allowed"],
    ["Acquire, bad character", () => client.call("acquire", { circuit: "aid.x", agentInstanceId: "pod 1" }, AGENT), "agent_instance_id may hold only letters, digits and . _ : / @ -"],
    ["AcquireAny", () => client.call("acquireAny", { circuits: ["aid.x"], agentInstanceId: "pod#1" }, AGENT), "agent_instance_id may hold only letters, digits and . _ : / @ -"],
    [
      "Report",
      () => client.call("report", { circuit: "aid.x", permit: "p", outcome: Outcome.SUCCESS, agentInstanceId: tooLong }, AGENT),
      "agent_instance_id is 129 characters long; at most 128 are allowed",
    ],
  ];
  it.each(cases)("%s: INVALID_ARGUMENT naming the field", async (_, call, message) => {
    const e = await failure(call());
    expect([e.code, e.details]).toEqual([Status.INVALID_ARGUMENT, message]);
  });

  it("accepts 128 characters of [A-Za-z0-9._:/@-], and none", async () => {
    const id = "Az09._:/@-".repeat(12) + "abcdefgh";
    expect(id).toHaveLength(128);
    expect((await client.call("acquire", { circuit: "aid.ok", agentInstanceId: id }, AGENT)).allowed).toBe(true);
    expect((await client.call("acquireAny", { circuits: ["aid.ok"], agentInstanceId: id }, AGENT)).allowed).toBe(true);
    const p = await permit("aid.ok");
    expect((await client.call("report", { circuit: "aid.ok", permit: p, outcome: Outcome.SUCCESS, agentInstanceId: id }, AGENT)).disposition).toBe(
      ReportDisposition.RECORDED,
    );
  });
});

describe("principals in history", () => {
  it("a traffic transition carries the reporter's key name and agent instance; admin ones and config changes the admin's", async () => {
    const circuit = "principal.e2e";
    await client.call("configure", { target: { case: "circuit", value: circuit }, config: { failureThreshold: 2 } }, ADMIN);
    const reports: ReportInit[] = [];
    for (const pod of ["pod-a", "pod-b"]) reports.push({ circuit, permit: await permit(circuit, pod), outcome: Outcome.FAILURE, agentInstanceId: pod });
    await client.call("batchReport", { reports }, AGENT);
    await client.call("reset", { circuit }, ADMIN);
    const { entries } = await client.call("getHistory", { circuit }, AGENT);
    const shown = entries.map((e) => {
      const x = e.entry;
      if (x.case === "transition") return `${x.value.reason} by ${x.value.principal?.keyName}/${x.value.principal?.agentInstanceId} actor ${x.value.actor}`;
      if (x.case === "configChange") return `config by ${x.value.principal?.keyName}/${x.value.principal?.agentInstanceId} actor ${x.value.actor}`;
      return "?";
    });
    expect(shown).toEqual(["reset by ops/ actor ops", "consecutive_failures by agents/pod-b actor ", "config by ops/ actor ops"]);
  });
});
