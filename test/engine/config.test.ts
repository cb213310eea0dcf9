import { describe, expect, it } from "vitest";
import {
  applyPatch,
  BUILTIN_DEFAULTS,
  BUILTIN_PRESETS,
  CONFIG_FIELD_NAMES,
  globMatches,
  matchRule,
  mergePatches,
  resolveConfig,
  sourceLabel,
  UnknownPresetError,
  validateConfig,
  validatePatch,
  type CircuitConfig,
  type ConfigLayers,
  type ConfigPatch,
} from "../../src/engine/index.js";

describe("validatePatch", () => {
  it("accepts an empty patch and the built-in defaults", () => {
    expect(validatePatch({})).toEqual([]);
    expect(validatePatch(BUILTIN_DEFAULTS)).toEqual([]);
  });

  it.each<[string, ConfigPatch, string, string]>([
    ["a rate above 1", { failureRateThreshold: 1.5 }, "failure_rate_threshold", "failure_rate_threshold must be a number from 0 to 1, got 1.5"],
    ["a negative rate", { failureRateThreshold: -0.1 }, "failure_rate_threshold", "failure_rate_threshold must be a number from 0 to 1, got -0.1"],
    ["a window under 100 ms", { windowMs: 50 }, "window", "window must be an integer from 100ms to 86400s, got 50ms"],
    ["a fractional window", { windowMs: 1500.5 }, "window", "window must be an integer from 100ms to 86400s, got 1500.5ms"],
    ["a window over a day", { windowMs: 86_401_000 }, "window", "window must be an integer from 100ms to 86400s, got 86401s"],
    ["an open duration under 10 ms", { openDurationMs: 5 }, "open_duration", "open_duration must be an integer from 10ms to 86400s, got 5ms"],
    ["a max open duration over 7 days", { maxOpenDurationMs: 691_200_000 }, "max_open_duration", "max_open_duration must be an integer from 10ms to 604800s, got 691200s"],
    ["a permit ttl given as text", { permitTtlMs: "30s" as unknown as number }, "permit_ttl", 'permit_ttl must be an integer from 10ms to 86400s, got "30s"'],
    ["jitter of 1", { jitter: 1 }, "jitter", "jitter must be a number from 0 up to but excluding 1, got 1"],
    ["a slow-call rate of 0", { slowCallRateThreshold: 0 }, "slow_call_rate_threshold", "slow_call_rate_threshold must be a number above 0 to 1, got 0"],
    ["zero half-open calls", { halfOpenMaxCalls: 0 }, "half_open_max_calls", "half_open_max_calls must be an integer from 1 to 10000, got 0"],
    ["a fractional failure threshold", { failureThreshold: 2.5 }, "failure_threshold", "failure_threshold must be an integer from 0 to 1000000, got 2.5"],
    ["zero minimum calls", { minimumCalls: 0 }, "minimum_calls", "minimum_calls must be an integer from 1 to 1000000, got 0"],
    ["a NaN rate", { failureRateThreshold: NaN }, "failure_rate_threshold", "failure_rate_threshold must be a number from 0 to 1, got NaN"],
    ["an infinite window", { windowMs: Infinity }, "window", "window must be an integer from 100ms to 86400s, got Infinity"],
    ["a backoff below 1", { backoffMultiplier: 0.5 }, "backoff_multiplier", "backoff_multiplier must be a number from 1 to 100, got 0.5"],
    ["zero success threshold", { successThreshold: 0 }, "success_threshold", "success_threshold must be an integer from 1 to 10000, got 0"],
    ["a negative slow-call duration", { slowCallDurationMs: -1 }, "slow_call_duration", "slow_call_duration must be an integer from 0s to 86400s, got -1ms"],
    ["an unknown mode", { mode: "loud" as "enforce" }, "mode", 'mode must be "enforce" or "shadow", got "loud"'],
    ["enabled as text", { enabled: "yes" as unknown as boolean }, "enabled", "enabled must be true or false"],
  ])("refuses %s, naming the snake_case field and the accepted range", (_what, patch, field, message) => {
    expect(validatePatch(patch)).toEqual([{ field, message }]);
  });

  it.each<[string, string]>([
    ["failureTreshold", "a misspelt field"],
    ["toString", "an Object.prototype method name"],
    ["constructor", "an Object.prototype property name"],
    ["__proto__", "__proto__"],
  ])("refuses the unknown field %s (%s)", (key) => {
    const patch = JSON.parse(`{${JSON.stringify(key)}: 5}`) as ConfigPatch;
    expect(validatePatch(patch)).toEqual([{ field: key, message: `unknown config field ${key}` }]);
  });

  it("reports every bad field, one issue each", () => {
    expect(validatePatch({ failureThreshold: -1, jitter: 2, mode: "enforce", windowMs: 10 })).toEqual([
      { field: "failure_threshold", message: "failure_threshold must be an integer from 0 to 1000000, got -1" },
      { field: "jitter", message: "jitter must be a number from 0 up to but excluding 1, got 2" },
      { field: "window", message: "window must be an integer from 100ms to 86400s, got 10ms" },
    ]);
  });

  it.each<[string, ConfigPatch]>([
    ["rates of 0 and 1", { failureRateThreshold: 0, slowCallRateThreshold: 1 }],
    ["failure_threshold 0 (rule off)", { failureThreshold: 0 }],
    ["slow_call_duration 0 (detection off)", { slowCallDurationMs: 0 }],
    ["the smallest durations", { windowMs: 100, openDurationMs: 10, maxOpenDurationMs: 10, permitTtlMs: 10 }],
    ["the largest durations", { windowMs: 86_400_000, openDurationMs: 86_400_000, maxOpenDurationMs: 604_800_000, permitTtlMs: 86_400_000 }],
    ["jitter just under 1", { jitter: 0.999 }],
    ["shadow mode, disabled", { mode: "shadow", enabled: false }],
    ["the largest counts", { failureThreshold: 1_000_000, minimumCalls: 1_000_000, halfOpenMaxCalls: 10_000, successThreshold: 10_000, backoffMultiplier: 100 }],
  ])("accepts the edges of the ranges: %s", (_what, patch) => {
    expect(validatePatch(patch)).toEqual([]);
  });

  it("ignores fields set to undefined", () => {
    expect(validatePatch({ windowMs: undefined })).toEqual([]);
  });
});

