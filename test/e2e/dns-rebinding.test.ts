/**
 * DNS rebinding against the keyless loopback default, in a real browser: a
 * page from "rebind.test" whose name now resolves to 127.0.0.1 (Chromium's
 * --host-resolver-rules stands in for the attacker's DNS) calls the API as
 * its own origin. The server must refuse by Host and change nothing; the
 * same call from the server's own origin (the dashboard's) still works.
 */
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromiumPath } from "../support/chromium.js";
import { CallError } from "../support/grpc-client.js";
import { useTestServer } from "../support/use-test-server.js";

let browser: Browser;

beforeAll(async () => {
  const executablePath = chromiumPath();
  if (executablePath === undefined) throw new Error("chromium not found: run scripts/install-chromium.sh (test/global-setup.ts does)");
  // --no-sandbox: the tests may run as root (CI containers), where Chromium's sandbox refuses to start.
  // Chromium's own private/local-network checks are turned off: other browsers have none, and
  // the server must not rely on them.
  const args = [
    "--no-sandbox",
    "--host-resolver-rules=MAP rebind.test 127.0.0.1",
    "--disable-features=PrivateNetworkAccessSendPreflights,PrivateNetworkAccessRespectPreflightResults,BlockInsecurePrivateNetworkRequests,LocalNetworkAccessChecks",
  ];
  browser = await chromium.launch({ executablePath, headless: true, args });
});

afterAll(async () => {
  await browser?.close();
});

/** What the page's script saw of its call: the HTTP status and body. */
interface CallSeen {
  status: number;
  body: string;
}

/** Script run in the page: a same-origin Connect JSON Acquire, as a rebinding attacker's page would send it. */
async function acquireFromPage(circuit: string): Promise<CallSeen> {
  const res = await fetch("/breakerbox.v1.CircuitService/Acquire", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ circuit }),
  });
  return { status: res.status, body: await res.text() };
}

describe("DNS rebinding", () => {
  const { server, client } = useTestServer();

  it("refuses a rebound page's call by its Host, and the circuit is never created", async () => {
    const port = new URL(server.httpUrl).port;
    const page = await browser.newPage();
    try {
      // The attacker's page, as first served by the attacker's DNS answer.
      await page.route(`http://rebind.test:${port}/`, (route) => route.fulfill({ contentType: "text/html", body: "<!doctype html><title>rebind</title>" }));
      await page.goto(`http://rebind.test:${port}/`);
      const seen = await page.evaluate(acquireFromPage, "rebind.victim");
      expect(seen).toEqual({ status: 403, body: 'forbidden: host "rebind.test" is not allowed (BREAKERBOX_HTTP_ALLOWED_HOSTS)' });
    } finally {
      await page.close();
    }
    const err = await client.call("getState", { circuit: "rebind.victim" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CallError);
    expect((err as CallError).code).toBe(5); // NOT_FOUND: nothing was created
  });

  it("answers the same call from the server's own origin", async () => {
    const page = await browser.newPage();
    try {
      const landed = await page.goto(`${server.httpUrl}/healthz`);
      expect(landed?.status()).toBe(200);
      const seen = await page.evaluate(acquireFromPage, "rebind.own-origin");
      expect(seen.status).toBe(200);
      expect(JSON.parse(seen.body)).toMatchObject({ allowed: true, state: "STATE_CLOSED" });
    } finally {
      await page.close();
    }
  });
});
