/**
 * CI refuses a wire-breaking proto change: scripts/ci/check-proto-compat.sh
 * (run by .ci/run) against a scratch git repository holding this proto, with
 * one commit per case, so the check is exercised exactly as CI runs it.
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = new URL("../../", import.meta.url).pathname;
const script = join(root, "scripts/ci/check-proto-compat.sh");
const protoFile = "proto/breakerbox/v1/breakerbox.proto";

let repo: string;
let stable: string;

function git(...args: string[]): string {
  const r = spawnSync("git", ["-c", "user.name=test", "-c", "user.email=test@example.com", ...args], { cwd: repo, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
  return r.stdout.trim();
}

/** Rewrites the proto with `edit`, commits it, and runs the check. */
function commitAndCheck(message: string, edit: (proto: string) => string): { ok: boolean; output: string } {
  const path = join(repo, protoFile);
  const before = readFileSync(path, "utf8");
  const after = edit(before);
  expect(after, "the edit must change the proto").not.toBe(before);
  writeFileSync(path, after);
  git("commit", "-qam", message);
  const r = spawnSync("bash", [script], {
    encoding: "utf8",
    env: { ...process.env, PROTO_COMPAT_ROOT: repo, PROTO_STABLE_SINCE: stable, BUF: join(root, "node_modules/.bin/buf") },
  });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

beforeAll(() => {
  repo = mkdtempSync(join(tmpdir(), "proto-compat-"));
  cpSync(join(root, "proto"), join(repo, "proto"), { recursive: true });
  cpSync(join(root, "buf.yaml"), join(repo, "buf.yaml"));
  git("init", "-q", "-b", "main");
  git("add", ".");
  git("commit", "-qm", "v1 stable");
  stable = git("rev-parse", "HEAD");
});

afterAll(() => rmSync(repo, { recursive: true, force: true }));

describe("the proto compatibility check", () => {
  it("accepts an added field", () => {
    const r = commitAndCheck("add a field", (p) =>
      p.replace(
        "message GetStateRequest {\n",
        "message GetStateRequest {\n  // A field added later.\n  string added_later = 99;\n",
      ),
    );
    expect(r.output).toContain("proto compatible with");
    expect(r.ok).toBe(true);
  });

  it("refuses a field whose type changes, naming it", () => {
    const r = commitAndCheck("change a type", (p) =>
      p.replace("  string added_later = 99;\n", "  uint64 added_later = 99;\n"),
    );
    expect(r.ok).toBe(false);
    expect(r.output).toMatch(/Field "99" with name "added_later" on message "GetStateRequest" changed type/);
  });

  it("refuses a field removed after the baseline, even when the previous commit already lacked it", () => {
    // Remove it in one commit, then change something harmless: comparing with
    // the previous commit alone would pass; the earlier baselines do not.
    commitAndCheck("remove the field", (p) => p.replace("  // A field added later.\n  uint64 added_later = 99;\n", ""));
    const r = commitAndCheck("comment only", (p) => p.replace("// Request of GetState.", "// Request of GetState (reworded)."));
    expect(r.ok).toBe(false);
    expect(r.output).toMatch(/Previously present field "99" with name "added_later" on message "GetStateRequest" was deleted/);
  });

  it("refuses a removed enum value and a renamed field", () => {
    git("reset", "-q", "--hard", stable);
    const r = commitAndCheck("remove a value, rename a field", (p) =>
      p
        .replace(/\n  \/\/ Not known to this client\.\n  REMOVAL_CAUSE_UNSPECIFIED = 0;/, "\n  // Unspecified.\n  REMOVAL_CAUSE_UNSPECIFIED = 0;")
        .replace(/  \/\/ The circuit was CLOSED[^]*?REMOVAL_CAUSE_IDLE_EVICTED = 1;\n/, "")
        .replace("  bool allowed = 1;", "  bool admitted = 1;"),
    );
    expect(r.ok).toBe(false);
    expect(r.output).toMatch(/Previously present enum value "1" on enum "RemovalCause" was deleted/);
    expect(r.output).toMatch(/Field "1" on message "AcquireResponse" changed name from "allowed" to "admitted"/);
  });
});