describe("validateConfig", () => {
  it("accepts the defaults and every built-in preset over them", () => {
    expect(validateConfig(BUILTIN_DEFAULTS)).toEqual([]);
    for (const [name, preset] of Object.entries(BUILTIN_PRESETS)) {
      expect(validateConfig(applyPatch(BUILTIN_DEFAULTS, preset)), `preset ${name}`).toEqual([]);
    }
  });

  it("refuses max_open_duration below open_duration, naming both", () => {
    const config = applyPatch(BUILTIN_DEFAULTS, { openDurationMs: 100_000, maxOpenDurationMs: 60_000 });
    expect(validateConfig(config)).toEqual([
      { field: "max_open_duration", message: "max_open_duration (60s) must be at least open_duration (100s)" },
    ]);
  });

  it("writes sub-second durations in ms in the cross-field message", () => {
    const config = applyPatch(BUILTIN_DEFAULTS, { openDurationMs: 1_500, maxOpenDurationMs: 1_200 });
    expect(validateConfig(config)).toEqual([
      { field: "max_open_duration", message: "max_open_duration (1200ms) must be at least open_duration (1500ms)" },
    ]);
  });

  it("accepts max_open_duration equal to open_duration", () => {
    expect(validateConfig(applyPatch(BUILTIN_DEFAULTS, { openDurationMs: 60_000, maxOpenDurationMs: 60_000 }))).toEqual([]);
  });

  it("reports range problems first and skips the cross-field rule while any exists", () => {
    const config = applyPatch(BUILTIN_DEFAULTS, { openDurationMs: 100_000, maxOpenDurationMs: 60_000, jitter: 5 });
    expect(validateConfig(config)).toEqual([
      { field: "jitter", message: "jitter must be a number from 0 up to but excluding 1, got 5" },
    ]);
  });
});

describe("config field names", () => {
  it("names every engine field as clients spell it", () => {
    expect(Object.keys(CONFIG_FIELD_NAMES).sort()).toEqual(Object.keys(BUILTIN_DEFAULTS).sort());
    expect(Object.values(CONFIG_FIELD_NAMES)).toEqual([
      "enabled",
      "failure_threshold",
      "failure_rate_threshold",
      "minimum_calls",
      "window",
      "slow_call_duration",
      "slow_call_rate_threshold",
      "open_duration",
      "backoff_multiplier",
      "max_open_duration",
      "half_open_max_calls",
      "success_threshold",
      "permit_ttl",
      "jitter",
      "mode",
      "min_distinct_reporters",
    ]);
  });

  it("keeps the documented defaults", () => {
    expect(BUILTIN_DEFAULTS).toEqual({
      enabled: true,
      failureThreshold: 5,
      failureRateThreshold: 0.5,
      minimumCalls: 10,
      windowMs: 120_000,
      slowCallDurationMs: 0,
      slowCallRateThreshold: 1,
      openDurationMs: 60_000,
      backoffMultiplier: 1,
      maxOpenDurationMs: 600_000,
      halfOpenMaxCalls: 3,
      successThreshold: 3,
      permitTtlMs: 30_000,
      jitter: 0,
      mode: "enforce",
      minDistinctReporters: 1,
    } satisfies CircuitConfig);
    expect(Object.keys(BUILTIN_PRESETS)).toEqual(["default", "strict", "lenient", "fast_recovery", "llm", "io"]);
  });
});

