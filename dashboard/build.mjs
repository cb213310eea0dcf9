#!/usr/bin/env node
/**
 * Builds the dashboard into dist/dashboard (part of `npm run build`):
 * bundles dashboard/main.ts (with @connectrpc/connect-web and the generated
 * schemas) and dashboard/styles.css with esbuild into assets/ under names
 * that carry a content hash, copies the icon the same way, writes
 * index.html with those names, and last build.json (the file list, which
 * the server looks for). The server serves index.html with no-cache and the
 * hashed assets as immutable.
 *
 * Usage: node dashboard/build.mjs
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, extname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const src = join(root, "dashboard");
const out = join(root, "dist", "dashboard");
const assets = join(out, "assets");

rmSync(out, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });

const result = await build({
  entryPoints: { app: join(src, "main.ts"), styles: join(src, "styles.css") },
  bundle: true,
  minify: true,
  format: "esm",
  // Browsers of the last few years: fetch streams, <dialog>, CSS nesting not used.
  target: ["es2022", "chrome110", "firefox110", "safari16"],
  outdir: assets,
  entryNames: "[name]-[hash]",
  metafile: true,
  legalComments: "eof",
  logLevel: "warning",
});

/** Output file name (under assets/) of one entry point. */
function outputOf(entry) {
  for (const [file, meta] of Object.entries(result.metafile.outputs)) {
    if (meta.entryPoint !== undefined && join(root, meta.entryPoint) === join(src, entry)) return basename(file);
  }
  throw new Error(`dashboard build: no output for ${entry}`);
}

function copyHashed(name) {
  const body = readFileSync(join(src, name));
  const hash = createHash("sha256").update(body).digest("hex").slice(0, 8).toUpperCase();
  const target = `${basename(name, extname(name))}-${hash}${extname(name)}`;
  writeFileSync(join(assets, target), body);
  return target;
}

const names = { "main.ts": outputOf("main.ts"), "styles.css": outputOf("styles.css"), "favicon.svg": copyHashed("favicon.svg") };

// index.html names the sources (main.ts, styles.css, favicon.svg); each
// reference must be there exactly once, and becomes the hashed asset.
let html = readFileSync(join(src, "index.html"), "utf8");
for (const [source, built] of Object.entries(names)) {
  const attr = new RegExp(`(src|href)="${source.replace(".", "\\.")}"`, "g");
  const found = html.match(attr)?.length ?? 0;
  if (found !== 1) throw new Error(`dashboard build: index.html must reference ${source} exactly once (found ${found})`);
  html = html.replace(attr, `$1="assets/${built}"`);
}
writeFileSync(join(out, "index.html"), html);

const files = ["index.html", ...Object.values(names).map((n) => `assets/${n}`)];
const sizes = Object.fromEntries(
  files.map((f) => {
    const body = readFileSync(join(out, f));
    return [f, { bytes: body.length, gzip: gzipSync(body).length }];
  }),
);
writeFileSync(join(out, "build.json"), `${JSON.stringify({ files: sizes }, null, 2)}\n`);

const kb = (n) => `${(n / 1024).toFixed(1)} kB`;
for (const [f, s] of Object.entries(sizes)) {
  process.stdout.write(`dashboard: ${relative(root, join(out, f))} ${kb(s.bytes)} (${kb(s.gzip)} gzip)\n`);
}
