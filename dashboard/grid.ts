/**
 * The circuit grid at fleet size: every circuit in the worst-first order
 * (order.ts), but only the tiles in and near the viewport in the DOM. The
 * list is as tall as all its rows; each tile is placed at its row and
 * column, and tiles that scroll out are reused for those that scroll in.
 *
 * Updates are batched per animation frame: an update from the Watch stream
 * only notes what changed (O(1)); once per frame the order is fixed up, the
 * window is worked out from the scroll position, and only tiles in it are
 * written, and only where their text differs. A filter change is applied at
 * once (a person typed; the result should be there on the next paint).
 *
 * Keyboard: tiles are links in list order, so Tab walks them worst first;
 * the rows past the viewport are already rendered, and the browser scrolls
 * the focused one into view, which moves the window along. A focused tile
 * stays in the DOM even when its circuit moves out of the window.
 */
import { stateLabel, type StateName } from "./format.js";
import type { CircuitEntry, Model } from "./model.js";
import { WorstFirst } from "./order.js";
import { Tile } from "./tile.js";

export interface GridFilter {
  prefix: string;
  state: StateName | "";
}

/** The grid's geometry in rem; styles.css lays the tile's content out to fit this height. */
const TILE_MIN_WIDTH_REM = 17;
const TILE_HEIGHT_REM = 9.5;
const GAP_REM = 0.75;
/** Rows rendered above and below the viewport, so Tab and short scrolls find the next tiles there. */
const OVERSCAN_ROWS = 2;
/** Unused tiles kept for reuse. */
const POOL_MAX = 64;

interface Layout {
  width: number;
  columns: number;
  pitchX: number;
  pitchY: number;
  tileHeight: number;
  gap: number;
}

export class Grid {
  private readonly order = new WorstFirst();
  private filter: GridFilter = { prefix: "", state: "" };
  /** The circuits that pass the filter, worst first (the order's own array when nothing is filtered). */
  private shown: readonly CircuitEntry[] = [];
  private shownVersion = -1;
  private filterDirty = true;
  private countsDirty = true;
  private refillAll = false;
  private layout: Layout | undefined;
  private height = -1;
  /** Tiles in the DOM by circuit name. */
  private rendered = new Map<string, Tile>();
  private readonly pool: Tile[] = [];
  /** Rendered circuits that changed since the last frame. */
  private readonly dirtyTiles = new Set<string>();
  private windowStart = -1;
  private windowEnd = -1;
  private frameRequested = false;
  private visible = true;
  /** The circuit whose tile has focus, if one has. */
  private focused: string | undefined;

  constructor(
    private readonly list: HTMLUListElement,
    private readonly empty: HTMLElement,
    private readonly shownCount: HTMLElement,
    private readonly model: Model,
    private readonly onCounts: (counts: Map<StateName | "", number>) => void,
  ) {
    new ResizeObserver((entries) => {
      const width = entries[0]?.contentRect.width;
      if (width !== this.layout?.width) {
        this.layout = undefined;
        this.schedule();
      }
    }).observe(list);
    addEventListener("scroll", () => this.schedule(), { passive: true });
    addEventListener("resize", () => this.schedule());
    // Keys can come faster than frames: when a tile takes focus, its
    // neighbours are put in the DOM at once, so the next Tab (or Shift+Tab)
    // finds its tile even before the scroll it caused has been drawn.
    list.addEventListener("focusin", (e) => {
      const circuit = (e.target as HTMLElement).dataset.circuit;
      if (circuit === undefined || !this.rendered.has(circuit)) return;
      this.focused = circuit;
      this.update();
    });
    list.addEventListener("focusout", (e) => {
      if (!(e.relatedTarget instanceof Node && list.contains(e.relatedTarget))) this.focused = undefined;
    });
  }

  setFilter(filter: GridFilter): void {
    this.filter = filter;
    this.filterDirty = true;
    this.countsDirty = true;
    this.update();
  }

  /** The grid view was shown or hidden (a hidden grid does no work; it catches up when shown). */
  setVisible(visible: boolean): void {
    this.visible = visible;
    if (visible) this.schedule();
  }

  /** Starts over from the model (after a new snapshot). */
  reset(): void {
    this.order.reset(this.model.circuits.values());
    this.filterDirty = true;
    this.countsDirty = true;
    this.refillAll = true;
    this.schedule();
  }

