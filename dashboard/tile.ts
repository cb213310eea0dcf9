/**
 * One circuit's tile: a link (Tab reaches it, Enter opens the circuit's
 * view) with the name, the state badge, four counters and a line on what
 * the state means for callers now. The grid recycles tiles as the window
 * scrolls, so a tile can be bound to another circuit; every write is
 * skipped when the text is already there, so refreshing a visible tile
 * whose circuit did not change costs no DOM work.
 */
import { count, countdown, percent, stateLabel } from "./format.js";
import type { CircuitEntry } from "./model.js";

/** The name as text with line-break opportunities after its separators (dots, slashes, colons). */
export function breakableName(name: string): Node[] {
  const nodes: Node[] = [];
  let start = 0;
  for (let i = 0; i < name.length; i++) {
    if ("./:".includes(name[i]!) && i + 1 < name.length) {
      nodes.push(document.createTextNode(name.slice(start, i + 1)), document.createElement("wbr"));
      start = i + 1;
    }
  }
  nodes.push(document.createTextNode(name.slice(start)));
  return nodes;
}

export function circuitHref(name: string): string {
  return `#/circuit/${encodeURIComponent(name)}`;
}

/** The line under a tile's metrics: what the state means for callers right now. */
export function stateLine(entry: CircuitEntry, storeNow: number): string {
  const s = entry.stats;
  switch (entry.state) {
    case "OPEN": {
      if (entry.openUntil === undefined) return "open";
      const left = entry.openUntil - storeNow;
      return left > 0 ? `half-open in ${countdown(left)}` : "half-open due now";
    }
    case "HALF_OPEN": {
      const c = entry.status?.config;
      const max = c?.halfOpenMaxCalls ?? "?";
      const need = c?.successThreshold ?? "?";
      return `probes: ${s?.halfOpenInFlight ?? 0}/${max} out, ${s?.halfOpenSuccesses ?? 0}/${need} succeeded`;
    }
    case "CLOSED":
      if (s === undefined || s.consecutiveFailures === 0) return "calls flow";
      return s.consecutiveFailures === 1 ? "1 failure in a row" : `${s.consecutiveFailures} failures in a row`;
    case "FORCED_OPEN":
      return "denying every call until released";
    case "DISABLED":
      return "allowing every call";
    default:
      return "";
  }
}

function metric(list: HTMLElement, label: string, meaning: string): HTMLElement {
  const wrap = document.createElement("div");
  const dt = document.createElement("dt");
  dt.textContent = label;
  dt.title = meaning;
  const dd = document.createElement("dd");
  wrap.append(dt, dd);
  list.append(wrap);
  return dd;
}

function setText(node: HTMLElement, text: string): void {
  if (node.textContent !== text) node.textContent = text;
}

export class Tile {
  readonly item: HTMLLIElement;
  readonly link: HTMLAnchorElement;
  /** The circuit shown; "" before the first bind. */
  circuit = "";
  /** Index in the grid's list, as placed by {@link place}; -1 before. */
  index = -1;
  private readonly name: HTMLElement;
  private readonly badge: HTMLElement;
  private readonly failure: HTMLElement;
  private readonly slow: HTMLElement;
  private readonly calls: HTMLElement;
  private readonly rejections: HTMLElement;
  private readonly foot: HTMLElement;
  private transform = "";
  private setSize = -1;

  constructor() {
    this.item = document.createElement("li");
    this.link = document.createElement("a");
    this.link.className = "tile";
    const head = document.createElement("span");
    head.className = "tile-head";
    this.name = document.createElement("span");
    this.name.className = "tile-name";
    this.badge = document.createElement("span");
    this.badge.className = "badge";
    head.append(this.name, this.badge);
    const metrics = document.createElement("dl");
    metrics.className = "metrics";
    this.failure = metric(metrics, "Fail rate", "Failure rate in the sliding window");
    this.slow = metric(metrics, "Slow rate", "Slow-call rate in the sliding window");
    this.calls = metric(metrics, "Calls", "Calls reported in the sliding window");
    this.rejections = metric(metrics, "Rejected", "Acquires denied, in total");
    this.foot = document.createElement("span");
    this.foot.className = "tile-foot";
    this.link.append(head, metrics, this.foot);
    this.item.append(this.link);
  }

  /** Shows `entry` (binding the tile to it first if it showed another circuit). */
  fill(entry: CircuitEntry, storeNow: number): void {
    if (this.circuit !== entry.name) {
      this.circuit = entry.name;
      this.link.href = circuitHref(entry.name);
      this.link.dataset.circuit = entry.name;
      // The full name on hover: a long one is cut after two lines.
      this.link.title = entry.name;
      this.name.replaceChildren(...breakableName(entry.name));
    }
    const s = entry.stats;
    if (this.link.dataset.state !== entry.state) this.link.dataset.state = entry.state;
    setText(this.badge, stateLabel(entry.state));
    setText(this.failure, s === undefined ? "–" : percent(s.failureRate));
    setText(this.slow, s === undefined ? "–" : percent(s.slowCallRate));
    setText(this.calls, s === undefined ? "–" : count(s.windowCalls));
    setText(this.rejections, s === undefined ? "–" : count(s.totalRejections));
    this.tick(entry, storeNow);
  }

  /** Refreshes the line that counts down (OPEN). */
  tick(entry: CircuitEntry, storeNow: number): void {
    setText(this.foot, stateLine(entry, storeNow));
  }

  /** Puts the tile at `index` of `total` in a grid of `columns` columns, `pitchX` × `pitchY` pixels per cell. */
  place(index: number, total: number, columns: number, pitchX: number, pitchY: number): void {
    if (this.index !== index) {
      this.index = index;
      // Screen readers learn the item's place in the whole list, not in the few that are in the DOM.
      this.item.setAttribute("aria-posinset", String(index + 1));
    }
    const transform = `translate(${(index % columns) * pitchX}px, ${Math.floor(index / columns) * pitchY}px)`;
    if (this.transform !== transform) {
      this.transform = transform;
      this.item.style.transform = transform;
    }
    if (this.setSize !== total) {
      this.setSize = total;
      this.item.setAttribute("aria-setsize", String(total));
    }
  }
}
