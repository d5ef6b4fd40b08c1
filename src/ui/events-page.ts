/** `/` — the events list: filter form, one table row per event, cursor paging. */
import { EVENT_STATUSES } from "../store/admin-queries.ts";
import type { EventJson } from "../http/admin-views.ts";
import { filterQuery } from "./bulk-pages.ts";
import { badge, queryString, targetsLineText, time } from "./format.ts";
import { html, type SafeHtml } from "./html.ts";

/** How far the events page counts the matching events (past it, "1,000+"); its live updates count as far. */
export const EVENTS_COUNT_CAP = 1000;

/** What the events page renders. */
export interface EventsPageData {
  /** The raw filter values as typed, to refill the form. */
  query: Record<string, string | undefined>;
  /** The configured sources; then the built-in ones, which config does not list, with what each holds. */
  sources: string[];
  builtInSources: { name: string; holds: string }[];
  targets: string[];
  events: EventJson[];
  nextCursor: string | null;
  /** How many events the filter matches (null: not counted, the filter was invalid); past countCap: more than it. */
  matched: number | null;
  countCap: number;
}

const option = (value: string, current: string | undefined, label = value) => html`<option value="${value}"${value === current ? html` selected` : null}>${label}</option>`;
// A value in force that the config no longer lists (a source or target a reload removed, an old
// bookmark) is an option of its own: the form shows the filter the list is drawn with, never "any".
const unlisted = (current: string | undefined, known: string[]) =>
  current !== undefined && current !== "" && !known.includes(current) ? option(current, current, `${current} (not configured)`) : null;
const select = (name: string, label: string, current: string | undefined, options: string[], builtIn: { name: string; holds: string }[] = []) => html`
  <label>${label}
    <select name="${name}">
      <option value="">any</option>
      ${options.map((o) => option(o, current))}
      ${unlisted(current, [...options, ...builtIn.map((b) => b.name)])}
      ${builtIn.length === 0 ? null : html`<optgroup label="built in">${builtIn.map((b) => option(b.name, current, `${b.name} (${b.holds})`))}</optgroup>`}
    </select>
  </label>`;

const text = (name: string, label: string, current: string | undefined, placeholder: string) => html`
  <label>${label}<input type="text" name="${name}" value="${current ?? ""}" placeholder="${placeholder}" autocomplete="off"></label>`;

/** The list's body markup. */
export function eventsPage(d: EventsPageData): SafeHtml {
  const q = d.query;
  const filters = filterQuery(q);
  const filtered = Object.values(filters).some((v) => v !== undefined);
  // An invalid filter (its error is the page's banner) lists nothing and streams nothing: only the form, to fix it.
  const invalid = d.matched === null;
  // Live updates (ui/live.js) add new events at the top: only on the newest page.
  const live = q.cursor || invalid ? "" : `/api/stream${queryString({ view: "events", ...filters })}`;
  return html`
<h1${live ? html` data-live-src="${live}"` : null}>Events</h1>
<form class="filters" method="get" action="/">
  ${text("q", "Search", q.q, "words, dedupe key or evt_ id")}
  ${q.text ? text("text", "Words", q.text, "") : null}
  ${select("source", "Source", q.source, d.sources, d.builtInSources)}
  ${select("target", "Target", q.target, d.targets)}
  ${select("status", "Status", q.status, [...EVENT_STATUSES])}
  ${text("type", "Event type", q.type, "order.paid, or order.*")}
  ${text("since", "Since", q.since, "2h, or a time")}
  ${text("until", "Until", q.until, "30m, or a time")}
  <div class="filter-actions"><button type="submit">Filter</button>${filtered ? html`<a href="/">Clear</a>` : null}</div>
</form>
${invalid ? null : eventList(d, q, filters, filtered)}`;
}

// A search of one term finds a dedupe key only whole: say so, with the search for the keys it starts.
function prefixHint(q: EventsPageData["query"], filters: Record<string, string | undefined>): SafeHtml | null {
  const term = q.q?.trim();
  if (!term || /\s|\*$/.test(term) || !/[\p{L}\p{N}]/u.test(term)) return null;
  return html` A dedupe key is found whole: <a href="/${queryString({ ...filters, q: `${term}*` })}">${term}*</a> finds the keys that start with it.`;
}

// The count, the page of events and the pager.
function eventList(d: EventsPageData, q: EventsPageData["query"], filters: Record<string, string | undefined>, filtered: boolean): SafeHtml {
  return html`${matchLine(d.matched, d.countCap, filters)}
${
  d.events.length === 0
    ? html`<p class="empty">No events${filtered ? " match these filters" : " stored yet"}.${
        q.q && !/[\p{L}\p{N}]/u.test(q.q) ? " The search finds words, ids and dedupe keys: one of only symbols or emoji has none to look for." : ""
      }${prefixHint(q, filters)}</p>`
    : html`
<div class="table-wrap">
<table class="list events">
  <thead><tr><th>Received</th><th>Event</th><th>Source</th><th>Type</th><th>Dedupe key</th><th class="num">Dups</th><th>Status</th></tr></thead>
  <tbody>
  ${d.events.map(
    (e) => html`<tr data-event-id="${e.id}">
    <td class="nowrap">${time(e.receivedAt)}</td>
    <td><a class="mono" href="/events/${encodeURIComponent(e.id)}">${e.id}</a></td>
    <td data-label="source">${e.source}</td>
    <td class="clip" data-label="type" title="${e.eventType ?? ""}">${e.eventType ?? html`<span class="muted">—</span>`}</td>
    <td class="mono clip" data-label="key" title="${e.dedupeKey}">${e.dedupeKey}</td>
    <td class="num" data-label="dups">${e.duplicates || ""}</td>
    <td class="col-status">${badge(e.status)}${e.erasedAt ? html` ${badge("erased")}` : null}${targetsLine(e.targets)}</td>
  </tr>`,
  )}
  </tbody>
</table>
</div>`
}
<nav class="pager">
  ${q.cursor ? html`<a href="/${queryString(filters)}">← Newest</a>` : html`<span></span>`}
  ${d.nextCursor ? html`<a href="/${queryString({ ...filters, cursor: d.nextCursor })}" rel="next">Older →</a>` : null}
</nav>`;
}

/**
 * Under the overall status (the one that needs a human most), each target's
 * when they differ: "failed" alone would hide that the other target has it.
 * live.js draws the same line for the rows it adds and updates.
 */
function targetsLine(targets: EventJson["targets"]): SafeHtml | null {
  const line = targetsLineText(targets);
  return line === null ? null : html`<span class="targets muted">${line}</span>`;
}

// How many events match, and the bulk actions over exactly those (each asks to confirm first).
function matchLine(matched: number | null, cap: number, filters: Record<string, string | undefined>): SafeHtml | null {
  if (matched === null) return null;
  const qs = queryString(filters);
  // Past the cap the exact figure comes with the confirmation step.
  const n = matched > cap ? `${cap.toLocaleString("en")}+` : String(matched);
  return html`<div class="actions match-count">
  <span id="matched" data-matched="${matched > cap ? "" : String(matched)}" data-cap="${String(cap)}">${n} matching event${matched === 1 ? "" : "s"}</span>
  ${matched > 0 ? html`<a class="button secondary" id="redeliver-matching" href="/bulk/redeliver${qs}">Redeliver ${n} matching…</a>
  <a class="button secondary" href="/bulk/cancel${qs}">Cancel pending…</a>` : null}
  <a href="/jobs">Jobs</a>
</div>`;
}
