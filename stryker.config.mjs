// @ts-check
/**
 * Mutation testing of the engine, service and store: `npm run mutation`
 * (niced; not run by CI or `npm test`). Mutants run against the fast
 * in-process tests only (vitest.mutation.config.ts). docs/testing.md records
 * the scores and the survivors judged harmless.
 *
 * One folder at a time: `npm run mutation -- --mutate 'src/engine/**\/*.ts'`.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: "vitest",
  vitest: { configFile: "vitest.mutation.config.ts" },
  // The Redis store's TypeScript is exercised by the Redis suites, which need servers.
  mutate: ["src/engine/**/*.ts", "src/service/**/*.ts", "src/store/**/*.ts", "!src/store/redis/**"],
  coverageAnalysis: "perTest",
  // The machine is shared: two workers at most.
  concurrency: 2,
  // Reruns only what changed since the last run; the file is under the gitignored .tmp/.
  incremental: true,
  incrementalFile: ".tmp/stryker-incremental.json",
  tempDirName: ".tmp/stryker",
  // Stryker rewrites tsconfig paths that leave the sandbox through the
  // TypeScript JS API, which TypeScript 7 no longer has; ours has none such
  // (no extends, no references), so point it at no file and skip the rewrite.
  tsconfigFile: "tsconfig.none.json",
  reporters: ["clear-text", "progress", "json"],
  jsonReporter: { fileName: ".tmp/stryker-report.json" },
  // Module-level constants (tables, presets) run once per worker, not per test.
  ignoreStatic: true,
  timeoutMS: 20_000,
};
