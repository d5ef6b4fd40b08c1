/** `/rejections` — requests that failed verification, newest first, with the mismatch warnings on top; `/rejections/<id>` — one of them whole. */
import { utf8HeaderText } from "../core/header-text.ts";
import type { RejectionDetailJson, RejectionJson, SourceJson } from "../http/admin-views.ts";
import { badge, queryString, time } from "./format.ts";
import { html, type SafeHtml } from "./html.ts";
import { mismatchWarnings } from "./sources-page.ts";

/** What the rejections page renders. */
export interface RejectionsPageData {
  source: string | undefined;
  reason: string | undefined;
  /** Text the requests listed hold (their headers, body excerpt or request line). */
  text?: string;
  /** Received since / until, as given ("2h", or a time). */
  since?: string;
  until?: string;
  cursor: string | undefined;
  sources: SourceJson[];
  /** null: the filter could not be taken (the page's error says why); only the form is shown, to fix it. */
  rejections: RejectionJson[] | null;
  nextCursor: string | null;
  /** The reason codes stored, offered by the reason filter. */
  reasons?: string[];
}

// Headers and body excerpt of a rejected request, as far as `r` has them (cut in the list, whole on its page).
const rejectedRequest = (r: RejectionJson) =>
  r.erasedAt
    ? html`<p class="notice">The headers, body, query string and address of this request were erased on ${time(r.erasedAt)}.</p>`
    : html`
  <div class="table-wrap"><table class="list headers"><tbody>
    ${r.headers.map(([n, v]) => html`<tr><th class="mono">${n}</th><td class="mono wrap">${utf8HeaderText(v) ?? v}</td></tr>`)}
  </tbody></table></div>
  <h4>Body (first 4 KB)</h4>
  <pre class="raw">${r.bodyExcerpt ?? `(not UTF-8 text; base64)\n${r.bodyExcerptBase64 ?? ""}`}</pre>`;

/** `/rejections/<id>`: one rejected request with every header value whole. */
export function rejectionPage(r: RejectionDetailJson): SafeHtml {
  return html`
<p class="crumbs"><a href="/rejections">Rejections</a> /</p>
<h1 class="mono wrap">${r.id} ${badge(r.reason)}${r.erasedAt ? html` ${badge("erased")}` : null}</h1>
${r.message === null ? null : html`<p class="reason">${r.message}</p>`}
${
  r.erasedAt
    ? null
    : html`<div class="actions">
  <form method="post" action="/rejections/${encodeURIComponent(r.id)}/erase" class="inline" data-confirm="Erase the headers, body, query string and address of this rejected request? Its source, time and reason stay, and it still counts in the source's figures. This cannot be undone.">
    <button type="submit" class="danger">Erase</button>
  </form>
</div>`
}
<dl class="meta">
  <div><dt>Source</dt><dd><a href="/rejections?source=${encodeURIComponent(r.source)}">${r.source}</a></dd></div>
  <div><dt>Received</dt><dd>${time(r.receivedAt)}</dd></div>
  <div><dt>Request</dt><dd class="mono">${r.method} ${r.path}</dd></div>
  <div><dt>From</dt><dd class="mono">${r.remoteAddr ?? "—"}</dd></div>
</dl>
${r.erasedAt ? null : html`<h2>Headers <span class="muted">(as the HTTP server read them: names lower-cased and sorted, a repeated header joined with ", ")</span></h2>`}
${rejectedRequest(r)}`;
}

/** The rejections page's body markup. */
export function rejectionsPage(d: RejectionsPageData): SafeHtml {
  // What the list is filtered by (as typed): kept by the pager, and by a reason badge's link beside its reason.
  const filters = { source: d.source, reason: d.reason, text: d.text, since: d.since, until: d.until };
  const filtered = Object.values(filters).some((v) => v !== undefined && v !== "");
  return html`<h1>Rejections</h1>
${mismatchWarnings(d.sources, false)}
<form class="filters" method="get" action="/rejections">
  <label>Source<select name="source"><option value="">any</option>
    ${d.sources.map((s) => html`<option value="${s.name}"${s.name === d.source ? html` selected` : null}>${s.name}</option>`)}
  </select></label>
  <label>Reason<input type="text" name="reason" value="${d.reason ?? ""}" placeholder="any (bad_signature, …)" pattern="[a-z_]+" list="rejection-reasons" autocomplete="off"></label>
  <datalist id="rejection-reasons">${(d.reasons ?? []).map((r) => html`<option value="${r}"></option>`)}</datalist>
  <label>Text<input type="search" name="text" value="${d.text ?? ""}" placeholder="in headers, body or query (an e-mail address, an id)" maxlength="256"></label>
  <label>Since<input type="text" name="since" value="${d.since ?? ""}" placeholder="2h, or a time" autocomplete="off"></label>
  <label>Until<input type="text" name="until" value="${d.until ?? ""}" placeholder="30m, or a time" autocomplete="off"></label>
  <div class="filter-actions"><button type="submit">Filter</button>${filtered ? html`<a href="/rejections">Clear</a>` : null}</div>
</form>
${d.rejections === null ? null : rejectionList(d, d.rejections, filters, filtered)}`;
}

// The list of rejected requests under the form, and its pager.
function rejectionList(d: RejectionsPageData, rejections: RejectionJson[], filters: Record<string, string | undefined>, filtered: boolean): SafeHtml {
  return html`${rejections.length === 0 ? html`<p class="empty">${filtered ? "No stored rejection matches." : "No rejected requests stored."}</p>` : null}
<div class="rejections">
${rejections.map(
  (r) => html`
<details class="card rejection">
  <summary>${time(r.receivedAt)} <strong>${r.source}</strong> <a href="/rejections${queryString({ ...filters, reason: r.reason })}" title="only ${r.reason}">${badge(r.reason)}</a>${r.erasedAt ? html` ${badge("erased")}` : null} <span class="mono">${r.method} ${r.path}</span>
    <span class="muted">${r.remoteAddr ?? ""}</span>${r.message === null ? null : html`<span class="reason">${r.message}</span>`}</summary>
  ${rejectedRequest(r)}
  <p>${r.truncated ? "Long values are cut here. " : ""}<a href="/rejections/${encodeURIComponent(r.id)}">${r.erasedAt ? "Its page →" : "The whole request →"}</a></p>
</details>`,
)}
</div>
<nav class="pager">
  ${d.cursor ? html`<a href="/rejections${queryString(filters)}">← Newest</a>` : html`<span></span>`}
  ${d.nextCursor ? html`<a href="/rejections${queryString({ ...filters, cursor: d.nextCursor })}" rel="next">Older →</a>` : null}
</nav>`;
}
