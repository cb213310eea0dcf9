/**
 * What breakerbox_build_info says about this process: the package version,
 * the Node.js version it runs on, and which build of the sources it is (a
 * short hash of the server part of dist/build-stamp.json, which lists a hash
 * of every source file the build compiled), so two replicas that report the
 * same version but were built from different sources tell apart.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface BuildInfo {
  version: string;
  nodeVersion: string;
  /** 12 hex digits of the build stamp's server part; "source" when run from the sources (tests), "unknown" without a stamp. */
  build: string;
}

/** Walks up from this module to the directory holding the package.json named breakerbox. */
function packageRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === "breakerbox") return dir;
    dir = dirname(dir);
  }
  return undefined;
}

/** Read once at start (files only: no child process, no git). */
export function readBuildInfo(): BuildInfo {
  const root = packageRoot();
  const version = root === undefined ? "unknown" : ((JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version?: string }).version ?? "unknown");
  const fromDist = fileURLToPath(import.meta.url).includes(`${join("dist", "src")}`);
  let build = fromDist ? "unknown" : "source";
  const stamp = root === undefined ? undefined : join(root, "dist", "build-stamp.json");
  if (fromDist && stamp !== undefined && existsSync(stamp)) {
    const server = (JSON.parse(readFileSync(stamp, "utf8")) as { server?: unknown }).server;
    if (server !== undefined) build = createHash("sha256").update(JSON.stringify(server)).digest("hex").slice(0, 12);
  }
  return { version, nodeVersion: process.version, build };
}