  /** One circuit changed: O(1); the DOM follows at the next frame. */
  changed(name: string, stateChanged: boolean): void {
    const entry = this.model.circuits.get(name);
    if (entry === undefined) return;
    const size = this.order.size;
    this.order.touch(entry);
    if (stateChanged || this.order.size !== size) {
      this.countsDirty = true;
      if (this.filter.state !== "") this.filterDirty = true;
    }
    if (this.rendered.has(name)) this.dirtyTiles.add(name);
    this.schedule();
  }

  /** Refreshes the countdowns of the OPEN tiles in the DOM (once a second; no server call). */
  tick(): void {
    const now = this.model.storeNow();
    for (const [name, tile] of this.rendered) {
      const entry = this.model.circuits.get(name);
      if (entry?.state === "OPEN") tile.tick(entry, now);
    }
  }

  /**
   * Scrolls `name`'s tile into view if it is not, renders at once, and
   * returns its link (undefined when the filter hides it or it is gone).
   */
  reveal(name: string): HTMLAnchorElement | undefined {
    this.update();
    const entry = this.model.circuits.get(name);
    const index = entry === undefined ? -1 : this.shown.indexOf(entry);
    if (index < 0 || this.layout === undefined) return undefined;
    const { columns, pitchY, tileHeight } = this.layout;
    const top = this.list.getBoundingClientRect().top + Math.floor(index / columns) * pitchY;
    if (top < 0 || top + tileHeight > innerHeight) {
      scrollBy(0, top - Math.max(0, (innerHeight - tileHeight) / 2));
      this.update();
    }
    return this.rendered.get(name)?.link;
  }

