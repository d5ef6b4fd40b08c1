// hookrelay admin UI: live updates, served from /assets/live.js (CSP: script-src 'self').
// A page opts in with data-live-src on its <h1>: the URL of its GET /api/stream view.
// Everything from a provider is set with textContent, never parsed as HTML.
(() => {
  const heading = document.querySelector("h1[data-live-src]");
  if (!heading || typeof EventSource === "undefined") return;
  const MAX_ROWS = 200; // a list left open for hours keeps this many rows; "Older →" continues below them
  const src = heading.getAttribute("data-live-src");

  // A bidirectional-text control as a visible mark, as the server's html.ts escapeHtml shows it:
  // otherwise a provider's text could read as another value (U+202E reverses what follows).
  const visible = (text) => String(text).replace(/[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `⟨U+${c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}⟩`);
  const el = (tag, className, text) => {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined && text !== null) e.textContent = visible(text);
    return e;
  };
  // As the server's format.ts time(): "YYYY-MM-DD HH:MM:SS UTC", local time as the tooltip.
  const timeEl = (iso) => {
    if (!iso) return el("span", "muted", "—");
    const t = el("time", "", iso.replace("T", " ").replace(/\.\d+Z$/, "").replace(/Z$/, ""));
    t.setAttribute("datetime", iso);
    t.append(el("span", "muted", " UTC"));
    const d = new Date(iso);
    if (!Number.isNaN(d.getTime())) t.title = d.toLocaleString();
    return t;
  };
  const KNOWN = ["pending", "delivering", "delivered", "failed", "paused", "cancelled", "unrouted", "erased", "healthy", "failing", "disabled", "circuit-open", "no-client"];
  const setBadge = (badge, status) => {
    badge.className = `badge badge-${KNOWN.includes(status) ? status : "none"}`;
    badge.textContent = status;
  };
  const badgeEl = (status) => {
    const b = el("span");
    setBadge(b, status);
    return b;
  };
  const setChildren = (parent, ...children) => parent.replaceChildren(...children.filter((c) => c !== null));

  // ── The events list ────────────────────────────────────────────────
  // Each target's status under the overall one when they differ, the line as the server drew it (format.ts targetsLineText).
  function setTargets(cell, text) {
    let line = cell.querySelector(".targets");
    if (text === null) return line?.remove();
    if (!line) cell.append((line = el("span", "targets muted")));
    line.textContent = visible(text);
  }
  function eventRow(e) {
    const tr = el("tr");
    tr.setAttribute("data-event-id", e.id);
    tr.className = "live-new";
    const link = el("a", "mono", e.id);
    link.href = `/events/${encodeURIComponent(e.id)}`;
    // Labelled as the server draws them: a phone shows each cell's label before it (style.css).
    const labelled = (td, label) => (td.setAttribute("data-label", label), td);
    const key = labelled(el("td", "mono clip", e.dedupeKey), "key");
    key.title = e.dedupeKey;
    const status = el("td", "col-status");
    status.append(badgeEl(e.status));
    if (e.erasedAt) status.append(" ", badgeEl("erased"));
    setTargets(status, e.targetsLine);
    setChildren(
      tr,
      (() => { const td = el("td", "nowrap"); td.append(timeEl(e.receivedAt)); return td; })(),
      (() => { const td = el("td"); td.append(link); return td; })(),
      labelled(el("td", "", e.source), "source"),
      labelled(e.eventType === null ? (() => { const td = el("td", "clip"); td.append(el("span", "muted", "—")); return td; })() : (() => { const td = el("td", "clip", e.eventType); td.title = e.eventType; return td; })(), "type"),
      key,
      labelled(el("td", "num", e.duplicates || ""), "dups"),
      status,
    );
    return tr;
  }
  function listBody() {
    const existing = document.querySelector("table.list tbody");
    if (existing) return existing;
    // The page said "No events …": make the table it would have drawn.
    const wrap = el("div", "table-wrap");
    const table = el("table", "list");
    const head = el("tr");
    for (const [label, cls] of [["Received"], ["Event"], ["Source"], ["Type"], ["Dedupe key"], ["Dups", "num"], ["Status"]]) head.append(el("th", cls || "", label));
    const thead = el("thead");
    thead.append(head);
    const tbody = el("tbody");
    table.append(thead, tbody);
    wrap.append(table);
    const empty = document.querySelector("main p.empty");
    if (empty) empty.replaceWith(wrap);
    else document.querySelector("main").append(wrap);
    return tbody;
  }
  // The count above the list, as the server counted it with this update (events-page.ts matchLine:
  // past the cap the figure reads "1,000+", as the server draws it).
  function showCount(n) {
    const span = document.getElementById("matched");
    if (!span || typeof n !== "number") return;
    const cap = Number(span.dataset.cap);
    const text = cap > 0 && n > cap ? `${cap.toLocaleString("en")}+` : String(n);
    span.dataset.matched = cap > 0 && n > cap ? "" : String(n);
    span.textContent = `${text} matching event${n === 1 ? "" : "s"}`;
    const redeliver = document.getElementById("redeliver-matching");
    if (redeliver) redeliver.textContent = `Redeliver ${text} matching…`;
  }
  const newestId = () => document.querySelector("tr[data-event-id]")?.getAttribute("data-event-id") ?? null;
  function onEvents(m) {
    for (const [id, status, , line] of m.statuses) {
      const cell = document.querySelector(`tr[data-event-id="${CSS.escape(id)}"] td:last-child`);
      const badge = cell?.querySelector(".badge");
      if (badge && badge.textContent !== status) setBadge(badge, status);
      if (cell) setTargets(cell, line);
    }
    // Rows whose event no longer matches the filter (a status filter after a bulk action): said on the row.
    for (const id of m.left ?? []) {
      const row = document.querySelector(`tr[data-event-id="${CSS.escape(id)}"]:not(.left)`);
      if (!row) continue;
      row.classList.add("left");
      row.lastElementChild.replaceChildren(el("span", "muted", "no longer matches the filter"));
    }
    showCount(m.matched);
    if (m.events.length === 0) return;
    const tbody = listBody();
    const known = new Set([...tbody.querySelectorAll("tr[data-event-id]")].map((r) => r.getAttribute("data-event-id")));
    const rows = m.events.filter((e) => !known.has(e.id)).map(eventRow);
    if (m.gap) {
      // More arrived in that second than a message carries: say so where they are missing.
      const tr = el("tr", "gap");
      const td = el("td", "muted", "More events arrived here than the live list shows. ");
      td.colSpan = 7;
      const reload = el("a", "", "Reload");
      reload.href = location.href;
      td.append(reload, " to see them all.");
      tr.append(td);
      rows.push(tr);
    }
    tbody.prepend(...rows);
    const all = tbody.querySelectorAll("tr[data-event-id]");
    if (all.length > MAX_ROWS) {
      for (const r of [...all].slice(MAX_ROWS)) r.remove();
      // Older events now start below the last row kept.
      const older = document.querySelector('.pager a[rel="next"]') ?? (() => {
        const a = el("a", "", "Older →");
        a.rel = "next";
        document.querySelector(".pager")?.append(a);
        return a;
      })();
      const url = new URL(older.href || location.href, location.href);
      url.searchParams.set("cursor", tbody.lastElementChild.getAttribute("data-event-id"));
      older.href = url.pathname + url.search;
    }
  }

  // ── Parts of the page taken anew from the server ───────────────────
  // A live update that changes what the server draws (an event page's delivery card, a target
  // card's form and notices) does not redraw it here: the page is fetched again and the parts
  // that differ are swapped in, so each is drawn by the server alone. One fetch at a time; a
  // swap asked for meanwhile runs once more after it, on a page fetched after the change.
  let fetching = false;
  let queued = [];
  async function fromServer(swap) {
    queued.push(swap);
    if (fetching) return;
    fetching = true;
    try {
      while (queued.length > 0) {
        const swaps = queued;
        queued = [];
        const res = await fetch(location.pathname + location.search, { credentials: "same-origin" });
        if (!res.ok || !res.headers.get("content-type")?.startsWith("text/html")) break;
        const fresh = new DOMParser().parseFromString(await res.text(), "text/html");
        for (const s of swaps) s(fresh);
      }
    } catch {
      // The next update tries again.
    } finally {
      fetching = false;
      queued = [];
    }
  }
  // A part of the fetched page put in place of `old` (or where `place` puts it), as app.js would
  // have left it: local times as tooltips, and its disclosures open as the reader left them.
  function adopt(fresh, old, place) {
    const node = document.adoptNode(fresh);
    for (const t of node.querySelectorAll("time[datetime]")) {
      const d = new Date(t.getAttribute("datetime"));
      if (!Number.isNaN(d.getTime())) t.title = d.toLocaleString();
    }
    if (old) {
      const was = old.querySelectorAll("details");
      node.querySelectorAll("details").forEach((d, i) => {
        if (was[i]) d.open = was[i].open;
      });
      old.replaceWith(node);
    } else place(node);
  }

  // ── An event page ──────────────────────────────────────────────────
  // Each delivery card carries what it shows (event-page.ts drawnDelivery): new and changed cards come from
  // the server, and so does the duplicate count (a provider's retry arrived).
  function swapDeliveries(fresh) {
    const dups = fresh.getElementById("event-duplicates");
    const shown = document.getElementById("event-duplicates");
    if (dups && shown && dups.textContent !== shown.textContent) adopt(dups, shown);
    const box = document.getElementById("deliveries");
    const next = fresh.getElementById("deliveries");
    if (!box || !next) return;
    for (const card of next.querySelectorAll(":scope > article[data-delivery-id]")) {
      const old = box.querySelector(`:scope > article[data-delivery-id="${CSS.escape(card.dataset.deliveryId)}"]`);
      if (old?.dataset.drawn === card.dataset.drawn) continue;
      box.querySelector(":scope > p.empty")?.remove();
      adopt(card, old, (node) => box.append(node));
    }
  }
  function onEvent(m) {
    const ev = m.event;
    if (!ev) return;
    const h1Badge = heading.querySelector(".badge:not(.badge-erased)");
    if (h1Badge) setBadge(h1Badge, ev.status);
    void fromServer(swapDeliveries);
  }

  // ── The targets page ───────────────────────────────────────────────
  // A card whose form or notices would change (targets-page.ts drawnState) is taken anew from the server.
  function swapTargetCards(names) {
    return (fresh) => {
      for (const name of names) {
        const next = fresh.getElementById(`target-${name}`);
        const old = document.getElementById(`target-${name}`);
        if (next && old) adopt(next, old);
      }
    };
  }
  function onTargets(m) {
    // A reload of the config added or removed a target: the page is drawn anew (a removed target's
    // card would offer buttons to a target that is gone).
    const shown = [...document.querySelectorAll('article[id^="target-"]')].map((a) => a.id.slice("target-".length)).sort();
    const listed = m.targets.map((t) => t.name).sort();
    if (shown.length > 0 && shown.join("\n") !== listed.join("\n")) {
      location.reload();
      return;
    }
    const redraw = [];
    for (const t of m.targets) {
      const card = document.getElementById(`target-${t.name}`);
      if (!card) continue;
      if (card.dataset.drawn !== t.drawn) redraw.push(t.name);
      const badge = card.querySelector("header .badge");
      if (badge) setBadge(badge, t.state);
      const set = (field, text) => {
        const dd = card.querySelector(`[data-field="${field}"]`);
        if (dd) dd.textContent = text;
      };
      const depth = card.querySelector(".queue-depth");
      if (depth) depth.textContent = String(t.queueDepth);
      set("queue", `${t.queue.pending} · ${t.queue.delivering} · ${t.queue.paused}`);
      const failed = card.querySelector('[data-field="failed"]');
      if (failed) {
        if (t.queue.failed) {
          const a = el("a", "", t.queue.failed);
          a.href = `/?target=${encodeURIComponent(t.name)}&status=failed`;
          setChildren(failed, a);
        } else failed.textContent = "0";
      }
      const success = card.querySelector('[data-field="success"]');
      if (success) {
        const pct = t.successRate === null ? "—" : `${(t.successRate * 100).toFixed(t.successRate === 1 ? 0 : 1)} %`;
        setChildren(success, pct, " ", el("span", "muted", `of ${t.recentAttempts}`));
      }
      const last = card.querySelector('[data-field="last-attempt"]');
      if (last) setChildren(last, timeEl(t.lastAttemptAt));
      // As the page draws it: red while failing; greyed, as past, once the target is healthy
      // again, "recovered" only when an attempt went through since.
      let error = card.querySelector(".last-error");
      if (t.lastError) {
        if (!error) card.querySelector("dl.meta")?.after((error = el("p", "")));
        if (error) {
          const healthy = t.state === "healthy";
          const recovered = healthy && t.lastAttemptAt !== null && t.lastErrorAt !== null && t.lastAttemptAt > t.lastErrorAt;
          error.className = healthy ? "muted last-error past" : "error-text last-error";
          const at = t.lastErrorAt ? [" (", timeEl(t.lastErrorAt), ")"] : [];
          setChildren(error, "Last error", ...at, `${recovered ? ", before it recovered" : ""}: ${t.lastError}`);
        }
      } else error?.remove();
    }
    if (redraw.length > 0) void fromServer(swapTargetCards(redraw));
  }

  // ── The stream and its pause toggle ────────────────────────────────
  const HANDLERS = { events: onEvents, event: onEvent, targets: onTargets };
  const bar = el("div", "live-bar");
  const state = el("span", "live-state");
  // Announced when it changes ("Reconnecting…", "Signed out…"), not on every row that arrives.
  state.setAttribute("role", "status");
  const toggle = el("button", "secondary live-toggle");
  toggle.type = "button";
  bar.append(state, toggle);
  heading.after(bar);
  let source = null;
  const show = (text, live, button) => {
    state.textContent = text;
    state.classList.toggle("on", live);
    toggle.textContent = button;
  };
  function connect() {
    const url = new URL(src, location.href);
    const after = src.includes("view=events") ? newestId() : null;
    if (after) url.searchParams.set("after", after);
    source = new EventSource(url.pathname + url.search);
    show("Live", true, "Pause");
    source.onmessage = (e) => {
      const m = JSON.parse(e.data);
      HANDLERS[m.kind]?.(m);
    };
    source.onerror = () => {
      // CLOSED: the server refused (signed out, too many streams); CONNECTING: the browser retries.
      if (source.readyState === EventSource.CLOSED) {
        source = null;
        show("Live updates unavailable", false, "Retry");
        void explainRefusal();
      } else show("Reconnecting…", false, "Pause");
    };
  }
  // EventSource hides the status it was refused with. A stream request that names no view
  // answers 401 when signed out (the sign-in is checked first) and 400 otherwise: a signed-out
  // tab offers to sign in again, where a retry could only be refused again.
  let signedOut = false;
  async function explainRefusal() {
    const status = await fetch("/api/stream", { credentials: "same-origin" }).then((r) => r.status, () => 0);
    if (source) return;
    signedOut = status === 401;
    if (signedOut) show("Signed out: live updates stopped", false, "Sign in again");
    else if (status === 0) show("The relay cannot be reached", false, "Retry");
  }
  toggle.addEventListener("click", () => {
    if (signedOut) {
      location.href = `/login?next=${encodeURIComponent(location.pathname + location.search)}`;
      return;
    }
    if (source) {
      source.close();
      source = null;
      show("Paused", false, "Resume");
    } else connect();
  });
  connect();
})();
