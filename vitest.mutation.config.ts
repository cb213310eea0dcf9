/**
 * The vitest configuration Stryker runs (stryker.config.json, `npm run
 * mutation`): only the fast in-process tests of src/engine, src/service and
 * src/store, so each mutant costs seconds. The e2e suites start processes from
 * dist/, which Stryker does not mutate, and the Redis suites need servers.
 */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "test/engine/*.test.ts",
      "test/service/*.test.ts",
      "test/store/history-page.test.ts",
      "test/store/memory.test.ts",
      "test/store/permit-signer.test.ts",
      "test/conformance/memory.test.ts",
    ],
    testTimeout: 30_000,
    reporters: ["default"],
  },
});
