/**
 * GET /metrics over real HTTP after real gRPC (and Connect) calls to a real
 * server on free ports, with the store's clock moved by the test. Every
 * assertion is on a parsed exposition: exact counter values, exact label sets.
 */
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { status as Status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { Mode, Outcome, State } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { CallError, type CircuitClient } from "../support/grpc-client.js";
import { useTestServer } from "../support/use-test-server.js";
import { circuitStates, parseExposition, sampleValue, samplesOf, scrape, type Exposition } from "../metrics/exposition.js";

const STATES = ["CLOSED", "OPEN", "HALF_OPEN", "FORCED_OPEN", "DISABLED"] as const;

/** The five breakerbox_circuit_state samples of `circuit`, as state → value. */
function stateGauge(e: Exposition, circuit: string): Record<string, number | undefined> {
  return Object.fromEntries(STATES.map((state) => [state, sampleValue(e, "breakerbox_circuit_state", { circuit, state })]));
}

function oneHot(state: (typeof STATES)[number]): Record<string, number> {
  return Object.fromEntries(STATES.map((s) => [s, s === state ? 1 : 0]));
}

async function configure(client: CircuitClient, circuit: string, config: Record<string, unknown>): Promise<void> {
  await client.call("configure", { target: { case: "circuit", value: circuit }, config });
}

async function acquireAndReport(client: CircuitClient, circuit: string, outcome: Outcome): Promise<string> {
  const a = await client.call("acquire", { circuit });
  expect(a.allowed, `Acquire of ${circuit} allowed`).toBe(true);
  await client.call("report", { circuit, permit: a.permit, outcome, duration: durationFromMs(5) });
  return a.permit;
}

async function callError(p: Promise<unknown>): Promise<CallError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CallError);
  return err as CallError;
}

