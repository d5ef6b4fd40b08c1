/**
 * Bulk actions in the UI: the confirmation step (`/bulk/redeliver`,
 * `/bulk/cancel`: the count of matching events, the filter, a target) and the
 * job page (`/jobs/<id>`: progress that refreshes itself while running, and a
 * stop button).
 */
import type { JobJson } from "../http/admin-views.ts";
import { searchQueryOf, typedSearchOf } from "../core/search-text.ts";
import { badge, queryString, time } from "./format.ts";
import { html, type SafeHtml } from "./html.ts";

/**
 * The events list's filter keys, as its form and query string name them:
 * `text` (words only, the API's) has no box of its own but comes with a
 * job's link, and must reach the count, the live list, the pager and a bulk
 * action like the others, or those act on more events than the page shows.
 */
export const FILTER_KEYS = ["source", "target", "status", "type", "q", "text", "since", "until"] as const;

/** The list's filter values from a query (empty ones dropped). */
export function filterQuery(q: Record<string, string | undefined>): Record<string, string | undefined> {
  return Object.fromEntries(FILTER_KEYS.map((k) => [k, q[k] || undefined]));
}

const KIND: Record<"redeliver" | "cancel", { verb: string; what: string; button: string }> = {
  redeliver: {
    verb: "Redeliver",
    what: "Each gets a new delivery — to the target named below, else to each of its targets (those whose current delivery has the status filtered on) — unless one is still on its way.",
    button: "Redeliver each",
  },
  cancel: {
    verb: "Cancel pending deliveries of",
    what: "Their pending and paused deliveries (to the target named below, if any) become cancelled and are never attempted again unless redelivered or retried. One being sent right now is left to finish.",
    button: "Cancel deliveries",
  },
};

/**
 * The confirmation step of a bulk action: how many events match, and the form
 * that starts the job. The form carries the filter with its times as counted
 * (`bounds`, ms): the job acts on the events the operator confirmed, not on
 * those received while they read the page.
 */
export function bulkConfirmPage(d: {
  kind: "redeliver" | "cancel";
  query: Record<string, string | undefined>;
  bounds: { since: number | undefined; until: number };
  drawnAt: number;
  matched: number;
  targets: string[];
}): SafeHtml {
  const k = KIND[d.kind];
  const filters = Object.entries(d.query).filter(([, v]) => v !== undefined);
  const sent = Object.entries({ ...d.query, since: d.bounds.since?.toString(), until: d.bounds.until.toString() }).filter(([, v]) => v !== undefined);
  return html`
<p class="crumbs"><a href="/${queryString(d.query)}">Events</a> /</p>
<h1>${d.matched === 0 ? `${k.verb} matching events: none match` : `${k.verb} ${d.matched} matching event${d.matched === 1 ? "" : "s"}?`}</h1>
<p class="bulk-filter">${filters.length === 0 ? "Filter: none — every stored event." : html`Filter: ${filters.map(([key, v]) => html`<span class="pill">${key}: ${v}</span> `)}`}</p>
<p class="muted">${k.what} Events received after ${time(new Date(d.drawnAt).toISOString())} (when this page was drawn) are not part of it.</p>
${
  d.matched === 0
    ? html`<p class="empty">Nothing matches: nothing to do.</p>`
    : html`<form method="post" action="/bulk/${d.kind}" class="bulk-confirm">
  ${sent.map(([key, v]) => html`<input type="hidden" name="${key}" value="${v}">`)}
  <label>Target
    <select name="bulkTarget">
      <option value="">${d.kind === "redeliver" ? "each event's own targets" : "any target"}</option>
      ${d.targets.map((t) => html`<option value="${t}"${t === d.query.target ? html` selected` : null}>${t}</option>`)}
    </select>
  </label>
  <div class="actions"><button type="submit" class="${d.kind === "cancel" ? "danger" : ""}">${k.button} of ${d.matched} event${d.matched === 1 ? "" : "s"}</button><a href="/${queryString(d.query)}">Back</a></div>
  <p class="muted">The count is of events: how many deliveries each has to change depends on their state now, and the job's page says how many did.</p>
</form>`
}`;
}

/**
 * The events page's search that matches a job's: its box, which makes its own words part of the
 * stored text, and the text too when it holds more than those (words given beside the box).
 */
const searchOf = (f: JobJson["filter"]): { q?: string; text?: string } => {
  if (f.q === null) return { text: f.text ?? undefined };
  const query = searchQueryOf(f.q);
  const boxWords = query === null ? null : typedSearchOf(query);
  if (f.text === null || boxWords === null || f.text === boxWords) return { q: f.q };
  // The list joined them as "<text's words> <box's words>" (http/admin-params.ts eventsPageFilter).
  return { q: f.q, text: f.text.endsWith(` ${boxWords}`) ? f.text.slice(0, -boxWords.length - 1) : f.text };
};

/** What a job's count of deliveries changed is of: "deliveries created", "delivery cancelled". */
const whatChanged = (j: JobJson) => `${j.affected === 1 ? "delivery" : "deliveries"} ${j.kind === "redeliver" ? "created" : "cancelled"}`;

