/** `/targets` — one card per configured target: state, queue, success rate, last error, actions. */
import type { TargetJson } from "../http/admin-views.ts";
import { badge, cardFilter, percent, time } from "./format.ts";
import { html, type SafeHtml } from "./html.ts";

/** A target no longer configured whose deliveries still wait in the store. */
export interface Unconfigured {
  name: string;
  open: number;
}

// The cards that need a look come first (config order within each state): with many targets,
// the one failing is not the twentieth card down.
const STATE_ORDER: Record<string, number> = { "circuit-open": 0, failing: 1, "no-client": 2, disabled: 3, healthy: 4 };
const byNeed = (targets: TargetJson[]) => targets.map((t, i) => [t, i] as const).sort(([a, i], [b, j]) => (STATE_ORDER[a.state] ?? 5) - (STATE_ORDER[b.state] ?? 5) || i - j).map(([t]) => t);

/** The targets page's body markup, the targets that need a look first; `unconfigured`: names the store still has open deliveries for. */
export function targetsPage(targets: TargetJson[], unconfigured: Unconfigured[] = [], shared = false): SafeHtml {
  if (targets.length === 0 && unconfigured.length === 0) return html`<h1>Targets</h1><p class="empty">No targets configured.</p>`;
  return html`<h1 data-live-src="/api/stream?view=targets">Targets</h1>
${unconfiguredNotice(unconfigured, shared)}
${cardFilter(targets.length, "targets")}
<div class="cards">
${byNeed(targets).map((t) => {
  const path = `/targets/${encodeURIComponent(t.name)}`;
  return html`
<article class="card target" id="target-${t.name}" data-drawn="${drawnState(t)}">
  <header><h2>${t.name}</h2> ${badge(t.state)}</header>
  <p class="mono wrap muted">${t.kind === "listen" ? "listen target (pulled by hookrelay listen)" : t.url}</p>
  ${t.listen ? listenClient(t.listen) : null}
  ${credentials(t)}
  ${t.disabledReason ? html`<p class="notice">Disabled: ${t.disabledReason}</p>` : null}
  <dl class="meta compact">
    <div><dt>Queue</dt><dd class="queue-depth">${t.queueDepth}</dd></div>
    <div><dt title="leased: being sent, or leased ahead and waiting for one of the target's concurrency slots">Pending · leased · paused</dt><dd data-field="queue">${t.queue.pending} · ${t.queue.delivering} · ${t.queue.paused}</dd></div>
    <div><dt title="deliveries that used up their retry schedule (each event counted once); those still being retried are pending">Failed (retries used up)</dt><dd data-field="failed">${t.queue.failed ? html`<a href="/?target=${encodeURIComponent(t.name)}&status=failed">${t.queue.failed}</a>` : "0"}</dd></div>
    <div><dt title="attempts answered 2xx in the last minutes (every retry is an attempt)">Attempts OK (${Math.round(t.successWindowMs / 60_000)} min)</dt><dd data-field="success">${percent(t.successRate)} <span class="muted">of ${t.recentAttempts}</span></dd></div>
    <div><dt>Last attempt</dt><dd data-field="last-attempt">${time(t.lastAttemptAt)}</dd></div>
    ${t.failingSince ? html`<div><dt>Failing since</dt><dd>${time(t.failingSince)}</dd></div>` : null}
    ${t.circuitOpenUntil && t.enabled ? html`<div><dt>Circuit open until</dt><dd>${time(t.circuitOpenUntil)}</dd></div>` : null}
    ${t.circuitHalfOpen ? html`<div><dt>Circuit</dt><dd>half-open: the next attempt probes it</dd></div>` : null}
  </dl>
  ${lastError(t)}
  <div class="actions">
    ${
      t.enabled
        ? html`<form method="post" action="${path}/disable" class="inline" data-confirm="Disable ${t.name}? Its deliveries are kept, paused.">
        <button type="submit" class="danger" aria-label="Disable ${t.name}">Disable</button></form>`
        : html`<form method="post" action="${path}/enable" class="inline"><button type="submit" aria-label="Enable ${t.name}">Enable</button></form>`
    }
    <form method="post" action="${path}/test" class="inline"><button type="submit" class="secondary" aria-label="Send a test event to ${t.name}">Send test event</button></form>
    <a href="/?target=${encodeURIComponent(t.name)}" aria-label="Events of ${t.name}">Events →</a>
  </div>
</article>`;
})}
</div>`;
}

