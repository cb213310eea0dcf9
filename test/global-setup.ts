/**
 * Runs once before the suites: makes sure the external tools the tests drive
 * (grpcurl) are installed, installing them when missing and saying so.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

export default function setup(): void {
  if (!existsSync(`${root}.tools/bin/grpcurl`)) {
    process.stdout.write("test setup: grpcurl not found in .tools/bin; installing it (scripts/install-test-tools.sh)\n");
    execFileSync("bash", [`${root}scripts/install-test-tools.sh`], { stdio: "inherit" });
  }
}
