/**
 * breakerbox_call_duration_seconds and breakerbox_build_info on a live
 * server: a real gRPC client reports calls with durations, a scrape of
 * /metrics shows exactly those observations per circuit (a duplicate Report
 * and a Report without a duration observe nothing), and the build info names
 * this package's version and the Node.js it runs on.
 */
import { readFileSync } from "node:fs";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Outcome } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { createCircuitClient, type CircuitClient } from "../support/grpc-client.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { sampleValue, samplesOf, scrape } from "./exposition.js";

let server: TestServer;
let client: CircuitClient;

beforeAll(async () => {
  server = await startTestServer();
  client = createCircuitClient(server.grpcAddress);
});
afterAll(async () => {
  client.close();
  await server.stop();
});

async function call(circuit: string, outcome: Outcome, ms: number | undefined): Promise<string> {
  const a = await client.call("acquire", { circuit });
  await client.call("report", { circuit, permit: a.permit, outcome, ...(ms === undefined ? {} : { duration: durationFromMs(ms) }) });
  return a.permit;
}

describe("breakerbox_call_duration_seconds", () => {
  it("observes each reported duration once, per circuit", async () => {
    await call("cd.llm", Outcome.SUCCESS, 30); // le 0.05
    await call("cd.llm", Outcome.FAILURE, 2_000); // le 2.5
    const permit = await call("cd.llm", Outcome.SUCCESS, 400); // le 0.5
    // The same permit again: a duplicate, its call counted already.
    await client.call("report", { circuit: "cd.llm", permit, outcome: Outcome.SUCCESS, duration: durationFromMs(400) });
    await call("cd.llm", Outcome.SUCCESS, undefined); // no duration: not observed
    await call("cd.tool", Outcome.SUCCESS, 7); // le 0.01

    const e = await scrape(server.httpUrl);
    const buckets = (circuit: string) => Object.fromEntries(samplesOf(e, "breakerbox_call_duration_seconds_bucket", { circuit }).map((s) => [s.labels.le, s.value]));
    expect(buckets("cd.llm")).toMatchObject({ "0.025": 0, "0.05": 1, "0.25": 1, "0.5": 2, "1": 2, "2.5": 3, "300": 3, "+Inf": 3 });
    expect(sampleValue(e, "breakerbox_call_duration_seconds_count", { circuit: "cd.llm" })).toBe(3);
    expect(sampleValue(e, "breakerbox_call_duration_seconds_sum", { circuit: "cd.llm" })).toBeCloseTo(2.43, 9);
    expect(buckets("cd.tool")).toMatchObject({ "0.005": 0, "0.01": 1, "+Inf": 1 });
    // The calls counter still counts the Report without a duration.
    expect(sampleValue(e, "breakerbox_calls_total", { circuit: "cd.llm", outcome: "SUCCESS" })).toBe(3);
  });
});

describe("breakerbox_build_info", () => {
  it("is 1, with this package's version and the Node.js version", async () => {
    const version = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
    const e = await scrape(server.httpUrl);
    const [info, ...more] = samplesOf(e, "breakerbox_build_info", {});
    expect(more).toEqual([]);
    expect(info!.value).toBe(1);
    // Run from the sources here; dist/ builds carry a hash of their sources (test/e2e checks that).
    expect(info!.labels).toEqual({ version, node_version: process.version, build: "source" });
  });
});
