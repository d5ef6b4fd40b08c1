/**
 * The admin web UI: server-rendered pages (/overview, /, /events/<id>, /rejections,
 * /targets, /sources, /login), their assets, and the form posts behind the
 * buttons. Pages need a session cookie (or open loopback mode); every post
 * must also prove it came from our own origin (CSRF). Confirmations after a
 * post come from a fixed list keyed by a code, never from request text.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { ALERT_SOURCE } from "../core/alert.ts";
import { countEventsUpTo, getEvent, getRejection, listRejections, rejectionReasons, withoutPaging, type EventFilter } from "../store/admin-queries.ts";
import { countBulkMatches } from "../jobs/bulk-actions.ts";
import { listEventsMatching } from "../store/event-search.ts";
import { getJob, listJobs } from "../store/jobs.ts";
import { readTargetStates } from "../store/target-state.ts";
import { sourceStats, targetStats } from "../store/admin-stats.ts";
import { ASSETS } from "../ui/assets.ts";
import { bulkConfirmPage, filterQuery, jobPage, jobsPage } from "../ui/bulk-pages.ts";
import { eventPage, targetHolds } from "../ui/event-page.ts";
import { queueStats, unconfiguredTargets } from "../store/queue-stats.ts";
import { EVENTS_COUNT_CAP, eventsPage } from "../ui/events-page.ts";
import { time } from "../ui/format.ts";
import { html, type SafeHtml } from "../ui/html.ts";
import { page, type Section } from "../ui/layout.ts";
import { loginPage } from "../ui/login-page.ts";
import { overviewPage } from "../ui/overview-page.ts";
import { readOverview } from "../store/overview.ts";
import { rejectionPage, rejectionsPage } from "../ui/rejections-page.ts";
import { sourcesPage } from "../ui/sources-page.ts";
import { targetsPage } from "../ui/targets-page.ts";
import { FORBIDDEN_HOST, type AdminControllerOptions } from "./admin-api.ts";
import { TEST_SOURCE } from "../core/types.ts";
import { eventsPageFilter, parseDeliveryId, parseEventId, parseInput, parseJobId, parseRejectionId, rejectionsPageFilter } from "./admin-params.ts";
import { eventDetailJson, eventJson, jobJson, publicBaseUrl, rejectionDetailJson, rejectionJson, sourceJson, targetJson } from "./admin-views.ts";
import { CLEAR_SESSION_COOKIE, isSameOrigin, readCookie, servedOverHttps, SESSION_COOKIE, type AdminAuth } from "./auth.ts";
import { requestClientKey } from "./failed-auth-limiter.ts";
import { explainEvent } from "./admin-routing.ts";
import { HttpError, httpErrorOf } from "./http-error.ts";
import { PAGE_HEADERS } from "./security-headers.ts";

const htmlResponse = (body: string, status = 200, headers: Record<string, string> = {}) =>
  new Response(body, { status, headers: { "content-type": "text/html; charset=utf-8", ...PAGE_HEADERS, ...headers } });
const redirect = (location: string, headers: Record<string, string> = {}) =>
  new Response(null, { status: 303, headers: { location, ...PAGE_HEADERS, ...headers } });

// Only local paths: "//evil.example" or "/\evil" would leave the site.
const safeNext = (next: unknown) => (typeof next === "string" && /^\/(?![/\\])[^\s]*$/.test(next) ? next : "/");
const ONE_QUERY = (q: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(q).map(([k, val]) => [k, Array.isArray(val) ? String(val[0]) : val === undefined ? undefined : String(val)]));
const FormEvent = v.object({ event: v.pipe(v.string(), v.regex(/^evt_[0-9A-Z]{26}$/, "must be an event id")) });
const FormBulkTarget = v.object({ bulkTarget: v.optional(v.pipe(v.string(), v.regex(/^([a-z0-9_][a-z0-9_-]{0,99})?$/))) });
const bulkKind = (kind: string): "redeliver" | "cancel" => {
  if (kind === "redeliver" || kind === "cancel") return kind;
  throw new HttpError(404, "not_found", "No such page.");
};
const FormTarget = v.object({ target: v.optional(v.pipe(v.string(), v.regex(/^([a-z0-9_][a-z0-9_-]{0,99})?$/))) });

/**
 * The notice a page shows after an action redirected to it: what was done
 * (`done=…`, a status line) or why nothing was (`error=…`, an alert: in red,
 * and read out at once by a screen reader).
 */
