/**
 * The admin JSON API under /api (SPEC.md "Admin side"). Bearer token, or the
 * UI's session cookie; a cookie (or open loopback mode) never suffices for a
 * state change without a same-origin proof, since a browser attaches both to
 * cross-site requests. Handlers validate input, call store functions or
 * AdminActions, and return the shapes of admin-views.ts.
 */
import { Elysia } from "elysia";
import type { ReloadOutcome } from "../config/config-diff.ts";
import type { Config } from "../config/types.ts";
import type { ListenStatus } from "../delivery/listen-hub.ts";
import { compileRoutes, type RouteTable } from "../core/routing.ts";
import { getEvent, getRejection, listRejections, type EventDetail } from "../store/admin-queries.ts";
import { sourceStats, targetStats } from "../store/admin-stats.ts";
import { readOverview } from "../store/overview.ts";
import { unconfiguredTargets } from "../store/queue-stats.ts";
import type { Store } from "../store/index.ts";
import type { AdminActions } from "./admin-actions.ts";
import { listEventsMatching } from "../store/event-search.ts";
import { getJob, listJobs, type Job, type JobKind } from "../store/jobs.ts";
import {
  checkSearchable,
  parseBulkBody,
  parseDeliveryId,
  parseEventFilter,
  parseEventId,
  parseJobId,
  parseRedeliverBody,
  parseRejectionFilter,
  parseRejectionId,
  parseRouteTestBody,
} from "./admin-params.ts";
import { explainEvent } from "./admin-routing.ts";
import { parseLiveView, type LiveHub } from "./live-stream.ts";
import { eventDetailJson, eventJson, iso, jobJson, publicBaseUrl, rejectionDetailJson, rejectionJson, sourceJson, targetJson } from "./admin-views.ts";
import { isSameOrigin, readCookie, SESSION_COOKIE, type AdminAuth } from "./auth.ts";
import { requestClientKey, tooManyAttempts } from "./failed-auth-limiter.ts";
import { errorResponse, HttpError } from "./http-error.ts";
import { API_HEADERS, withHeaders } from "./security-headers.ts";
import { bodyFileName } from "../core/body-file.ts";

/** What the admin controllers (API and UI) need. */
export interface AdminControllerOptions {
  store: Store;
  /** The config in force: read it in the handler (a reload replaces it), never once at construction. */
  readonly config: Config;
  /** The configured routes, compiled (the routing explanation); replaced with the config. */
  readonly routes: RouteTable;
  actions: AdminActions;
  auth: AdminAuth;
  nowMs: () => number;
  /** The public listener's bound port once listening (endpoint URLs), else null. */
  publicPort: () => number | null;
  /** Re-reads the config file (POST /api/reload). */
  reload?: () => ReloadOutcome;
  /** A listen target's client in this process (connected, since, from where). */
  listenStatus: (target: string) => ListenStatus;
  /** Open live-update streams (GET /api/stream). */
  streams: LiveHub;
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...API_HEADERS } });
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Why a request to an admin side without a token was refused. */
export const FORBIDDEN_HOST =
  "with no admin token, the admin side answers only requests addressed to localhost, 127.x.x.x or [::1] (the Host header), so that a web page cannot reach it by DNS rebinding; behind a proxy, set admin.token";