  private schedule(): void {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => {
      this.frameRequested = false;
      this.update();
    });
  }

  private matches(entry: CircuitEntry): boolean {
    return entry.name.startsWith(this.filter.prefix) && (this.filter.state === "" || entry.state === this.filter.state);
  }

  /** Brings the DOM up to date with the model, the filter and the scroll position. */
  private update(): void {
    if (!this.visible) return;
    const sorted = this.order.sorted();
    let shownChanged = false;
    if (this.filterDirty || this.shownVersion !== this.order.version) {
      const filtered = this.filter.prefix !== "" || this.filter.state !== "";
      this.shown = filtered ? sorted.filter((e) => this.matches(e)) : sorted;
      this.shownVersion = this.order.version;
      this.filterDirty = false;
      shownChanged = true;
    }
    if (this.countsDirty) {
      this.countsDirty = false;
      this.onCounts(this.counts());
    }
    if (shownChanged) this.updateEmpty();

    // Reads first (one layout at most), then writes.
    let layoutChanged = false;
    if (this.layout === undefined) {
      this.layout = this.measure();
      layoutChanged = true;
      this.list.style.setProperty("--tile-height", `${this.layout.tileHeight}px`);
      this.list.style.setProperty("--tile-width", `${this.layout.pitchX - this.layout.gap}px`);
    }
    const { columns, pitchY, gap } = this.layout;
    const total = this.shown.length;
    const rows = Math.ceil(total / columns);
    const top = this.list.getBoundingClientRect().top;
    const firstRow = Math.max(0, Math.floor(-top / pitchY) - OVERSCAN_ROWS);
    const lastRow = Math.min(rows - 1, Math.floor((innerHeight - top) / pitchY) + OVERSCAN_ROWS);
    let start = Math.min(total, firstRow * columns);
    let end = Math.max(start, Math.min(total, (lastRow + 1) * columns));
    // The row before and after the focused tile too, when it is at (or just past) the window's edge.
    const focusIndex = this.focused === undefined ? -1 : (this.rendered.get(this.focused)?.index ?? -1);
    if (focusIndex >= 0 && focusIndex < total) {
      const row = Math.floor(focusIndex / columns);
      if (row >= firstRow - OVERSCAN_ROWS && row <= lastRow + OVERSCAN_ROWS) {
        start = Math.min(start, Math.max(0, (row - 1) * columns));
        end = Math.max(end, Math.min(total, (row + 2) * columns));
      }
    }

    const height = rows === 0 ? 0 : rows * pitchY - gap;
    if (height !== this.height) {
      this.height = height;
      this.list.style.height = `${height}px`;
    }
    if (shownChanged || layoutChanged || this.refillAll || start !== this.windowStart || end !== this.windowEnd) {
      this.renderWindow(start, end);
    } else {
      const now = this.model.storeNow();
      for (const name of this.dirtyTiles) {
        const entry = this.model.circuits.get(name);
        if (entry !== undefined) this.rendered.get(name)?.fill(entry, now);
      }
    }
    this.dirtyTiles.clear();
  }

  /** Puts exactly the tiles of shown[start, end) in the DOM (plus the focused one), in list order. */
  private renderWindow(start: number, end: number): void {
    const { columns, pitchX, pitchY } = this.layout!;
    const now = this.model.storeNow();
    const total = this.shown.length;
    const active = document.activeElement;
    const focused = active instanceof HTMLElement && active.classList.contains("tile") ? active.dataset.circuit : undefined;

    const next = new Map<string, Tile>();
    const unbound: number[] = [];
    const placeKept = (name: string, index: number): void => {
      const tile = this.rendered.get(name)!;
      this.rendered.delete(name);
      next.set(name, tile);
      if (this.refillAll || this.dirtyTiles.has(name)) tile.fill(this.shown[index]!, now);
      tile.place(index, total, columns, pitchX, pitchY);
    };
    for (let i = start; i < end; i++) {
      const name = this.shown[i]!.name;
      if (this.rendered.has(name)) placeKept(name, i);
      else unbound.push(i);
    }
    // Focus stays on its tile wherever the circuit went (unless the filter hid it).
    if (focused !== undefined && !next.has(focused) && this.rendered.has(focused)) {
      const entry = this.model.circuits.get(focused);
      const index = entry === undefined ? -1 : this.shown.indexOf(entry);
      if (index >= 0) placeKept(focused, index);
    }
    for (const tile of this.rendered.values()) {
      tile.item.remove();
      if (this.pool.length < POOL_MAX) this.pool.push(tile);
    }
    for (const i of unbound) {
      const entry = this.shown[i]!;
      const tile = this.pool.pop() ?? new Tile();
      tile.fill(entry, now);
      tile.place(i, total, columns, pitchX, pitchY);
      next.set(entry.name, tile);
    }
    this.rendered = next;

    // DOM order = list order (Tab order); a tile already in place is not moved.
    const ordered = [...next.values()].sort((a, b) => a.index - b.index);
    let cursor = this.list.firstElementChild;
    for (const tile of ordered) {
      if (tile.item === cursor) cursor = cursor.nextElementSibling;
      else this.list.insertBefore(tile.item, cursor);
    }
    // Moving an element in the DOM blurs it; give the focus back.
    if (active instanceof HTMLElement && active !== document.activeElement && active.isConnected) active.focus({ preventScroll: true });

    this.windowStart = start;
    this.windowEnd = end;
    this.refillAll = false;
  }

  private measure(): Layout {
    const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
    const width = this.list.clientWidth;
    const gap = GAP_REM * rem;
    const columns = Math.max(1, Math.floor((width + gap) / (TILE_MIN_WIDTH_REM * rem + gap)));
    const tileWidth = Math.max(0, (width - gap * (columns - 1)) / columns);
    const tileHeight = TILE_HEIGHT_REM * rem;
    return { width, columns, pitchX: tileWidth + gap, pitchY: tileHeight + gap, tileHeight, gap };
  }

  /** Per state (and "" for all) over every circuit whose name passes the prefix filter. */
  private counts(): Map<StateName | "", number> {
    const counts = new Map<StateName | "", number>();
    if (this.filter.prefix === "") {
      for (const [state, n] of this.model.counts) counts.set(state, n);
      counts.set("", this.model.circuits.size);
      return counts;
    }
    for (const entry of this.model.circuits.values()) {
      if (!entry.name.startsWith(this.filter.prefix)) continue;
      counts.set("", (counts.get("") ?? 0) + 1);
      counts.set(entry.state, (counts.get(entry.state) ?? 0) + 1);
    }
    return counts;
  }

  private updateEmpty(): void {
    const shown = this.shown.length;
    const total = this.model.circuits.size;
    const circuits = `${total.toLocaleString("en-US")} ${total === 1 ? "circuit" : "circuits"}`;
    const text = shown === total ? circuits : `${shown.toLocaleString("en-US")} of ${circuits}`;
    if (this.shownCount.textContent !== text) this.shownCount.textContent = text;
    if (shown > 0) {
      this.empty.hidden = true;
      return;
    }
    this.empty.hidden = false;
    if (total === 0) {
      this.empty.textContent = "No circuits yet. A circuit appears here when an agent first calls Acquire for it.";
    } else {
      const what = this.filter.state === "" ? "circuit" : `${stateLabel(this.filter.state).toLowerCase()} circuit`;
      this.empty.textContent =
        this.filter.prefix === "" ? `No ${what}.` : `No ${what} whose name starts with “${this.filter.prefix}”.`;
    }
  }
}
