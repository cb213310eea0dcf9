/**
 * docs/configuration.md, "Coming from another circuit breaker": each example
 * file in examples/config/ is served by a real server, and the circuit it
 * configures reads back (GetState over gRPC) with exactly the settings the
 * mapping table gives for the original library's options.
 */
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ConfigSourceKind } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { BUILTIN_DEFAULTS, type CircuitConfig } from "../../src/engine/index.js";
import { patchFromProto } from "../../src/server/convert.js";
import { useTestServer } from "../support/use-test-server.js";

const exampleFile = (name: string) => fileURLToPath(new URL(`../../examples/config/${name}`, import.meta.url));

const cases: { file: string; circuit: string; source: ConfigSourceKind; expected: CircuitConfig }[] = [
  {
    // enabled, failure_threshold, failure_rate_threshold, timeout_seconds, half_open_max_calls, window_size_seconds
    file: "from-circuit-breaker-config.json",
    circuit: "agent.researcher",
    source: ConfigSourceKind.CIRCUIT,
    expected: { ...BUILTIN_DEFAULTS, failureThreshold: 3, failureRateThreshold: 0.4, openDurationMs: 45_000, halfOpenMaxCalls: 2, windowMs: 300_000 },
  },
  {
    file: "from-resilience4j.yaml",
    circuit: "payments.stripe",
    source: ConfigSourceKind.PATTERN_RULE,
    expected: {
      ...BUILTIN_DEFAULTS,
      failureThreshold: 0,
      failureRateThreshold: 0.5,
      minimumCalls: 20,
      windowMs: 60_000,
      slowCallDurationMs: 2_000,
      slowCallRateThreshold: 0.8,
      openDurationMs: 30_000,
      halfOpenMaxCalls: 5,
      successThreshold: 5,
      backoffMultiplier: 2,
      maxOpenDurationMs: 600_000,
      jitter: 0.2,
    },
  },
  {
    file: "from-opossum.json",
    circuit: "llm.openai",
    source: ConfigSourceKind.PATTERN_RULE,
    expected: {
      ...BUILTIN_DEFAULTS,
      failureThreshold: 0,
      failureRateThreshold: 0.25,
      openDurationMs: 20_000,
      windowMs: 30_000,
      minimumCalls: 8,
      halfOpenMaxCalls: 1,
      successThreshold: 1,
    },
  },
  {
    file: "from-pybreaker.yaml",
    circuit: "tool.db",
    source: ConfigSourceKind.CIRCUIT,
    expected: { ...BUILTIN_DEFAULTS, failureThreshold: 4, failureRateThreshold: 0, openDurationMs: 90_000, halfOpenMaxCalls: 1, successThreshold: 2 },
  },
];

for (const { file, circuit, source, expected } of cases) {
  describe(`examples/config/${file}`, () => {
    const { client } = useTestServer({ env: { BREAKERBOX_CONFIG: exampleFile(file) } });

    it(`configures ${circuit} as the mapping table says`, async () => {
      expect((await client.call("acquire", { circuit })).allowed).toBe(true); // a circuit exists once used
      const status = (await client.call("getState", { circuit })).status!;
      // The config as GetState shows it, read back into the engine's fields (durations in ms).
      expect(patchFromProto(status.config)).toEqual(expected);
      expect(status.configSourceDetails[0]!.kind).toBe(source);
    });
  });
}