/** Why a request from client address `addr` may not use the API, or null when it may. */
export function refuseAdminRequest(auth: AdminAuth, request: Request, addr: string): HttpError | null {
  const id = auth.identify(request, addr);
  if (!id.ok && id.retryAfterSec > 0) return tooManyAttempts(id.retryAfterSec);
  // Without a token the only rule is the Host one (DNS rebinding): name it, not a token there is none of.
  if (!id.ok && !auth.required) return new HttpError(403, "forbidden_host", FORBIDDEN_HOST);
  if (!id.ok) {
    // A session cookie no longer known (signed out, 12 h passed, a restart, a new admin token): say so,
    // rather than blame a token the browser never sent.
    const ended = !request.headers.has("authorization") && readCookie(request.headers.get("cookie"), SESSION_COOKIE) !== null;
    const message = ended ? "the session has ended (signed out, expired, or the relay restarted): sign in again" : "missing or wrong admin token";
    return new HttpError(401, "unauthorized", message, auth.required ? { "www-authenticate": "Bearer" } : {});
  }
  // A custom header cannot be sent cross-site without a CORS preflight, which we never grant. A request
  // that names another site as its Origin (or says it is cross-site) is refused whatever it carries.
  const foreign = (request.headers.has("origin") || request.headers.has("sec-fetch-site")) && !isSameOrigin(request);
  if (id.who === "bearer" || SAFE_METHODS.has(request.method)) return null;
  // Each refusal names what decided it: a request that sent X-Requested-With and was refused for its Origin was told to send it.
  if (foreign)
    return new HttpError(403, "csrf", `cross-site request refused: its Origin (or Sec-Fetch-Site) names another site than the admin side's own address${auth.required ? "; send the admin token as Authorization: Bearer instead" : ""}`);
  if (!isSameOrigin(request) && !request.headers.has("x-requested-with"))
    return new HttpError(403, "csrf", `cross-site request refused: a script or curl must send the header X-Requested-With (any value)${auth.required ? " or the admin token as Authorization: Bearer" : ""}`);
  return null;
}

function targetNamed(config: Config, name: string) {
  const t = config.targets.find((x) => x.name === name);
  if (!t) throw new HttpError(404, "not_found", `no target named "${name}"`);
  return t;
}

