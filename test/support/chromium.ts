/**
 * Where the headless browser for the dashboard's browser test is: the
 * BREAKERBOX_CHROMIUM environment variable, else Debian's chromium
 * (scripts/install-chromium.sh installs it; test/global-setup.ts runs that
 * when this finds nothing). playwright-core drives it; it downloads no
 * browser of its own.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser } from "playwright-core";
import { checkBuild, staleness } from "../../scripts/build-stamp.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** Where the dashboard's browser tests put their screenshots. */
export const DASHBOARD_ARTIFACTS = join(root, "test-artifacts", "dashboard");

/** The chromium executable, or undefined when none is installed. */
export function chromiumPath(): string | undefined {
  const fromEnv = process.env.BREAKERBOX_CHROMIUM;
  if (fromEnv !== undefined && fromEnv !== "") return existsSync(fromEnv) ? fromEnv : undefined;
  for (const path of ["/usr/bin/chromium", "/usr/bin/chromium-browser"]) if (existsSync(path)) return path;
  for (const name of ["chromium", "chromium-browser"]) {
    try {
      const found = execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim();
      if (found !== "") return found;
    } catch {
      // not on PATH
    }
  }
  return undefined;
}

/**
 * For a dashboard browser test's beforeAll: builds the dashboard when it is
 * missing or older than dashboard/ (`npm test` builds first; a lone run of one
 * file may not have), makes the artifacts folder, and launches headless
 * Chromium. Throws when no Chromium is installed.
 */
export async function launchDashboardBrowser(): Promise<Browser> {
  if (!existsSync(join(root, "dist", "dashboard", "build.json")) || staleness(root, "dashboard") !== undefined) {
    execFileSync(process.execPath, [join(root, "dashboard", "build.mjs")], { stdio: "inherit" });
    execFileSync(process.execPath, [join(root, "scripts", "build-stamp.mjs"), "dashboard"], { stdio: "inherit" });
  }
  checkBuild("dashboard");
  mkdirSync(DASHBOARD_ARTIFACTS, { recursive: true });
  const executablePath = chromiumPath();
  if (executablePath === undefined) throw new Error("chromium not found: run scripts/install-chromium.sh (test/global-setup.ts does)");
  // --no-sandbox: the tests may run as root (CI containers), where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath, headless: true, args: ["--no-sandbox"] });
}
