/**
 * Pattern rules as a resource, run identically against every store: the
 * order rules are consulted in (precedence, then pattern, then the config
 * file's rules), what listing them answers, a precedence change re-governing
 * circuits, deleting a rule, and update_mask's set/clear/keep on explicit
 * settings. Each test starts its own store (Redis: a fresh key prefix).
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  applyPatch,
  BUILTIN_PRESETS,
  InvalidConfigError,
  type ConfigPatch,
  type PatternRule,
} from "../../src/engine/index.js";
import {
  PatternRuleFromFileError,
  PatternRuleNotFoundError,
  type CircuitStore,
  type ConfigureCommand,
  type PatternRuleRecord,
} from "../../src/store/store.js";
import { type Harness, type HarnessFactory, SUITE_DEFAULTS } from "./circuit-store-suite.js";

export function describePatternRuleConformance(label: string, harness: HarnessFactory): void {
  describe(`pattern rules: ${label}`, () => {
    let h: Harness | undefined;

    afterEach(async () => {
      await h?.close();
      h = undefined;
    });

    async function start(defaults: ConfigPatch = {}, fileRules: PatternRule[] = []): Promise<CircuitStore> {
      h = await harness({ layers: { defaults: applyPatch(SUITE_DEFAULTS, defaults), presets: BUILTIN_PRESETS, rules: fileRules } });
      return h.store;
    }

    const set = (patch: ConfigPatch, more: Partial<ConfigureCommand> = {}): ConfigureCommand => ({ patch, replace: false, ...more });

    /** A runtime rule as listed, written at `at` by `by`. */
    const runtime = (pattern: string, precedence: number, patch: ConfigPatch, at: number, by = "carol"): PatternRuleRecord => ({
      pattern,
      patch,
      origin: "runtime",
      precedence,
      updateTime: at,
      updatedBy: by,
    });

    const patterns = async (store: CircuitStore): Promise<string[]> => (await store.listPatternRules()).map((r) => `${r.origin}:${r.pattern}@${r.precedence}`);

    it("consults rules set without a precedence in the order they were set, then the file's rules in file order", async () => {
      const store = await start({}, [{ pattern: "svc.*", patch: { failureThreshold: 9 } }, { pattern: "*", patch: { failureThreshold: 8 } }]);
      const t = h!.now();
      expect(await store.configurePattern("svc.a.*", set({ failureThreshold: 1 }), "carol")).toEqual({
        rule: runtime("svc.a.*", 1, { failureThreshold: 1 }, t),
        matchedCircuits: 0,
      });
      await h!.advance(1_000);
      expect((await store.configurePattern("svc.*", set({ failureThreshold: 2 }), "dave")).rule).toEqual(
        runtime("svc.*", 2, { failureThreshold: 2 }, t + 1_000, "dave"),
      );
      expect(await store.listPatternRules()).toEqual([
        runtime("svc.a.*", 1, { failureThreshold: 1 }, t),
        runtime("svc.*", 2, { failureThreshold: 2 }, t + 1_000, "dave"),
        { pattern: "svc.*", patch: { failureThreshold: 9 }, origin: "config_file", precedence: 0 },
        { pattern: "*", patch: { failureThreshold: 8 }, origin: "config_file", precedence: 0 },
      ]);
      await store.acquire("svc.a.1");
      await store.acquire("svc.b.1");
      await store.acquire("other");
      expect((await store.get("svc.a.1"))!.config.failureThreshold).toBe(1);
      expect((await store.get("svc.b.1"))!.config.failureThreshold).toBe(2);
      expect(await store.get("other")).toMatchObject({
        config: { failureThreshold: 8 },
        configSources: ["pattern:*", "defaults"],
        configSourceDetails: [
          { kind: "pattern_rule", name: "*" },
          { kind: "defaults", name: "" },
        ],
      });
    });

    it("orders runtime rules by precedence, equal precedences by pattern; an update without a precedence keeps the rule's", async () => {
      const store = await start();
      await store.configurePattern("p.b*", set({ failureThreshold: 2 }, { precedence: 5 }), "carol");
      await store.configurePattern("p.a*", set({ failureThreshold: 1 }, { precedence: 5 }), "carol");
      await store.configurePattern("p.*", set({ failureThreshold: 3 }, { precedence: 7 }), "carol");
      await store.configurePattern("p.c*", set({ failureThreshold: 4 }, { precedence: 0 }), "carol");
      expect(await patterns(store)).toEqual(["runtime:p.c*@0", "runtime:p.a*@5", "runtime:p.b*@5", "runtime:p.*@7"]);
      // A new rule without one goes after the highest.
      expect((await store.configurePattern("q.*", set({ jitter: 0.1 }), "carol")).rule.precedence).toBe(8);
      expect((await store.configurePattern("p.a*", set({ jitter: 0.1 }), "carol")).rule).toMatchObject({
        precedence: 5,
        patch: { failureThreshold: 1, jitter: 0.1 },
      });
      expect(await patterns(store)).toEqual(["runtime:p.c*@0", "runtime:p.a*@5", "runtime:p.b*@5", "runtime:p.*@7", "runtime:q.*@8"]);
      await store.acquire("p.ab");
      expect(await store.get("p.ab")).toMatchObject({ config: { failureThreshold: 1 }, configSources: ["pattern:p.a*", "defaults"] });
    });

    it("re-governs the circuits a rule matches when its precedence changes, recording each config change", async () => {
      const store = await start();
      await store.configurePattern("x.*", set({ failureThreshold: 1 }), "carol");
      await store.configurePattern("x.1", set({ failureThreshold: 5 }), "carol");
      await store.acquire("x.1");
      await store.acquire("x.2");
      expect((await store.get("x.1"))!.configSources).toEqual(["pattern:x.*", "defaults"]);
      await h!.advance(1_000);
      const t = h!.now();
      const moved = await store.configurePattern("x.1", set({}, { precedence: 0 }), "dave");
      expect(moved).toEqual({ rule: runtime("x.1", 0, { failureThreshold: 5 }, t, "dave"), matchedCircuits: 1 });
      expect(await store.get("x.1")).toMatchObject({ config: { failureThreshold: 5 }, configSources: ["pattern:x.1", "defaults"] });
      expect((await store.history("x.1", 10))?.entries).toEqual([
        {
          kind: "config",
          change: {
            target: "x.1",
            actor: "dave",
            at: t,
            oldConfig: { ...SUITE_DEFAULTS, failureThreshold: 1 },
            newConfig: { ...SUITE_DEFAULTS, failureThreshold: 5 },
            // x.1 moved from the x.* rule to its own.
            newConfigSources: [{ kind: "pattern_rule", name: "x.1" }, { kind: "defaults", name: "" }],
          },
        },
      ]);
      expect(await store.get("x.2")).toMatchObject({ config: { failureThreshold: 1 }, configSources: ["pattern:x.*", "defaults"] });
      expect((await store.history("x.2", 10))?.entries).toEqual([]);
      // Moving it back hands x.1 to x.* again.
      expect((await store.configurePattern("x.1", set({}, { precedence: 9 }), "dave")).matchedCircuits).toBe(0);
      expect((await store.get("x.1"))!.config.failureThreshold).toBe(1);
      expect((await store.history("x.1", 10))?.entries).toHaveLength(2);
    });

    it("refuses a precedence change that gives a circuit with explicit settings an invalid config, changing nothing", async () => {
      const store = await start({ maxOpenDurationMs: 600_000 });
      await store.configureCircuit("m.x", set({ maxOpenDurationMs: 120_000 }), "alice");
      await store.configurePattern("m.*", set({ openDurationMs: 60_000 }), "carol");
      // Accepted: m.x stays under m.*, consulted first.
      await store.configurePattern("m.x", set({ openDurationMs: 200_000 }), "carol");
      const refused = store.configurePattern("m.x", set({}, { precedence: 0 }), "carol");
      await expect(refused).rejects.toBeInstanceOf(InvalidConfigError);
      await expect(refused).rejects.toMatchObject({
        issues: [{ field: "max_open_duration", message: "max_open_duration (120s) must be at least open_duration (200s)" }],
      });
      expect(await patterns(store)).toEqual(["runtime:m.*@1", "runtime:m.x@2"]);
      expect(await store.get("m.x")).toMatchObject({ config: { openDurationMs: 60_000, maxOpenDurationMs: 120_000 } });
    });

    it("deletes a runtime rule: the circuits it governed fall back to the next rule and record the change", async () => {
      const store = await start({}, [{ pattern: "d.a.*", patch: { failureThreshold: 7 } }]);
      await store.configurePattern("d.a.*", set({ failureThreshold: 1 }), "carol");
      await store.configurePattern("d.*", set({ failureThreshold: 2 }), "carol");
      await store.acquire("d.a.1");
      await store.acquire("d.b.1");
      await store.configureCircuit("d.a.2", set({ failureThreshold: 4 }), "alice");
      const written = (await store.listPatternRules())[0]!;
      await h!.advance(1_000);
      const t = h!.now();
      expect(await store.deletePatternRule("d.a.*", "dave")).toEqual({ rule: written, matchedCircuits: 2 });
      // The next runtime rule governs now (runtime rules come before the file's).
      expect(await store.get("d.a.1")).toMatchObject({ config: { failureThreshold: 2 }, configSources: ["pattern:d.*", "defaults"] });
      expect((await store.history("d.a.1", 10))?.entries).toEqual([
        {
          kind: "config",
          change: {
            target: "d.a.*",
            actor: "dave",
            at: t,
            oldConfig: { ...SUITE_DEFAULTS, failureThreshold: 1 },
            newConfig: { ...SUITE_DEFAULTS, failureThreshold: 2 },
            // The deleted rule's circuit fell back to the next matching rule.
            newConfigSources: [{ kind: "pattern_rule", name: "d.*" }, { kind: "defaults", name: "" }],
          },
        },
      ]);
      // Its own settings win either way: no change to record.
      expect((await store.get("d.a.2"))!.config.failureThreshold).toBe(4);
      expect((await store.history("d.a.2", 10))?.entries).toHaveLength(1);
      expect((await store.history("d.b.1", 10))?.entries).toEqual([]);
      expect(await patterns(store)).toEqual(["runtime:d.*@2", "config_file:d.a.*@0"]);

      // Only the file has "d.a.*" now: it cannot be deleted at runtime.
      await expect(store.deletePatternRule("d.a.*", "dave")).rejects.toBeInstanceOf(PatternRuleFromFileError);
      await expect(store.deletePatternRule("nope.*", "dave")).rejects.toBeInstanceOf(PatternRuleNotFoundError);
      // Without "d.*", the file's rule governs d.a.1 and d.b.1 falls back to the defaults.
      expect((await store.deletePatternRule("d.*", "dave")).matchedCircuits).toBe(3);
      expect(await store.get("d.a.1")).toMatchObject({ config: { failureThreshold: 7 }, configSources: ["pattern:d.a.*", "defaults"] });
      expect(await store.get("d.b.1")).toMatchObject({ config: SUITE_DEFAULTS, configSources: ["defaults"] });
      expect((await store.history("d.b.1", 10))?.entries).toMatchObject([{ kind: "config", change: { target: "d.*", actor: "dave" } }]);
      expect(await patterns(store)).toEqual(["config_file:d.a.*@0"]);
    });

    it("refuses to delete a rule when a circuit with explicit settings would fall back to an invalid config, changing nothing", async () => {
      const store = await start({ maxOpenDurationMs: 600_000, openDurationMs: 300_000 });
      await store.configurePattern("v.*", set({ openDurationMs: 60_000 }), "carol");
      await store.configureCircuit("v.x", set({ maxOpenDurationMs: 120_000 }), "alice");
      await expect(store.deletePatternRule("v.*", "dave")).rejects.toBeInstanceOf(InvalidConfigError);
      expect(await patterns(store)).toEqual(["runtime:v.*@1"]);
      expect((await store.get("v.x"))!.config.openDurationMs).toBe(60_000);
    });

    it("update_mask: sets the named fields config sets, clears the named ones it leaves unset, keeps the rest", async () => {
      const store = await start();
      await store.configureCircuit("u.1", set({ failureThreshold: 4, jitter: 0.2, successThreshold: 3 }, { preset: "io" }), "alice");
      const io = applyPatch(SUITE_DEFAULTS, BUILTIN_PRESETS["io"]!);
      // As the service builds it from update_mask ["failure_threshold", "jitter"] with config {failure_threshold: 7}.
      const v = await store.configureCircuit("u.1", set({ failureThreshold: 7 }, { clear: ["jitter"] }), "alice");
      expect(v.config).toEqual({ ...io, failureThreshold: 7, successThreshold: 3 });
      expect(v.configSources).toEqual(["circuit", "preset:io", "defaults"]);
      // update_mask ["preset"] without a preset clears it.
      const cleared = await store.configureCircuit("u.1", set({}, { clearPreset: true }), "alice");
      expect(cleared.config).toEqual({ ...SUITE_DEFAULTS, failureThreshold: 7, successThreshold: 3 });
      expect(cleared.configSources).toEqual(["circuit", "defaults"]);

      // The same on a pattern rule.
      await store.configurePattern("u.*", set({ failureThreshold: 5, jitter: 0.3 }, { preset: "io" }), "carol");
      const rule = (await store.configurePattern("u.*", set({ successThreshold: 4 }, { clear: ["jitter"], clearPreset: true }), "carol")).rule;
      expect(rule).toMatchObject({ pattern: "u.*", patch: { failureThreshold: 5, successThreshold: 4 }, precedence: 1 });
      expect(rule.preset).toBeUndefined();
      await store.acquire("u.2");
      expect((await store.get("u.2"))!.config).toEqual({ ...SUITE_DEFAULTS, failureThreshold: 5, successThreshold: 4 });
    });
  });
}
