/**
 * The dashboard's static file handler on its own, over a real node:http
 * server: a built directory made by the test (so this runs without
 * `npm run build`), and no directory at all. The built dashboard itself is
 * served and driven by test/e2e/dashboard.test.ts.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDashboardHandler, type DashboardHandler } from "../../src/server/dashboard.js";

const dirs: string[] = [];

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Serves `handler`, answering 404 "not found" for what it declines (as http.ts does). */
async function serve(handler: DashboardHandler): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (!handler(req, res)) {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

function get(port: number, path: string, method = "GET"): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: res.headers["content-type"], body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("dashboard handler", () => {
  let built: { server: Server; port: number };
  let missing: { server: Server; port: number };

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "bb-dashboard-"));
    dirs.push(dir);
    mkdirSync(join(dir, "assets"));
    writeFileSync(join(dir, "index.html"), "<!doctype html><title>t</title>");
    writeFileSync(join(dir, "build.json"), "{}");
    writeFileSync(join(dir, "assets", "app-ABC123.js"), "export {};");
    mkdirSync(join(dir, "assets", "nested"));
    writeFileSync(join(dir, "assets", "nested", "x.js"), "secret");
    writeFileSync(join(dir, "secret.txt"), "secret");
    built = await serve(createDashboardHandler({ dir }));

    const empty = mkdtempSync(join(tmpdir(), "bb-dashboard-none-"));
    dirs.push(empty);
    missing = await serve(createDashboardHandler({ dir: join(empty, "not-there") }));
  });

  afterAll(async () => {
    await new Promise((r) => built.server.close(r));
    await new Promise((r) => missing.server.close(r));
  });

  it("serves index.html at / and /index.html and the files directly under assets/, nothing else", async () => {
    expect(await get(built.port, "/")).toEqual({ status: 200, type: "text/html; charset=utf-8", body: "<!doctype html><title>t</title>" });
    expect((await get(built.port, "/index.html")).status).toBe(200);
    expect(await get(built.port, "/assets/app-ABC123.js?v=1")).toEqual({ status: 200, type: "text/javascript; charset=utf-8", body: "export {};" });
    for (const path of ["/secret.txt", "/build.json", "/assets/nested/x.js", "/assets/nested", "/assets/../secret.txt", "/%2e%2e/secret.txt"]) {
      expect((await get(built.port, path)).status, path).toBe(404);
    }
  });

  it("without a built dashboard answers / with 404 saying how to build it, and declines every other path", async () => {
    const root = await get(missing.port, "/");
    expect(root.status).toBe(404);
    expect(root.body).toBe("the dashboard is not built: run `npm run build` (it writes dist/dashboard)\n");
    expect(await get(missing.port, "/assets/app.js")).toEqual({ status: 404, type: "text/plain", body: "not found" });
  });
});
