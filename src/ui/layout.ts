/** The page shell: head (CSS and JS from /assets/ only), top navigation, flash and error messages. */
import { html, type SafeHtml } from "./html.ts";

/** The navigation entry a page belongs to (null: none highlighted). */
export type Section = "overview" | "events" | "rejections" | "targets" | "sources" | "jobs" | null;

/** What a page shell needs. */
export interface PageOptions {
  title: string;
  section: Section;
  body: SafeHtml;
  /** A confirmation from our own fixed list (never request text). */
  flash?: string | SafeHtml | null;
  error?: string | SafeHtml | null;
  /** Show the sign-out button (a session exists to end). */
  signOut?: boolean;
  /** Reload the page every this many seconds (a running job's progress); no script needed. */
  refreshSec?: number;
}

const NAV: [Exclude<Section, null>, string, string][] = [
  ["overview", "/overview", "Overview"],
  ["events", "/", "Events"],
  ["rejections", "/rejections", "Rejections"],
  ["targets", "/targets", "Targets"],
  ["sources", "/sources", "Sources"],
  ["jobs", "/jobs", "Jobs"],
];

/** A complete HTML document. */
export function page(o: PageOptions): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} · hookrelay</title>
${o.refreshSec ? html`<noscript><meta http-equiv="refresh" content="${o.refreshSec}"></noscript>` : null}
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/style.css">
<script src="/assets/app.js" defer></script>
<script src="/assets/live.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <a class="brand" href="/">hookrelay</a>
  ${o.section === null ? null : html`<nav>${NAV.map(([key, href, label]) => html`<a href="${href}"${key === o.section ? html` class="active" aria-current="page"` : null}>${label}</a>`)}</nav>`}
  ${o.signOut ? html`<form method="post" action="/logout" class="signout"><button class="link">Sign out</button></form>` : null}
</header>
<main id="main" tabindex="-1">
${o.flash ? html`<p class="flash" role="status">${o.flash}</p>` : null}
${o.error ? html`<p class="error" role="alert">${o.error}</p>` : null}
${o.body}
</main>
</body>
</html>`.value;
}
