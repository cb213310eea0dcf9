/**
 * scripts/build-stamp.mjs: the check that keeps tests off a stale dist/
 * (replicas.ts calls checkBuild("server") before starting dist/src/main.js),
 * on a throwaway tree shaped like the repository.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkBuild, staleness, writeStamp } from "../../scripts/build-stamp.mjs";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
let root: string;

function put(path: string, text: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "build-stamp-"));
  put("src/main.ts", "export {};\n");
  put("src/store/redis/lua/acquire.lua", "return 1\n");
  put("gen/ts/x_pb.ts", "export {};\n");
  put("tsconfig.json", "{}\n");
  put("tsconfig.build.json", "{}\n");
  put("dashboard/main.ts", "export {};\n");
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("build stamp", () => {
  it("refuses a tree never built, naming the fix", () => {
    expect(staleness(root, "server")).toBe("dist/build-stamp.json is missing: dist/ was never built with `npm run build` from these sources");
    expect(() => checkBuild("server", root)).toThrow(/^dist\/ is stale for the server \(.*\): run `npm run build` \(npm test does\) before tests that use dist\/$/);
  });

  it("accepts the sources it was built from, even when rewritten with the same content", () => {
    writeStamp(root);
    put("src/main.ts", "export {};\n");
    expect(staleness(root, "server")).toBeUndefined();
    expect(staleness(root, "dashboard")).toBeUndefined();
    expect(() => checkBuild("server", root)).not.toThrow();
  });

  it("names a changed Lua script, an added and a removed source file", () => {
    writeStamp(root);
    put("src/store/redis/lua/acquire.lua", "return 2\n");
    expect(staleness(root, "server")).toBe("changed: src/store/redis/lua/acquire.lua since the last `npm run build`");
    put("src/new.ts", "export {};\n");
    unlinkSync(join(root, "gen/ts/x_pb.ts"));
    expect(staleness(root, "server")).toBe(
      "changed: src/store/redis/lua/acquire.lua; added: src/new.ts; removed: gen/ts/x_pb.ts since the last `npm run build`",
    );
    expect(staleness(root, "dashboard")).toBeUndefined(); // the dashboard's own inputs did not change
  });

  it("writes one part alone, keeping the other's stamp", () => {
    writeStamp(root);
    put("dashboard/main.ts", "export const x = 1;\n");
    put("src/main.ts", "export const y = 1;\n");
    writeStamp(root, ["dashboard"]);
    expect(staleness(root, "dashboard")).toBeUndefined();
    expect(staleness(root, "server")).toBe("changed: src/main.ts since the last `npm run build`");
  });

  it("is the last step of `npm run build`, so a build that stopped halfway leaves the old stamp (stale)", () => {
    const { scripts } = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { scripts: Record<string, string> };
    expect(scripts.build).toMatch(/ && node scripts\/build-stamp\.mjs$/);
  });
});
