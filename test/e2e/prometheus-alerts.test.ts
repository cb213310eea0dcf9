/**
 * A real Prometheus (the OS package, scripts/install-prometheus.sh) scrapes
 * two real replicas on one real redis-server and evaluates
 * deploy/prometheus/alerts.yml: the "circuit not recovering" alert fires for
 * a circuit held OPEN, once (not once per replica), and resolves when the
 * circuit closes. The rule file is the shipped one with that rule's `for:`
 * cut from 10m to 2s, so the test takes seconds; the expression is unchanged.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Outcome, State } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { useRedis, useReplicas } from "../support/process-fixtures.js";
import { getFreePort } from "../support/redis-servers.js";
import { waitFor, type Replica } from "../support/replicas.js";

const RULES = fileURLToPath(new URL("../../deploy/prometheus/alerts.yml", import.meta.url));
const CIRCUIT = "prom.payments";

const redis = useRedis();
const [A, B] = useReplicas(2, () => ({ REDIS_URL: redis.url, BREAKERBOX_METRICS_RESYNC_SECONDS: "0" })) as [Replica, Replica];

const dir = mkdtempSync(join(tmpdir(), "bb-prometheus-"));
let prometheus: ChildProcessWithoutNullStreams | undefined;
let promUrl = "";
let promLog = "";


interface PromAlert {
  labels: Record<string, string>;
  state: string;
}

async function promGet<T>(path: string): Promise<T> {
  const res = await fetch(`${promUrl}${path}`);
  const body = (await res.json()) as { status: string; data: T };
  if (body.status !== "success") throw new Error(`${path}: ${JSON.stringify(body)}`);
  return body.data;
}

const alertsOf = async (name: string) => (await promGet<{ alerts: PromAlert[] }>("/api/v1/alerts")).alerts.filter((a) => a.labels.alertname === name);

beforeAll(async () => {
  await waitFor("both replicas to be ready", async () => (await A.readyz()).status === 200 && (await B.readyz()).status === 200, { timeoutMs: 15_000 });
  const shipped = readFileSync(RULES, "utf8");
  const fast = shipped.replace(/(alert: BreakerboxCircuitNotRecovering\n(?:.*\n)*?\s+for: )10m/, "$12s");
  expect(fast, "the test's copy must shorten the rule's for:").not.toBe(shipped);
  writeFileSync(join(dir, "alerts.yml"), fast);
  const target = (r: Replica) => new URL(r.http).host;
  writeFileSync(
    join(dir, "prometheus.yml"),
    [
      "global:",
      "  scrape_interval: 500ms",
      "  evaluation_interval: 500ms",
      "rule_files: [alerts.yml]",
      "scrape_configs:",
      "  - job_name: breakerbox",
      `    static_configs: [{ targets: ["${target(A)}", "${target(B)}"] }]`,
      "",
    ].join("\n"),
  );
  const port = await getFreePort();
  promUrl = `http://127.0.0.1:${port}`;
  prometheus = spawn(
    "prometheus",
    [`--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`],
    { cwd: dir },
  );
  prometheus.stdout.on("data", (d: Buffer) => (promLog += d.toString()));
  prometheus.stderr.on("data", (d: Buffer) => (promLog += d.toString()));
  await waitFor("Prometheus to scrape both replicas", async () => {
    const up = await promGet<{ result: { metric: { instance: string }; value: [number, string] }[] }>("/api/v1/query?query=up%7Bjob%3D%22breakerbox%22%7D");
    return up.result.length === 2 && up.result.every((r) => r.value[1] === "1");
  }, { timeoutMs: 30_000, intervalMs: 200, describe: () => promLog.split("\n").slice(-5).join(" | ") });
}, 60_000);

afterAll(async () => {
  if (prometheus !== undefined && prometheus.exitCode === null) {
    const exited = new Promise((r) => prometheus!.once("exit", r));
    prometheus.kill("SIGTERM");
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

describe("Prometheus with deploy/prometheus/alerts.yml", () => {
  it("fires BreakerboxCircuitNotRecovering once for a circuit held OPEN on two replicas, and resolves it when the circuit closes", async () => {
    // Trip it through A: three failures open it for a minute; B learns the state from Redis.
    await A.client.call("configure", { target: { case: "circuit", value: CIRCUIT }, config: { failureThreshold: 3, openDuration: durationFromMs(60_000) } });
    for (let i = 0; i < 3; i++) {
      const a = await A.client.call("acquire", { circuit: CIRCUIT });
      await A.client.call("report", { circuit: CIRCUIT, permit: a.permit, outcome: Outcome.FAILURE, duration: durationFromMs(5) });
    }
    expect((await B.client.call("getState", { circuit: CIRCUIT })).status!.state).toBe(State.OPEN);

    const firing = await waitFor("the alert to fire", async () => {
      const alerts = await alertsOf("BreakerboxCircuitNotRecovering");
      return alerts.some((a) => a.state === "firing") ? alerts : undefined;
    }, { timeoutMs: 30_000, intervalMs: 250 });
    // max by (circuit): one alert for the circuit, whichever replicas export it.
    expect(firing.map((a) => ({ circuit: a.labels.circuit, severity: a.labels.severity, state: a.state }))).toEqual([
      { circuit: CIRCUIT, severity: "warning", state: "firing" },
    ]);
    // Both replicas export the OPEN gauge that the alert's max() is over.
    const open = await promGet<{ result: { metric: Record<string, string> }[] }>(
      `/api/v1/query?query=${encodeURIComponent(`breakerbox_circuit_state{circuit="${CIRCUIT}",state="OPEN"} == 1`)}`,
    );
    expect(open.result.map((r) => r.metric.instance).sort()).toEqual([new URL(A.http).host, new URL(B.http).host].sort());

    // Reset through B: CLOSED, and the alert resolves (leaves the active list).
    expect((await B.client.call("reset", { circuit: CIRCUIT })).status!.state).toBe(State.CLOSED);
    let last = "";
    await waitFor("the alert to resolve", async () => {
      const alerts = await alertsOf("BreakerboxCircuitNotRecovering");
      const gauges = await promGet<unknown>(`/api/v1/query?query=${encodeURIComponent(`breakerbox_circuit_state{circuit="${CIRCUIT}"} > 0`)}`);
      last = JSON.stringify({ alerts, gauges });
      return alerts.length === 0;
    }, { timeoutMs: 30_000, intervalMs: 250, describe: () => last });
  }, 90_000);
});
