/** Small formatters shared by the UI pages; all return escaped markup or plain text. */
import { utcTimeText } from "../core/quantity-text.ts";
import { html, type SafeHtml } from "./html.ts";

/** An ISO time as `<time>` showing "YYYY-MM-DD HH:MM:SS UTC" (the script adds the local time as a tooltip). */
export function time(isoTime: string | null): SafeHtml {
  if (isoTime === null) return html`<span class="muted">—</span>`;
  return html`<time datetime="${isoTime}">${utcTimeText(isoTime)}<span class="muted"> UTC</span></time>`;
}

const KNOWN_BADGES = new Set([
  "pending", "delivering", "delivered", "failed", "paused", "cancelled", "unrouted", "erased",
  "running", "done",
  "healthy", "failing", "disabled", "circuit-open", "no-client",
]);

/** A coloured status label; unknown values get the neutral style. */
export function badge(status: string): SafeHtml {
  const cls = KNOWN_BADGES.has(status) ? status : "none";
  return html`<span class="badge badge-${cls}">${status}</span>`;
}


/** "123 ms" / "4.5 s". */
export function duration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** "97.5 %" or "—". */
export function percent(ratio: number | null): string {
  return ratio === null ? "—" : `${(ratio * 100).toFixed(ratio === 1 ? 0 : 1)} %`;
}

/** A query string from the non-empty entries, with a leading "?" (or ""). */
export function queryString(params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

/**
 * An event's line of per-target statuses ("audit paused · orders delivered"), or null when
 * its targets agree (the overall badge says it all). The events page draws it, and the live
 * stream sends it as drawn, so that live.js never works it out again.
 */
export function targetsLineText(targets: readonly { target: string; status: string }[]): string | null {
  if (new Set(targets.map((t) => t.status)).size < 2) return null;
  return targets.map((t) => `${t.target} ${t.status}`).join(" · ");
}

/** Cards past which a page offers a filter by name (app.js hides the cards whose name does not hold it). */
const FILTER_FROM_CARDS = 9;

/** A box that narrows a page of cards to the names holding what is typed; none for a short page. */
export function cardFilter(count: number, what: "targets" | "sources"): SafeHtml | null {
  if (count < FILTER_FROM_CARDS) return null;
  return html`<p class="card-filter"><label>Filter ${what}<input type="search" data-filter-cards placeholder="a name, or part of one" autocomplete="off"></label> <span class="muted" data-filter-count></span></p>`;
}