describe("/metrics on one server", () => {
  const { server, client } = useTestServer();

  it("serves every breakerbox metric family with its type, plus process metrics", async () => {
    const e = await scrape(server.httpUrl);
    expect(e.types.get("breakerbox_circuit_state")).toBe("gauge");
    expect(e.types.get("breakerbox_calls_total")).toBe("counter");
    expect(e.types.get("breakerbox_rejections_total")).toBe("counter");
    expect(e.types.get("breakerbox_shadow_rejections_total")).toBe("counter");
    expect(e.types.get("breakerbox_transitions_total")).toBe("counter");
    expect(e.types.get("breakerbox_rpc_duration_seconds")).toBe("histogram");
    expect(e.types.get("breakerbox_store_duration_seconds")).toBe("histogram");
    expect(e.types.get("breakerbox_store_ready")).toBe("gauge");
    expect(sampleValue(e, "breakerbox_store_ready")).toBe(1);
    expect(e.types.get("process_cpu_user_seconds_total")).toBe("counter");
    expect(e.types.get("nodejs_eventloop_lag_seconds")).toBe("gauge");
  });

  it("counts outcomes, rejections and transitions exactly, and shows each circuit's state", async () => {
    const before = await scrape(server.httpUrl);
    const rpcCount = (e: Exposition, method: string, code = "OK"): number =>
      sampleValue(e, "breakerbox_rpc_duration_seconds_count", { method, code }) ?? 0;
    const storeCount = (e: Exposition, operation: string, result = "ok"): number =>
      sampleValue(e, "breakerbox_store_duration_seconds_count", { operation, result }) ?? 0;

    await configure(client, "m.opens", { failureThreshold: 2, openDuration: durationFromMs(30_000) });
    await acquireAndReport(client, "m.opens", Outcome.FAILURE);
    await acquireAndReport(client, "m.opens", Outcome.FAILURE); // opens
    for (let i = 0; i < 3; i++) expect((await client.call("acquire", { circuit: "m.opens" })).allowed).toBe(false);

    await acquireAndReport(client, "m.mixed", Outcome.SUCCESS);
    const permit = await acquireAndReport(client, "m.mixed", Outcome.IGNORED);
    await acquireAndReport(client, "m.mixed", Outcome.TIMEOUT);
    // A retried Report is a duplicate: its outcome counted once already.
    const dup = await client.call("report", { circuit: "m.mixed", permit, outcome: Outcome.IGNORED });
    expect(dup.duplicate).toBe(true);

    const e = await scrape(server.httpUrl);
    expect(samplesOf(e, "breakerbox_calls_total", { circuit: "m.opens" })).toEqual([
      { name: "breakerbox_calls_total", labels: { circuit: "m.opens", outcome: "SUCCESS" }, value: 0 },
      { name: "breakerbox_calls_total", labels: { circuit: "m.opens", outcome: "FAILURE" }, value: 2 },
      { name: "breakerbox_calls_total", labels: { circuit: "m.opens", outcome: "TIMEOUT" }, value: 0 },
      { name: "breakerbox_calls_total", labels: { circuit: "m.opens", outcome: "IGNORED" }, value: 0 },
    ]);
    expect(samplesOf(e, "breakerbox_calls_total", { circuit: "m.mixed" }).map((s) => [s.labels.outcome, s.value])).toEqual([
      ["SUCCESS", 1],
      ["FAILURE", 0],
      ["TIMEOUT", 1],
      ["IGNORED", 1],
    ]);
    expect(samplesOf(e, "breakerbox_rejections_total", { circuit: "m.opens" }).map((s) => [s.labels.reason, s.value])).toEqual([
      ["OPEN", 3],
      ["FORCED_OPEN", 0],
      ["HALF_OPEN_FULL", 0],
    ]);
    expect(samplesOf(e, "breakerbox_rejections_total", { circuit: "m.mixed" })).toEqual([]);
    expect(samplesOf(e, "breakerbox_transitions_total", { circuit: "m.opens" })).toEqual([
      { name: "breakerbox_transitions_total", labels: { circuit: "m.opens", from: "CLOSED", to: "OPEN" }, value: 1 },
    ]);
    expect(stateGauge(e, "m.opens")).toEqual(oneHot("OPEN"));
    expect(stateGauge(e, "m.mixed")).toEqual(oneHot("CLOSED"));

    // Latency histograms count every call, under its method and status.
    expect(rpcCount(e, "Acquire") - rpcCount(before, "Acquire")).toBe(2 + 3 + 3);
    expect(rpcCount(e, "Report") - rpcCount(before, "Report")).toBe(2 + 3 + 1);
    expect(rpcCount(e, "Configure") - rpcCount(before, "Configure")).toBe(1);
    expect(storeCount(e, "acquire") - storeCount(before, "acquire")).toBe(8);
    expect(storeCount(e, "report") - storeCount(before, "report")).toBe(6);
    expect(storeCount(e, "configure_circuit") - storeCount(before, "configure_circuit")).toBe(1);
    const buckets = samplesOf(e, "breakerbox_rpc_duration_seconds_bucket", { method: "Acquire", code: "OK" });
    expect(buckets.map((b) => b.labels.le)).toEqual(
      ["0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"],
    );
    expect(buckets.at(-1)!.value).toBe(rpcCount(e, "Acquire"));
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
  });

  it("shows an OPEN circuit as HALF_OPEN once its open duration has passed, before anyone calls", async () => {
    await configure(client, "m.lazy", { failureThreshold: 1, openDuration: durationFromMs(10_000) });
    await acquireAndReport(client, "m.lazy", Outcome.FAILURE);
    expect(stateGauge(await scrape(server.httpUrl), "m.lazy")).toEqual(oneHot("OPEN"));
    server.clock.advance(9_999);
    expect(stateGauge(await scrape(server.httpUrl), "m.lazy")).toEqual(oneHot("OPEN"));
    server.clock.advance(1);
    const e = await scrape(server.httpUrl);
    expect(stateGauge(e, "m.lazy")).toEqual(oneHot("HALF_OPEN"));
    // Nothing has applied the transition yet: it is shown, not counted.
    expect(samplesOf(e, "breakerbox_transitions_total", { circuit: "m.lazy" }).map((s) => `${s.labels.from}->${s.labels.to}=${s.value}`)).toEqual([
      "CLOSED->OPEN=1",
    ]);

    // ForceState applies it, then pins the circuit: two more transitions, and FORCED_OPEN denials.
    await client.call("forceState", { circuit: "m.lazy", state: State.FORCED_OPEN });
    expect((await client.call("acquire", { circuit: "m.lazy" })).allowed).toBe(false);
    const after = await scrape(server.httpUrl);
    expect(stateGauge(after, "m.lazy")).toEqual(oneHot("FORCED_OPEN"));
    expect(samplesOf(after, "breakerbox_transitions_total", { circuit: "m.lazy" }).map((s) => `${s.labels.from}->${s.labels.to}=${s.value}`)).toEqual([
      "CLOSED->OPEN=1",
      "OPEN->HALF_OPEN=1",
      "HALF_OPEN->FORCED_OPEN=1",
    ]);
    expect(sampleValue(after, "breakerbox_rejections_total", { circuit: "m.lazy", reason: "FORCED_OPEN" })).toBe(1);

    await client.call("forceState", { circuit: "m.lazy", state: State.DISABLED });
    expect(stateGauge(await scrape(server.httpUrl), "m.lazy")).toEqual(oneHot("DISABLED"));
  });

  it("counts shadow-mode would-be denials apart from real rejections", async () => {
    await configure(client, "m.shadow", { failureThreshold: 1, mode: Mode.SHADOW, openDuration: durationFromMs(60_000) });
    await acquireAndReport(client, "m.shadow", Outcome.FAILURE); // opens (in shadow)
    const a = await client.call("acquire", { circuit: "m.shadow" });
    expect([a.allowed, a.shadowDenied]).toEqual([true, true]);
    const e = await scrape(server.httpUrl);
    expect(samplesOf(e, "breakerbox_shadow_rejections_total", { circuit: "m.shadow" }).map((s) => [s.labels.reason, s.value])).toEqual([
      ["OPEN", 1],
      ["FORCED_OPEN", 0],
      ["HALF_OPEN_FULL", 0],
    ]);
    expect(samplesOf(e, "breakerbox_rejections_total", { circuit: "m.shadow" })).toEqual([]);
    expect(stateGauge(e, "m.shadow")).toEqual(oneHot("OPEN"));
  });

  it("times failed calls under their status code and store result", async () => {
    const before = await scrape(server.httpUrl);
    const rpc = (e: Exposition, method: string, code: string): number =>
      sampleValue(e, "breakerbox_rpc_duration_seconds_count", { method, code }) ?? 0;
    const store = (e: Exposition, operation: string, result: string): number =>
      sampleValue(e, "breakerbox_store_duration_seconds_count", { operation, result }) ?? 0;

    expect((await callError(client.call("acquire", { circuit: "" }))).code).toBe(Status.INVALID_ARGUMENT);
    expect((await callError(client.call("getState", { circuit: "m.never" }))).code).toBe(Status.NOT_FOUND);
    const bad = client.call("report", { circuit: "m.mixed", permit: "not-a-permit", outcome: Outcome.SUCCESS });
    expect((await callError(bad)).code).toBe(Status.FAILED_PRECONDITION);

    const e = await scrape(server.httpUrl);
    expect(rpc(e, "Acquire", "INVALID_ARGUMENT") - rpc(before, "Acquire", "INVALID_ARGUMENT")).toBe(1);
    expect(rpc(e, "GetState", "NOT_FOUND") - rpc(before, "GetState", "NOT_FOUND")).toBe(1);
    expect(rpc(e, "Report", "FAILED_PRECONDITION") - rpc(before, "Report", "FAILED_PRECONDITION")).toBe(1);
    // The bad name never reached the store; the unknown circuit was an ordinary
    // (ok) read; the store refused the permit.
    expect(store(e, "acquire", "refused") + store(e, "acquire", "error")).toBe(0);
    expect(store(e, "get", "ok") - store(before, "get", "ok")).toBe(1);
    expect(store(e, "report", "refused") - store(before, "report", "refused")).toBe(1);
  });

  it("times calls that come in on the Connect port too", async () => {
    const count = async (): Promise<number> =>
      sampleValue(await scrape(server.httpUrl), "breakerbox_rpc_duration_seconds_count", { method: "Acquire", code: "OK" }) ?? 0;
    const before = await count();
    const res = await fetch(`${server.httpUrl}/breakerbox.v1.CircuitService/Acquire`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ circuit: "m.connect" }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { allowed?: boolean }).allowed).toBe(true);
    expect(await count()).toBe(before + 1);
  });

  it("answers HEAD, refuses other methods, and leaves other paths 404", async () => {
    const head = await fetch(`${server.httpUrl}/metrics`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(Number(head.headers.get("content-length"))).toBeGreaterThan(0);
    expect(await head.text()).toBe("");

    const post = await fetch(`${server.httpUrl}/metrics`, { method: "POST", body: "x" });
    expect([post.status, post.headers.get("allow"), await post.text()]).toEqual([405, "GET, HEAD", "method not allowed"]);

    const query = await fetch(`${server.httpUrl}/metrics?name[]=x`);
    expect(query.status).toBe(200);
    parseExposition(await query.text());

    const other = await fetch(`${server.httpUrl}/metrics/more`);
    expect([other.status, await other.text()]).toEqual([404, "not found"]);
    const healthz = await fetch(`${server.httpUrl}/healthz`);
    expect([healthz.status, await healthz.text()]).toEqual([200, "ok"]);
  });
});