// Deliveries to a target taken out of the config wait for it to come back (and keep their events
// from retention): said here, with the way to end them if it will not.
function unconfiguredNotice(unconfigured: Unconfigured[], shared: boolean): SafeHtml | null {
  if (unconfigured.length === 0) return null;
  return html`<div class="notice unconfigured">
  <p>Open deliveries wait for targets this relay's config does not name; they go once a target of that name is configured again, and keep their events from retention until then${
    shared ? html` — or another relay on this database, whose config names it, is delivering them: look there before cancelling` : ""
  }:</p>
  <ul>${unconfigured.map(
    (u) => html`<li><strong>${u.name}</strong>: ${u.open} open · <a href="/?target=${encodeURIComponent(u.name)}">events</a> · <a href="/bulk/cancel?target=${encodeURIComponent(u.name)}">cancel them…</a></li>`,
  )}</ul>
</div>`;
}

/**
 * What a card draws only when the page is made (its enable/disable form, why it is disabled,
 * failing since, circuit open until): live.js computes the same from a live update and, when it
 * differs, takes the card anew from the server instead of patching it.
 */
export function drawnState(t: Pick<TargetJson, "enabled" | "disabledReason" | "failingSince" | "circuitOpenUntil" | "circuitHalfOpen" | "listen">): string {
  return JSON.stringify([t.enabled, t.disabledReason, t.failingSince, t.circuitOpenUntil, t.circuitHalfOpen, t.listen]);
}

// Which credentials a target sends: kinds and header names, never a value.
function credentials(t: TargetJson): SafeHtml | null {
  const parts = [
    t.auth ? `auth: ${t.auth}` : null,
    t.headers.length > 0 ? `headers: ${t.headers.map(([name]) => name).join(", ")}` : null,
    t.tls ? `tls: ${[t.tls.ca ? "private CA" : null, t.tls.clientCertificate ? "client certificate" : null].filter(Boolean).join(", ")}` : null,
  ].filter((p) => p !== null);
  return parts.length > 0 ? html`<p class="muted credentials">${parts.join(" · ")}</p>` : null;
}

// Whether a `hookrelay listen` client is connected to this process, since when and from where.
function listenClient(l: NonNullable<TargetJson["listen"]>): SafeHtml {
  if (l.connected) return html`<p class="listen-client"><span class="ok">client connected</span> since ${time(l.since)} from <span class="mono">${l.remoteAddr ?? "?"}</span></p>`;
  return html`<p class="listen-client"><span class="warn-text">no client connected</span>${
    l.since ? html` since ${time(l.since)}${l.remoteAddr ? html` <span class="muted">(last from <span class="mono">${l.remoteAddr}</span>)</span>` : null}` : null
  }</p>`;
}

// Red while the target is failing; greyed, as past, once it is healthy again — said to have
// recovered only when an attempt went through since (an enable alone makes it healthy too).
function lastError(t: TargetJson): SafeHtml | null {
  if (!t.lastError) return null;
  const at = t.lastErrorAt ? html` (${time(t.lastErrorAt)})` : null;
  if (t.state !== "healthy") return html`<p class="error-text last-error">Last error${at}: ${t.lastError}</p>`;
  const recovered = t.lastAttemptAt !== null && t.lastErrorAt !== null && t.lastAttemptAt > t.lastErrorAt;
  return html`<p class="muted last-error past">Last error${at}${recovered ? ", before it recovered" : ""}: ${t.lastError}</p>`;
}
