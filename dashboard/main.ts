/**
 * Breakerbox dashboard: every circuit as a live tile, worst first, fed by
 * one Watch stream over Connect; a view per circuit with its history,
 * sparkline, config form and admin actions, and the pattern rules page.
 * Routes live in the URL fragment (#/, #/circuit/<name> and #/rules), so
 * the server serves one page. Keyboard: Tab through
 * tiles, Enter opens, Escape goes back, "/" focuses the filter. Stream
 * updates change the model at once and the page at most once per frame.
 */
import { onKeyChange, setKey, storedKey } from "./api.js";
import { type StateName, stateLabel } from "./format.js";
import { DetailView } from "./detail.js";
import { Grid } from "./grid.js";
import { askForKey } from "./key-dialog.js";
import { runLiveFeed, type Connection } from "./live.js";
import { Model } from "./model.js";
import { RulesView } from "./rules.js";

function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`dashboard: #${id} missing from index.html`);
  return node as T;
}

const model = new Model();
const filterInput = $<HTMLInputElement>("filter");
const chips = [...document.querySelectorAll<HTMLButtonElement>(".state-filter [data-filter]")];
const countSpans = [...document.querySelectorAll<HTMLElement>(".state-filter [data-count]")];
const grid = new Grid($<HTMLUListElement>("circuits"), $("empty"), $("shown-count"), model, (counts) => {
  for (const span of countSpans) {
    const text = (counts.get(span.dataset.count as StateName | "") ?? 0).toLocaleString("en-US");
    if (span.textContent !== text) span.textContent = text;
  }
});
const detail = new DetailView(model);
const rules = new RulesView();
let stateFilter: StateName | "" = "";

// --- filter --------------------------------------------------------------

function applyFilter(): void {
  grid.setFilter({ prefix: filterInput.value.trim(), state: stateFilter });
  for (const chip of chips) chip.setAttribute("aria-pressed", String(chip.dataset.filter === stateFilter));
}
filterInput.addEventListener("input", applyFilter);
filterInput.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && filterInput.value !== "") {
    filterInput.value = "";
    applyFilter();
    e.stopPropagation();
  }
});
for (const chip of chips) {
  chip.addEventListener("click", () => {
    stateFilter = (chip.dataset.filter ?? "") as StateName | "";
    applyFilter();
  });
}

// --- routing -------------------------------------------------------------

let lastTile: string | undefined;

function route(): void {
  const match = /^#\/circuit\/(.+)$/.exec(location.hash);
  const gridView = $("grid-view");
  const detailView = $("detail-view");
  const rulesView = $("rules-view");
  rulesView.hidden = location.hash !== "#/rules";
  if (rulesView.hidden) rules.close();
  if (location.hash === "#/rules") {
    detail.close();
    detailView.hidden = true;
    gridView.hidden = true;
    grid.setVisible(false);
    document.title = "Pattern rules · Breakerbox";
    rules.open();
  } else if (match !== null) {
    const name = decodeURIComponent(match[1]!);
    lastTile = name;
    gridView.hidden = true;
    grid.setVisible(false);
    detailView.hidden = false;
    document.title = `${name} · Breakerbox`;
    detail.open(name);
  } else {
    detail.close();
    detailView.hidden = true;
    gridView.hidden = false;
    grid.setVisible(true);
    document.title = "Breakerbox";
    // Back from a circuit: focus returns to its tile (scrolled to, wherever it now is in the order).
    if (lastTile !== undefined) {
      grid.reveal(lastTile)?.focus({ preventScroll: true });
      lastTile = undefined;
    }
  }
}
window.addEventListener("hashchange", route);

document.addEventListener("keydown", (e) => {
  const target = e.target as HTMLElement | null;
  const typing = target !== null && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.isContentEditable);
  if (e.key === "/" && !typing && !e.ctrlKey && !e.metaKey && !e.altKey) {
    e.preventDefault();
    if (!$("grid-view").hidden) filterInput.focus();
    else {
      location.hash = "#/";
      filterInput.focus();
    }
  } else if (e.key === "Escape" && (!$("detail-view").hidden || !$("rules-view").hidden) && !typing && !$<HTMLDialogElement>("key-dialog").open) {
    location.hash = "#/";
  }
});

// --- live updates --------------------------------------------------------

const announcer = $("announcer");
// The latest transition, announced once per frame: at fleet size many arrive per frame.
let announcement: string | undefined;
function announce(text: string): void {
  if (announcement === undefined) {
    requestAnimationFrame(() => {
      if (announcer.textContent !== announcement) announcer.textContent = announcement ?? "";
      announcement = undefined;
    });
  }
  announcement = text;
}
model.onChange((change) => {
  if (change.kind === "reset") {
    grid.reset();
    if (detail.circuit !== undefined) detail.changed(false);
    return;
  }
  grid.changed(change.name, change.stateChanged);
  if (change.name === detail.circuit) detail.changed(change.transition !== undefined);
  if (change.transition !== undefined) {
    const entry = model.circuits.get(change.name);
    if (entry !== undefined) announce(`${change.name} is now ${stateLabel(entry.state)} (${change.transition.reason}).`);
  }
});

setInterval(() => {
  grid.tick();
  detail.tick();
}, 1000);

const connection = $("connection");
function showConnection(c: Connection): void {
  connection.dataset.connection = c.kind;
  connection.title = "error" in c ? c.error : "";
  connection.textContent =
    c.kind === "live"
      ? "Live"
      : c.kind === "connecting"
        ? "Connecting…"
        : c.kind === "retrying"
          ? `Disconnected; retrying in ${Math.round(c.inMs / 1000) || 1}s`
          : "Needs an API key";
}

// --- key -----------------------------------------------------------------

function showKey(): void {
  const has = storedKey() !== undefined;
  $("key-state").textContent = has ? "API key set for this tab" : "No API key";
  $("key-button").textContent = has ? "Change key" : "Enter key";
  $("key-forget").hidden = !has;
}
onKeyChange(showKey);
$("key-button").addEventListener("click", () => void askForKey("Enter an API key: an agent key can watch, an admin key can also act."));
$("key-forget").addEventListener("click", () => setKey(undefined));

showKey();
applyFilter();
route();
void runLiveFeed(model, showConnection);
