/**
 * Reading the PromQL our deploy/ files ship (alert rules, the Grafana board)
 * against what /metrics really exports: the selectors an expression uses and
 * the label values each label may take.
 */
import { DENY_REASONS, OUTCOMES } from "../../src/metrics/circuit-series.js";
import { GRPC_CODE_NAMES, STORE_OPERATIONS } from "../../src/metrics/instrument.js";
import { STATES } from "../../src/metrics/metrics.js";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { CircuitService, Outcome } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { createCircuitClient } from "../support/grpc-client.js";
import { startTestServer } from "../support/test-server.js";
import { scrape, type Exposition } from "./exposition.js";

/** The values our metrics use for each label that has a fixed vocabulary. */
export const VOCABULARY: Record<string, readonly string[]> = {
  state: STATES,
  from: STATES,
  to: STATES,
  outcome: OUTCOMES,
  reason: DENY_REASONS,
  result: ["ok", "refused", "unavailable", "error"],
  operation: Object.values(STORE_OPERATIONS),
  code: GRPC_CODE_NAMES,
  method: CircuitService.methods.filter((m) => m.methodKind === "unary").map((m) => m.name),
};

export interface Selector {
  metric: string;
  matchers: { label: string; op: string; value: string }[];
}

/** Every selector of our metrics (breakerbox_*, and prom-client's nodejs_*, process_*) in a PromQL expression, with its label matchers. */
export function selectors(expr: string): Selector[] {
  const out: Selector[] = [];
  for (const m of expr.matchAll(/\b((?:breakerbox|nodejs|process)_[a-zA-Z0-9_]+)(\{([^}]*)\})?/g)) {
    const matchers = (m[3] ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "")
      .map((s) => {
        const mm = /^([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"$/.exec(s);
        if (mm === null) throw new Error(`cannot read matcher ${JSON.stringify(s)} in ${expr}`);
        return { label: mm[1]!, op: mm[2]!, value: mm[3]! };
      });
    out.push({ metric: m[1]!, matchers });
  }
  return out;
}


/** The label names each exported metric carries, from a scrape. */
export function labelsByMetric(exposition: Exposition): Map<string, Set<string>> {
  const labelsOf = new Map<string, Set<string>>();
  for (const s of exposition.samples) {
    const set = labelsOf.get(s.name) ?? new Set<string>();
    for (const l of Object.keys(s.labels)) set.add(l);
    labelsOf.set(s.name, set);
  }
  return labelsOf;
}

/**
 * A scrape of a live server on which every kind of series exists: calls
 * with a duration, a rejection, a transition, a failed RPC. What deploy/'s
 * PromQL is checked against.
 */
export async function scrapeWithEverySeries(): Promise<Exposition> {
  const server = await startTestServer({ CIRCUIT_BREAKER_FAILURE_THRESHOLD: "1" });
  const client = createCircuitClient(server.grpcAddress);
  try {
    const a = await client.call("acquire", { circuit: "promql.x" });
    await client.call("report", { circuit: "promql.x", permit: a.permit, outcome: Outcome.FAILURE, duration: durationFromMs(20) });
    await client.call("acquire", { circuit: "promql.x" });
    await client.call("getState", { circuit: "promql.none" }).catch(() => undefined);
    return await scrape(server.httpUrl);
  } finally {
    client.close();
    await server.stop();
  }
}
