/**
 * Where the headless browser for the dashboard's browser test is: the
 * BREAKERBOX_CHROMIUM environment variable, else Debian's chromium
 * (scripts/install-chromium.sh installs it; test/global-setup.ts runs that
 * when this finds nothing). playwright-core drives it; it downloads no
 * browser of its own.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

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
