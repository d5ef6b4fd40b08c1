/** `/events/<id>` — one stored request: metadata, deliveries with every attempt, body (raw and pretty), headers. */
import { isRedacted, isSensitiveHeader } from "../core/header-mask.ts";
import type { RouteVerdict } from "../core/routing.ts";
import type { EventDetailJson } from "../http/admin-views.ts";
import { curlCommand } from "./curl-command.ts";
import { bodyFileName } from "../core/body-file.ts";
import { counted, sizeText } from "../core/quantity-text.ts";
import { utf8HeaderText } from "../core/header-text.ts";
import { badge, duration, time } from "./format.ts";
import { html, type SafeHtml } from "./html.ts";
import { prettyJson, PRETTY_LIMITS } from "./pretty-json.ts";
import { RETRYABLE_STATUSES } from "../store/retry-delivery.ts";
import { ALERT_SOURCE } from "../core/alert.ts";
import { TEST_SOURCE } from "../core/types.ts";

const idPath = (id: string) => `/events/${encodeURIComponent(id)}`;

/** The delivery statuses "Retry now" is offered for on this event's page: none once it is erased (nothing left to send). */
const retryableOn = (ev: EventDetailJson): readonly string[] => (ev.erasedAt ? [] : RETRYABLE_STATUSES);

type DeliveryJson = EventDetailJson["deliveries"][number];

/**
 * What a delivery's card shows that a live update can change. live.js takes from the
 * server anew each card whose value differs from the one it shows (and each new card),
 * so the page is drawn here alone.
 */
const drawnDelivery = (d: DeliveryJson, retryable: boolean, hold: TargetHold | null, replaced: boolean) =>
  JSON.stringify([d.status, d.attemptCount, d.nextAttemptAt, d.lastError, d.attempts.length, retryable, hold, replaced]);

/** What holds a target's open deliveries back, as the event page says it. */
export type TargetHold = { kind: "unconfigured" } | { kind: "circuit"; untilIso: string } | { kind: "no_client" };

/**
 * Each target's hold at `nowMs`: not configured (any name outside
 * `configured`), a circuit open until a time still ahead, or a listen
 * target with no `hookrelay listen` client connected (`waitsForClient`).
 */
export function targetHolds(
  configured: readonly string[],
  circuitOpenUntil: (target: string) => number | null,
  nowMs: number,
  waitsForClient: (target: string) => boolean = () => false,
): (target: string) => TargetHold | null {
  return (target) => {
    if (!configured.includes(target)) return { kind: "unconfigured" };
    const until = circuitOpenUntil(target);
    if (until !== null && until > nowMs) return { kind: "circuit", untilIso: new Date(until).toISOString() };
    return waitsForClient(target) ? { kind: "no_client" } : null;
  };
}

// When a pending delivery goes: at its next attempt, or after what holds its target back
// (a next time already past would read as a delivery forgotten).
function nextAttempt(d: DeliveryJson, hold: TargetHold | null, nowMs: number): SafeHtml | null {
  const open = d.status === "pending" || d.status === "paused";
  if (hold?.kind === "unconfigured" && d.status !== "delivered")
    return html`· <span class="warn-text">its target is no longer configured</span>${open ? ": it waits until the target is listed again" : ""}`;
  if (!open || d.status === "paused") return null;
  if (hold?.kind === "circuit") return html`· waits for its target's circuit, open until ${time(hold.untilIso)}`;
  if (hold?.kind === "no_client") return html`· waits for a <code>hookrelay listen</code> client to connect to its target`;
  if (!d.nextAttemptAt) return null;
  // Due already: it waits for a free slot of its target (a backlog ahead of it), not for a time.
  if (Date.parse(d.nextAttemptAt) <= nowMs) return html`· due since ${time(d.nextAttemptAt)}, waits its turn at its target`;
  return html`· next ${time(d.nextAttemptAt)}`;
}

