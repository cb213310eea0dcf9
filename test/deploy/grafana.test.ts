/**
 * deploy/grafana/breakerbox.json against reality: every PromQL expression in
 * it (panel targets and template-variable queries, with Grafana's variables
 * given values) parses, checked by promtool from a generated rule file, and
 * names only metrics a live server exports, with labels they carry and label
 * values we send. The board covers what operators look for first.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import type { Exposition } from "../metrics/exposition.js";
import { VOCABULARY, labelsByMetric, scrapeWithEverySeries, selectors } from "../metrics/promql.js";

const board = JSON.parse(readFileSync(fileURLToPath(new URL("../../deploy/grafana/breakerbox.json", import.meta.url)), "utf8")) as {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: string | { query: string }; allValue?: string }[] };
};

interface Panel {
  id: number;
  type: string;
  title: string;
  panels?: Panel[];
  targets?: { refId: string; expr: string }[];
}

const allPanels = (ps: Panel[]): Panel[] => ps.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);

/** Grafana's variables as Prometheus would see them once Grafana has interpolated. */
function interpolate(expr: string): string {
  return expr.replaceAll("$__rate_interval", "5m").replaceAll("${circuit}", ".*").replaceAll("$circuit", ".*");
}

/** Every expression: [where, PromQL]. label_values(metric, label) queries become the metric's selector. */
const expressions: [string, string][] = [
  ...allPanels(board.panels).flatMap((p) => (p.targets ?? []).map((t): [string, string] => [`panel ${p.id} "${p.title}" ${t.refId}`, interpolate(t.expr)])),
  ...board.templating.list
    .filter((v) => v.type === "query")
    .map((v): [string, string] => {
      const q = typeof v.query === "string" ? v.query : v.query!.query;
      const m = /^label_values\((.+),\s*([a-zA-Z_]+)\)$/.exec(q);
      if (m === null) throw new Error(`variable ${v.name}: cannot read ${q}`);
      return [`variable ${v.name}`, interpolate(m[1]!)];
    }),
];

describe("deploy/grafana/breakerbox.json", () => {
  let exposition: Exposition;
  const dir = mkdtempSync(join(tmpdir(), "bb-grafana-"));

  beforeAll(async () => {
    exposition = await scrapeWithEverySeries();
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("has panels with unique ids and expressions, and a circuit variable", () => {
    const ids = allPanels(board.panels).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(expressions.length).toBeGreaterThanOrEqual(20);
    expect(board.templating.list.map((v) => v.name)).toEqual(["datasource", "circuit"]);
  });

  it("parses: every expression passes promtool check rules", () => {
    const rules = {
      groups: [{ name: "grafana", rules: expressions.map(([, expr], i) => ({ record: `grafana:expr_${i}`, expr })) }],
    };
    const file = join(dir, "grafana-exprs.yml");
    writeFileSync(file, YAML.stringify(rules));
    const out = execFileSync("promtool", ["check", "rules", file], { encoding: "utf8" });
    expect(out).toMatch(new RegExp(`SUCCESS: ${expressions.length} rules found`));
  });

  it("names only metrics /metrics exports, with their labels and label values", () => {
    const labelsOf = labelsByMetric(exposition);
    const used = new Set<string>();
    for (const [where, expr] of expressions) {
      for (const sel of selectors(expr)) {
        used.add(sel.metric.replace(/_(bucket|count|sum)$/, ""));
        const labels = labelsOf.get(sel.metric);
        expect(labels, `${where}: ${sel.metric} is not exported`).toBeDefined();
        for (const m of sel.matchers) {
          expect([...labels!], `${where}: ${sel.metric} has no label ${m.label}`).toContain(m.label);
          const vocabulary = VOCABULARY[m.label];
          if (vocabulary === undefined) continue;
          const values = m.op === "=~" || m.op === "!~" ? m.value.split("|") : [m.value];
          for (const v of values) expect(vocabulary, `${where}: ${m.label}="${v}"`).toContain(v);
        }
        for (const by of expr.matchAll(/\bby \(([^)]*)\)/g)) {
          // Grouping labels must come from some metric of the expression, or Prometheus' own (instance, le).
          for (const l of by[1]!.split(",").map((s) => s.trim())) {
            const known = ["instance", "job", "le"].includes(l) || selectors(expr).some((s) => labelsOf.get(s.metric)?.has(l));
            expect(known, `${where}: groups by ${l}, which none of its metrics has`).toBe(true);
          }
        }
      }
    }
    // Fleet overview, open circuits, rejections, transitions, latency, Redis health, replicas.
    for (const m of [
      "breakerbox_circuits",
      "breakerbox_circuit_state",
      "breakerbox_rejections_total",
      "breakerbox_transitions_total",
      "breakerbox_calls_total",
      "breakerbox_call_duration_seconds",
      "breakerbox_circuit_failure_rate",
      "breakerbox_rpc_duration_seconds",
      "breakerbox_store_ready",
      "breakerbox_store_duration_seconds",
      "breakerbox_redis_data_losses_total",
      "breakerbox_build_info",
    ]) {
      expect([...used], `the board shows ${m}`).toContain(m);
    }
  });
});
