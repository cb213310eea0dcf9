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

/** Walks up from this module to the directory holding the package.json named breakerbox; that directory and the manifest. */
function findPackage(): { root: string; manifest: { version?: string } } | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const path = join(dir, "package.json");
    if (existsSync(path)) {
      const manifest = JSON.parse(readFileSync(path, "utf8")) as { name?: string; version?: string };
      if (manifest.name === "breakerbox") return { root: dir, manifest };
    }
    dir = dirname(dir);
  }
  return undefined;
}

let buildInfo: BuildInfo | undefined;

/** Read once per process, at first use (files only: no child process, no git). */
export function readBuildInfo(): BuildInfo {
  if (buildInfo !== undefined) return buildInfo;
  const found = findPackage();
  const version = found?.manifest.version ?? "unknown";
  const fromDist = fileURLToPath(import.meta.url).includes(`${join("dist", "src")}`);
  let build = fromDist ? "unknown" : "source";
  const stamp = found === undefined ? undefined : join(found.root, "dist", "build-stamp.json");
  if (fromDist && stamp !== undefined && existsSync(stamp)) {
    const server = (JSON.parse(readFileSync(stamp, "utf8")) as { server?: unknown }).server;
    if (server !== undefined) build = createHash("sha256").update(JSON.stringify(server)).digest("hex").slice(0, 12);
  }
  buildInfo = { version, nodeVersion: process.version, build };
  return buildInfo;
}
