/**
 * deploy/prometheus/alerts.yml against what /metrics really serves: every
 * breakerbox_* name an expression uses is exported, every label it matches
 * on exists on that metric, and every label value it names is one we send.
 * The exported set comes from a live scrape of a real server, not a list kept
 * by hand. promtool (the OS's prometheus package) also checks the file and
 * runs its unit tests (alerts.test.yml).
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import type { Exposition } from "./exposition.js";
import { VOCABULARY, labelsByMetric, scrapeWithEverySeries, selectors } from "./promql.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const RULES = `${root}deploy/prometheus/alerts.yml`;
const RULE_TESTS = `${root}deploy/prometheus/alerts.test.yml`;

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const file = YAML.parse(readFileSync(RULES, "utf8")) as { groups: { name: string; rules: Rule[] }[] };
const rules = file.groups.flatMap((g) => g.rules);

describe("deploy/prometheus/alerts.yml", () => {
  let exposition: Exposition;

  beforeAll(async () => {
    exposition = await scrapeWithEverySeries();
  });

  it("has alerting rules, each with an expression, a severity, a summary and a description", () => {
    expect(rules.length).toBeGreaterThanOrEqual(8);
    for (const r of rules) {
      expect(r.alert, JSON.stringify(r)).toMatch(/^Breakerbox[A-Za-z]+$/);
      expect(typeof r.expr).toBe("string");
      expect(["info", "warning", "critical"]).toContain(r.labels?.severity);
      expect(r.annotations?.summary?.length ?? 0).toBeGreaterThan(10);
      expect(r.annotations?.description?.length ?? 0).toBeGreaterThan(20);
    }
    expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
  });

  it("uses only metrics /metrics exports, with their labels and label values", () => {
    const labelsOf = labelsByMetric(exposition);
    const used = new Set<string>();
    for (const r of rules) {
      for (const sel of selectors(r.expr)) {
        used.add(sel.metric);
        const labels = labelsOf.get(sel.metric);
        expect(labels, `${r.alert}: ${sel.metric} is not exported`).toBeDefined();
        for (const m of sel.matchers) {
          expect([...labels!], `${r.alert}: ${sel.metric} has no label ${m.label}`).toContain(m.label);
          const vocabulary = VOCABULARY[m.label];
          if (vocabulary === undefined) continue;
          const values = m.op === "=~" || m.op === "!~" ? m.value.split("|") : [m.value];
          for (const v of values) expect(vocabulary, `${r.alert}: ${m.label}="${v}"`).toContain(v);
        }
      }
    }
    // The rules cover the circuit state, transitions, rejections, calls, the circuit count against its cap, the store and the RPCs.
    expect([...used].sort()).toEqual([
      "breakerbox_calls_total",
      "breakerbox_circuit_state",
      "breakerbox_circuits",
      "breakerbox_circuits_max",
      "breakerbox_rejections_total",
      "breakerbox_rpc_duration_seconds_count",
      "breakerbox_store_duration_seconds_bucket",
      "breakerbox_store_duration_seconds_count",
      "breakerbox_store_ready",
      "breakerbox_transitions_total",
    ]);
  });

  // promtool comes with the OS's prometheus package (scripts/install-prometheus.sh; the test setup installs it).
  it("passes promtool check rules and the rule unit tests", () => {
    execFileSync("promtool", ["check", "rules", RULES], { stdio: "pipe" });
    expect(existsSync(RULE_TESTS)).toBe(true);
    execFileSync("promtool", ["test", "rules", RULE_TESTS], { stdio: "pipe", cwd: `${root}deploy/prometheus` });
  });
});
