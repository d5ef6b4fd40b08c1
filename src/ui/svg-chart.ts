/**
 * Line charts drawn on the server as inline SVG: no script, no CDN, and no
 * style attributes (the page CSP allows only style.css), so colours come
 * from classes (`series-0` …) and geometry from presentation attributes.
 * Times on the x axis are UTC, like every time the UI prints.
 */
import { html, type SafeHtml } from "./html.ts";

/** One line. */
export interface ChartSeries {
  label: string;
  /** One value per bucket, oldest first; null: no value (the line breaks). */
  values: (number | null)[];
}

/** What a chart shows. */
export interface LineChart {
  /** Element id (tests and links find the chart by it). */
  id: string;
  title: string;
  /** Appended to axis values and the legend's figure ("ms"), or "". */
  unit: string;
  startMs: number;
  stepMs: number;
  series: ChartSeries[];
  /** The figure beside each legend entry: the sum of the counts, or the highest value. */
  summary: "total" | "peak";
  /** Said instead of a chart when no series has a value above zero. */
  empty: string;
}

const W = 720;
const H = 200;
const PAD = { left: 52, right: 10, top: 12, bottom: 26 };
// Half an hour label's width ("18:00"): one centred closer than that to the right edge would be cut, so it ends there.
const X_LABEL_HALF = 16;
const HOUR = 3_600_000;
/** Distinct line classes in style.css. */
export const SERIES_CLASSES = 6;

/** The smallest of 1, 2, 5 × 10^n at or above `max` (a readable top for the y axis). */
export function niceCeil(max: number): number {
  if (max <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  return [1, 2, 5, 10].map((m) => m * p).find((v) => v >= max)!;
}

const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));
/**
 * A y-axis label short enough for the plot's left margin: "10 s" for 10000 ms,
 * "20k" for 20000 (a legend, which has room, keeps the whole figure).
 */
export function tickText(v: number, unit: string): string {
  if (unit === "ms" && v >= 1000) return `${fmt(v / 1000)} s`;
  if (v >= 10_000) return `${fmt(v / 1000)}k${unit ? ` ${unit}` : ""}`;
  return `${fmt(v)}${unit ? ` ${unit}` : ""}`;
}
const clock = (ms: number) => new Date(ms).toISOString().slice(11, 16);

/** A figure with the chart and its legend, or the empty-state sentence. */
export function lineChart(c: LineChart): SafeHtml {
  const n = Math.max(1, ...c.series.map((s) => s.values.length));
  const all = c.series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const max = Math.max(0, ...all);
  const figure = (s: ChartSeries) => {
    const vals = s.values.filter((v): v is number => v !== null);
    return c.summary === "total" ? vals.reduce((a, b) => a + b, 0) : vals.length ? Math.max(...vals) : 0;
  };
  const legend = html`<ul class="legend">${c.series.map(
    (s, i) => html`<li data-series="${s.label}"><span class="swatch series-${i % SERIES_CLASSES}"></span>${s.label}
      <span class="muted">${c.summary === "total" ? "total" : "peak"}</span> <span class="total">${fmt(figure(s))}</span>${c.unit ? ` ${c.unit}` : ""}</li>`,
  )}</ul>`;
  if (max === 0)
    return html`<figure class="chart" id="${c.id}"><figcaption>${c.title}</figcaption><p class="empty">${c.empty}</p>${legend}</figure>`;

  const top = niceCeil(max);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const x = (i: number) => PAD.left + (n === 1 ? 0 : (i * plotW) / (n - 1));
  const y = (v: number) => PAD.top + plotH - (v / top) * plotH;
  const endMs = c.startMs + (n - 1) * c.stepMs;
  // Gridlines at 0, ½ and the top; time ticks on whole UTC hours, every 3 h.
  const yTicks = [0, top / 2, top];
  const xTicks: number[] = [];
  for (let t = Math.ceil(c.startMs / (3 * HOUR)) * 3 * HOUR; t <= endMs; t += 3 * HOUR) xTicks.push(t);
  const xAt = (t: number) => PAD.left + ((t - c.startMs) / Math.max(1, endMs - c.startMs)) * plotW;
  // A path per series; a null value lifts the pen. A value alone between gaps gets a dot (a path of one point draws nothing).
  const path = (values: (number | null)[]) => {
    let d = "";
    let pen = false;
    values.forEach((v, i) => {
      if (v === null) return void (pen = false);
      d += `${pen ? "L" : "M"}${x(i).toFixed(1)} ${y(v).toFixed(1)}`;
      pen = true;
    });
    return d;
  };
  const dots = (values: (number | null)[], cls: string) =>
    values.map((v, i) =>
      v !== null && (i === 0 || values[i - 1] === null) && (i + 1 === values.length || values[i + 1] === null)
        ? html`<circle class="dot ${cls}" cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2.5"></circle>`
        : null,
    );
  return html`<figure class="chart" id="${c.id}"><figcaption>${c.title}</figcaption>
<div class="plot"><svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${c.title}, last 24 h">
  ${yTicks.map(
    (v) => html`<line class="grid" x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}"></line>
  <text class="tick y" x="${PAD.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${tickText(v, c.unit)}</text>`,
  )}
  ${xTicks.map(
    // Every other hour label is "minor": a phone, drawing them larger, shows one every 6 h.
    (t, i) => html`<line class="grid" x1="${xAt(t).toFixed(1)}" x2="${xAt(t).toFixed(1)}" y1="${PAD.top}" y2="${H - PAD.bottom}"></line>
  <text class="tick x${i % 2 === 1 ? " minor" : ""}" x="${xAt(t).toFixed(1)}" y="${H - 8}" text-anchor="${xAt(t) > W - PAD.right - X_LABEL_HALF ? "end" : "middle"}">${clock(t)}</text>`,
  )}
  <line class="axis" x1="${PAD.left}" x2="${W - PAD.right}" y1="${H - PAD.bottom}" y2="${H - PAD.bottom}"></line>
  ${c.series.map(
    (s, i) => html`<path class="line series-${i % SERIES_CLASSES}" fill="none" d="${path(s.values)}"><title>${s.label}</title></path>${dots(s.values, `series-${i % SERIES_CLASSES}`)}`,
  )}
</svg></div>
<p class="muted axis-note">The last 24 h (UTC), per ${Math.round(c.stepMs / 60_000)} min; the last step, from ${clock(endMs)}, is the one under way</p>
${legend}</figure>`;
}