describe("the circuit label cap (BREAKERBOX_METRICS_MAX_CIRCUITS)", () => {
  const { server, client } = useTestServer({ env: { BREAKERBOX_METRICS_MAX_CIRCUITS: "2", CIRCUIT_BREAKER_FAILURE_THRESHOLD: "1" } });

  it("gives the first 2 circuits their own label and aggregates the rest under circuit=\"_other\"", async () => {
    // cap.a and cap.b open (threshold 1); cap.c opens too; cap.d and cap.e stay CLOSED.
    await acquireAndReport(client, "cap.a", Outcome.FAILURE);
    await acquireAndReport(client, "cap.b", Outcome.SUCCESS);
    await acquireAndReport(client, "cap.c", Outcome.FAILURE);
    await acquireAndReport(client, "cap.d", Outcome.SUCCESS);
    await acquireAndReport(client, "cap.e", Outcome.SUCCESS);
    expect((await client.call("acquire", { circuit: "cap.a" })).allowed).toBe(false);
    expect((await client.call("acquire", { circuit: "cap.c" })).allowed).toBe(false);
    expect((await client.call("acquire", { circuit: "cap.c" })).allowed).toBe(false);

    const e = await scrape(server.httpUrl);
    const circuitLabels = new Set(e.samples.flatMap((s) => (s.labels.circuit === undefined ? [] : [s.labels.circuit])));
    expect([...circuitLabels].sort()).toEqual(["_other", "cap.a", "cap.b"]);

    expect(samplesOf(e, "breakerbox_calls_total", { circuit: "_other" }).map((s) => [s.labels.outcome, s.value])).toEqual([
      ["SUCCESS", 2],
      ["FAILURE", 1],
      ["TIMEOUT", 0],
      ["IGNORED", 0],
    ]);
    expect(sampleValue(e, "breakerbox_rejections_total", { circuit: "_other", reason: "OPEN" })).toBe(2);
    expect(sampleValue(e, "breakerbox_rejections_total", { circuit: "cap.a", reason: "OPEN" })).toBe(1);
    expect(sampleValue(e, "breakerbox_transitions_total", { circuit: "_other", from: "CLOSED", to: "OPEN" })).toBe(1);
    expect(sampleValue(e, "breakerbox_transitions_total", { circuit: "cap.a", from: "CLOSED", to: "OPEN" })).toBe(1);

    // Beyond the cap the state gauge counts circuits per state.
    expect(circuitStates(e)).toEqual({ "cap.a": "OPEN", "cap.b": "CLOSED" });
    expect(stateGauge(e, "_other")).toEqual({ CLOSED: 2, OPEN: 1, HALF_OPEN: 0, FORCED_OPEN: 0, DISABLED: 0 });
    // So sum by (state) is the number of circuits in each state, cap or not.
    const sum = (state: string): number =>
      samplesOf(e, "breakerbox_circuit_state", { state }).reduce((acc, s) => acc + s.value, 0);
    expect(STATES.map(sum)).toEqual([3, 2, 0, 0, 0]);
  });
});

describe("BREAKERBOX_METRICS_MAX_CIRCUITS=0", () => {
  const { server, client } = useTestServer({ env: { BREAKERBOX_METRICS_MAX_CIRCUITS: "0" } });

  it("puts every circuit under circuit=\"_other\"", async () => {
    await acquireAndReport(client, "zero.a", Outcome.SUCCESS);
    await acquireAndReport(client, "zero.b", Outcome.FAILURE);
    const e = await scrape(server.httpUrl);
    const labels = new Set(e.samples.flatMap((s) => (s.labels.circuit === undefined ? [] : [s.labels.circuit])));
    expect([...labels]).toEqual(["_other"]);
    expect(sampleValue(e, "breakerbox_calls_total", { circuit: "_other", outcome: "SUCCESS" })).toBe(1);
    expect(sampleValue(e, "breakerbox_calls_total", { circuit: "_other", outcome: "FAILURE" })).toBe(1);
    expect(stateGauge(e, "_other")).toEqual({ CLOSED: 2, OPEN: 0, HALF_OPEN: 0, FORCED_OPEN: 0, DISABLED: 0 });
  });
});