function noticeOf(q: Record<string, string | undefined>): { flash: string | SafeHtml | null; error: string | null } {
  const error = q.error ? errorOf(q) : null;
  return { flash: error === null ? doneOf(q) : null, error };
}

function doneOf(q: Record<string, string | undefined>): string | SafeHtml | null {
  switch (q.done) {
    case "redelivered":
      return `Redelivery scheduled: ${Number(q.n) || 0} new deliver${Number(q.n) === 1 ? "y" : "ies"}.${onItsWayText(q.skipped)}`;
    case "erased":
      return `Body, headers, query string and address erased, and the targets' replies.${walHeldText(q.wal)}`;
    case "request-erased":
      return `Headers, body, query string and address erased.${walHeldText(q.wal)}`;
    case "enabled":
      return "Target enabled: its paused deliveries are due now.";
    case "disabled":
      return "Target disabled: its deliveries are kept, paused.";
    case "retried": {
      const attempt = `attempt ${Number(q.n) || 1} of this delivery`;
      if (q.waits === "disabled") return `Retry scheduled: ${attempt} goes once its target is enabled.`;
      if (q.waits === "client") return html`Retry scheduled: ${attempt} waits for a <code>hookrelay listen</code> client: none is connected to its target.`;
      const until = Number(q.until);
      if (q.waits === "circuit" && Number.isFinite(until) && until > 0)
        return html`Retry scheduled: ${attempt} waits for its target's circuit, open until ${time(new Date(until).toISOString())}; it goes once the circuit lets attempts through again.`;
      return `Retry scheduled: ${attempt} is due now.`;
    }
    case "stopped":
      return "Job stopped: what it did so far stays done.";
    case "ended":
      return "The job had already ended: there was nothing left to stop.";
    case "test": {
      // A test event waits as any delivery to its target does (disabled, circuit open): say so, or it looks lost.
      const until = Number(q.until);
      const waits =
        q.waits === "disabled"
          ? " The target is disabled: it waits, paused, until the target is enabled."
          : q.waits === "circuit" && Number.isFinite(until) && until > 0
            ? html` It waits for the target's circuit, open until ${time(new Date(until).toISOString())}.`
            : q.waits === "client"
              ? html` No <code>hookrelay listen</code> client is connected to this target: it waits until one connects.`
              : "";
      return q.event && /^evt_[0-9A-Z]{26}$/.test(q.event)
        ? html`Test event stored: <a href="/events/${q.event}">${q.event}</a>.${waits}`
        : html`Test event stored.${waits}`;
    }
  }
  return null;
}

// A reader (a backup or export running) held the write-ahead log when the erase asked to empty it.
const walHeldText = (wal: string | undefined) =>
  wal === "held" ? " A backup or export reading the store held its write-ahead log: the erased bytes' older copies leave it as it starts over (seconds to minutes of traffic), or at a clean stop." : "";

function errorOf(q: Record<string, string | undefined>): string | null {
  const errors: Record<string, string> = {
    erased: "An erased event cannot be sent again: its body and headers are gone.",
    no_targets: "This event is routed to no target; pick one.",
    unknown_target: "No such target.",
    delivered: "That delivery was delivered: redeliver the event for a new one.",
    in_flight: "An attempt of that delivery is in flight: retry once it has ended.",
    newer_open: "A newer delivery of this event to that target is on its way: not retried, so that nothing is sent twice.",
    replaced: "A later delivery of this event to that target replaced that one: not retried, so that nothing is sent twice. Retry the later one, or redeliver.",
    target_not_configured: "That delivery's target is no longer configured: list it again, or redeliver the event to another target.",
    on_its_way: `Nothing redelivered: ${onItsWayText(q.skipped).trim() || "its deliveries are still on their way."} Retry now sends a pending one at once.`,
  };
  return q.error ? (errors[q.error] ?? null) : null;
}