/** Elysia instance serving /api/…. */
export function adminApiController(opts: AdminControllerOptions) {
  const { store, actions, auth, nowMs } = opts;
  const client = store.reads;
  const known = () => ({ sources: new Set(opts.config.sources.map((s) => s.name)), targets: new Set(opts.config.targets.map((t) => t.name)) });
  const eventNamed = async (id: string): Promise<EventDetail> => {
    const ev = await getEvent(client, id);
    if (!ev) throw new HttpError(404, "not_found", "no such event");
    return ev;
  };
  const jobNamed = async (id: string): Promise<Job> => {
    const job = await getJob(client, parseJobId(id));
    if (!job) throw new HttpError(404, "not_found", "no such job");
    return job;
  };
  const bulk = async (kind: JobKind, request: Request) => {
    const req = parseBulkBody(await request.text(), nowMs(), opts.config.store.search);
    // Cancelling may name a target no longer configured (its deliveries wait for it); redelivering may not.
    if (kind === "redeliver") for (const name of [req.target, req.filter.target]) if (name !== undefined && !known().targets.has(name)) throw new HttpError(404, "not_found", `no target named "${name}"`);
    const r = await actions.startBulk({ kind, ...req });
    return json(r.job ? { matched: r.matched, job: r.job.id } : { matched: r.matched }, r.job ? 202 : 200);
  };
  const routing = async (ev: EventDetail, routes: RouteTable) => {
    const verdicts = await explainEvent(ev, routes, opts.config.server.maxBodyBytes);
    if (verdicts === null) throw new HttpError(410, "erased", "this event was erased: no body or headers left to route by");
    return json({ routes: verdicts });
  };
  return new Elysia()
    .onError(({ error }) => withHeaders(errorResponse(error), API_HEADERS))
    .onBeforeHandle(({ request, server }) => {
      const refused = refuseAdminRequest(auth, request, requestClientKey(server, request));
      if (refused) return withHeaders(errorResponse(refused), API_HEADERS);
    })
    .get("/api/events", async ({ query }) => {
      const page = await listEventsMatching(client, checkSearchable(parseEventFilter(query, nowMs()), opts.config.store.search));
      return json({ events: page.events.map(eventJson), nextCursor: page.nextCursor });
    })
    .get("/api/events/:id", async ({ params }) => {
      const ev = await getEvent(client, parseEventId(params.id));
      if (!ev) throw new HttpError(404, "not_found", "no such event");
      return json(eventDetailJson(ev));
    })
    .get("/api/events/:id/body", async ({ params }) => {
      const ev = await getEvent(client, parseEventId(params.id));
      if (!ev) throw new HttpError(404, "not_found", "no such event");
      if (ev.body === null) throw new HttpError(410, "erased", "this event was erased");
      return new Response(new Uint8Array(ev.body), {
        headers: {
          ...API_HEADERS,
          "content-type": "application/octet-stream",
          "content-disposition": `attachment; filename="${bodyFileName(ev.id, ev.contentType)}"`,
        },
      });
    })
    .get("/api/stream", ({ query, request, server }) => {
      const view = parseLiveView(query, nowMs(), opts.config.store.search);
      // A stream may stay open for hours: no idle timeout (a heartbeat keeps it alive instead).
      server?.timeout(request, 0);
      const addr = requestClientKey(server, request);
      return opts.streams.open(view, () => refuseAdminRequest(auth, request, addr) === null);
    })
    .get("/api/events/:id/routing", async ({ params }) => routing(await eventNamed(parseEventId(params.id)), opts.routes))
    .post(
      "/api/routes/test",
      async ({ request }) => {
        const { eventId, route } = parseRouteTestBody(await request.text(), known());
        return routing(await eventNamed(eventId), compileRoutes([route]));
      },
      { parse: "none" },
    )
    .post(
      "/api/events/:id/redeliver",
      async ({ params, request }) => {
        const id = parseEventId(params.id);
        const body = parseRedeliverBody(await request.text());
        const r = await actions.redeliver(id, body.target);
        if (r.ok) return json({ created: r.created, onItsWay: r.onItsWay }, 202);
        if (r.reason === "not_found") throw new HttpError(404, "not_found", "no such event");
        if (r.reason === "on_its_way")
          throw new HttpError(409, "on_its_way", `its delivery to ${r.onItsWay.join(", ")} is still on its way (pending, being sent or paused): nothing doubled; retry a pending one to send it now`);
        if (r.reason === "unknown_target") throw new HttpError(404, "not_found", `no target named "${body.target}"`);
        if (r.reason === "erased") throw new HttpError(409, "erased", "an erased event cannot be redelivered");
        throw new HttpError(409, "no_targets", "the event is routed to no target; name one");
      },
      { parse: "none" },
    )
    .post("/api/events/redeliver", ({ request }) => bulk("redeliver", request), { parse: "none" })
    .post("/api/deliveries/cancel", ({ request }) => bulk("cancel", request), { parse: "none" })
    .post(
      "/api/deliveries/:id/retry",
      async ({ params }) => {
        const r = await actions.retryDelivery(parseDeliveryId(params.id));
        if (r.ok) return json({ id: r.id, status: r.status, attempt: r.attempt, nextAttemptAt: iso(r.nextAttemptAt), circuitOpenUntil: iso(r.circuitOpenUntil) }, 202);
        if (r.reason === "not_found") throw new HttpError(404, "not_found", "no such delivery");
        if (r.reason === "delivered") throw new HttpError(409, "delivered", "this delivery was delivered; redeliver the event for a new one");
        if (r.reason === "erased") throw new HttpError(409, "erased", "this delivery's event was erased: there is no body left to send");
        if (r.reason === "target_not_configured")
          throw new HttpError(409, "target_not_configured", "this delivery's target is no longer configured: list it again, or redeliver the event to another target");
        if (r.reason === "newer_open") throw new HttpError(409, "on_its_way", "a newer delivery of this event to this target is on its way: nothing doubled");
        if (r.reason === "replaced")
          throw new HttpError(409, "replaced", "a later delivery of this event to this target replaced this one: retry that one, or redeliver the event");
        throw new HttpError(409, "in_flight", "an attempt of this delivery is in flight; retry once it has ended");
      },
      { parse: "none" },
    )
    .get("/api/jobs", async () => json({ jobs: (await listJobs(client)).map(jobJson) }))
    .get("/api/jobs/:id", async ({ params }) => json(jobJson(await jobNamed(params.id))))
    .delete("/api/jobs/:id", async ({ params }) => {
      const job = await actions.stopJob(parseJobId(params.id));
      if (!job) throw new HttpError(404, "not_found", "no such job");
      return json(jobJson(job));
    })
    .delete("/api/events/:id", async ({ params }) => {
      const r = await actions.eraseEvent(parseEventId(params.id));
      if (!r.found) throw new HttpError(404, "not_found", "no such event");
      return json({ id: params.id, erasedAt: new Date(r.erasedAt!).toISOString(), walEmptied: r.walEmptied });
    })
    .get("/api/targets", async () => {
      const { targets } = opts.config;
      const stats = await targetStats(client, targets.map((t) => t.name), nowMs());
      // As the targets page lists them: names the store still has open deliveries for, no longer configured.
      const unconfigured = await unconfiguredTargets(client, targets.map((t) => t.name));
      return json({ targets: targets.map((t, i) => targetJson(t, stats[i]!, nowMs(), opts.listenStatus(t.name))), unconfigured });
    })
    .post(
      "/api/targets/:name/:action",
      async ({ params }) => {
        const t = targetNamed(opts.config, params.name);
        if (params.action === "enable") await actions.enableTarget(t.name);
        else if (params.action === "disable") await actions.disableTarget(t.name);
        else if (params.action === "test") {
          const sent = await actions.sendTestEvent(t.name);
          return json({ eventId: sent.eventId, paused: sent.paused, circuitOpenUntil: iso(sent.circuitOpenUntil) }, 202);
        }
        else throw new HttpError(404, "not_found", "expected enable, disable or test");
        const [s] = await targetStats(client, [t.name], nowMs());
        return json(targetJson(t, s!, nowMs(), opts.listenStatus(t.name)));
      },
      { parse: "none" },
    )
    .get("/api/overview", async () => json(await readOverview(client, nowMs(), opts.config.targets.map((t) => t.name))))
    .get("/api/sources", async ({ request }) => {
      const { config } = opts;
      const stats = await sourceStats(client, config.sources.map((s) => s.name), nowMs());
      const base = publicBaseUrl(config, request, opts.publicPort());
      return json({ sources: stats.map((s) => sourceJson(config, s, base)) });
    })
    .get("/api/rejections", async ({ query }) => {
      const page = await listRejections(client, parseRejectionFilter(query, nowMs()));
      return json({ rejections: page.rejections.map(rejectionJson), nextCursor: page.nextCursor });
    })
    .delete("/api/rejections/:id", async ({ params }) => {
      const r = await actions.eraseRejection(parseRejectionId(params.id));
      if (!r.found) throw new HttpError(404, "not_found", "no such rejection");
      return json({ id: params.id, erasedAt: new Date(r.erasedAt!).toISOString(), walEmptied: r.walEmptied });
    })
    .get("/api/rejections/:id", async ({ params }) => {
      const r = await getRejection(client, parseRejectionId(params.id));
      if (!r) throw new HttpError(404, "not_found", "no such rejection");
      return json(rejectionDetailJson(r));
    })
    .post(
      "/api/reload",
      () => {
        const r = opts.reload?.() ?? { ok: false as const, problems: ["reload is not available here"] };
        if (!r.ok) return json({ error: { code: "invalid_config", message: `the config file has ${r.problems.length} problem(s); nothing changed`, problems: r.problems } }, 400);
        return json({ reloaded: true, ...r.changes, warnings: r.warnings });
      },
      { parse: "none" },
    )
    .all("/api/*", () => {
      throw new HttpError(404, "not_found", "no such API route");
    });
}