describe("applyPatch and mergePatches", () => {
  it("applyPatch sets the patched fields and leaves both inputs alone", () => {
    const base = { ...BUILTIN_DEFAULTS };
    const patch: ConfigPatch = { failureThreshold: 2, jitter: undefined };
    const out = applyPatch(base, patch);
    expect(out).toEqual({ ...BUILTIN_DEFAULTS, failureThreshold: 2 });
    expect(base).toEqual(BUILTIN_DEFAULTS);
    expect(patch).toEqual({ failureThreshold: 2, jitter: undefined });
    expect(applyPatch(base, undefined)).toBe(base);
  });

  it("mergePatches lets the later patch win field by field", () => {
    expect(mergePatches({ failureThreshold: 2, jitter: 0.1 }, { jitter: 0.2, windowMs: 1_000, mode: undefined })).toEqual({
      failureThreshold: 2,
      jitter: 0.2,
      windowMs: 1_000,
    });
    expect(mergePatches(undefined, undefined)).toEqual({});
  });
});

describe("globMatches", () => {
  it.each<[string, string, boolean]>([
    ["agent.*", "agent.researcher", true],
    ["agent.*", "agent.team.researcher", true], // * spans dots
    ["agent.*", "agent.", true], // * matches nothing too
    ["agent.*", "agent", false],
    ["agent.*", "agentX", false], // . is literal
    ["agent.*", "xagent.a", false], // anchored at the start
    ["*.gpt", "llm.openai.gpt", true],
    ["*.gpt", "llm.openai.gpt4", false], // anchored at the end
    ["*", "anything:at/all@1", true],
    ["llm.*.gpt", "llm.openai.gpt", true],
    ["llm.*.gpt", "llm.gpt", false],
    ["tool.?", "tool.a", true],
    ["tool.?", "tool.", false], // ? is exactly one character
    ["tool.?", "tool.ab", false],
    ["tool.??", "tool.ab", true],
    ["a.c", "abc", false],
    ["a+b", "a+b", true], // regex characters are literal
    ["a+b", "aab", false],
    ["a(b)", "a(b)", true],
    ["a(b)", "ab", false],
    ["[ab]", "[ab]", true],
    ["[ab]", "a", false],
    ["a|b", "a", false],
    ["a|b", "a|b", true],
    ["^a$", "^a$", true],
    ["^a$", "a", false],
    ["a{2}", "aa", false],
    ["a\\d", "a\\d", true],
    ["a\\d", "a1", false],
    ["agent.researcher", "agent.researcher", true],
  ])("%s on %s is %s", (pattern, name, expected) => {
    expect(globMatches(pattern, name)).toBe(expected);
  });

  it("matchRule picks the first rule that matches, in order", () => {
    const rules = [
      { pattern: "agent.special.*", patch: { failureThreshold: 1 } },
      { pattern: "agent.*", patch: { failureThreshold: 2 } },
      { pattern: "agent.special.x", patch: { failureThreshold: 3 } },
    ];
    expect(matchRule(rules, "agent.special.x")).toBe(rules[0]);
    expect(matchRule(rules, "agent.other")).toBe(rules[1]);
    expect(matchRule(rules, "tool.x")).toBeUndefined();
  });
});