/** What a job's filter matched, in a few words: "source shop · status failed", or every event. */
export function filterText(f: JobJson["filter"]): string {
  const words = searchOf(f).text;
  const parts = [
    f.source && `source ${f.source}`,
    f.target && `target ${f.target}`,
    f.status && `status ${f.status}`,
    f.type && `type ${f.type}`,
    f.q && `search “${f.q}”`,
    words && `words “${words}”`,
    f.since && `since ${f.since.replace("T", " ").replace(/(\.\d+)?Z$/, "")} UTC`,
  ].filter((p): p is string => typeof p === "string" && p.length > 0);
  return parts.length === 0 ? "every event" : parts.join(" · ");
}

/** The events list's query for a job's filter (the list of the events it matched). */
function filterOf(j: JobJson): Record<string, string | undefined> {
  const f = j.filter;
  return { source: f.source ?? undefined, target: f.target ?? undefined, status: f.status ?? undefined, type: f.type ?? undefined, ...searchOf(f), since: f.since ?? undefined, until: f.until ?? undefined };
}

/** Why a job that worked through its events changed none: said, or it reads as a job that did not run. */
function nothingDone(j: JobJson): string {
  if (j.kind === "redeliver")
    return "No matched event got a new delivery: each one's delivery to its target was still on its way (pending, being sent, or paused while the target is disabled), or its body was erased. Retry now sends a pending one at once; a paused one goes once its target is enabled.";
  return "No delivery was cancelled: none of the matched events had a pending or paused delivery (to the target named) any more.";
}

/**
 * A job's progress. While the job runs, app.js follows it (GET /api/jobs/<id>
 * every second) and reloads the page once it has ended; without scripts, the
 * layout's refresh reloads it every second.
 */
export function jobPage(j: JobJson): SafeHtml {
  const filter = filterOf(j);
  return html`
<p class="crumbs"><a href="/">Events</a> / <a href="/jobs">Jobs</a> /</p>
<h1 class="mono wrap">${j.id} ${badge(j.status)}</h1>
<p class="job-progress"${j.status === "running" ? html` data-job="${j.id}"` : null}><progress value="${j.done}" max="${Math.max(j.total, 1)}" aria-label="events worked through"></progress>
  <span id="job-done">${j.done}</span> of <span id="job-total">${j.total}</span> events · <span id="job-affected">${j.affected}</span> ${whatChanged(j)}</p>
<dl class="meta">
  <div><dt>Action</dt><dd>${j.kind === "redeliver" ? "Redeliver" : "Cancel pending"}${j.target ? ` → ${j.target}` : ""}</dd></div>
  <div><dt>Started</dt><dd>${time(j.createdAt)}</dd></div>
  <div><dt>Finished</dt><dd>${time(j.finishedAt)}</dd></div>
  <div><dt>Events</dt><dd><a href="/${queryString(filter)}">the filter it matched</a>${j.filter.until ? html`, received until ${time(j.filter.until)}` : null}</dd></div>
</dl>
${j.error ? html`<p class="error-text">${j.error}</p>` : null}
${j.status === "done" && j.done > 0 && j.affected === 0 ? html`<p class="notice" id="job-nothing">${nothingDone(j)}</p>` : null}
${
  j.status === "running"
    ? html`<div class="actions"><form method="post" action="/jobs/${j.id}/stop" class="inline" data-confirm="Stop this job? What it did so far stays done.">
  <button type="submit" class="danger">Stop</button></form><span class="muted">This page follows the job while it runs.</span></div>`
    : null
}`;
}

/** `/jobs`: the newest bulk jobs, each with its progress, linked to its page. */
export function jobsPage(jobs: JobJson[]): SafeHtml {
  return html`
<p class="crumbs"><a href="/">Events</a> /</p>
<h1>Jobs</h1>
<p class="muted">Bulk redeliveries and cancels started from the events list (the newest 50).</p>
${
  jobs.length === 0
    ? html`<p class="empty">No jobs yet: "Redeliver matching…" and "Cancel pending…" on the events list start one.</p>`
    : html`<div class="table-wrap"><table class="list jobs">
  <thead><tr><th>Started</th><th>Job</th><th>Action</th><th>Of the events</th><th>Status</th><th class="num">Events</th><th>Changed</th></tr></thead>
  <tbody>${jobs.map(
    (j) => html`<tr>
    <td class="nowrap">${time(j.createdAt)}</td>
    <td><a class="mono" href="/jobs/${j.id}">${j.id}</a></td>
    <td>${j.kind === "redeliver" ? "Redeliver" : "Cancel pending"}${j.target ? ` → ${j.target}` : ""}</td>
    <td><a href="/${queryString(filterOf(j))}">${filterText(j.filter)}</a></td>
    <td>${badge(j.status)}</td>
    <td class="num nowrap">${String(j.done)} of ${String(j.total)}</td>
    <td class="nowrap">${String(j.affected)} ${whatChanged(j)}</td>
  </tr>`,
  )}</tbody>
</table></div>`
}`;
}
