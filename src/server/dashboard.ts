/**
 * Serves the dashboard's static files (bundled at build time into
 * dist/dashboard by dashboard/build.mjs) on the HTTP port: `/` and
 * `/index.html` answer the page, `/assets/<name>` the hashed bundle, style
 * sheet and icon.
 *
 * Every file is read into memory once, when the handler is created, and
 * requests are answered by exact lookup of the URL path in that table: no
 * request path ever reaches the file system, so there is nothing to traverse.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Options of {@link createDashboardHandler}. */
export interface DashboardOptions {
  /**
   * The built dashboard: a directory with index.html, build.json and assets/.
   * Default: dist/dashboard of this package, found from this module's place
   * (src/server when run from source, dist/src/server when built).
   */
  dir?: string;
}

/**
 * Answers a request if it is for the dashboard and returns true; returns
 * false for any other path, so the caller can try its next handler or
 * answer 404.
 */
export type DashboardHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
  cacheControl: string;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".json": "application/json",
  ".map": "application/json",
};

/**
 * index.html must be revalidated so a new build is picked up at once; the
 * assets it names carry a content hash in their file name, so they never
 * change and may be cached for good.
 */
const HTML_CACHE = "no-cache";
const ASSET_CACHE = "public, max-age=31536000, immutable";

/**
 * The page loads only its own script and style sheet and talks only to its
 * own origin (Connect); inline SVG built by the script needs no exception.
 */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

/** Where a built dashboard is, relative to this module: run from source, then built. */
const CANDIDATES = ["../../dist/dashboard", "../../dashboard"];

/**
 * The directory of the built dashboard: the first candidate holding a
 * build.json (written last by the build, so a source tree's dashboard/ with
 * its unbuilt index.html is never served). Undefined when none is built.
 */
export function defaultDashboardDir(): string | undefined {
  for (const candidate of CANDIDATES) {
    const dir = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(join(dir, "build.json"))) return dir;
  }
  return undefined;
}

/**
 * Builds the handler, reading the files once. With no built dashboard
 * (`npm run build` not run, or `dir` without an index.html), `/` answers 404
 * saying how to build it, and every other path is left to the caller.
 */
export function createDashboardHandler(options: DashboardOptions = {}): DashboardHandler {
  const dir = options.dir ?? defaultDashboardDir();
  const files = dir !== undefined && existsSync(join(dir, "index.html")) ? loadFiles(dir) : new Map<string, StaticFile>();
  const missing = "the dashboard is not built: run `npm run build` (it writes dist/dashboard)\n";

  return (req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0]!;
    const file = files.get(path === "/" ? "/index.html" : path);
    if (file === undefined) {
      if (path !== "/" || files.size > 0) return false;
      send(res, 404, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" }, missing, req.method === "HEAD");
      return true;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      send(res, 405, { "content-type": "text/plain; charset=utf-8", allow: "GET, HEAD" }, "method not allowed\n", false);
      return true;
    }
    const headers: Record<string, string> = {
      ...SECURITY_HEADERS,
      "content-type": file.type,
      "cache-control": file.cacheControl,
      etag: file.etag,
    };
    if (req.headers["if-none-match"] === file.etag) {
      send(res, 304, headers, undefined, true);
      return true;
    }
    send(res, 200, headers, file.body, req.method === "HEAD");
    return true;
  };
}

function send(
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body: string | Buffer | undefined,
  headOnly: boolean,
): void {
  const length = body === undefined ? 0 : typeof body === "string" ? Buffer.byteLength(body) : body.length;
  res.writeHead(status, status === 304 ? headers : { ...headers, "content-length": String(length) });
  res.end(headOnly ? undefined : body);
}

/** index.html plus every file under assets/, keyed by URL path. */
function loadFiles(dir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  const add = (urlPath: string, filePath: string, cacheControl: string): void => {
    const body = readFileSync(filePath);
    const type = CONTENT_TYPES[extname(filePath)] ?? "application/octet-stream";
    const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;
    files.set(urlPath, { body, type, etag, cacheControl });
  };
  add("/index.html", join(dir, "index.html"), HTML_CACHE);
  const assets = join(dir, "assets");
  if (existsSync(assets)) {
    for (const name of readdirSync(assets)) {
      const path = join(assets, name);
      if (statSync(path).isFile()) add(`/assets/${name}`, path, ASSET_CACHE);
    }
  }
  return files;
}
