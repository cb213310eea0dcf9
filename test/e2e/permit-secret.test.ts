/**
 * BREAKERBOX_PERMIT_SECRET reaches the store the server builds (src/app.ts):
 * two memory-store servers given the same secret accept each other's
 * permits; one with another secret, or none, refuses them as
 * PERMIT_BAD_SIGNATURE.
 */
import { afterEach, describe, expect, it } from "vitest";
import { PermitRejectedError } from "../../src/engine/index.js";
import { startRealClockServer, type RunningTestServer } from "../support/test-server.js";

const SECRET = "permit-secret-e2e-0123456789abcdef";
const started: RunningTestServer[] = [];

async function server(env: Record<string, string>): Promise<RunningTestServer> {
  const s = await startRealClockServer(env);
  started.push(s);
  return s;
}

afterEach(async () => {
  for (const s of started.splice(0)) await s.app.stop();
});

describe("the permit secret of a server", () => {
  it.each([
    ["the same secret", { BREAKERBOX_PERMIT_SECRET: SECRET }, "RECORDED"],
    ["another secret", { BREAKERBOX_PERMIT_SECRET: `${SECRET}!` }, "bad-signature"],
    ["no secret (one drawn per process)", {}, "bad-signature"],
    ["the issuer's secret as the previous one", { BREAKERBOX_PERMIT_SECRET: `${SECRET}!`, BREAKERBOX_PERMIT_SECRET_PREVIOUS: SECRET }, "RECORDED"],
  ])("a permit issued under BREAKERBOX_PERMIT_SECRET, reported to a server with %s: %s", async (_what, env, expected) => {
    const issuer = await server({ BREAKERBOX_PERMIT_SECRET: SECRET });
    const other = await server(env);
    const permit = (await issuer.app.store.acquire("ps.e2e")).permit!;
    await other.app.store.acquire("ps.e2e"); // the circuit exists there too, at generation 0
    const answer = await other.app.store.report("ps.e2e", { permit, outcome: "SUCCESS", durationMs: 1, retryAfterMs: 0 }).then(
      (ack) => ack.disposition,
      (err: unknown) => (err instanceof PermitRejectedError ? err.problem : String(err)),
    );
    expect(answer).toBe(expected);
  });
});