describe("resolveConfig", () => {
  const defaults = applyPatch(BUILTIN_DEFAULTS, { failureThreshold: 4 });
  const layers: ConfigLayers = {
    defaults,
    presets: { ...BUILTIN_PRESETS, custom: { openDurationMs: 7_000, successThreshold: 7 } },
    rules: [
      { pattern: "agent.*", preset: "strict", patch: { openDurationMs: 20_000 } },
      { pattern: "agent.special.*", patch: { failureThreshold: 99 } }, // shadowed by the first rule
      { pattern: "tool.?", patch: { failureThreshold: 9 } },
    ],
  };
  const strict = BUILTIN_PRESETS["strict"]!;

  it.each<[string, string, { preset?: string; patch: ConfigPatch } | undefined, string[], CircuitConfig]>([
    ["no rule and no settings: the defaults", "other", undefined, ["defaults"], defaults],
    [
      "a rule with a preset: rule over preset over defaults",
      "agent.x",
      undefined,
      ["pattern:agent.*", "preset:strict", "defaults"],
      { ...applyPatch(defaults, strict), openDurationMs: 20_000 },
    ],
    [
      "the first matching rule wins over a later, more specific one",
      "agent.special.x",
      undefined,
      ["pattern:agent.*", "preset:strict", "defaults"],
      { ...applyPatch(defaults, strict), openDurationMs: 20_000 },
    ],
    [
      "explicit settings over the rule",
      "agent.pinned",
      { patch: { openDurationMs: 5_000, jitter: 0.1 } },
      ["circuit", "pattern:agent.*", "preset:strict", "defaults"],
      { ...applyPatch(defaults, strict), openDurationMs: 5_000, jitter: 0.1 },
    ],
    [
      "an explicit preset replaces the rule's preset; the rule's fields still apply",
      "agent.llm",
      { preset: "llm", patch: {} },
      ["circuit", "pattern:agent.*", "preset:llm", "defaults"],
      { ...applyPatch(defaults, BUILTIN_PRESETS["llm"]!), openDurationMs: 20_000 },
    ],
    ["a rule without a preset", "tool.a", undefined, ["pattern:tool.?", "defaults"], { ...defaults, failureThreshold: 9 }],
    ["no match for ? against two characters", "tool.ab", undefined, ["defaults"], defaults],
    [
      "explicit settings with a preset and no rule",
      "solo",
      { preset: "custom", patch: { successThreshold: 2 } },
      ["circuit", "preset:custom", "defaults"],
      { ...defaults, openDurationMs: 7_000, successThreshold: 2 },
    ],
    ["explicit settings alone", "solo", { patch: { failureThreshold: 8 } }, ["circuit", "defaults"], { ...defaults, failureThreshold: 8 }],
    ["explicit settings emptied by a replace are no source", "agent.x", { patch: {} }, ["pattern:agent.*", "preset:strict", "defaults"], { ...applyPatch(defaults, strict), openDurationMs: 20_000 }],
  ])("%s", (_what, name, explicit, sources, config) => {
    const resolved = resolveConfig(layers, name, explicit);
    expect({ config: resolved.config, sources: resolved.sources.map(sourceLabel) }).toEqual({ config, sources });
  });

  it("answers its sources structured, most specific first (the labels are derived from them)", () => {
    expect(resolveConfig(layers, "agent.llm", { preset: "llm", patch: {} }).sources).toEqual([
      { kind: "circuit", name: "" },
      { kind: "pattern_rule", name: "agent.*" },
      { kind: "preset", name: "llm" },
      { kind: "defaults", name: "" },
    ]);
  });

  it("refuses an unknown preset with UnknownPresetError listing the known ones", () => {
    const resolve = (): unknown => resolveConfig(layers, "x", { preset: "nope", patch: {} });
    expect(resolve).toThrow(UnknownPresetError);
    expect(resolve).toThrow('unknown preset "nope"; known presets: default, strict, lenient, fast_recovery, llm, io, custom');
  });

  it.each(["toString", "constructor", "__proto__", "hasOwnProperty"])(
    "refuses %j as a preset name (an Object.prototype member, not a preset)",
    (preset) => {
      expect(() => resolveConfig(layers, "x", { preset, patch: {} })).toThrow(UnknownPresetError);
    },
  );

  it("refuses a rule's unknown preset the same way", () => {
    const bad: ConfigLayers = { ...layers, rules: [{ pattern: "*", preset: "gone", patch: {} }] };
    expect(() => resolveConfig(bad, "x", undefined)).toThrow(UnknownPresetError);
  });
});

// Behaviours a mutation run (docs/testing.md) found untested.
describe("validatePatch refuses what its ranges cannot catch", () => {
  it("an enum value that is not one of the field's values", () => {
    expect(validatePatch({ mode: "bogus" as "enforce" })).toEqual([
      { field: "mode", message: 'mode must be "enforce" or "shadow", got "bogus"' },
    ]);
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY])("a rate of %s (no range comparison catches NaN)", (rate) => {
    expect(validatePatch({ failureRateThreshold: rate })).toEqual([
      { field: "failure_rate_threshold", message: `failure_rate_threshold must be a number from 0 to 1, got ${rate}` },
    ]);
  });
});

describe("mergePatches with a field set to undefined", () => {
  it("keeps the earlier patch's value: undefined means unset, as in validatePatch", () => {
    const merged = mergePatches({ mode: "shadow", jitter: 0.1 }, { mode: undefined, jitter: undefined });
    expect(merged).toStrictEqual({ mode: "shadow", jitter: 0.1 });
    expect(applyPatch(BUILTIN_DEFAULTS, merged).mode).toBe("shadow");
  });
});
