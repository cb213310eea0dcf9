/**
 * The dashboard at fleet size: 10,000 circuits on a real server (memory
 * store, manual clock, created through the in-process store so setup takes
 * a second, not minutes), in real headless Chromium. Checks that the counts
 * at the top are exact, that only a bounded number of tiles is in the DOM,
 * that the worst circuits come first in the documented order (OPEN and
 * FORCED_OPEN, then HALF_OPEN, then by failure rate, then by name), that
 * scrolling to the bottom shows the last circuits, and that live updates
 * keep flowing. Then it measures the page's main-thread time per second
 * while ~300 reports a second (and a trip every half second) reach it, and
 * prints it: a figure for docs/benchmarks.md, not an assertion.
 */
import { join } from "node:path";
import { type Browser, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Outcome, State } from "../../src/engine/types.js";
import type { MemoryStore } from "../../src/store/memory.js";
import { DASHBOARD_ARTIFACTS as ARTIFACTS, launchDashboardBrowser } from "../support/chromium.js";
import { useTestServer } from "../support/use-test-server.js";

/** Longest wait for something to show on the page (status messages come every second). */
const SHOW_MS = 20_000;
const FLEET = 10_000;
/** Tiles the DOM may hold at once: a screenful plus the rows rendered around it, far below the fleet. */
const MAX_TILES_IN_DOM = 200;

// What the in-page callbacks below use of the page's globals: this file is
// compiled without the DOM library (Playwright runs the callbacks in the page).
interface Probe {
  longTasks: number;
  longTaskMs: number;
  frames: number;
  maxFrameGapMs: number;
}
declare const window: { scrollTo(x: number, y: number): void; __probe: Probe };
declare const document: {
  documentElement: { scrollHeight: number };
  activeElement: { getAttribute(name: string): string | null } | null;
};
declare const requestAnimationFrame: (callback: (time: number) => void) => number;

const nameOf = (i: number): string => `fleet.${String(i).padStart(5, "0")}`;

// The circuits set apart from the CLOSED, never-called majority.
const HALF_OPEN = [nameOf(100), nameOf(200)];
const OPEN = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((d) => nameOf(d * 1000 + 300));
const FORCED_OPEN = nameOf(4444);
const DISABLED = nameOf(5555);
/** CLOSED with failures, but under every threshold: [name, failures, successes]. */
const FAILING: [string, number, number][] = [
  [nameOf(6666), 1, 9], // 10%
  [nameOf(7777), 1, 3], // 25%
  [nameOf(8888), 1, 1], // 50% of 2 calls: under minimum_calls (10)
];

let browser: Browser;
const pageErrors: string[] = [];

beforeAll(async () => {
  browser = await launchDashboardBrowser();
});

afterAll(async () => {
  await browser?.close();
});

/** One call on the store: acquire, then report `outcome`. */
async function call(store: MemoryStore, circuit: string, outcome: Outcome): Promise<void> {
  const d = await store.acquire(circuit);
  if (!d.allowed || d.permit === undefined) throw new Error(`${circuit} denied the call`);
  await store.report(circuit, { permit: d.permit, outcome, durationMs: 5, retryAfterMs: 0 });
}

/** Five failures in a row: the default failure_threshold opens it. */
async function trip(store: MemoryStore, circuit: string): Promise<void> {
  for (let i = 0; i < 5; i++) await call(store, circuit, "FAILURE");
}

/**
 * The documented order, written out independently of dashboard/order.ts:
 * OPEN and FORCED_OPEN, then HALF_OPEN, then the rest; within each the
 * highest failure rate first; then the name.
 */
function expectedOrder(views: { circuit: string; state: State; rate: number }[]): string[] {
  const rank = (s: State): number => (s === "OPEN" || s === "FORCED_OPEN" ? 0 : s === "HALF_OPEN" ? 1 : 2);
  return views
    .toSorted((a, b) => rank(a.state) - rank(b.state) || b.rate - a.rate || (a.circuit < b.circuit ? -1 : a.circuit > b.circuit ? 1 : 0))
    .map((v) => v.circuit);
}

async function fleetOrder(store: MemoryStore): Promise<string[]> {
  const views = [];
  for (let i = 0; i < FLEET; i++) {
    const v = (await store.get(nameOf(i)))!;
    views.push({ circuit: v.circuit, state: v.state, rate: v.stats.failureRate });
  }
  return expectedOrder(views);
}

