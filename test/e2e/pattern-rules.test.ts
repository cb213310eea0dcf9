/**
 * Pattern rules, update_mask, ForceState's pin and the enums beside the
 * strings, over a real grpc-js client against a server with a config file
 * (one file rule) and API keys (the admin "oncall" is the rules' author).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status as Status } from "@grpc/grpc-js";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { afterAll, describe, expect, it } from "vitest";
import {
  ConfigSourceKind,
  PatternRuleOrigin,
  Pin,
  State,
  TransitionCause,
} from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { CallError } from "../support/grpc-client.js";
import { useTestServer } from "../support/use-test-server.js";

const dir = mkdtempSync(join(tmpdir(), "bb-rules-"));
const configFile = join(dir, "breakerbox.yaml");
writeFileSync(configFile, 'rules:\n  - pattern: "file.*"\n    config:\n      failure_threshold: 9\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ADMIN = { authorization: "Bearer admin-key-for-rules-test" };
const AGENT = { authorization: "Bearer agent-key-for-rules-test" };
const { server, client } = useTestServer({
  env: { BREAKERBOX_CONFIG: configFile, BREAKERBOX_API_KEYS: "oncall:admin:admin-key-for-rules-test,fleet:agent:agent-key-for-rules-test" },
});

async function failure(p: Promise<unknown>): Promise<CallError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (err instanceof CallError) return err;
  throw new Error(`expected the call to fail, got ${String(err)}`);
}

const pattern = (value: string) => ({ case: "pattern" as const, value });
const circuit = (value: string) => ({ case: "circuit" as const, value });

describe("pattern rules over gRPC", () => {
  it("Configure on a pattern answers the rule; ListPatternRules pages through runtime rules then file rules", async () => {
    const t = server.clock.now();
    const first = await client.call("configure", { target: pattern("e2e.a.*"), config: { failureThreshold: 2 } }, ADMIN);
    expect(first.status).toBeUndefined();
    expect(first.rule).toMatchObject({
      pattern: "e2e.a.*",
      precedence: 1,
      config: { failureThreshold: 2 },
      preset: "",
      origin: PatternRuleOrigin.RUNTIME,
      updateTime: timestampFromMs(t),
      updatedBy: { keyName: "oncall", agentInstanceId: "" },
    });
    expect(first.rule!.config!.jitter).toBeUndefined();
    await client.call("configure", { target: pattern("e2e.*"), preset: "io", precedence: 10 }, ADMIN);
    await client.call("configure", { target: pattern("e2e.b.*"), config: { jitter: 0.1 }, precedence: 10 }, ADMIN);

    const all = await client.call("listPatternRules", {}, AGENT);
    expect(all.rules.map((r) => [r.pattern, r.precedence, r.origin])).toEqual([
      ["e2e.a.*", 1, PatternRuleOrigin.RUNTIME],
      ["e2e.*", 10, PatternRuleOrigin.RUNTIME],
      ["e2e.b.*", 10, PatternRuleOrigin.RUNTIME],
      ["file.*", 0, PatternRuleOrigin.CONFIG_FILE],
    ]);
    expect(all.nextPageToken).toBe("");
    expect(all.rules[3]!.updateTime).toBeUndefined();
    expect(all.rules[3]!.updatedBy).toBeUndefined();
    expect(all.rules[3]!.config).toMatchObject({ failureThreshold: 9 });

    const seen: string[] = [];
    let token = "";
    let pages = 0;
    do {
      const page = await client.call("listPatternRules", { pageSize: 3, pageToken: token }, AGENT);
      seen.push(...page.rules.map((r) => r.pattern));
      token = page.nextPageToken;
      pages += 1;
    } while (token !== "");
    expect([seen, pages]).toEqual([["e2e.a.*", "e2e.*", "e2e.b.*", "file.*"], 2]);

    const bad = await failure(client.call("listPatternRules", { pageToken: "garbage" }, AGENT));
    expect([bad.code, bad.details]).toEqual([
      Status.INVALID_ARGUMENT,
      "page_token is not a next_page_token this server issued; pass it unchanged, or restart the listing without it",
    ]);
  });

  it("DeletePatternRule answers the deleted rule and the circuits it governed; NOT_FOUND and FAILED_PRECONDITION otherwise", async () => {
    await client.call("configure", { target: pattern("del.*"), config: { failureThreshold: 4 } }, ADMIN);
    await client.call("acquire", { circuit: "del.one" }, AGENT);
    const deleted = await client.call("deletePatternRule", { pattern: "del.*" }, ADMIN);
    expect(deleted.matchedCircuits).toBe(1);
    expect(deleted.rule).toMatchObject({ pattern: "del.*", config: { failureThreshold: 4 }, origin: PatternRuleOrigin.RUNTIME });
    const status = (await client.call("getState", { circuit: "del.one" }, AGENT)).status!;
    expect(status.configSources).toEqual(["defaults"]);
    expect(status.configSourceDetails).toMatchObject([{ kind: ConfigSourceKind.DEFAULTS, name: "" }]);
    const history = (await client.call("getHistory", { circuit: "del.one" }, AGENT)).entries;
    expect(history[0]!.entry).toMatchObject({
      case: "configChange",
      value: { target: "del.*", actor: "oncall", circuit: "del.one", principal: { keyName: "oncall", agentInstanceId: "" } },
    });
    // Where the circuit's config comes from once the rule is gone.
    const change = history[0]!.entry.case === "configChange" ? history[0]!.entry.value : undefined;
    expect(change?.newConfigSources.map((s) => [s.kind, s.name])).toEqual([[ConfigSourceKind.DEFAULTS, ""]]);

    const missing = await failure(client.call("deletePatternRule", { pattern: "del.*" }, ADMIN));
    expect([missing.code, missing.details]).toEqual([Status.NOT_FOUND, 'pattern rule "del.*" does not exist (ListPatternRules lists the rules)']);
    const fromFile = await failure(client.call("deletePatternRule", { pattern: "file.*" }, ADMIN));
    expect([fromFile.code, fromFile.details]).toEqual([
      Status.FAILED_PRECONDITION,
      'pattern rule "file.*" comes from the config file; remove it there (only runtime rules can be deleted)',
    ]);
    const agent = await failure(client.call("deletePatternRule", { pattern: "e2e.*" }, AGENT));
    expect(agent.code).toBe(Status.PERMISSION_DENIED);
  });

  it("config_source_details carries the sources structured, beside the strings", async () => {
    await client.call("configure", { target: pattern("src.*"), preset: "llm" }, ADMIN);
    const res = await client.call("configure", { target: circuit("src.one"), config: { failureThreshold: 5 } }, ADMIN);
    expect(res.rule).toBeUndefined();
    expect(res.status!.configSources).toEqual(["circuit", "pattern:src.*", "preset:llm", "defaults"]);
    expect(res.status!.configSourceDetails.map((d) => [d.kind, d.name])).toEqual([
      [ConfigSourceKind.CIRCUIT, ""],
      [ConfigSourceKind.PATTERN_RULE, "src.*"],
      [ConfigSourceKind.PRESET, "llm"],
      [ConfigSourceKind.DEFAULTS, ""],
    ]);
  });

  it("update_mask sets the named fields, clears named unset ones, keeps the rest; refuses unknown paths and replace", async () => {
    await client.call("configure", { target: circuit("mask.one"), config: { failureThreshold: 4, jitter: 0.3 } }, ADMIN);
    const res = await client.call(
      "configure",
      { target: circuit("mask.one"), config: { failureThreshold: 7, successThreshold: 9 }, updateMask: { paths: ["failure_threshold", "jitter"] } },
      ADMIN,
    );
    // failure_threshold set; jitter named but unset: cleared back to the defaults (a fresh circuit's);
    // success_threshold set in config but not named: not applied.
    await client.call("acquire", { circuit: "fresh.one" }, AGENT);
    const defaults = (await client.call("getState", { circuit: "fresh.one" }, AGENT)).status!.config!;
    expect(res.status!.config).toMatchObject({ failureThreshold: 7, jitter: defaults.jitter, successThreshold: defaults.successThreshold });

    const unknown = await failure(
      client.call("configure", { target: circuit("mask.one"), config: {}, updateMask: { paths: ["jitter", "open_durration"] } }, ADMIN),
    );
    expect(unknown.code).toBe(Status.INVALID_ARGUMENT);
    expect(unknown.details).toMatch(/^update_mask\.paths\[1\] is "open_durration", not a config field; use enabled, failure_threshold, .* or preset$/);
    const withReplace = await failure(
      client.call("configure", { target: circuit("mask.one"), replace: true, updateMask: { paths: ["jitter"] } }, ADMIN),
    );
    expect([withReplace.code, withReplace.details.split(":")[0]]).toEqual([Status.INVALID_ARGUMENT, "update_mask cannot be combined with replace=true"]);
    const precedenceOnCircuit = await failure(
      client.call("configure", { target: circuit("mask.one"), config: { jitter: 0.2 }, precedence: 3 }, ADMIN),
    );
    expect([precedenceOnCircuit.code, precedenceOnCircuit.details]).toEqual([
      Status.INVALID_ARGUMENT,
      "precedence applies to a pattern target only; leave it unset for a circuit",
    ]);
  });
});

describe("ForceState pin", () => {
  it("pins with pin, releases with PIN_NONE, and still honours the deprecated state", async () => {
    const forced = await client.call("forceState", { circuit: "pin.one", pin: Pin.FORCED_OPEN }, ADMIN);
    expect(forced.status!.state).toBe(State.FORCED_OPEN);
    const released = await client.call("forceState", { circuit: "pin.one", pin: Pin.NONE }, ADMIN);
    expect(released.status!.state).toBe(State.CLOSED);
    // The deprecated field alone, and both agreeing.
    expect((await client.call("forceState", { circuit: "pin.one", state: State.DISABLED }, ADMIN)).status!.state).toBe(State.DISABLED);
    expect((await client.call("forceState", { circuit: "pin.one", state: State.CLOSED, pin: Pin.NONE }, ADMIN)).status!.state).toBe(State.CLOSED);
    const history = (await client.call("getHistory", { circuit: "pin.one" }, AGENT)).entries;
    const causes = history.map((h) => (h.entry.case === "transition" ? [h.entry.value.reason, h.entry.value.cause] : []));
    expect(causes).toEqual([
      ["released", TransitionCause.RELEASED],
      ["disabled", TransitionCause.DISABLED],
      ["released", TransitionCause.RELEASED],
      ["forced_open", TransitionCause.FORCED_OPEN],
    ]);
  });

  it.each([
    ["neither", {}, "pin is required: PIN_FORCED_OPEN, PIN_DISABLED or PIN_NONE (to release)"],
    ["disagreeing", { pin: Pin.DISABLED, state: State.FORCED_OPEN }, "pin is PIN_DISABLED but the deprecated state is STATE_FORCED_OPEN; set pin alone"],
    ["unknown pin", { pin: 42 as Pin }, "pin has unknown value 42; use PIN_FORCED_OPEN, PIN_DISABLED or PIN_NONE"],
  ])("refuses %s with INVALID_ARGUMENT on pin", async (_what, fields, message) => {
    const err = await failure(client.call("forceState", { circuit: "pin.two", ...fields }, ADMIN));
    expect([err.code, err.details]).toEqual([Status.INVALID_ARGUMENT, message]);
  });

  it("answers CircuitEvent.cause for traffic transitions too", async () => {
    await client.call("configure", { target: circuit("cause.one"), config: { failureThreshold: 1, openDuration: durationFromMs(1_000) } }, ADMIN);
    const permit = (await client.call("acquire", { circuit: "cause.one" }, AGENT)).permit;
    await client.call("report", { circuit: "cause.one", permit, outcome: 2 }, AGENT);
    const history = (await client.call("getHistory", { circuit: "cause.one" }, AGENT)).entries;
    expect(history[0]!.entry).toMatchObject({ case: "transition", value: { reason: "consecutive_failures", cause: TransitionCause.CONSECUTIVE_FAILURES } });
  });
});
