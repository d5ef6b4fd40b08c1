/** `/overview` — the last 24 h per 5 minutes as server-drawn SVG charts (store/overview.ts has the figures). */
import type { Overview } from "../store/overview.ts";
import { html, type SafeHtml } from "./html.ts";
import { lineChart } from "./svg-chart.ts";

/** The overview page's body markup. */
export function overviewPage(o: Overview): SafeHtml {
  const base = { startMs: o.startMs, stepMs: o.stepMs };
  const perTarget = (by: Record<string, (number | null)[]>) => Object.entries(by).map(([label, values]) => ({ label, values }));
  return html`<h1>Overview</h1>
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
${lineChart({ ...base, id: "chart-delivered", title: "Delivered per target", unit: "", summary: "total", empty: "Nothing delivered in the last 24 hours.", series: perTarget(o.delivered) })}
${lineChart({ ...base, id: "chart-failed", title: "Failed attempts per target", unit: "", summary: "total", empty: "No failed attempts in the last 24 hours.", series: perTarget(o.failed) })}
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
${lineChart({ ...base, id: "chart-queue", title: "Queue depth per target (highest sample each 5 min)", unit: "", summary: "peak", empty: "The queues were empty (or not sampled yet).", series: perTarget(o.queue) })}
</div>`;
}
