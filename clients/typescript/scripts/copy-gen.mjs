#!/usr/bin/env node
/**
 * Copies the generated stubs the client imports (gen/ts/breakerbox and
 * gen/ts/google, with what they import) from the repository's gen/ts into
 * src/gen, where tsc compiles them into dist/gen. gen/ stays the one
 * generated source (CI regenerates it from proto and diffs): src/gen is a
 * build input, gitignored, replaced whole on every build so it never lags.
 *
 * Usage: node scripts/copy-gen.mjs [--clean-dist]   (--clean-dist also empties
 * dist/, so a removed source leaves no stale module behind to be packed)
 */
import { cpSync, existsSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";

const from = fileURLToPath(new URL("../../../gen/ts/", import.meta.url));
const to = fileURLToPath(new URL("../src/gen/", import.meta.url));

if (!existsSync(from)) {
  console.error(`copy-gen: ${from} is missing; build the client from a Breakerbox checkout (or install the packed tarball)`);
  process.exit(1);
}
rmSync(to, { recursive: true, force: true });
if (process.argv.includes("--clean-dist")) rmSync(fileURLToPath(new URL("../dist/", import.meta.url)), { recursive: true, force: true });
for (const dir of ["breakerbox", "google"]) cpSync(from + dir, to + dir, { recursive: true });
