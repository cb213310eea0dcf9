/**
 * The failure-rate sparkline of the circuit view: an inline SVG step line of
 * the rates this page received (snapshot, events, status messages) over
 * time, with the circuit's failure_rate_threshold as a dashed line.
 */
import { duration, percent } from "./format.js";
import type { Sample } from "./model.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 320;
const HEIGHT = 72;
const PAD = 4;

function el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string>): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

/**
 * Draws `samples` (oldest first) up to `now` into `host`, replacing what was
 * there. The rate holds its value until the next sample (status messages
 * are only sent when something changed), so the line is drawn in steps.
 */
export function renderSparkline(host: HTMLElement, samples: readonly Sample[], threshold: number, now: number): void {
  const first = samples[0];
  const last = samples[samples.length - 1];
  const span = first === undefined ? 1 : Math.max(now - first.at, 1000);
  const x = (at: number): number => PAD + ((at - (now - span)) / span) * (WIDTH - 2 * PAD);
  const y = (rate: number): number => HEIGHT - PAD - Math.min(Math.max(rate, 0), 1) * (HEIGHT - 2 * PAD);

  const label =
    last === undefined
      ? "No failure rate received yet."
      : `Failure rate over the last ${duration(span)}: now ${percent(last.rate)}, ` +
        `highest ${percent(Math.max(...samples.map((s) => s.rate)))}; opens at ${percent(threshold)}.`;
  const svg = el("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    class: "sparkline",
    role: "img",
    "aria-label": label,
  });
  svg.append(el("rect", { x: "0", y: "0", width: String(WIDTH), height: String(HEIGHT), class: "spark-bg" }));
  if (threshold > 0 && threshold <= 1) {
    const ty = y(threshold).toFixed(1);
    svg.append(el("line", { x1: "0", x2: String(WIDTH), y1: ty, y2: ty, class: "spark-threshold" }));
  }
  if (first !== undefined && last !== undefined) {
    const points: string[] = [];
    let prev: Sample | undefined;
    for (const s of samples) {
      if (prev !== undefined) points.push(`${x(s.at).toFixed(1)},${y(prev.rate).toFixed(1)}`);
      points.push(`${x(s.at).toFixed(1)},${y(s.rate).toFixed(1)}`);
      prev = s;
    }
    points.push(`${x(now).toFixed(1)},${y(last.rate).toFixed(1)}`);
    svg.append(el("polyline", { points: points.join(" "), class: "spark-line" }));
    svg.append(el("circle", { cx: x(now).toFixed(1), cy: y(last.rate).toFixed(1), r: "3", class: "spark-dot" }));
  }
  const legend = document.createElement("p");
  legend.className = "spark-legend";
  legend.textContent = label;
  host.replaceChildren(svg, legend);
}
