/** `/rejections` — requests that failed verification, newest first, with the mismatch warnings on top. */
import type { RejectionJson, SourceJson } from "../http/admin-views.ts";
import { badge, queryString, time } from "./format.ts";
import { html, type SafeHtml } from "./html.ts";
import { mismatchWarnings } from "./sources-page.ts";

/** What the rejections page renders. */
export interface RejectionsPageData {
  source: string | undefined;
  cursor: string | undefined;
  sources: SourceJson[];
  rejections: RejectionJson[];
  nextCursor: string | null;
}

/** The rejections page's body markup. */
export function rejectionsPage(d: RejectionsPageData): SafeHtml {
  return html`<h1>Rejections</h1>
${mismatchWarnings(d.sources)}
<form class="filters" method="get" action="/rejections">
  <label>Source<select name="source"><option value="">any</option>
    ${d.sources.map((s) => html`<option value="${s.name}"${s.name === d.source ? html` selected` : null}>${s.name}</option>`)}
  </select></label>
  <div class="filter-actions"><button type="submit">Filter</button></div>
</form>
${d.rejections.length === 0 ? html`<p class="empty">No rejected requests stored.</p>` : null}
<div class="rejections">
${d.rejections.map(
  (r) => html`
<details class="card rejection">
  <summary>${time(r.receivedAt)} <strong>${r.source}</strong> ${badge(r.reason)} <span class="mono">${r.method} ${r.path}</span>
    <span class="muted">${r.remoteAddr ?? ""}</span></summary>
  <div class="table-wrap"><table class="list headers"><tbody>
    ${r.headers.map(([n, v]) => html`<tr><th class="mono">${n}</th><td class="mono wrap">${v}</td></tr>`)}
  </tbody></table></div>
  <h4>Body (first 4 KB)</h4>
  <pre class="raw">${r.bodyExcerpt ?? `(not UTF-8 text; base64)\n${r.bodyExcerptBase64 ?? ""}`}</pre>
</details>`,
)}
</div>
<nav class="pager">
  ${d.cursor ? html`<a href="/rejections${queryString({ source: d.source })}">← Newest</a>` : html`<span></span>`}
  ${d.nextCursor ? html`<a href="/rejections${queryString({ source: d.source, cursor: d.nextCursor })}" rel="next">Older →</a>` : null}
</nav>`;
}
