/**
 * What the differential tests (differential.test.ts, batch-differential.test.ts)
 * share: a few circuits, every outcome, and config layers with small numbers
 * so random sequences open, probe, re-open and close circuits often.
 */
import { BUILTIN_DEFAULTS, type ConfigLayers, type Outcome, type Principal } from "../../src/engine/index.js";

export const CIRCUITS = ["llm.a", "llm.b", "tool.c", "agent.d"];
export const OUTCOMES: Outcome[] = ["SUCCESS", "FAILURE", "TIMEOUT", "IGNORED"];
/** Who reports: distinct principals (two instances under one key, one instance id under two keys) and none. */
export const REPORTERS: (Principal | undefined)[] = [
  undefined,
  { keyName: "agents", agentInstanceId: "pod-a" },
  { keyName: "agents", agentInstanceId: "pod-b" },
  { keyName: "batch", agentInstanceId: "pod-a" },
  { keyName: "agents", agentInstanceId: "" },
];

export const layers: ConfigLayers = {
  defaults: {
    ...BUILTIN_DEFAULTS,
    failureThreshold: 3,
    failureRateThreshold: 0.5,
    minimumCalls: 4,
    windowMs: 10_000,
    slowCallDurationMs: 500,
    slowCallRateThreshold: 0.8,
    openDurationMs: 2_000,
    backoffMultiplier: 2,
    maxOpenDurationMs: 9_000,
    halfOpenMaxCalls: 2,
    successThreshold: 2,
    permitTtlMs: 3_000,
    jitter: 0.2,
  },
  presets: { default: {}, fast: { openDurationMs: 500, successThreshold: 1 } },
  rules: [
    { pattern: "llm.*", patch: { failureThreshold: 2 } },
    // A reporter quorum on one circuit from the start (Configure steps set it anywhere).
    { pattern: "tool.*", patch: { minDistinctReporters: 2 } },
  ],
};