function deliveries(ev: EventDetailJson, holdOf: (target: string) => TargetHold | null, nowMs: number): SafeHtml {
  if (ev.deliveries.length === 0) return html`<p class="empty">No deliveries: no route matched this event when it arrived (see Routing).</p>`;
  return html`${ev.deliveries.map((d) => {
    const hold = holdOf(d.target);
    // A redelivery to the same target replaced it (ids sort by creation time): the later card is the
    // pair's current delivery, and retrying this one could send the event twice (the store refuses).
    const replaced = ev.deliveries.some((n) => n.target === d.target && n.id > d.id);
    // Retry now only to a target that is configured: none would take it.
    const retryable = retryableOn(ev).includes(d.status) && hold?.kind !== "unconfigured" && !replaced;
    return html`
<article class="card delivery" data-delivery-id="${d.id}" data-drawn="${drawnDelivery(d, retryable, hold, replaced)}">
  <header>
    <h3>${d.target}</h3> ${badge(d.status)}
    ${d.origin === "ingest" ? null : html`<span class="pill origin">${d.origin === "redeliver" ? "manual redelivery" : "replay"}</span>`}
    <span class="muted"><span data-field="attempts">${d.attemptCount} attempt${d.attemptCount === 1 ? "" : "s"}</span> · created ${time(d.createdAt)}</span>
    <span class="muted" data-field="next">${replaced ? "· replaced by a later delivery" : nextAttempt(d, hold, nowMs)}</span>
  </header>
  ${d.lastError ? html`<p class="error-text">${d.lastError}</p>` : null}
  ${retryable ? retryForm(ev.id, d.id, d.attemptCount + 1, d.target) : null}
  ${unrecorded(d)}
  ${
    d.attempts.length === 0
      ? d.attemptCount === 0 ? html`<p class="muted">No attempt yet.</p>` : null
      : html`<div class="table-wrap"><table class="list attempts">
    <thead><tr><th>Time</th><th>Status</th><th class="num">Latency</th><th>Error</th><th>Response</th></tr></thead>
    <tbody>${d.attempts.map(
      (a) => html`<tr>
      <td class="nowrap">${time(a.at)}</td>
      <td>${a.status === null ? html`<span class="muted">no response</span>` : html`<span class="${a.status >= 200 && a.status < 300 ? "ok" : "bad"}">${a.status}</span>`}</td>
      <td class="num nowrap">${duration(a.durationMs)}</td>
      <td class="col-error">${a.error ?? ""}</td>
      <td class="col-response">${a.responseExcerpt ? html`<pre class="excerpt">${a.responseExcerpt}</pre>` : ""}</td>
    </tr>${a.request ? sentRequest(a.request) : null}`,
    )}</tbody></table></div>`
  }
</article>`;
  })}`;
}

// Attempts counted with no record: retention removes attempt records by age while an open
// delivery stays, and a process that died mid-attempt counted one it never recorded.
function unrecorded(d: { attemptCount: number; attempts: unknown[] }): SafeHtml | null {
  const missing = d.attemptCount - d.attempts.length;
  if (missing <= 0) return null;
  const what = d.attempts.length === 0 ? `No record of its ${counted(missing, "attempt", "attempts")}` : `${counted(missing, "earlier attempt", "earlier attempts")} without a record`;
  return html`<p class="muted">${what}: removed by the store's retention, or cut short by a relay that stopped.</p>`;
}

// Header rows, a masked value shown as such.
// A value this long (a provider's 12 KB header) shows its start, the whole under a disclosure:
// the page stays a page, and every value is still there.
const LONG_VALUE_CHARS = 600;
const headerValue = (v: string): SafeHtml | string =>
  v.length <= LONG_VALUE_CHARS ? v : html`<details class="long-value"><summary>${v.slice(0, 200)}… <span class="muted">(${String(v.length)} characters: show all)</span></summary>${v}</details>`;
