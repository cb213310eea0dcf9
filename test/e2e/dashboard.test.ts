/**
 * The dashboard, end to end: a real server (manual store clock) serving the
 * built dashboard, real headless Chromium (Debian's, driven by
 * playwright-core), and failures driven through the gRPC API by a real
 * @grpc/grpc-js client. The tests wait for what the page shows, never for
 * fixed times: a tile's data-state changes when the Watch stream says so.
 * Screenshots go to test-artifacts/dashboard/.
 *
 * Also the static serving itself, over raw HTTP requests (so paths reach the
 * server exactly as written): content types, caching, HEAD, 304, 405, and
 * path traversal attempts.
 */
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { type Browser, type BrowserContext, type Locator, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Outcome, State } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { DASHBOARD_ARTIFACTS as ARTIFACTS, launchDashboardBrowser } from "../support/chromium.js";
import { CallError, type CircuitClient } from "../support/grpc-client.js";
import { useTestServer } from "../support/use-test-server.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
/** Longest wait for something to show on the page (status messages come every second). */
const SHOW_MS = 15_000;

let browser: Browser;
/** Script errors of every page the tests open; none may happen. */
const pageErrors: string[] = [];

afterEach(() => {
  expect(pageErrors.splice(0), "script errors on the page").toEqual([]);
});

beforeAll(async () => {
  browser = await launchDashboardBrowser();
});

afterAll(async () => {
  await browser?.close();
});

// --- helpers -----------------------------------------------------------------

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP/1.1 request with the path sent exactly as given (fetch would normalise "..") */
function raw(url: string, path: string, method = "GET", headers: Record<string, string> = {}): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.end();
  });
}

function tile(page: Page, circuit: string, state?: string): Locator {
  return page.locator(`a.tile[data-circuit="${circuit}"]${state === undefined ? "" : `[data-state="${state}"]`}`);
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Drives one call through the gRPC API: Acquire, then Report `outcome` (as agent instance `agentInstanceId`, if given). */
async function call(client: CircuitClient, circuit: string, outcome: Outcome, metadata?: Record<string, string>, agentInstanceId = ""): Promise<void> {
  const a = await client.call("acquire", { circuit, agentInstanceId }, metadata);
  expect(a.allowed, `${circuit} admits the call`).toBe(true);
  await client.call("report", { circuit, permit: a.permit, outcome, duration: durationFromMs(120), agentInstanceId }, metadata);
}

async function configure(client: CircuitClient, circuit: string, metadata?: Record<string, string>): Promise<void> {
  await client.call(
    "configure",
    {
      target: { case: "circuit", value: circuit },
      config: {
        failureThreshold: 3,
        failureRateThreshold: 0.5,
        minimumCalls: 4,
        openDuration: durationFromMs(30_000),
        halfOpenMaxCalls: 2,
        successThreshold: 2,
      },
    },
    metadata,
  );
}

/** The data-circuit of every element `locator` matches, in document order. */
async function circuitsOf(locator: Locator): Promise<string[]> {
  return Promise.all((await locator.all()).map(async (l) => (await l.getAttribute("data-circuit")) ?? ""));
}

async function newPage(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(e.message));
  await page.goto(url);
  return page;
}

// --- static files --------------------------------------------------------------