async function circuitsOf(locator: Locator): Promise<string[]> {
  return locator.evaluateAll((nodes) => nodes.map((n) => n.getAttribute("data-circuit") ?? ""));
}

async function chipCounts(page: Page): Promise<Record<string, string>> {
  return page.locator(".state-filter [data-count]").evaluateAll((nodes) =>
    Object.fromEntries(nodes.map((n) => [n.getAttribute("data-count") || "ALL", n.textContent ?? ""])),
  );
}

describe("dashboard with 10,000 circuits", () => {
  const { server } = useTestServer();
  let page: Page;

  beforeAll(async () => {
    const { store, clock } = server;
    for (let i = 0; i < FLEET; i++) await store.acquire(nameOf(i));
    for (const name of HALF_OPEN) await trip(store, name);
    clock.advance(60_000); // the default open duration
    for (const name of HALF_OPEN) expect((await store.get(name))?.state).toBe("HALF_OPEN");
    for (const name of OPEN) await trip(store, name);
    await store.force(FORCED_OPEN, "FORCED_OPEN", "test");
    await store.force(DISABLED, "DISABLED", "test");
    for (const [name, failures, successes] of FAILING) {
      for (let i = 0; i < failures; i++) await call(store, name, "FAILURE");
      for (let i = 0; i < successes; i++) await call(store, name, "SUCCESS");
    }
    const context = await browser.newContext({ colorScheme: "light", viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.on("pageerror", (e) => pageErrors.push(e.message));
    const opened = Date.now();
    await page.goto(server.httpUrl);
    await page.locator('#connection[data-connection="live"]').waitFor({ timeout: SHOW_MS });
    await page.locator('.state-filter [data-count=""]').filter({ hasText: /^10,000$/ }).waitFor({ timeout: SHOW_MS });
    console.log(`dashboard fleet: ${FLEET} circuits on screen ${Date.now() - opened} ms after the page was opened (snapshot over Connect included)`);
  }, 120_000);

  it("counts every circuit per state at the top, keeps a bounded number of tiles in the DOM, and puts the worst first", async () => {
    await page.locator('.state-filter [data-count=""]').filter({ hasText: /^10,000$/ }).waitFor({ timeout: SHOW_MS });
    expect(await chipCounts(page)).toEqual({
      ALL: "10,000",
      OPEN: "10",
      HALF_OPEN: "2",
      CLOSED: String(FLEET - 10 - 2 - 2).replace(/(\d)(\d{3})$/, "$1,$2"),
      FORCED_OPEN: "1",
      DISABLED: "1",
    });
    expect(await page.locator("#shown-count").textContent()).toBe("10,000 circuits");

    const tiles = page.locator("a.tile");
    const inDom = await tiles.count();
    console.log(`dashboard fleet: ${inDom} tiles in the DOM for ${FLEET} circuits (viewport 1280×800)`);
    expect(inDom).toBeGreaterThan(0);
    expect(inDom).toBeLessThan(MAX_TILES_IN_DOM);

    // The head of the order, spelt out: OPEN (100% each) by name, FORCED_OPEN (0%), HALF_OPEN, then the failing CLOSED ones by rate.
    const head = [...OPEN, FORCED_OPEN, ...HALF_OPEN, nameOf(8888), nameOf(7777), nameOf(6666), nameOf(0), nameOf(1)];
    expect((await circuitsOf(tiles)).slice(0, head.length)).toEqual(head);
    expect(await circuitsOf(tiles)).toEqual((await fleetOrder(server.store)).slice(0, inDom));
    expect(await tiles.first().getAttribute("data-state")).toBe("OPEN");
    // Screen readers hear each tile's place in the whole list.
    expect(await page.locator("#circuits > li").first().getAttribute("aria-setsize")).toBe(String(FLEET));
    await page.screenshot({ path: join(ARTIFACTS, "fleet-top.png") });
  });

  it("shows the last circuits by name at the bottom of the scroll", async () => {
    await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
    const tiles = page.locator("a.tile");
    await page.locator(`a.tile[data-circuit="${nameOf(FLEET - 1)}"]`).waitFor({ timeout: SHOW_MS });
    const inDom = await circuitsOf(tiles);
    console.log(`dashboard fleet: ${inDom.length} tiles in the DOM at the bottom of the list`);
    expect(inDom.length).toBeLessThan(MAX_TILES_IN_DOM);
    const order = await fleetOrder(server.store);
    expect(inDom).toEqual(order.slice(order.length - inDom.length));
    expect(inDom.at(-1)).toBe(nameOf(FLEET - 1));
    expect(await page.locator("#circuits > li").last().getAttribute("aria-posinset")).toBe(String(FLEET));
    await page.screenshot({ path: join(ARTIFACTS, "fleet-bottom.png") });
  });

  it("moves a circuit that trips to the top, live, and counts it", async () => {
    await page.evaluate(() => window.scrollTo(0, 0));
    const circuit = nameOf(9999);
    await trip(server.store, circuit);
    // OPEN at 100%, by name: after fleet.09300, before FORCED_OPEN.
    const head = [...OPEN, circuit, FORCED_OPEN];
    await expect.poll(async () => (await circuitsOf(page.locator("a.tile"))).slice(0, head.length), { timeout: SHOW_MS }).toEqual(head);
    await page.locator('.state-filter [data-count="OPEN"]').filter({ hasText: /^11$/ }).waitFor({ timeout: SHOW_MS });
    expect(await tilesInDom(page)).toBeLessThan(MAX_TILES_IN_DOM);
    // Reset to CLOSED: it leaves the OPEN block again.
    await server.store.reset(circuit, "test");
    await page.locator('.state-filter [data-count="OPEN"]').filter({ hasText: /^10$/ }).waitFor({ timeout: SHOW_MS });
    const without = [...OPEN, FORCED_OPEN];
    await expect.poll(async () => (await circuitsOf(page.locator("a.tile"))).slice(0, without.length), { timeout: SHOW_MS }).toEqual(without);
  });

  it("filters 10,000 circuits by name prefix and by state", async () => {
    await page.locator("#filter").fill("fleet.098");
    expect(await page.locator("#shown-count").textContent()).toBe("100 of 10,000 circuits");
    expect(await page.locator('.state-filter [data-count=""]').textContent()).toBe("100");
    expect((await circuitsOf(page.locator("a.tile"))).slice(0, 3)).toEqual([nameOf(9800), nameOf(9801), nameOf(9802)]);
    await page.locator("#filter").fill("");
    await page.getByRole("button", { name: /^Half-open/ }).click();
    expect(await circuitsOf(page.locator("a.tile"))).toEqual(HALF_OPEN);
    await page.getByRole("button", { name: /^All/ }).click();
    expect(await page.locator("#shown-count").textContent()).toBe("10,000 circuits");
  });

  it("walks the tiles by keyboard past the rendered ones, opens one and comes back to it", async () => {
    await page.evaluate(() => window.scrollTo(0, 0));
    const order = await fleetOrder(server.store);
    const first = page.locator("a.tile").first();
    await first.focus();
    expect(await first.getAttribute("data-circuit")).toBe(order[0]);
    const STEPS = 60; // past the 24 or so tiles rendered at the top
    for (let i = 0; i < STEPS; i++) await page.keyboard.press("Tab");
    expect(await focusedCircuit(page)).toBe(order[STEPS]);
    expect(await tilesInDom(page)).toBeLessThan(MAX_TILES_IN_DOM);
    await page.keyboard.press("Enter");
    await page.locator(`#detail-view[data-circuit="${order[STEPS]}"]`).waitFor({ timeout: SHOW_MS });
    await page.evaluate(() => window.scrollTo(0, 0)); // the grid is elsewhere when the view closes
    await page.keyboard.press("Escape");
    await page.locator("#grid-view:not([hidden])").waitFor();
    expect(await focusedCircuit(page)).toBe(order[STEPS]);
  }, 60_000);

  it("measures the page's main-thread time per second during live updates (printed, not asserted)", async () => {
    const { store } = server;
    await page.evaluate(() => window.scrollTo(0, 0));
    // Probes in the page: long tasks (> 50 ms) and frames.
    await page.evaluate(() => {
      const probe: Probe = { longTasks: 0, longTaskMs: 0, frames: 0, maxFrameGapMs: 0 };
      window.__probe = probe;
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          probe.longTasks += 1;
          probe.longTaskMs += e.duration;
        }
      }).observe({ type: "longtask" as "mark" }); // a browser entry type Node's types do not list
      let last = performance.now();
      const frame = (t: number): void => {
        probe.frames += 1;
        probe.maxFrameGapMs = Math.max(probe.maxFrameGapMs, t - last);
        last = t;
        requestAnimationFrame(frame);
      };
      requestAnimationFrame(frame);
    });
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Performance.enable");
    const metrics = async (): Promise<Record<string, number>> =>
      Object.fromEntries((await cdp.send("Performance.getMetrics")).metrics.map((m) => [m.name, m.value]));
    /** Chromium's main-thread time per category over `windowMs`, in ms per second. */
    const measure = async (windowMs: number): Promise<Record<string, number> & { elapsedMs: number }> => {
      const before = await metrics();
      const started = Date.now();
      await new Promise((r) => setTimeout(r, windowMs));
      const after = await metrics();
      const elapsedMs = Date.now() - started;
      const perS = (name: string): number => ((after[name]! - before[name]!) * 1e6) / elapsedMs;
      return {
        elapsedMs,
        TaskDuration: perS("TaskDuration"),
        ScriptDuration: perS("ScriptDuration"),
        RecalcStyleDuration: perS("RecalcStyleDuration"),
        LayoutDuration: perS("LayoutDuration"),
      };
    };

    const WINDOW_MS = 10_000;
    const idle = await measure(WINDOW_MS / 2);

    // Load: 400 calls a second over 2,000 circuits (about a failure in four,
    // never five in a row on one circuit in this run), and a trip every half
    // second; status messages carry the changed counters to the page once a
    // second, the trips come as events.
    const RATE = 400;
    let reports = 0;
    let trips = 0;
    let stop = false;
    const loadStart = Date.now();
    const load = (async () => {
      while (!stop) {
        const due = Math.floor(((Date.now() - loadStart) * RATE) / 1000);
        while (reports < due) {
          const i = 1000 + (reports % 2000);
          // fleet.01300 and fleet.02300 are OPEN and deny: skipped.
          await call(store, nameOf(i), (reports * 7919) % 13 < 3 ? "FAILURE" : "SUCCESS").catch(() => undefined);
          reports += 1;
        }
        if (trips < Math.floor((Date.now() - loadStart) / 500)) {
          await trip(store, nameOf(3000 + trips));
          trips += 1;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    })();

    await new Promise((r) => setTimeout(r, 2000)); // let the first status rounds arrive
    await page.evaluate(() => Object.assign(window.__probe, { longTasks: 0, longTaskMs: 0, frames: 0, maxFrameGapMs: 0 }));
    const reportsBefore = reports;
    const busy = await measure(WINDOW_MS);
    const reportsIn = reports - reportsBefore;
    stop = true;
    await load;
    const probe = await page.evaluate(() => window.__probe);

    const ms = (m: Record<string, number>, name: string): string => m[name]!.toFixed(0);
    const version = browser.version();
    const line =
      `dashboard fleet: ${FLEET} circuits, ${Math.round((reportsIn * 1000) / busy.elapsedMs)} reports/s + a trip every 0.5 s (${trips} in all); ` +
      `main thread busy ${ms(busy, "TaskDuration")} ms/s (script ${ms(busy, "ScriptDuration")}, ` +
      `style ${ms(busy, "RecalcStyleDuration")}, layout ${ms(busy, "LayoutDuration")} ms/s); idle page before: ${ms(idle, "TaskDuration")} ms/s; ` +
      `long tasks (over 50 ms) ${probe.longTasks} (${probe.longTaskMs.toFixed(0)} ms in all); ` +
      `${((probe.frames * 1000) / busy.elapsedMs).toFixed(0)} frames/s, longest frame gap ${probe.maxFrameGapMs.toFixed(0)} ms; ` +
      `tiles in the DOM ${await tilesInDom(page)}; Chromium ${version}, Node ${process.version}`;
    console.log(line);
    expect(reportsIn).toBeGreaterThan(0);
    // The page kept up: every trip is counted, and the first ones are at the top (OPEN, 100%, by name).
    await page.locator('.state-filter [data-count="OPEN"]').filter({ hasText: new RegExp(`^${10 + trips}$`) }).waitFor({ timeout: SHOW_MS });
    const head = [...OPEN.slice(0, 3), ...Array.from({ length: trips }, (_, t) => nameOf(3000 + t))].slice(0, 12);
    expect((await circuitsOf(page.locator("a.tile"))).slice(0, head.length)).toEqual(head);
    expect(await tilesInDom(page)).toBeLessThan(MAX_TILES_IN_DOM);
    expect(pageErrors).toEqual([]);
  }, 120_000);
});

/** The circuit of the focused element (null when focus is not on a tile). */
function focusedCircuit(page: Page): Promise<string | null> {
  return page.evaluate(() => document.activeElement?.getAttribute("data-circuit") ?? null);
}

function tilesInDom(page: Page): Promise<number> {
  return page.locator("a.tile").count();
}
