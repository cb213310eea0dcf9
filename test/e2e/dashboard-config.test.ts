/**
 * Configuring from the dashboard, end to end: a real server with API keys
 * (an admin and an agent key) and a config file rule, the built dashboard in
 * headless Chromium (driven by playwright-core, as dashboard.test.ts does),
 * and every effect checked through the gRPC API with a real grpc-js client:
 * the circuit's config form (read-only for an agent key; an edit sends only
 * the changed field; the server's field violation shown verbatim next to its
 * field; "inherit" clears the circuit's own setting; a save refused for want
 * of an admin key asks for one and goes through with it), the pattern rules page
 * (precedence order, create, edit, delete, a config-file rule the server
 * refuses to delete), and every change in the history under the admin key's
 * name.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ConfigSourceKind, PatternRuleOrigin } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { CONFIG_FIELD_LIST } from "../../src/engine/config-fields.js";
import { DASHBOARD_ARTIFACTS as ARTIFACTS, launchDashboardBrowser } from "../support/chromium.js";
import { CallError } from "../support/grpc-client.js";
import { useTestServer } from "../support/use-test-server.js";

/** Longest wait for something to show on the page. */
const SHOW_MS = 15_000;
const ADMIN_KEY = "admin-key-config-0123456789";
const AGENT_KEY = "agent-key-config-0123456789";
const asAdmin = { authorization: `Bearer ${ADMIN_KEY}` };
const asAgent = { authorization: `Bearer ${AGENT_KEY}` };

const dir = mkdtempSync(join(tmpdir(), "breakerbox-dashboard-config-"));
const configFile = join(dir, "breakerbox.yaml");
writeFileSync(configFile, 'rules:\n  - pattern: "file.*"\n    config:\n      failure_threshold: 9\n');

let browser: Browser;
const pageErrors: string[] = [];

afterEach(() => {
  expect(pageErrors.splice(0), "script errors on the page").toEqual([]);
});

beforeAll(async () => {
  browser = await launchDashboardBrowser();
});

afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function newPage(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(e.message));
  await page.goto(url);
  return page;
}

/** Answers the key dialog (open or about to open) with `key`. */
async function giveKey(page: Page, key: string): Promise<void> {
  await page.locator("dialog#key-dialog[open]").waitFor({ timeout: SHOW_MS });
  await page.getByLabel("API key", { exact: true }).fill(key);
  await page.getByRole("button", { name: "Use key" }).click();
}

/** The cells of the config form's row for `field`, as text (the value column as its input's value). */
async function formRow(page: Page, field: string): Promise<Record<string, string>> {
  const row = page.locator(`#config-fields tr[data-field="${field}"]`);
  return {
    value: await row.locator(`#cfg-${field}`).inputValue(),
    unit: (await row.locator(".unit").textContent()) ?? "",
    range: (await row.locator(".range").textContent()) ?? "",
    default: (await row.locator(".default").textContent()) ?? "",
    current: (await row.locator(".current").textContent()) ?? "",
  };
}

/** The rules page's rows as [position, pattern, origin, precedence, preset, settings]. */
async function ruleRows(page: Page): Promise<string[][]> {
  const rows = await page.locator("#rules tr").all();
  return Promise.all(rows.map(async (r) => (await r.locator("td").allTextContents()).slice(0, 6)));
}

const ENV = { BREAKERBOX_CONFIG: configFile, BREAKERBOX_API_KEYS: `ops:admin:${ADMIN_KEY},bot:agent:${AGENT_KEY}` };