describe("dashboard static files", () => {
  const { server } = useTestServer();

  it("serves index.html at / with no-cache, and the hashed assets it names as immutable", async () => {
    const index = await raw(server.httpUrl, "/");
    expect(index.status).toBe(200);
    expect(index.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(index.headers["cache-control"]).toBe("no-cache");
    expect(index.headers["x-content-type-options"]).toBe("nosniff");
    expect(index.headers["content-security-policy"]).toContain("script-src 'self'");
    expect(index.body).toBe(readFileSync(join(root, "dist", "dashboard", "index.html"), "utf8"));
    expect((await raw(server.httpUrl, "/index.html")).body).toBe(index.body);

    const script = /src="(assets\/app-[A-Z0-9]+\.js)"/.exec(index.body)?.[1];
    const style = /href="(assets\/styles-[A-Z0-9]+\.css)"/.exec(index.body)?.[1];
    const icon = /href="(assets\/favicon-[A-Z0-9]+\.svg)"/.exec(index.body)?.[1];
    expect([script, style, icon].every((x) => x !== undefined)).toBe(true);
    for (const [path, type] of [
      [script!, "text/javascript; charset=utf-8"],
      [style!, "text/css; charset=utf-8"],
      [icon!, "image/svg+xml"],
    ] as const) {
      const res = await raw(server.httpUrl, `/${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers["content-type"], path).toBe(type);
      expect(res.headers["cache-control"], path).toBe("public, max-age=31536000, immutable");
      expect(res.body, path).toBe(readFileSync(join(root, "dist", "dashboard", path), "utf8"));
    }
  });

  it("answers HEAD with the headers and no body, If-None-Match with 304, and other methods with 405", async () => {
    const get = await raw(server.httpUrl, "/");
    const head = await raw(server.httpUrl, "/", "HEAD");
    expect(head.status).toBe(200);
    expect(head.body).toBe("");
    expect(head.headers["content-length"]).toBe(String(Buffer.byteLength(get.body)));
    expect(head.headers["etag"]).toBe(get.headers["etag"]);

    const notModified = await raw(server.httpUrl, "/", "GET", { "if-none-match": String(get.headers["etag"]) });
    expect(notModified.status).toBe(304);
    expect(notModified.body).toBe("");

    const post = await raw(server.httpUrl, "/", "POST");
    expect(post.status).toBe(405);
    expect(post.headers["allow"]).toBe("GET, HEAD");
  });

  it.each([
    "/assets/../package.json",
    "/assets/..%2f..%2fpackage.json",
    "/assets/%2e%2e/%2e%2e/package.json",
    "/..%2f..%2fpackage.json",
    "/assets/..\\..\\package.json",
    "//etc/passwd",
    "/assets//etc/passwd",
    "/assets/",
    "/assets",
    "/dashboard/main.ts",
    "/dist/dashboard/index.html",
    "/build.json",
    "/index.html/..",
    "/nope",
  ])("answers 404 for %s (nothing outside the built files is reachable)", async (path) => {
    const res = await raw(server.httpUrl, path);
    expect(res.status).toBe(404);
    expect(res.body).toBe("not found");
  });

  it("leaves the other HTTP paths alone: probes, /metrics and the Connect API", async () => {
    expect((await raw(server.httpUrl, "/healthz")).body).toBe("ok");
    const metrics = await raw(server.httpUrl, "/metrics");
    expect(metrics.status).toBe(200);
    const res = await fetch(`${server.httpUrl}/breakerbox.v1.CircuitService/Acquire`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ circuit: "static.check" }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { allowed: boolean }).allowed).toBe(true);
  });
});

// --- live, access control off ----------------------------------------------------

describe("dashboard in the browser, access control off", () => {
  const { server, client } = useTestServer();

  it("shows a circuit trip OPEN, turn HALF_OPEN and recover CLOSED live, and resets it from the circuit view", async () => {
    const circuit = "e2e.payments";
    await configure(client, circuit);
    await call(client, circuit, Outcome.SUCCESS);
    await call(client, "e2e.search", Outcome.SUCCESS);
    await call(client, "llm.gpt", Outcome.SUCCESS);

    const context = await browser.newContext({ colorScheme: "light", viewport: { width: 1280, height: 800 } });
    const page = await newPage(context, server.httpUrl);
    await page.locator('#connection[data-connection="live"]').waitFor({ timeout: SHOW_MS });
    await tile(page, circuit, "CLOSED").waitFor({ timeout: SHOW_MS });
    expect(await circuitsOf(page.locator("a.tile"))).toEqual([
      "e2e.payments",
      "e2e.search",
      "llm.gpt",
    ]);

    // Failures through the gRPC API: the tile turns OPEN and counts down.
    for (let i = 0; i < 3; i++) await call(client, circuit, Outcome.FAILURE);
    await tile(page, circuit, "OPEN").waitFor({ timeout: SHOW_MS });
    expect(await tile(page, circuit).locator(".badge").textContent()).toBe("OPEN");
    expect(await tile(page, circuit).locator(".tile-foot").textContent()).toMatch(/^half-open in 0:(2\d|30)$/);
    expect(await page.locator("#announcer").textContent()).toBe("e2e.payments is now OPEN (consecutive_failures).");

    // A denied Acquire shows up as a rejection with the next status message.
    expect((await client.call("acquire", { circuit })).allowed).toBe(false);
    const metrics = tile(page, circuit).locator(".metrics dd");
    await metrics.nth(3).filter({ hasText: /^1$/ }).waitFor({ timeout: SHOW_MS });
    expect(await metrics.allTextContents()).toEqual(["75%", "0%", "4", "1"]);
    await shot(page, "01-open");

    // The open duration passes on the store's clock: the next status read turns it HALF_OPEN.
    server.clock.advance(30_000);
    await tile(page, circuit, "HALF_OPEN").waitFor({ timeout: SHOW_MS });
    await shot(page, "02-half-open");

    // Two successful probes close it.
    await call(client, circuit, Outcome.SUCCESS);
    await call(client, circuit, Outcome.SUCCESS);
    await tile(page, circuit, "CLOSED").waitFor({ timeout: SHOW_MS });
    expect(await page.locator("#announcer").textContent()).toBe("e2e.payments is now CLOSED (probes_succeeded).");
    await shot(page, "03-closed");

    // Trip it again, from two agent instances; open its view with the keyboard, reset it with a click.
    for (const pod of ["pod-a", "pod-a", "pod-b"]) await call(client, circuit, Outcome.FAILURE, undefined, pod);
    await tile(page, circuit, "OPEN").waitFor({ timeout: SHOW_MS });
    await tile(page, circuit).focus();
    await page.keyboard.press("Enter");
    await page.locator(`#detail-view[data-circuit="${circuit}"][data-state="OPEN"]`).waitFor({ timeout: SHOW_MS });
    expect(await page.locator("#detail-title:focus").count()).toBe(1);
    const history = page.locator("#history tr");
    await history.nth(4).waitFor({ timeout: SHOW_MS });
    expect(await history.allTextContents()).toEqual([
      // Who: the reporter whose Report tripped it, then every reporter whose failures counted.
      expect.stringMatching(/CLOSED → OPEN \(consecutive_failures\)anonymous\/pod-b; failures from anonymous\/pod-b, anonymous\/pod-a$/),
      expect.stringMatching(/HALF-OPEN → CLOSED \(probes_succeeded\)anonymous$/),
      expect.stringMatching(/OPEN → HALF-OPEN \(open_duration_elapsed\)traffic or time$/),
      expect.stringMatching(/CLOSED → OPEN \(consecutive_failures\)anonymous; failures from anonymous$/),
      expect.stringMatching(/config of e2e\.payments: failure_threshold 5 → 3, minimum_calls 10 → 4, open_duration 1m → 30s, half_open_max_calls 3 → 2, success_threshold 3 → 2anonymous$/),
    ]);
    expect(await page.locator("#sparkline svg").getAttribute("aria-label")).toMatch(/^Failure rate over the last \d+s: now 100%, highest 100%; opens at 50%\.$/);
    await shot(page, "04-circuit-view-open");

    await page.getByRole("button", { name: "Reset" }).click();
    await page.locator('#action-result[data-outcome="ok"]').waitFor({ timeout: SHOW_MS });
    expect(await page.locator("#action-result").textContent()).toMatch(/^Reset to CLOSED at \d\d:\d\d:\d\d\.$/);
    await page.locator(`#detail-view[data-state="CLOSED"]`).waitFor({ timeout: SHOW_MS });
    await history.nth(5).waitFor({ timeout: SHOW_MS });
    expect(await history.first().textContent()).toMatch(/OPEN → CLOSED \(reset\)anonymous$/);
    const state = await client.call("getState", { circuit });
    expect(state.status?.state).toBe(State.CLOSED);
    await shot(page, "05-circuit-view-reset");

    // Escape goes back to the grid with focus on the tile it came from.
    await page.keyboard.press("Escape");
    await page.locator("#grid-view:not([hidden])").waitFor();
    expect(await page.locator("a.tile:focus").getAttribute("data-circuit")).toBe(circuit);
    await context.close();
  });

  it("forces a circuit open, disables it and releases it from the circuit view", async () => {
    const circuit = "e2e.admin";
    await call(client, circuit, Outcome.SUCCESS);
    const context = await browser.newContext({ colorScheme: "light", viewport: { width: 1280, height: 800 } });
    const page = await newPage(context, `${server.httpUrl}/#/circuit/${circuit}`);
    await page.locator(`#detail-view[data-circuit="${circuit}"][data-state="CLOSED"]`).waitFor({ timeout: SHOW_MS });
    for (const [button, state, message] of [
      ["Force open", State.FORCED_OPEN, /^Forced open: every call is denied until released at /],
      ["Disable", State.DISABLED, /^Disabled: every call is allowed until released at /],
      ["Release", State.CLOSED, /^Released to CLOSED at /],
    ] as const) {
      await page.getByRole("button", { name: button }).click();
      await page.locator(`#detail-view[data-state="${State[state]}"]`).waitFor({ timeout: SHOW_MS });
      expect(await page.locator("#action-result").textContent()).toMatch(message);
      expect((await client.call("getState", { circuit })).status?.state).toBe(state);
    }
    await page.locator("#history tr").nth(2).waitFor({ timeout: SHOW_MS });
    expect((await page.locator("#history tr").allTextContents()).slice(0, 3)).toEqual([
      expect.stringMatching(/DISABLED → CLOSED \(released\)anonymous$/),
      expect.stringMatching(/FORCED OPEN → DISABLED \(disabled\)anonymous$/),
      expect.stringMatching(/CLOSED → FORCED OPEN \(forced_open\)anonymous$/),
    ]);
    // The grid saw every change through the Watch stream.
    await page.keyboard.press("Escape");
    await tile(page, circuit, "CLOSED").waitFor({ timeout: SHOW_MS });
    await context.close();
  });

  it("filters by name prefix (\"/\" focuses the search) and by state, and is reachable by keyboard", async () => {
    await call(client, "filter.alpha", Outcome.SUCCESS);
    await call(client, "filter.beta", Outcome.SUCCESS);
    await client.call("forceState", { circuit: "filter.gamma", state: State.FORCED_OPEN });
    const context = await browser.newContext({ colorScheme: "dark", viewport: { width: 1280, height: 800 } });
    const page = await newPage(context, server.httpUrl);
    await tile(page, "filter.gamma", "FORCED_OPEN").waitFor({ timeout: SHOW_MS });

    await page.keyboard.press("/");
    expect(await page.locator("#filter:focus").count()).toBe(1);
    await page.keyboard.type("filter.");
    const visible = (): Promise<string[]> => circuitsOf(page.locator("a.tile:visible"));
    // Worst first: the forced-open one, then the closed ones by name.
    expect(await visible()).toEqual(["filter.gamma", "filter.alpha", "filter.beta"]);
    expect(await page.locator("#shown-count").textContent()).toMatch(/^3 of \d+ circuits$/);
    expect(await page.locator('.state-filter [data-count="FORCED_OPEN"]').textContent()).toBe("1");

    await page.getByRole("button", { name: /^Forced open/ }).click();
    expect(await visible()).toEqual(["filter.gamma"]);
    expect(await page.getByRole("button", { name: /^Forced open/ }).getAttribute("aria-pressed")).toBe("true");
    await page.getByRole("button", { name: /^All/ }).click();

    // Tab from the filter lands on the state chips, then the tiles worst first.
    await page.locator("#filter").focus();
    for (let i = 0; i < 6; i++) await page.keyboard.press("Tab");
    await page.keyboard.press("Tab");
    expect(await page.locator("a.tile:focus").getAttribute("data-circuit")).toBe("filter.gamma");
    await page.keyboard.press("Tab");
    expect(await page.locator("a.tile:focus").getAttribute("data-circuit")).toBe("filter.alpha");
    await shot(page, "06-filter-dark");

    await page.locator("#filter").fill("nomatch.");
    expect(await visible()).toEqual([]);
    expect(await page.locator("#empty").textContent()).toBe("No circuit whose name starts with “nomatch.”.");
    await context.close();
  });
});

// --- screenshots for the README -------------------------------------------------

describe("dashboard screenshots", () => {
  const { server, client } = useTestServer();

  it("takes the overview screenshots (several circuits in every state) in light and dark", async () => {
    const slow = async (circuit: string, outcomes: Outcome[]): Promise<void> => {
      for (const o of outcomes) await call(client, circuit, o);
    };
    const S = Outcome.SUCCESS;
    const F = Outcome.FAILURE;
    await configure(client, "llm.openai.gpt-4o");
    await slow("llm.openai.gpt-4o", [S, S, S, F, F]);
    await configure(client, "agent.researcher");
    await slow("agent.researcher", [F, F, F]);
    server.clock.advance(30_000);
    await client.call("getState", { circuit: "agent.researcher" }); // turns it HALF_OPEN
    await slow("llm.anthropic.claude", [S, S, S, S, S, S, S, F, S, F]);
    await slow("tool.web-search", [S, S, S, S]);
    await client.call("forceState", { circuit: "tool.web-search", state: State.FORCED_OPEN });
    await slow("agent.planner", [S, S, S, S, S, S, S, S, S, S, S, S]);
    await slow("db.vector-store", [S, S, S, S, S]);
    await client.call("forceState", { circuit: "db.vector-store", state: State.DISABLED });
    await slow("tool.code-runner", [S, S, F, S, S]);

    // Both pages open before the last failure, so each learns the store's
    // clock from the live event and counts down from it.
    const pages: [string, Page, BrowserContext][] = [];
    for (const scheme of ["light", "dark"] as const) {
      // A short viewport and fullPage: the picture ends where the tiles do.
      const context = await browser.newContext({ colorScheme: scheme, viewport: { width: 1280, height: 360 } });
      const page = await newPage(context, server.httpUrl);
      await tile(page, "agent.researcher", "HALF_OPEN").waitFor({ timeout: SHOW_MS });
      pages.push([scheme, page, context]);
    }
    await slow("llm.openai.gpt-4o", [F]);
    for (let i = 0; i < 4; i++) await client.call("acquire", { circuit: "llm.openai.gpt-4o" });
    for (const [scheme, page, context] of pages) {
      await tile(page, "llm.openai.gpt-4o", "OPEN").waitFor({ timeout: SHOW_MS });
      await tile(page, "llm.openai.gpt-4o").locator(".metrics dd").nth(3).filter({ hasText: /^4$/ }).waitFor({ timeout: SHOW_MS });
      await page.mouse.move(0, 0);
      await page.screenshot({ path: join(ARTIFACTS, `overview-${scheme}.png`), fullPage: true });
      await page.goto(`${server.httpUrl}/#/circuit/llm.openai.gpt-4o`);
      await page.locator("#history tr").nth(1).waitFor({ timeout: SHOW_MS });
      await page.screenshot({ path: join(ARTIFACTS, `circuit-${scheme}.png`), fullPage: true });
      await context.close();
    }
  });
});

// --- live, access control on -----------------------------------------------------

describe("dashboard in the browser, access control on", () => {
  const ADMIN_KEY = "admin-key-0123456789abcdef";
  const AGENT_KEY = "agent-key-0123456789abcdef";
  const asAgent = { authorization: `Bearer ${AGENT_KEY}` };
  const { server, client } = useTestServer({ env: { BREAKERBOX_API_KEYS: `ops:admin:${ADMIN_KEY},bot:agent:${AGENT_KEY}` } });

  it("asks for a key to watch, refuses a reset with an agent key and asks for an admin key, which then resets", async () => {
    const circuit = "secure.payments";
    await configure(client, circuit, { authorization: `Bearer ${ADMIN_KEY}` });
    for (let i = 0; i < 3; i++) await call(client, circuit, Outcome.FAILURE, asAgent);

    const context = await browser.newContext({ colorScheme: "light", viewport: { width: 1280, height: 800 } });
    const page = await newPage(context, server.httpUrl);
    // Watch without a key: UNAUTHENTICATED, so the key dialog opens.
    const dialog = page.locator("dialog#key-dialog[open]");
    await dialog.waitFor({ timeout: SHOW_MS });
    expect(await page.locator("#key-dialog-reason").textContent()).toMatch(/^Access control is on: watch the circuits needs an API key/);
    expect(await page.locator("#connection").getAttribute("data-connection")).toBe("needs-key");
    await shot(page, "10-key-needed");
    await page.getByLabel("API key", { exact: true }).fill(AGENT_KEY);
    await page.getByRole("button", { name: "Use key" }).click();
    await tile(page, circuit, "OPEN").waitFor({ timeout: SHOW_MS });

    // Reset with the agent key: PERMISSION_DENIED; the dialog asks for an admin key.
    await tile(page, circuit).click();
    await page.locator(`#detail-view[data-circuit="${circuit}"]`).waitFor();
    await page.getByRole("button", { name: "Reset" }).click();
    await dialog.waitFor({ timeout: SHOW_MS });
    expect(await page.locator("#key-dialog-reason").textContent()).toMatch(/^The server refused to reset the circuit: .*Enter an admin key\.$/);
    expect(await page.locator("#action-result").textContent()).toMatch(/^Refused: PermissionDenied: /);
    expect((await client.call("getState", { circuit }, asAgent)).status?.state).toBe(State.OPEN);
    await shot(page, "11-admin-key-needed");

    await page.getByLabel("API key", { exact: true }).fill(ADMIN_KEY);
    await page.getByRole("button", { name: "Use key" }).click();
    await page.locator('#action-result[data-outcome="ok"]').waitFor({ timeout: SHOW_MS });
    await page.locator(`#detail-view[data-state="CLOSED"]`).waitFor({ timeout: SHOW_MS });
    expect((await client.call("getState", { circuit }, asAgent)).status?.state).toBe(State.CLOSED);
    await page.locator("#history tr").first().filter({ hasText: "(reset)" }).waitFor({ timeout: SHOW_MS });
    expect(await page.locator("#history tr").first().textContent()).toMatch(/OPEN → CLOSED \(reset\)ops$/);
    await shot(page, "12-reset-with-admin-key");
    await context.close();
  });

  it("without any key: nothing is shown, a reset is refused, and the admin key makes it work", async () => {
    const circuit = "secure.search";
    for (let i = 0; i < 5; i++) await call(client, circuit, Outcome.FAILURE, asAgent);
    expect((await client.call("getState", { circuit }, asAgent)).status?.state).toBe(State.OPEN);

    const context = await browser.newContext({ colorScheme: "dark", viewport: { width: 1280, height: 800 } });
    const page = await newPage(context, server.httpUrl);
    const dialog = page.locator("dialog#key-dialog[open]");
    await dialog.waitFor({ timeout: SHOW_MS });
    await page.getByRole("button", { name: "Cancel" }).click();
    expect(await page.locator("#connection").textContent()).toBe("Needs an API key");
    expect(await page.locator("a.tile").count()).toBe(0);

    // Straight to the circuit's view and Reset, with no key at all: UNAUTHENTICATED.
    await page.goto(`${server.httpUrl}/#/circuit/${circuit}`);
    await page.locator(`#detail-view[data-circuit="${circuit}"]`).waitFor();
    await page.getByRole("button", { name: "Reset" }).click();
    await dialog.waitFor({ timeout: SHOW_MS });
    expect(await page.locator("#key-dialog-reason").textContent()).toMatch(/^Access control is on: reset the circuit needs an API key/);
    expect(await page.locator("#action-result").textContent()).toMatch(/^Refused: Unauthenticated: /);
    await expect(client.call("getState", { circuit })).rejects.toBeInstanceOf(CallError);
    expect((await client.call("getState", { circuit }, asAgent)).status?.state).toBe(State.OPEN);

    await page.getByLabel("API key", { exact: true }).fill(ADMIN_KEY);
    await page.getByRole("button", { name: "Use key" }).click();
    await page.locator('#action-result[data-outcome="ok"]').waitFor({ timeout: SHOW_MS });
    expect((await client.call("getState", { circuit }, asAgent)).status?.state).toBe(State.CLOSED);
    // The stored key also restarted the live feed with the key's rights.
    await page.locator('#connection[data-connection="live"]').waitFor({ timeout: SHOW_MS });
    await shot(page, "13-no-key-then-admin-key-dark");
    await context.close();
  });
});
