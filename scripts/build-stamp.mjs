#!/usr/bin/env node
/**
 * What dist/ was built from, so tests never run a stale build (issue 11:
 * "tests that run one file must not use a stale dist/ or stale Lua").
 *
 * `npm run build` ends with `node scripts/build-stamp.mjs`, which writes
 * dist/build-stamp.json: a SHA-256 of every input file of each part of the
 * build (the server: src/ with its Lua scripts, gen/ts/, the tsconfigs; the
 * dashboard: dashboard/; the client package clients/typescript, whose dist/
 * the example agent and the pack test use: its sources, manifest, tsconfig
 * and the stubs it copies in). The test fixtures that start dist/src/main.js or
 * serve dist/dashboard call checkBuild() and fail, naming the changed files,
 * when the sources no longer match. Content hashes rather than mtimes: a
 * checkout or a copy that touches files without changing them is not stale,
 * and an edit within the same second is.
 *
 * Usage: node scripts/build-stamp.mjs            write the stamp of every part
 *        node scripts/build-stamp.mjs dashboard  write the dashboard's only (after dashboard/build.mjs alone)
 *        node scripts/build-stamp.mjs check      exit 1 with the changes when stale
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const defaultRoot = fileURLToPath(new URL("..", import.meta.url));

/** The inputs of each part of the build: directories (walked) and files, relative to the root. */
export const BUILD_PARTS = {
  server: ["src", "gen/ts", "tsconfig.json", "tsconfig.build.json"],
  dashboard: ["dashboard"],
  client: ["clients/typescript/src", "clients/typescript/package.json", "clients/typescript/tsconfig.json", "gen/ts/breakerbox", "gen/ts/google"],
};

/** Where the stamp lives, relative to the root. */
export const STAMP_PATH = "dist/build-stamp.json";

function walk(root, path, out) {
  const abs = join(root, path);
  if (!existsSync(abs)) return;
  if (statSync(abs).isDirectory()) {
    for (const name of readdirSync(abs).sort()) walk(root, join(path, name), out);
    return;
  }
  out[relative(root, abs).split(sep).join("/")] = createHash("sha256").update(readFileSync(abs)).digest("hex").slice(0, 16);
}

/** `{ path: hash }` of every input file of `part`, paths relative to `root` with "/". */
export function hashInputs(root, part) {
  const out = {};
  for (const path of BUILD_PARTS[part]) walk(root, path, out);
  return out;
}

/**
 * Writes the stamp of `parts` (default every part: the last step of `npm run
 * build`), keeping what the stamp says of the others.
 */
export function writeStamp(root = defaultRoot, parts = Object.keys(BUILD_PARTS)) {
  const path = join(root, STAMP_PATH);
  const stamp = existsSync(path) ? JSON.parse(readFileSync(path, "utf8")) : {};
  for (const part of parts) stamp[part] = hashInputs(root, part);
  mkdirSync(join(root, "dist"), { recursive: true });
  writeFileSync(path, `${JSON.stringify(stamp, null, 1)}\n`);
}

/**
 * Why dist/ is stale for `part`, or undefined when it was built from the
 * sources as they are now: no stamp (never built, or built before stamps),
 * or the files changed, added or removed since, named (at most 5 of each).
 */
export function staleness(root = defaultRoot, part = "server") {
  const path = join(root, STAMP_PATH);
  if (!existsSync(path)) return `${STAMP_PATH} is missing: dist/ was never built with \`npm run build\` from these sources`;
  const built = JSON.parse(readFileSync(path, "utf8"))[part] ?? {};
  const now = hashInputs(root, part);
  const changed = Object.keys(now).filter((f) => f in built && built[f] !== now[f]);
  const added = Object.keys(now).filter((f) => !(f in built));
  const removed = Object.keys(built).filter((f) => !(f in now));
  if (changed.length + added.length + removed.length === 0) return undefined;
  const list = (what, files) => (files.length === 0 ? [] : [`${what}: ${files.slice(0, 5).join(", ")}${files.length > 5 ? ` and ${files.length - 5} more` : ""}`]);
  return [...list("changed", changed), ...list("added", added), ...list("removed", removed)].join("; ") + " since the last `npm run build`";
}

/** Throws, naming the changes and the fix, when dist/ is stale for `part`. */
export function checkBuild(part = "server", root = defaultRoot) {
  const why = staleness(root, part);
  if (why !== undefined) throw new Error(`dist/ is stale for the ${part} (${why}): run \`npm run build\` (npm test does) before tests that use dist/`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv[2] === "check") {
    const problems = Object.keys(BUILD_PARTS).map((p) => [p, staleness(defaultRoot, p)]).filter(([, why]) => why !== undefined);
    for (const [p, why] of problems) process.stderr.write(`build-stamp: ${p}: ${why}\n`);
    process.exit(problems.length === 0 ? 0 : 1);
  }
  const parts = process.argv.slice(2);
  for (const p of parts) if (!(p in BUILD_PARTS)) throw new Error(`build-stamp: unknown part ${JSON.stringify(p)}; parts: ${Object.keys(BUILD_PARTS).join(", ")}`);
  writeStamp(defaultRoot, parts.length === 0 ? undefined : parts);
}