describe("a circuit's config form (access control on)", () => {
  const { server, client } = useTestServer({ env: ENV });

  it("edits a circuit's config: read-only for an agent key, only the changed field sent, the server's violation verbatim, inherit clears", async () => {
    const circuit = "cfg.payments";
    await client.call("acquire", { circuit }, asAgent);

    const context = await browser.newContext({ colorScheme: "light", viewport: { width: 1280, height: 1000 } });
    const page = await newPage(context, `${server.httpUrl}/#/circuit/${circuit}`);
    await giveKey(page, AGENT_KEY);
    const form = page.locator("#config-form");
    await page.locator('#config-form[data-access="agent"]').waitFor({ timeout: SHOW_MS });
    await page.locator("#config-fields .current").first().filter({ hasText: "true" }).waitFor({ timeout: SHOW_MS });

    // Every field of the config table, in its order, with the table's unit, range and default.
    expect(await page.locator("#config-fields tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-field")))).toEqual(
      CONFIG_FIELD_LIST.map((f) => f.name),
    );
    expect(await formRow(page, "failure_threshold")).toEqual({ value: "5", unit: "count", range: "0 to 1000000; 0 = off", default: "5", current: "5" });
    expect(await formRow(page, "open_duration")).toEqual({ value: "60000", unit: "ms", range: "10ms to 86400s", default: "60000", current: "60000" });
    expect(await formRow(page, "slow_call_rate_threshold")).toEqual({
      value: "1",
      unit: "fraction (0.5 = 50%)",
      range: "above 0 to 1",
      default: "1",
      current: "1",
    });
    expect(await formRow(page, "jitter")).toMatchObject({ range: "0 to below 1", default: "0" });
    expect(await formRow(page, "mode")).toMatchObject({ value: "enforce", range: "enforce or shadow", default: "enforce" });
    expect(await page.locator("#config-sources").textContent()).toBe(
      "Current values resolve from: defaults (most specific first; the server reports where a circuit's config comes from, not each field's source).",
    );

    // The agent key: read-only, and the form says an admin key is needed.
    expect(await page.locator("#config-access").textContent()).toBe("Read-only: changing the config needs an admin key; the key in use is not an admin key.");
    expect(await page.locator("#cfg-failure_threshold").isDisabled()).toBe(true);
    expect(await page.locator("#config-save").isDisabled()).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, "20-config-read-only.png"), fullPage: true });

    await page.getByRole("button", { name: "Enter an admin key" }).click();
    await giveKey(page, ADMIN_KEY);
    await page.locator('#config-form[data-access="admin"]').waitFor({ timeout: SHOW_MS });
    expect(await page.locator("#config-access").textContent()).toBe("");
    expect(await page.locator("#cfg-failure_threshold").isDisabled()).toBe(false);

    // Edit failure_threshold and save: only that field becomes the circuit's own.
    await page.locator("#cfg-failure_threshold").fill("7");
    await form.getByRole("button", { name: "Save changes" }).click();
    await page.locator('#config-result[data-outcome="ok"]').waitFor({ timeout: SHOW_MS });
    expect(await page.locator("#config-result").textContent()).toMatch(/^Saved failure_threshold at \d\d:\d\d:\d\d\.$/);
    let status = (await client.call("getState", { circuit }, asAgent)).status!;
    expect(status.config?.failureThreshold).toBe(7);
    expect(status.config?.minimumCalls).toBe(10);
    expect(status.configSources).toEqual(["circuit", "defaults"]);
    expect(status.configSourceDetails.map((s) => [s.kind, s.name])).toEqual([
      [ConfigSourceKind.CIRCUIT, ""],
      [ConfigSourceKind.DEFAULTS, ""],
    ]);
    expect((await formRow(page, "failure_threshold")).current).toBe("7");
    expect(await page.locator("#config-sources").textContent()).toMatch(/^Current values resolve from: circuit → defaults \(/);
    // A rule setting minimum_calls still reaches the circuit: the save did not pin the fields it did not change.
    await client.call("configure", { target: { case: "pattern", value: "cfg.*" }, config: { minimumCalls: 20 } }, asAdmin);
    status = (await client.call("getState", { circuit }, asAgent)).status!;
    expect([status.config?.failureThreshold, status.config?.minimumCalls]).toEqual([7, 20]);
    expect(status.configSources).toEqual(["circuit", "pattern:cfg.*", "defaults"]);
    await page.locator("#config-fields .current").nth(3).filter({ hasText: /^20$/ }).waitFor({ timeout: SHOW_MS });

    // The change is in the history with the admin key's name.
    const history = page.locator("#history tr");
    await history.first().filter({ hasText: "config of cfg.*" }).waitFor({ timeout: SHOW_MS });
    expect(await history.allTextContents()).toEqual([
      expect.stringMatching(/^[-\d: ]+config of cfg\.\*: minimum_calls 10 → 20ops$/),
      expect.stringMatching(/^[-\d: ]+config of cfg\.payments: failure_threshold 5 → 7ops$/),
    ]);

    // Out of range: the server's field violation next to the field, word for word; nothing changes.
    await page.locator("#cfg-failure_threshold").fill("2000000");
    await form.getByRole("button", { name: "Save changes" }).click();
    await page.locator('#config-result[data-outcome="error"]').waitFor({ timeout: SHOW_MS });
    expect(await page.locator("#cfg-failure_threshold-error").textContent()).toBe("failure_threshold must be an integer from 0 to 1000000, got 2000000");
    expect(await page.locator("#cfg-failure_threshold").getAttribute("aria-invalid")).toBe("true");
    expect(await page.locator("#config-result").textContent()).toMatch(/^Not saved: InvalidArgument: /);
    expect(await page.locator("#config-fields .field-error").allTextContents()).toEqual(
      CONFIG_FIELD_LIST.map((f) => (f.name === "failure_threshold" ? "failure_threshold must be an integer from 0 to 1000000, got 2000000" : "")),
    );
    expect((await client.call("getState", { circuit }, asAgent)).status?.config?.failureThreshold).toBe(7);
    expect((await client.call("getHistory", { circuit }, asAgent)).entries).toHaveLength(2);
    await page.screenshot({ path: join(ARTIFACTS, "21-config-field-violation.png"), fullPage: true });

    // Inherit: the circuit's own failure_threshold is cleared; it falls back to the defaults.
    await page.locator('#config-fields tr[data-field="failure_threshold"] input[type="checkbox"]').check();
    await form.getByRole("button", { name: "Save changes" }).click();
    await page.locator('#config-result[data-outcome="ok"]').waitFor({ timeout: SHOW_MS });
    expect(await page.locator("#cfg-failure_threshold-error").textContent()).toBe("");
    status = (await client.call("getState", { circuit }, asAgent)).status!;
    expect([status.config?.failureThreshold, status.config?.minimumCalls]).toEqual([5, 20]);
    expect(status.configSources).toEqual(["pattern:cfg.*", "defaults"]);
    await history.first().filter({ hasText: "failure_threshold 7 → 5" }).waitFor({ timeout: SHOW_MS });
    expect(await history.first().textContent()).toMatch(/^[-\d: ]+config of cfg\.payments: failure_threshold 7 → 5ops$/);
    expect((await formRow(page, "failure_threshold")).value).toBe("5");

    // The key in use is swapped for the agent key behind the page's back (as another session would):
    // the save is refused, the key dialog asks for an admin key, and the save goes through with it.
    await page.evaluate((key) => sessionStorage.setItem("breakerbox.apiKey", key), AGENT_KEY);
    await page.locator("#cfg-success_threshold").fill("4");
    await form.getByRole("button", { name: "Save changes" }).click();
    await page.locator("dialog#key-dialog[open]").waitFor({ timeout: SHOW_MS });
    expect(await page.locator("#key-dialog-reason").textContent()).toMatch(
      /^The server refused to change the config: the key in use is not allowed to \(PermissionDenied: .*\)\. Enter an admin key\.$/,
    );
    expect(await page.locator("#config-result").textContent()).toMatch(/^Refused: PermissionDenied: /);
    expect((await client.call("getState", { circuit }, asAgent)).status?.config?.successThreshold).toBe(3);
    await giveKey(page, ADMIN_KEY);
    await page.locator("#config-result").filter({ hasText: /^Saved success_threshold at / }).waitFor({ timeout: SHOW_MS });
    expect((await client.call("getState", { circuit }, asAgent)).status?.config?.successThreshold).toBe(4);
    await context.close();
  });

});