const headerRows = (headers: [string, string][]) =>
  headers.map(([n, v]) => html`<tr><th class="mono">${n}</th><td class="mono wrap${isSensitiveHeader(n) || isRedacted(v) ? " masked" : ""}">${headerValue(utf8HeaderText(v) ?? v)}</td></tr>`);

type SentRequest = NonNullable<EventDetailJson["deliveries"][number]["attempts"][number]["request"]>;

// The request an attempt sent, under its row: secrets were masked when it was recorded.
const sentRequest = (r: SentRequest) => html`<tr class="attempt-request"><td colspan="5">
  <details><summary>Request sent</summary>
    <p class="mono wrap">${r.method} ${r.url}</p>
    <table class="list headers"><tbody>${headerRows(r.headers)}</tbody></table>
  </details>
</td></tr>`;
// "Retry now" (the next attempt of the same delivery) for a delivery in one of RETRYABLE_STATUSES.
function retryForm(eventId: string, deliveryId: string, nextAttempt: number, target: string): SafeHtml {
  return html`<form method="post" action="/deliveries/${deliveryId}/retry" class="inline retry">
    <input type="hidden" name="event" value="${eventId}">
    <button type="submit" class="secondary" aria-label="Retry now to ${target}">Retry now</button>
    <span class="muted">attempt ${String(nextAttempt)}, same delivery</span>
  </form>`;
}

/** Each configured route's verdict on this event, as GET /api/events/<id>/routing gives it. */
// The routes from the event's own source (a route from another source never takes it; the API lists those too).
function routing(verdicts: RouteVerdict[] | null, source: string): SafeHtml {
  if (verdicts === null) return html`<p class="muted">Erased: no body or headers left to route by.</p>`;
  const own = verdicts.filter((v) => v.from === source);
  const others = verdicts.length - own.length;
  const elsewhere = others > 0 ? ` ${counted(others, "route", "routes")} from other sources not shown.` : "";
  if (own.length === 0) return html`<p class="empty">No route is configured from source ${source}.${elsewhere}</p>`;
  return html`<p class="muted">What the current routes from source ${source} say about this event (routes may have changed since it arrived).${elsewhere}</p>
<div class="table-wrap"><table class="list routing">
  <thead><tr><th class="num">Route</th><th>From</th><th>To</th><th>Verdict</th><th>Why</th></tr></thead>
  <tbody>${own.map(
    (v) => html`<tr>
    <td class="num mono">${v.index}</td>
    <td>${v.from}</td>
    <td>${v.to.join(", ")}</td>
    <td>${v.matched ? html`<span class="ok">matched</span>` : html`<span class="muted">no match</span>`}</td>
    <td class="why">${v.reason}</td>
  </tr>`,
  )}</tbody>
</table></div>`;
}

const query = (q: string) => (q ? `?${q.replace(/^\?/, "")}` : "");

// The query's parameters decoded, one a row (a signed URL or a provider's "?topic=…&id=…" reads
// better so than percent-encoded on one line); masked values stay masked.
function queryTable(q: string): SafeHtml | null {
  const params = [...new URLSearchParams(q)];
  if (params.length === 0) return null;
  return html`<table class="list headers query-params"><caption class="muted">Query parameters</caption><tbody>${params.map(
    ([n, v]) => html`<tr><th class="mono">${n}</th><td class="mono wrap${isRedacted(v) ? " masked" : ""}">${headerValue(v)}</td></tr>`,
  )}</tbody></table>`;
}

// Events the relay made itself (alerts, test events): no endpoint takes them, so no curl command.
const BUILT_IN_SOURCES: readonly string[] = [ALERT_SOURCE, TEST_SOURCE];

