/** `/overview` — the last 24 h per 5 minutes as server-drawn SVG charts (store/overview.ts has the figures). */
import type { TargetJson } from "../http/admin-views.ts";
import type { Overview } from "../store/overview.ts";
import { formatAge } from "../core/quantity-text.ts";
import { badge, time } from "./format.ts";
import { html, type SafeHtml } from "./html.ts";
import { lineChart, SERIES_CLASSES } from "./svg-chart.ts";

/** A target as the overview's "now" sees it: its state and figures, and since when its oldest open delivery waits. */
export interface TargetNow {
  target: TargetJson;
  oldestWaitingAt: number | null;
}

/** The overview page's body markup: what needs a look now, then the last 24 hours. */
export function overviewPage(o: Overview, now: { nowMs: number; targets: TargetNow[] } = { nowMs: o.startMs, targets: [] }): SafeHtml {
  const base = { startMs: o.startMs, stepMs: o.stepMs };
  return html`<h1>Overview</h1>
${nowPanel(now.targets, now.nowMs)}
<p class="muted">The last 24 hours in 5-minute steps, times in UTC. Counts are per 5 minutes; the current step is still filling.</p>
<div class="charts">
${lineChart({
  ...base,
  id: "chart-requests",
  title: "Requests received and rejected",
  unit: "",
  summary: "total",
  empty: "No requests in the last 24 hours.",
  series: [
    { label: "received", values: o.received },
    { label: "rejected", values: o.rejected },
  ],
})}
${lineChart({ ...base, id: "chart-delivered", title: "Delivered per target", unit: "", summary: "total", empty: "Nothing delivered in the last 24 hours.", series: targetSeries(o.delivered, "total") })}
${lineChart({ ...base, id: "chart-failed", title: "Failed attempts per target", unit: "", summary: "total", empty: "No failed attempts in the last 24 hours.", series: targetSeries(o.failed, "total") })}
${lineChart({
  ...base,
  id: "chart-latency",
  title: "Attempt latency",
  unit: "ms",
  summary: "peak",
  empty: "No attempts in the last 24 hours.",
  series: [
    { label: "p50", values: o.latencyP50 },
    { label: "p95", values: o.latencyP95 },
  ],
})}
${lineChart({ ...base, id: "chart-queue", title: "Queue depth per target (highest sample each 5 min)", unit: "", summary: "peak", empty: "The queues were empty (or not sampled yet).", series: targetSeries(o.queue, "peak") })}
</div>`;
}

// Why a target is in the Now panel, in words: its disable reason or last error, else what its
// state says (a listen target waiting for its client), else a backlog that waits for its slots.
function whyNow(t: TargetNow["target"]): string {
  if (t.disabledReason) return t.disabledReason;
  if (t.lastError) return t.lastError;
  if (t.state === "no-client") return "no hookrelay listen client connected: its deliveries wait for one";
  return "a backlog: deliveries wait for a free slot of its concurrency (and its rate)";
}

// What an operator in an incident looks for first: the targets that are not healthy, or that
// have deliveries waiting longer than a minute, with why; else one line saying all is well.
function nowPanel(targets: TargetNow[], nowMs: number): SafeHtml {
  const waitingLong = (t: TargetNow) => t.oldestWaitingAt !== null && nowMs - t.oldestWaitingAt > 60_000;
  const attention = targets.filter((t) => t.target.state !== "healthy" || waitingLong(t));
  if (targets.length === 0) return html``;
  if (attention.length === 0) return html`<p class="now-ok" role="status">Now: every target healthy, nothing waiting longer than a minute.</p>`;
  return html`<section class="now" aria-labelledby="now-title"><h2 id="now-title">Now: ${attention.length} target${attention.length === 1 ? "" : "s"} to look at</h2>
<div class="table-wrap"><table class="list now-targets">
  <thead><tr><th>Target</th><th>State</th><th class="num">Waiting</th><th>Oldest waits</th><th>Why</th></tr></thead>
  <tbody>${attention.map(({ target: t, oldestWaitingAt }) => html`<tr>
    <td><a href="/targets#target-${encodeURIComponent(t.name)}">${t.name}</a></td>
    <td>${badge(t.state)}${t.circuitOpenUntil && t.enabled ? html` <span class="muted">until ${time(t.circuitOpenUntil)}</span>` : t.circuitHalfOpen ? html` <span class="muted">half-open</span>` : null}</td>
    <td class="num" data-label="waiting">${t.queueDepth}</td>
    <td data-label="oldest waits">${oldestWaitingAt === null ? html`<span class="muted">—</span>` : formatAge(nowMs - oldestWaitingAt)}</td>
    <td class="wrap">${whyNow(t)}</td>
  </tr>`)}</tbody>
</table></div></section>`;
}

/** Lines a per-target chart draws at most, one per series style (svg-chart.ts): past them the rest are one line, their sum. */
const MAX_TARGET_LINES = SERIES_CLASSES;

/**
 * A per-target chart's series: the targets with anything to show, the
 * largest first; past MAX_TARGET_LINES the rest summed as "N other targets".
 * With 200 targets every one drawn made two 700 KB charts of lines no eye
 * could tell apart, and a legend of "total 0".
 */
function targetSeries(by: Record<string, (number | null)[]>, figure: "total" | "peak"): { label: string; values: (number | null)[] }[] {
  const measure = (values: (number | null)[]) => {
    const vals = values.filter((v): v is number => v !== null);
    return figure === "total" ? vals.reduce((a, b) => a + b, 0) : Math.max(0, ...vals);
  };
  const shown = Object.entries(by)
    .map(([label, values]) => ({ label, values, size: measure(values) }))
    .filter((s) => s.size > 0)
    .sort((a, b) => b.size - a.size || (a.label < b.label ? -1 : 1));
  if (shown.length <= MAX_TARGET_LINES) return shown.map(({ label, values }) => ({ label, values }));
  const rest = shown.slice(MAX_TARGET_LINES - 1);
  const n = Math.max(...rest.map((s) => s.values.length));
  const sum = Array.from({ length: n }, (_, i) => {
    const at = rest.map((s) => s.values[i]).filter((v): v is number => v !== null && v !== undefined);
    return at.length === 0 ? null : at.reduce((a, b) => a + b, 0);
  });
  return [...shown.slice(0, MAX_TARGET_LINES - 1).map(({ label, values }) => ({ label, values })), { label: `${rest.length} other targets`, values: sum }];
}
