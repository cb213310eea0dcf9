import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  // Tests import the client package by name; they run its sources, never a
  // stale clients/typescript/dist (the pack test checks the built package).
  resolve: {
    alias: [
      { find: /^@breakerbox\/client$/, replacement: fileURLToPath(new URL("./clients/typescript/src/index.ts", import.meta.url)) },
      { find: /^@breakerbox\/client\/ai-sdk$/, replacement: fileURLToPath(new URL("./clients/typescript/src/ai-sdk.ts", import.meta.url)) },
    ],
  },
  test: {
    include: ["test/**/*.test.ts", "clients/typescript/test/**/*.test.ts"],
    // End-to-end suites start real servers and child processes; give them room
    // on a loaded 2-core machine without hiding a hang for long.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    globalSetup: ["test/global-setup.ts"],
    reporters: ["default"],
  },
});