// The stored request as a curl command to the relay again: a button (copy.js) and the text itself, for when there is no clipboard.
function copyAsCurl(ev: EventDetailJson, publicBase: string): SafeHtml {
  const r = ev.request;
  const command = curlCommand({
    method: r.method,
    url: `${publicBase}${r.path}${query(r.query)}`,
    headers: r.headers,
    body: Buffer.from(r.bodyBase64 ?? "", "base64"),
    bodyFile: bodyFileName(ev.id, ev.contentType),
  });
  return html`<div class="copy-curl">
  <button type="button" class="secondary" data-copy="curl-command" hidden>Copy as curl</button>
  <span class="muted copy-status" role="status"></span>
  <details><summary>curl command</summary>
    <pre class="raw" id="curl-command">${command}</pre>
    <p class="muted">Sends the stored bytes to this relay again (a duplicate unless the dedupe window has passed; a signed timestamp may be too old by now).
    Credentials stored redacted are left out. A binary body travels as base64; or use "Download exact bytes" below with <code>--data-binary @file</code>.</p>
  </details>
</div>
<script src="/assets/copy.js" defer></script>`;
}

// A raw view past this is cut, as the pretty view is left out past it: a browser takes seconds over a
// page of several megabytes, and the download has the bytes.
const RAW_VIEW_MAX_CHARS = PRETTY_LIMITS.maxInputChars;

// C0 controls but tab, line feed and carriage return, DEL, C1 controls, and a byte-order mark:
// a page drops a NUL and shows the others as nothing.
const INVISIBLE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ufeff]/g;

/** `text` with each invisible character shown: a C0 control or DEL as its control picture (␀, ␛, ␡), the others by name. */
function visibleControls(text: string): { text: string; replaced: boolean } {
  let replaced = false;
  const out = text.replace(INVISIBLE, (c) => {
    replaced = true;
    const code = c.charCodeAt(0);
    if (code < 0x20) return String.fromCharCode(0x2400 + code);
    if (code === 0x7f) return "\u2421";
    return code === 0xfeff ? "⟨BOM⟩" : `⟨U+${code.toString(16).toUpperCase().padStart(4, "0")}⟩`;
  });
  return { text: out, replaced };
}

function body(ev: EventDetailJson): SafeHtml {
  if (ev.erasedAt) return html`<p class="notice">The body, headers, query string and address of this event were erased on ${time(ev.erasedAt)}.</p>`;
  const r = ev.request;
  // A byte-order mark before JSON is no part of it (ingest reads the fields past it too).
  const pretty = prettyJson(r.body?.replace(/^\uFEFF/, "") ?? null);
  const shown = r.body ?? r.bodyBase64 ?? "";
  const cut = shown.length > RAW_VIEW_MAX_CHARS;
  const raw = r.body === null ? null : visibleControls(cut ? r.body.slice(0, RAW_VIEW_MAX_CHARS) : r.body);
  const encoding = r.headers.find(([name]) => name.toLowerCase() === "content-encoding")?.[1];
  const notText = encoding !== undefined && !/^\s*identity\s*$/i.test(encoding) ? `the body is compressed as sent, Content-Encoding: ${encoding}` : "the body is not UTF-8 text";
  return html`
<p class="muted">${sizeText(r.bodyBytes)}${ev.contentType ? ` · ${ev.contentType}` : ""} ·
  <a href="/api/events/${encodeURIComponent(ev.id)}/body" download>Download exact bytes</a></p>
<details open class="body"><summary>Raw</summary>
  ${raw?.replaced ? html`<p class="muted" id="raw-controls">Invisible characters are shown as symbols (␀ for a NUL byte, ⟨BOM⟩ for a byte-order mark); the download has the bytes.</p>` : null}
  ${cut ? html`<p class="muted" id="raw-cut">The first ${RAW_VIEW_MAX_CHARS.toLocaleString("en")} characters are shown; "Download exact bytes" has the whole body.</p>` : null}
  <pre class="raw" id="raw-body">${raw?.text ?? `(${notText.replace(/^the body is /, "")}; base64 of the ${r.bodyBytes} bytes)\n${cut ? shown.slice(0, RAW_VIEW_MAX_CHARS) : shown}`}</pre>
</details>
${
  pretty === null
    ? r.body === null && /json/i.test(ev.contentType ?? "")
      ? html`<p class="muted" id="pretty-omitted">Pretty JSON view left out: ${notText}. The raw body above is complete (as base64).</p>`
      : null
    : pretty.ok
      ? html`<details class="body"><summary>Pretty JSON</summary><pre class="raw" id="pretty-body">${pretty.text}</pre></details>`
      : html`<p class="muted" id="pretty-omitted">Pretty JSON view left out: ${pretty.reason}. The raw body above is complete.</p>`
}`;
}

