/**
 * clients/go, tested with the Go toolchain against a live server: this file
 * starts the server (failure threshold 3, open duration 30 s, max 600 s, on
 * a manual clock that never moves, so every retry_after the Go tests see is
 * exact), a second one with access control on, and a third serving TLS with
 * a test CA's certificate, and runs `gofmt -l`, `go vet ./...` and
 * `go test ./...` in clients/go with their gRPC addresses (and the agent key,
 * and the CA's file) in BREAKERBOX_TEST_* variables, failing with the
 * runner's output. The Go tests also start clients/conformance/harness.mjs
 * (with the `node` on PATH, and dist/) to play the conformance scenarios. The first run downloads grpc-go and protobuf through
 * the Go module proxy into the default Go module cache.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { useTestServer } from "../support/use-test-server.js";

const clientDir = fileURLToPath(new URL("../../clients/go", import.meta.url));
const exec = promisify(execFile);

/** The server settings clients/go/support_test.go assumes. */
const SERVER_ENV = {
  CIRCUIT_BREAKER_FAILURE_THRESHOLD: "3",
  CIRCUIT_BREAKER_TIMEOUT_SECONDS: "30",
  CIRCUIT_BREAKER_MAX_TIMEOUT_SECONDS: "600",
};

/** Runs a Go tool in clients/go; on failure, throws with everything it printed. */
async function go(args: string[], env: Record<string, string> = {}): Promise<string> {
  try {
    const { stdout } = await exec(args[0]!, args.slice(1), {
      cwd: clientDir,
      env: { ...process.env, ...env },
      timeout: 240_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    const e = err as { code?: string | number; stdout?: string; stderr?: string; message: string };
    if (e.code === "ENOENT") throw new Error(`\`${args[0]}\` is not on PATH: install Go 1.26 or later (https://go.dev/dl/) to test clients/go`);
    throw new Error(`${args.join(" ")} in clients/go failed:\n${e.stdout ?? ""}\n${e.stderr ?? e.message}`);
  }
}

/** The agent key of the second server, which has access control on. */
const API_KEY = "go-client-test-key-0123456789";

describe("clients/go", () => {
  const { server } = useTestServer({ env: SERVER_ENV });
  const { server: keyed } = useTestServer({ env: { ...SERVER_ENV, BREAKERBOX_API_KEYS: `go-client:agent:${API_KEY}` } });
  const { server: tlsServer, certs } = useTestServer({ env: SERVER_ENV, tls: true });

  it("is gofmt- and vet-clean, and its tests pass against a live server without skipping", async () => {
    expect(await go(["gofmt", "-l", "."]), "files gofmt would change").toBe("");
    await go(["go", "vet", "./..."]);
    const out = await go(["go", "test", "-count=1", "-timeout=120s", "-v", "./..."], {
      BREAKERBOX_TEST_ADDRESS: server.grpcAddress,
      BREAKERBOX_TEST_KEYED_ADDRESS: keyed.grpcAddress,
      BREAKERBOX_TEST_API_KEY: API_KEY,
      BREAKERBOX_TEST_TLS_ADDRESS: tlsServer.grpcAddress,
      BREAKERBOX_TEST_TLS_CA: certs.files.ca,
    });
    expect(out, out).not.toMatch(/^\s*--- (SKIP|FAIL)/m);
    // clients/conformance's story, played by conformance_test.go through the harness.
    expect(out, out).toMatch(/^\s*--- PASS: TestConformance \(/m);
    expect(out, out).toMatch(/^ok\s+github\.com\/breakerbox\/breakerbox\/clients\/go\s/m);
    const passed = out.match(/^\s*--- PASS/gm) ?? [];
    expect(passed.length, out).toBeGreaterThanOrEqual(45);
  }, 300_000);
});
