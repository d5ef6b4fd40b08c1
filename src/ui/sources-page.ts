/** `/sources` — endpoint URLs to paste into providers, counts, and mismatch-spike warnings. */
import type { SourceJson } from "../http/admin-views.ts";
import { cardFilter, time } from "./format.ts";
import { html, type SafeHtml } from "./html.ts";

/** One warning box per source whose recent mismatches suggest a one-sided secret rotation; `linked`: with a link to its rejections. */
export function mismatchWarnings(sources: SourceJson[], linked = true): SafeHtml {
  return html`${sources
    .filter((s) => s.mismatchWarning)
    .map((s) => html`<p class="warning" role="alert"><strong>${s.name}:</strong> ${s.mismatchWarning}
      ${linked ? html`<a href="/rejections?source=${encodeURIComponent(s.name)}">See rejections →</a>` : null}</p>`)}`;
}

/** The sources page's body markup; `hasPublicUrl` false adds a hint to set server.public_url. */
export function sourcesPage(sources: SourceJson[], hasPublicUrl: boolean): SafeHtml {
  return html`<h1>Sources</h1>
${hasPublicUrl ? null : html`<p class="notice">These URLs use the listener's address. Set <code>server.public_url</code> (with <code>hookrelay dev</code>: <code>--public-url</code>) to show the address providers actually reach.</p>`}
${mismatchWarnings(sources)}
${sources.length === 0 ? html`<p class="empty">No sources configured.</p>` : null}
${cardFilter(sources.length, "sources")}
<div class="cards">
${sources.map(
  (s) => html`
<article class="card source" id="source-${s.name}">
  <header><h2>${s.name}</h2> <span class="pill">${s.verify}</span></header>
  <label class="endpoint">Endpoint (POST)<input type="text" readonly value="${s.endpoint}"></label>
  <dl class="meta compact">
    <div><dt>Received</dt><dd>${s.received}</dd></div>
    <div><dt>Duplicates</dt><dd>${s.duplicates}</dd></div>
    <div><dt>Rejected</dt><dd>${s.rejected}${s.rejectedKept < s.rejected ? html` <span class="muted" title="rejected requests are kept at most 10 a second per source; all are counted">(${s.rejectedKept} kept)</span>` : null}</dd></div>
    <div><dt>Last received</dt><dd>${time(s.lastReceivedAt)}</dd></div>
    <div><dt>Last rejected</dt><dd>${time(s.lastRejectedAt)}</dd></div>
    <div><dt>Signature mismatches (${Math.round(s.recent.windowMs / 60_000)} min)</dt><dd>${s.recent.mismatches} <span class="muted">vs ${s.recent.received} accepted</span></dd></div>
  </dl>
  <div class="actions"><a href="/?source=${encodeURIComponent(s.name)}">Events →</a> <a href="/rejections?source=${encodeURIComponent(s.name)}">Rejections →</a></div>
</article>`,
)}
</div>`;
}