/**
 * The event page's body markup; `targets` are the configured target names (redeliver choices),
 * `verdicts` each route's verdict on the event (null once erased), `publicBase` where providers reach the relay.
 */
export function eventPage(
  ev: EventDetailJson,
  targets: string[],
  verdicts: RouteVerdict[] | null,
  publicBase: string,
  holdOf: (target: string) => TargetHold | null = () => null,
  nowMs = Date.now(),
): SafeHtml {
  const r = ev.request;
  return html`
<p class="crumbs"><a href="/">Events</a> /</p>
<h1 class="mono wrap" data-live-src="/api/stream?view=event&amp;id=${encodeURIComponent(ev.id)}">${ev.id} ${badge(ev.status)}${ev.erasedAt ? html` ${badge("erased")}` : null}</h1>
<dl class="meta">
  <div><dt>Source</dt><dd><a href="/?source=${encodeURIComponent(ev.source)}">${ev.source}</a></dd></div>
  <div><dt>Event type</dt><dd>${ev.eventType ?? "—"}</dd></div>
  <div><dt>Dedupe key</dt><dd class="mono wrap" id="dedupe-key">${ev.dedupeKey}</dd></div>
  <div><dt>Received</dt><dd>${time(ev.receivedAt)}</dd></div>
  <div><dt>Duplicates</dt><dd id="event-duplicates">${ev.duplicates}${ev.lastDuplicateAt ? html` <span class="muted">(last ${time(ev.lastDuplicateAt)})</span>` : null}</dd></div>
  <div><dt>From</dt><dd class="mono">${ev.remoteAddr ?? "—"}</dd></div>
</dl>
<div class="actions">
  ${
    ev.erasedAt
      ? null
      : html`<form method="post" action="${idPath(ev.id)}/redeliver" class="inline" data-confirm="Send this event again? A target that already has it gets it a second time; one whose delivery is still on its way is left alone.">
    <select name="target" aria-label="Redeliver to">
      <option value="">all its targets</option>
      ${targets.map((t) => html`<option value="${t}">${t}</option>`)}
    </select>
    <button type="submit">Redeliver</button>
  </form>
  <form method="post" action="${idPath(ev.id)}/erase" class="inline" data-confirm="Erase the body, headers, query string and address of this event, and its targets' replies? Its metadata and dedupe key stay. This cannot be undone.">
    <button type="submit" class="danger">Erase</button>
  </form>`
  }
</div>
<h2>Deliveries</h2>
<div id="deliveries">${deliveries(ev, holdOf, nowMs)}</div>
<h2>Routing</h2>
${routing(verdicts, ev.source)}
<h2>Request</h2>
<p class="mono wrap request-line">${r.method} ${r.path}${query(r.query)}</p>
${queryTable(r.query)}
${ev.erasedAt || BUILT_IN_SOURCES.includes(ev.source) ? null : copyAsCurl(ev, publicBase)}
<h3>Body</h3>
${body(ev)}
${
  ev.erasedAt
    ? null
    : html`<h3>Headers <span class="muted">(as the HTTP server read them: names lower-cased and sorted, a repeated header joined with ", ")</span></h3>
<div class="table-wrap"><table class="list headers">
  <tbody>${headerRows(r.headers)}</tbody>
</table></div>`
}`;
}