/** The targets a redeliver left alone, as a sentence (empty when none). */
function onItsWayText(skipped: string | undefined): string {
  const names = (skipped ?? "").split(",").filter((n) => /^[a-z0-9_][a-z0-9_-]{0,99}$/.test(n));
  if (names.length === 0) return "";
  const listed = names.length === 1 ? names[0] : `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
  return names.length === 1
    ? ` Not doubled: the delivery to ${listed} is still on its way (pending, being sent or paused).`
    : ` Not doubled: the deliveries to ${listed} are still on their way (pending, being sent or paused).`;
}

/** Elysia instance serving the UI pages, assets and form posts. */
export function uiController(opts: AdminControllerOptions) {
  const { store, actions, auth, nowMs } = opts;
  const client = store.reads;
  // A listen target's delivery waits for a `hookrelay listen` client as surely as for an enable: its card and a flash say so.
  const noListenClient = (target: string) => opts.config.targets.some((t) => t.name === target && t.kind === "listen") && !opts.listenStatus(target).connected;
  const render = (title: string, section: Section, body: SafeHtml, status = 200, extra: { flash?: string | SafeHtml | null; error?: string | null } = {}) =>
    htmlResponse(page({ title, section, body, signOut: auth.required, ...extra }), status);
  // Every configured target as the API shows it, at `now` (the targets page and the overview's "now").
  const targetViews = async (now: number) => {
    const stats = await targetStats(client, opts.config.targets.map((t) => t.name), now);
    return opts.config.targets.map((t, i) => targetJson(t, stats[i]!, now, opts.listenStatus(t.name)));
  };

  const open = new Elysia()
    .get("/assets/:file", ({ params }) => {
      const a = ASSETS[params.file];
      if (!a) return htmlResponse("not found", 404);
      return new Response(a.body, { headers: { ...PAGE_HEADERS, "content-type": a.contentType, "cache-control": "public, max-age=300" } });
    })
    .get("/login", ({ request, query, server }) => {
      const next = safeNext(query.next);
      if (auth.identify(request, requestClientKey(server, request)).ok) return redirect(next);
      const why = query.ended === "1" ? "ended" : query["signed-out"] === "1" ? "signed-out" : null;
      return htmlResponse(page({ title: "Sign in", section: null, body: loginPage(next, why) }));
    })
    .post(
      "/login",
      async ({ request, server }) => {
        if (!isSameOrigin(request)) return htmlResponse(page({ title: "Refused", section: null, body: html`<h1>Cross-site request refused</h1>` }), 403);
        const form = new URLSearchParams(await request.text());
        const next = safeNext(form.get("next"));
        if (!auth.required) return redirect(next);
        const addr = requestClientKey(server, request);
        const wait = auth.retryAfterSec(addr);
        const again = (status: number, error: string, headers: Record<string, string> = {}) =>
          htmlResponse(page({ title: "Sign in", section: null, body: loginPage(next), error }), status, headers);
        if (wait > 0) return again(429, tooManySignIns(wait), { "retry-after": String(wait) });
        if (!auth.signIn(form.get("token") ?? "", addr)) return again(401, "Wrong token.");
        return redirect(next, { "set-cookie": auth.sessionCookie(servedOverHttps(request)) });
      },
      { parse: "none" },
    )
    .post("/logout", ({ request }) => {
      if (!isSameOrigin(request)) return htmlResponse("cross-site request refused", 403);
      auth.endSession(readCookie(request.headers.get("cookie"), SESSION_COOKIE));
      return redirect("/login?signed-out=1", { "set-cookie": CLEAR_SESSION_COOKIE });
    });

  const pages = new Elysia()
    .onError(({ error, code, request }) => {
      const known = code === "NOT_FOUND" ? new HttpError(404, "not_found", "No such page.") : httpErrorOf(error);
      const e = known.status === 500 ? null : known;
      // A query the page cannot take (a filter out of shape): the same page without it is one click away.
      const path = new URL(request.url).pathname;
      const back = e?.status === 400 && path !== "/" ? html`<a href="${path}">The same page without it</a> · ` : null;
      const title = e?.status === 400 ? html`<h1>That address asks for something this page cannot show</h1><p class="error-text">${e.message}</p>` : html`<h1>${e ? e.message : "Something went wrong."}</h1>`;
      // With the top navigation of the page it was meant for: an operator goes on from there.
      const section = (["overview", "rejections", "targets", "sources", "jobs"] as const).find((s) => path.startsWith(`/${s}`)) ?? "events";
      // And a way back to that section's list (a rejection's page: the rejections).
      const list = section === "events" ? html`<a href="/">Back to events</a>` : html`<a href="/${section}">Back to ${section}</a>`;
      return render("Error", section, html`${title}<p>${back}${list}</p>`, e?.status ?? 500);
    })
    .onBeforeHandle(({ request, server }) => guardPage(auth, request, requestClientKey(server, request)))
    .get("/", async ({ query }) => {
      const raw = ONE_QUERY(query);
      const lists = {
        sources: opts.config.sources.map((s) => s.name),
        builtInSources: [{ name: ALERT_SOURCE, holds: "the relay's alerts" }, { name: TEST_SOURCE, holds: "test events" }],
        targets: opts.config.targets.map((t) => t.name),
      };
      let error: string | null = null;
      let data = { events: [] as ReturnType<typeof eventJson>[], nextCursor: null as string | null, matched: null as number | null };
      try {
        const filter = eventsPageFilter(raw, nowMs(), opts.config.store.search);
        const r = await listEventsMatching(client, filter);
        // The count is of every event the filter matches, on an older page too: what the bulk actions act on.
        data = { events: r.events.map(eventJson), nextCursor: r.nextCursor, matched: await countEventsUpTo(client, withoutPaging(filter), EVENTS_COUNT_CAP) };
      } catch (err) {
        if (!(err instanceof HttpError)) throw err;
        error = err.message;
      }
      return render("Events", "events", eventsPage({ query: raw, ...lists, ...data, countCap: EVENTS_COUNT_CAP }), error ? 400 : 200, { ...noticeOf(raw), ...(error ? { error } : {}) });
    })
    .get("/events/:id", async ({ params, query, request }) => {
      const ev = await getEvent(client, parseEventId(params.id));
      if (!ev) throw new HttpError(404, "not_found", "No such event.");
      const routing = await explainEvent(ev, opts.routes, opts.config.server.maxBodyBytes);
      const base = publicBaseUrl(opts.config, request, opts.publicPort());
      const names = opts.config.targets.map((t) => t.name);
      const states = await readTargetStates(client);
      const holdOf = targetHolds(names, (t) => states.get(t)?.circuitOpenUntil ?? null, nowMs(), noListenClient);
      const body = eventPage(eventDetailJson(ev), names, routing, base, holdOf);
      return render(ev.id, "events", body, 200, noticeOf(ONE_QUERY(query)));
    })
    .post(
      "/events/:id/redeliver",
      async ({ params, request }) => {
        const id = parseEventId(params.id);
        const form = parseInput(FormTarget, Object.fromEntries(new URLSearchParams(await request.text())));
        const r = await actions.redeliver(id, form.target || undefined);
        if (!r.ok && r.reason === "not_found") throw new HttpError(404, "not_found", "No such event.");
        const onItsWay = r.ok || r.reason === "on_its_way" ? r.onItsWay : [];
        const skipped = onItsWay.length > 0 ? `&skipped=${encodeURIComponent(onItsWay.join(","))}` : "";
        return redirect(`/events/${id}?${r.ok ? `done=redelivered&n=${r.created}` : `error=${r.reason}`}${skipped}`);
      },
      { parse: "none" },
    )
    .post("/events/:id/erase", async ({ params }) => {
      const r = await actions.eraseEvent(parseEventId(params.id));
      if (!r.found) throw new HttpError(404, "not_found", "No such event.");
      return redirect(`/events/${params.id}?done=erased${r.walEmptied ? "" : "&wal=held"}`);
    })
    .get("/overview", async () => {
      const now = nowMs();
      const figures = await readOverview(client, now, opts.config.targets.map((t) => t.name));
      const oldest = new Map((await queueStats(client)).map((q) => [q.target, q.oldestCreatedAt]));
      const targets = (await targetViews(now)).map((target) => ({ target, oldestWaitingAt: oldest.get(target.name) ?? null }));
      return render("Overview", "overview", overviewPage(figures, { nowMs: now, targets }));
    })
    .post(
      "/deliveries/:id/retry",
      async ({ params, request }) => {
        const form = parseInput(FormEvent, Object.fromEntries(new URLSearchParams(await request.text())));
        const r = await actions.retryDelivery(parseDeliveryId(params.id));
        if (!r.ok && r.reason === "not_found") throw new HttpError(404, "not_found", "No such delivery.");
        if (!r.ok) return redirect(`/events/${form.event}?error=${r.reason}`);
        const waits = r.status === "paused" ? "&waits=disabled" : r.circuitOpenUntil !== null ? `&waits=circuit&until=${r.circuitOpenUntil}` : noListenClient(r.target) ? "&waits=client" : "";
        return redirect(`/events/${form.event}?done=retried&n=${r.attempt}${waits}`);
      },
      { parse: "none" },
    )
    .get("/bulk/:kind", async ({ params, query }) => {
      const kind = bulkKind(params.kind);
      const raw = filterQuery(ONE_QUERY(query));
      const drawnAt = nowMs();
      const filter = eventsPageFilter(raw, drawnAt, opts.config.store.search);
      // The job acts on what was counted: times as of now ("2h" ago would move), nothing received later.
      const counted = await countBulkMatches(store, withoutPaging(filter), drawnAt);
      const bounds = { since: filter.sinceMs, until: counted.filter.untilMs! };
      const matched = counted.matched;
      const configured = opts.config.targets.map((t) => t.name);
      // A cancel may be of a target no longer configured (the targets page links here for it).
      const targets = kind === "cancel" && raw.target && !configured.includes(raw.target) ? [...configured, raw.target] : configured;
      const body = bulkConfirmPage({ kind, query: raw, bounds, drawnAt, matched, targets });
      return render(kind === "redeliver" ? "Redeliver" : "Cancel pending", "events", body);
    })
    .post(
      "/bulk/:kind",
      async ({ params, request }) => {
        const kind = bulkKind(params.kind);
        const form = Object.fromEntries(new URLSearchParams(await request.text()));
        const { bulkTarget } = parseInput(FormBulkTarget, { bulkTarget: form.bulkTarget });
        const { cursor: _c, limit: _l, ...filter } = eventsPageFilter(filterQuery(form), nowMs(), opts.config.store.search);
        const known = new Set(opts.config.targets.map((t) => t.name));
        // Cancelling may name a target no longer configured (its deliveries wait for it); sending may not.
        if (kind === "redeliver") for (const name of [bulkTarget, filter.target]) if (name && !known.has(name)) throw new HttpError(404, "not_found", "No such target.");
        const r = await actions.startBulk({ kind, filter, target: bulkTarget || undefined, dryRun: false });
        return redirect(`/jobs/${r.job!.id}`);
      },
      { parse: "none" },
    )
    .get("/jobs", async () => render("Jobs", "jobs", jobsPage((await listJobs(client)).map(jobJson))))
    .get("/jobs/:id", async ({ params, query }) => {
      const job = await getJob(client, parseJobId(params.id));
      if (!job) throw new HttpError(404, "not_found", "No such job.");
      return htmlResponse(
        page({ title: job.id, section: "jobs", body: jobPage(jobJson(job)), signOut: auth.required, ...noticeOf(ONE_QUERY(query)), refreshSec: job.status === "running" ? 1 : undefined }),
      );
    })
    .post("/jobs/:id/stop", async ({ params }) => {
      const job = await actions.stopJob(parseJobId(params.id));
      if (!job) throw new HttpError(404, "not_found", "No such job.");
      // Stopped by this press, or it had ended meanwhile (done, failed: its page says which).
      return redirect(`/jobs/${job.id}?done=${job.status === "cancelled" ? "stopped" : "ended"}`);
    })
    .get("/targets", async ({ query }) => {
      const unconfigured = await unconfiguredTargets(client, opts.config.targets.map((t) => t.name));
      // On PostgreSQL another relay, on another config, may be delivering them.
      const body = targetsPage(await targetViews(nowMs()), unconfigured, client.dialect.engine === "postgres");
      return render("Targets", "targets", body, 200, noticeOf(ONE_QUERY(query)));
    })
    .post("/targets/:name/:action", async ({ params }) => {
      const t = opts.config.targets.find((x) => x.name === params.name);
      if (!t) throw new HttpError(404, "not_found", "No such target.");
      if (params.action === "enable") await actions.enableTarget(t.name);
      else if (params.action === "disable") await actions.disableTarget(t.name);
      else if (params.action === "test") {
        const sent = await actions.sendTestEvent(t.name);
        const waits = sent.paused ? "&waits=disabled" : sent.circuitOpenUntil !== null ? `&waits=circuit&until=${sent.circuitOpenUntil}` : noListenClient(t.name) ? "&waits=client" : "";
        return redirect(`/targets?done=test&event=${sent.eventId}${waits}`);
      }
      else throw new HttpError(404, "not_found", "No such action.");
      return redirect(`/targets?done=${params.action}d`);
    })
    .get("/sources", async ({ request }) => {
      const { config } = opts;
      const stats = await sourceStats(client, config.sources.map((s) => s.name), nowMs());
      const base = publicBaseUrl(config, request, opts.publicPort());
      return render("Sources", "sources", sourcesPage(stats.map((s) => sourceJson(config, s, base)), config.server.publicUrl !== null));
    })
    .get("/rejections", async ({ query, request }) => {
      const { config } = opts;
      const raw = ONE_QUERY(query);
      // A filter out of shape is said above the form, which keeps what was typed (as the events page does).
      let error: string | null = null;
      let list: Awaited<ReturnType<typeof listRejections>> | null = null;
      try {
        list = await listRejections(client, rejectionsPageFilter(raw, nowMs()));
      } catch (err) {
        if (!(err instanceof HttpError)) throw err;
        error = err.message;
      }
      const stats = await sourceStats(client, config.sources.map((s) => s.name), nowMs());
      const base = publicBaseUrl(config, request, opts.publicPort());
      const body = rejectionsPage({
        source: raw.source,
        reason: raw.reason,
        text: raw.text,
        since: raw.since,
        until: raw.until,
        cursor: raw.cursor,
        sources: stats.map((s) => sourceJson(config, s, base)),
        rejections: list === null ? null : list.rejections.map(rejectionJson),
        nextCursor: list?.nextCursor ?? null,
        reasons: await rejectionReasons(client),
      });
      return render("Rejections", "rejections", body, error ? 400 : 200, error ? { error } : {});
    })
    .get("/rejections/:id", async ({ params, query }) => {
      const r = await getRejection(client, parseRejectionId(params.id));
      if (!r) throw new HttpError(404, "not_found", "No such rejection.");
      return render(r.id, "rejections", rejectionPage(rejectionDetailJson(r)), 200, noticeOf(ONE_QUERY(query)));
    })
    .post("/rejections/:id/erase", async ({ params }) => {
      const r = await actions.eraseRejection(parseRejectionId(params.id));
      if (!r.found) throw new HttpError(404, "not_found", "No such rejection.");
      return redirect(`/rejections/${params.id}?done=request-erased${r.walEmptied ? "" : "&wal=held"}`);
    })
    // Unknown paths get a page with the same headers as every other.
    .all("*", () => {
      throw new HttpError(404, "not_found", "No such page.");
    });

  return new Elysia().use(open).use(pages);
}

const tooManySignIns = (sec: number) => `Too many failed sign-ins. Try again in ${sec} s.`;

// Pages need a principal; posts also need a same-origin proof (a cookie alone rides along on cross-site posts).
function guardPage(auth: AdminAuth, request: Request, addr: string): Response | undefined {
  const id = auth.identify(request, addr);
  if (!id.ok && id.retryAfterSec > 0) return htmlResponse(tooManySignIns(id.retryAfterSec), 429, { "retry-after": String(id.retryAfterSec) });
  const who = id.ok ? id.who : null;
  if (request.method === "GET" || request.method === "HEAD") {
    if (who !== null) return;
    const url = new URL(request.url);
    return auth.required ? redirect(`/login?next=${encodeURIComponent(url.pathname + url.search)}`) : htmlResponse(`Forbidden host: ${FORBIDDEN_HOST}.`, 403);
  }
  if (!isSameOrigin(request)) return htmlResponse(page({ title: "Refused", section: null, body: html`<h1>Cross-site request refused</h1>` }), 403);
  // A form sent from a tab whose session ended (signed out elsewhere, expired): not carried out;
  // sign in and come back to the page it was sent from.
  if (who === null) {
    if (!auth.required) return htmlResponse(`Forbidden host: ${FORBIDDEN_HOST}.`, 403);
    const from = request.headers.get("referer");
    const back = from && URL.canParse(from) && new URL(from).host === new URL(request.url).host ? new URL(from) : null;
    return redirect(`/login?ended=1&next=${encodeURIComponent(back ? back.pathname + back.search : "/")}`);
  }
}