describe("the pattern rules page (access control on)", () => {
  const { server, client } = useTestServer({ env: ENV });

  it("lists pattern rules in precedence order and creates, edits and deletes them; a config-file rule cannot be deleted", async () => {
    const circuit = "ruled.search";
    await client.call("acquire", { circuit }, asAgent);
    const context = await browser.newContext({ colorScheme: "dark", viewport: { width: 1280, height: 1000 } });
    const page = await newPage(context, `${server.httpUrl}/#/rules`);
    await giveKey(page, AGENT_KEY);
    await page.locator('#rules-view[data-access="agent"]').waitFor({ timeout: SHOW_MS });
    await page.locator("#rules tr").first().waitFor({ timeout: SHOW_MS });
    expect(await page.locator("#rules-access").textContent()).toBe(
      "Read-only: creating, editing and deleting rules needs an admin key; the key in use is not an admin key.",
    );
    expect(await page.locator("#rule-save").isDisabled()).toBe(true);
    expect(await page.getByRole("link", { name: "Pattern rules" }).getAttribute("href")).toBe("#/rules");
    await page.locator("#key-button").click();
    await giveKey(page, ADMIN_KEY);
    await page.locator('#rules-view[data-access="admin"]').waitFor({ timeout: SHOW_MS });

    expect(await ruleRows(page)).toEqual([["1", "file.*", "config file", "0", "–", "failure_threshold=9"]]);

    // Create: out of range first (the server's violation next to the field), then valid.
    await page.locator("#rule-pattern").fill("ruled.*");
    await page.locator("#rule-minimum_calls").fill("0");
    await page.locator("#rule-open_duration").fill("30000");
    await page.getByRole("button", { name: "Create rule" }).click();
    await page.locator('#rules-result[data-outcome="error"]').waitFor({ timeout: SHOW_MS });
    expect(await page.locator("#rule-minimum_calls-error").textContent()).toBe("minimum_calls must be an integer from 1 to 1000000, got 0");
    expect((await client.call("listPatternRules", {}, asAgent)).rules.map((r) => r.pattern)).toEqual(["file.*"]);
    await page.locator("#rule-minimum_calls").fill("4");
    await page.getByRole("button", { name: "Create rule" }).click();
    await page.locator('#rules-result[data-outcome="ok"]').waitFor({ timeout: SHOW_MS });
    expect(await page.locator("#rules-result").textContent()).toBe("Created rule ruled.* at precedence 1 (governs 1 circuit).");

    // A second rule at precedence 0 goes first.
    await page.locator("#rule-pattern").fill("ruled.se*");
    await page.locator("#rule-precedence").fill("0");
    await page.locator("#rule-jitter").fill("0.1");
    await page.getByRole("button", { name: "Create rule" }).click();
    await page.locator("#rules-result").filter({ hasText: /^Created rule ruled\.se\*/ }).waitFor({ timeout: SHOW_MS });
    await page.locator("#rules tr").nth(2).waitFor({ timeout: SHOW_MS });
    const listed = [
      ["1", "ruled.se*", "runtime", "0", "–", "jitter=0.1"],
      ["2", "ruled.*", "runtime", "1", "–", "minimum_calls=4, open_duration=30000ms"],
      ["3", "file.*", "config file", "0", "–", "failure_threshold=9"],
    ];
    expect(await ruleRows(page)).toEqual(listed);
    const fromServer = (await client.call("listPatternRules", {}, asAgent)).rules;
    expect(fromServer.map((r) => [r.pattern, r.precedence, r.origin])).toEqual([
      ["ruled.se*", 0, PatternRuleOrigin.RUNTIME],
      ["ruled.*", 1, PatternRuleOrigin.RUNTIME],
      ["file.*", 0, PatternRuleOrigin.CONFIG_FILE],
    ]);
    expect(await page.locator("#rules tr").nth(0).locator("td").nth(6).textContent()).toMatch(/^[-\d: ]+ by ops$/);
    let status = (await client.call("getState", { circuit }, asAgent)).status!;
    expect(status.configSources).toEqual(["pattern:ruled.se*", "defaults"]);
    await page.screenshot({ path: join(ARTIFACTS, "22-pattern-rules.png"), fullPage: true });

    // Edit ruled.se*: change jitter, add minimum_calls; only those are written.
    await page.getByRole("button", { name: "Edit ruled.se*" }).click();
    expect(await page.locator("#rule-form-title").textContent()).toBe("Edit rule ruled.se*");
    expect(await page.locator("#rule-jitter").inputValue()).toBe("0.1");
    await page.locator("#rule-jitter").fill("0.2");
    await page.locator("#rule-minimum_calls").fill("6");
    await page.getByRole("button", { name: "Save rule" }).click();
    await page.locator("#rules-result").filter({ hasText: /^Saved rule/ }).waitFor({ timeout: SHOW_MS });
    expect(await page.locator("#rules-result").textContent()).toBe("Saved rule ruled.se* at precedence 0 (governs 1 circuit).");
    await page.locator("#rules tr").first().locator("td").nth(5).filter({ hasText: "minimum_calls=6, jitter=0.2" }).waitFor({ timeout: SHOW_MS });
    status = (await client.call("getState", { circuit }, asAgent)).status!;
    expect([status.config?.minimumCalls, status.config?.jitter]).toEqual([6, 0.2]);

    // The config file's rule: the server refuses, and the page shows its answer.
    const refusal = await client.call("deletePatternRule", { pattern: "file.*" }, asAdmin).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(CallError);
    await page.getByRole("button", { name: "Delete file.*" }).click();
    await page.getByRole("button", { name: "Delete file.*" }).click();
    await page.locator('#rules-result[data-outcome="error"]').waitFor({ timeout: SHOW_MS });
    expect(await page.locator("#rules-result").textContent()).toBe(`Not deleted: FailedPrecondition: ${(refusal as CallError).details}`);

    // Delete ruled.se*: the circuit falls back to ruled.*.
    await page.getByRole("button", { name: "Delete ruled.se*" }).click();
    expect(await page.getByRole("button", { name: "Delete ruled.se*" }).textContent()).toBe("Confirm delete");
    await page.getByRole("button", { name: "Delete ruled.se*" }).click();
    await page.locator("#rules-result").filter({ hasText: /^Deleted/ }).waitFor({ timeout: SHOW_MS });
    expect(await page.locator("#rules-result").textContent()).toBe("Deleted rule ruled.se* (it governed 1 circuit).");
    await page.locator("#rules tr").nth(1).locator("td").nth(1).filter({ hasText: "file.*" }).waitFor({ timeout: SHOW_MS });
    expect(await ruleRows(page)).toEqual([listed[1]!, listed[2]!].map((r, i) => [String(i + 1), ...r.slice(1)]));
    status = (await client.call("getState", { circuit }, asAgent)).status!;
    expect(status.configSources).toEqual(["pattern:ruled.*", "defaults"]);
    expect([status.config?.minimumCalls, status.config?.jitter, status.config?.openDuration?.seconds]).toEqual([4, 0, 30n]);

    // Every rule change that changed the circuit is in its history, by the admin key.
    await page.goto(`${server.httpUrl}/#/circuit/${circuit}`);
    const history = page.locator("#history tr");
    await history.nth(3).waitFor({ timeout: SHOW_MS });
    expect(await history.allTextContents()).toEqual([
      expect.stringMatching(/config of ruled\.se\*: minimum_calls 6 → 4, open_duration 1m → 30s, jitter 0\.2 → 0ops$/),
      expect.stringMatching(/config of ruled\.se\*: minimum_calls 10 → 6, jitter 0\.1 → 0\.2ops$/),
      expect.stringMatching(/config of ruled\.se\*: minimum_calls 4 → 10, open_duration 30s → 1m, jitter 0 → 0\.1ops$/),
      expect.stringMatching(/config of ruled\.\*: minimum_calls 10 → 4, open_duration 1m → 30sops$/),
    ]);
    const entries = (await client.call("getHistory", { circuit }, asAgent)).entries;
    expect(entries.map((e) => (e.entry.case === "configChange" ? [e.entry.value.target, e.entry.value.actor] : []))).toEqual([
      ["ruled.se*", "ops"],
      ["ruled.se*", "ops"],
      ["ruled.se*", "ops"],
      ["ruled.*", "ops"],
    ]);
    await context.close();
  });
});
