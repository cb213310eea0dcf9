#!/usr/bin/env node
/**
 * Writes the variable reference (src/config/reference.ts) into
 * docs/configuration.md, between its markers. Reads the built server, so run
 * it as `npm run docs:config` (which builds first); Node cannot import the
 * TypeScript sources with their .js specifiers. test/config/reference.test.ts
 * fails while the file and the sources differ.
 *
 * Usage: node scripts/config-reference.mjs          rewrite the file
 *        node scripts/config-reference.mjs --check  exit 1 when it is out of date
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const file = `${root}docs/configuration.md`;
const { configReference, withReference } = await import(`${root}dist/src/config/reference.js`);

const doc = readFileSync(file, "utf8");
const updated = withReference(doc, configReference());
if (process.argv.includes("--check")) {
  if (updated !== doc) {
    console.error("docs/configuration.md: the variable reference is out of date; run npm run docs:config");
    process.exit(1);
  }
} else if (updated !== doc) {
  writeFileSync(file, updated);
  console.log("docs/configuration.md: variable reference rewritten");
} else {
  console.log("docs/configuration.md: variable reference up to date");
}
