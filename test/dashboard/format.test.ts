/** The dashboard's history "Who" text: principal, then the reporters whose failures opened the circuit. */
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { principalLabel, transitionWho } from "../../dashboard/format.js";
import { CircuitEventSchema, PrincipalSchema } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";

const p = (keyName: string, agentInstanceId = "") => create(PrincipalSchema, { keyName, agentInstanceId });

describe("transitionWho", () => {
  it("names the reporter that tripped it, then every reporter whose failures counted", () => {
    const e = create(CircuitEventSchema, {
      reason: "consecutive_failures",
      principal: p("agents", "pod-b"),
      failureReporters: [p("agents", "pod-b"), p("batch", "pod-a"), p("ops")],
    });
    expect(transitionWho(e)).toBe("agents/pod-b; failures from agents/pod-b, batch/pod-a, ops");
  });

  it("names the admin of an admin transition, by principal or (recorded before principals) by actor", () => {
    expect(transitionWho(create(CircuitEventSchema, { reason: "reset", actor: "ops", principal: p("ops") }))).toBe("ops");
    expect(transitionWho(create(CircuitEventSchema, { reason: "reset", actor: "ops" }))).toBe("ops");
  });

  it("says traffic or time when nothing names who", () => {
    expect(transitionWho(create(CircuitEventSchema, { reason: "open_duration_elapsed" }))).toBe("traffic or time");
  });

  it("labels an unnamed reporter", () => {
    expect(principalLabel(p(""))).toBe("(unnamed)");
  });
});
