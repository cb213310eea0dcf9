/**
 * The tile grid: one link per circuit (Tab reaches each, Enter opens its
 * view), in name order, updated in place so focus stays where it is.
 * Filtering by name prefix and by state hides tiles; nothing is refetched.
 */
import { count, countdown, percent, stateLabel, type StateName } from "./format.js";
import type { CircuitEntry, Model } from "./model.js";

export interface GridFilter {
  prefix: string;
  state: StateName | "";
}

interface Tile {
  item: HTMLLIElement;
  link: HTMLAnchorElement;
  badge: HTMLElement;
  failure: HTMLElement;
  slow: HTMLElement;
  calls: HTMLElement;
  rejections: HTMLElement;
  foot: HTMLElement;
}

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

export class Grid {
  private readonly tiles = new Map<string, Tile>();
  private filter: GridFilter = { prefix: "", state: "" };

  constructor(
    private readonly list: HTMLUListElement,
    private readonly empty: HTMLElement,
    private readonly model: Model,
    private readonly onCounts: (counts: Map<StateName | "", number>) => void,
  ) {}

  setFilter(filter: GridFilter): void {
    this.filter = filter;
    for (const [name, tile] of this.tiles) tile.item.hidden = !this.matches(this.model.circuits.get(name));
    this.updateEmpty();
  }

  /** Rebuilds every tile (after a new snapshot). */
  renderAll(): void {
    const names = [...this.model.circuits.keys()].sort();
    for (const [name, tile] of this.tiles) {
      if (!this.model.circuits.has(name)) {
        tile.item.remove();
        this.tiles.delete(name);
      }
    }
    for (const name of names) this.render(name);
    this.updateEmpty();
  }

  /** Creates or updates one tile. */
  render(name: string): void {
    const entry = this.model.circuits.get(name);
    if (entry === undefined) return;
    let tile = this.tiles.get(name);
    if (tile === undefined) {
      tile = this.create(entry);
      this.tiles.set(name, tile);
      this.insertSorted(name, tile.item);
    }
    const s = entry.stats;
    tile.link.dataset.state = entry.state;
    tile.badge.textContent = stateLabel(entry.state);
    tile.failure.textContent = s === undefined ? "–" : percent(s.failureRate);
    tile.slow.textContent = s === undefined ? "–" : percent(s.slowCallRate);
    tile.calls.textContent = s === undefined ? "–" : count(s.windowCalls);
    tile.rejections.textContent = s === undefined ? "–" : count(s.totalRejections);
    tile.foot.textContent = stateLine(entry, this.model.storeNow());
    tile.item.hidden = !this.matches(entry);
    this.updateEmpty();
  }

  /** Refreshes the countdowns of OPEN tiles (once a second; no server call). */
  tick(): void {
    const now = this.model.storeNow();
    for (const [name, tile] of this.tiles) {
      const entry = this.model.circuits.get(name);
      if (entry?.state === "OPEN") tile.foot.textContent = stateLine(entry, now);
    }
  }

  private matches(entry: CircuitEntry | undefined): boolean {
    if (entry === undefined) return false;
    if (!entry.name.startsWith(this.filter.prefix)) return false;
    return this.filter.state === "" || entry.state === this.filter.state;
  }

  private updateEmpty(): void {
    const counts = new Map<StateName | "", number>();
    let shown = 0;
    for (const entry of this.model.circuits.values()) {
      if (entry.name.startsWith(this.filter.prefix)) {
        counts.set("", (counts.get("") ?? 0) + 1);
        counts.set(entry.state, (counts.get(entry.state) ?? 0) + 1);
      }
      if (this.matches(entry)) shown += 1;
    }
    this.onCounts(counts);
    if (shown > 0) {
      this.empty.hidden = true;
      return;
    }
    this.empty.hidden = false;
    if (this.model.circuits.size === 0) {
      this.empty.textContent = "No circuits yet. A circuit appears here when an agent first calls Acquire for it.";
    } else {
      const what = this.filter.state === "" ? "circuit" : `${stateLabel(this.filter.state).toLowerCase()} circuit`;
      this.empty.textContent =
        this.filter.prefix === "" ? `No ${what}.` : `No ${what} whose name starts with “${this.filter.prefix}”.`;
    }
  }

  private create(entry: CircuitEntry): Tile {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.className = "tile";
    link.href = circuitHref(entry.name);
    link.dataset.circuit = entry.name;
    const head = document.createElement("span");
    head.className = "tile-head";
    const name = document.createElement("span");
    name.className = "tile-name";
    name.append(...breakableName(entry.name));
    const badge = document.createElement("span");
    badge.className = "badge";
    head.append(name, badge);
    const metrics = document.createElement("dl");
    metrics.className = "metrics";
    const failure = metric(metrics, "Fail rate", "Failure rate in the sliding window");
    const slow = metric(metrics, "Slow rate", "Slow-call rate in the sliding window");
    const calls = metric(metrics, "Calls", "Calls reported in the sliding window");
    const rejections = metric(metrics, "Rejected", "Acquires denied, in total");
    const foot = document.createElement("span");
    foot.className = "tile-foot";
    link.append(head, metrics, foot);
    item.append(link);
    return { item, link, badge, failure, slow, calls, rejections, foot };
  }

  /** Inserts `item` before the first tile whose name sorts after `name`. */
  private insertSorted(name: string, item: HTMLLIElement): void {
    for (const child of this.list.children) {
      const other = (child.firstElementChild as HTMLElement | null)?.dataset.circuit;
      if (other !== undefined && other > name) {
        this.list.insertBefore(item, child);
        return;
      }
    }
    this.list.append(item);
  }
}
