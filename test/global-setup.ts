/**
 * Runs once before the suites: says which Node the suites run on (npm scripts
 * run the pinned Node 24 from node_modules/.bin: README.md, "Quick start"),
 * then makes sure the external tools the tests drive
 * (grpcurl; redis-server, redis-sentinel and redis-cli; chromium for the
 * dashboard's browser test) are installed,
 * installing them when missing and saying so; says when dist/ is older than
 * its sources (scripts/build-stamp.mjs). Afterwards it reaps Redis
 * processes left behind by test processes that died without cleaning up.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { staleness } from "../scripts/build-stamp.mjs";
import { chromiumPath } from "./support/chromium.js";
import { reapOrphanedRedis, redisBinary } from "./support/redis-servers.js";

const root = fileURLToPath(new URL("..", import.meta.url));

function missingRedisBinaries(): string[] {
  const names = ["redis-server", "redis-sentinel", "redis-cli"] as const;
  return names.filter((name) => {
    try {
      redisBinary(name);
      return false;
    } catch {
      return true;
    }
  });
}

/** True when `name` runs from PATH (the OS packages put prometheus and promtool there). */
function onPath(name: string): boolean {
  return spawnSync(name, ["--version"], { stdio: "ignore" }).status === 0;
}

export default function setup(): () => void {
  // Vitest's workers and every server process the tests spawn run on this
  // executable (process.execPath), so this one line names the runtime under test.
  process.stdout.write(`test setup: Node ${process.version} (${process.execPath})\n`);
  if (!existsSync(`${root}.tools/bin/grpcurl`)) {
    process.stdout.write("test setup: grpcurl not found in .tools/bin; installing it (scripts/install-test-tools.sh)\n");
    execFileSync("bash", [`${root}scripts/install-test-tools.sh`], { stdio: "inherit" });
  }
  const missing = missingRedisBinaries();
  if (missing.length > 0) {
    process.stdout.write(
      `test setup: ${missing.join(", ")} not found on PATH; installing Redis from the OS packages (scripts/install-redis.sh)\n`,
    );
    execFileSync("bash", [`${root}scripts/install-redis.sh`], { stdio: "inherit" });
    const still = missingRedisBinaries();
    if (still.length > 0) throw new Error(`test setup: still missing after scripts/install-redis.sh: ${still.join(", ")}`);
  }
  if (chromiumPath() === undefined) {
    process.stdout.write("test setup: chromium not found; installing it from the OS packages (scripts/install-chromium.sh)\n");
    execFileSync("bash", [`${root}scripts/install-chromium.sh`], { stdio: "inherit" });
    if (chromiumPath() === undefined) throw new Error("test setup: chromium still missing after scripts/install-chromium.sh");
  }
  if (!onPath("prometheus") || !onPath("promtool")) {
    process.stdout.write("test setup: prometheus or promtool not found; installing them from the OS packages (scripts/install-prometheus.sh)\n");
    execFileSync("bash", [`${root}scripts/install-prometheus.sh`], { stdio: "inherit" });
    if (!onPath("prometheus") || !onPath("promtool")) throw new Error("test setup: prometheus or promtool still missing after scripts/install-prometheus.sh");
  }
  // Tests that start dist/src/main.js refuse a stale build themselves (test/support/replicas.ts);
  // say it here once, before they fail one by one.
  const stale = staleness(root, "server");
  if (stale !== undefined) process.stdout.write(`test setup: dist/ is stale (${stale}); tests that start dist/src/main.js will fail until \`npm run build\`\n`);
  reapOrphanedRedis();
  return () => {
    reapOrphanedRedis();
  };
}
