/**
 * The one place where modules are wired together: config + store → ingest
 * pipeline, delivery engine, public and admin HTTP apps. Used by main.ts and
 * by tests (which call `app.publicApp.handle(new Request(…))` in memory).
 */
import { Elysia } from "elysia";
import type { ReloadOutcome } from "./config/config-diff.ts";
import type { LoadResult } from "./config/load.ts";
import type { Config } from "./config/types.ts";
import { createListenHub, type ListenHub } from "./delivery/listen-hub.ts";
import { adminController } from "./http/admin-controller.ts";
import { AdminAuth } from "./http/auth.ts";
import { FailedAuthLimiter } from "./http/failed-auth-limiter.ts";
import { errorResponse, HttpError } from "./http/http-error.ts";
import { ingestController } from "./http/ingest-controller.ts";
import { listenController } from "./http/listen-controller.ts";
import { LiveHub } from "./http/live-stream.ts";
import { metricsController } from "./http/metrics-controller.ts";
import { resolveClientAddress } from "./http/client-address.ts";
import { requireHost } from "./http/require-host.ts";
import { ingestLogs, type IngestDeps, type IngestLogs } from "./ingest/ingest.ts";
import { routeStoredEvent } from "./ingest/request-view.ts";
import { RejectionLimiter } from "./ingest/rejection-limiter.ts";
import { bulkStep } from "./jobs/bulk-actions.ts";
import { createJobRunner, type JobPacing, type JobRunner } from "./jobs/runner.ts";
import { compileRuntimeConfig, LiveConfig } from "./ingest/runtime-config.ts";
import type { Logger } from "./log/logger.ts";
import { createRelayMetrics, type RelayMetrics } from "./metrics/relay-metrics.ts";
import type { LeaseClaim, LeasedDelivery } from "./store/deliveries.ts";
import { reloadConfig } from "./reload.ts";
import type { Store, StoreErrorCode } from "./store/index.ts";

/** What the app needs from the delivery engine (src/delivery). */
export interface DeliveryEngine {
  /** Applies config enablement (targets the config disables are paused), then runs the loop; resolves once applied. */
  start(): Promise<void>;
  /** New deliveries were committed: look for due work now, at the targets ingest `stored` pending deliveries for (else at every target). */
  wake(stored?: readonly string[]): void;
  /** Deliveries for a disabled target are created paused. */
  isPaused(target: string): boolean;
  /** Fast path for fresh events (ingest.ts): a slot claimed, the row written leased, the attempt started from memory. */
  claim(target: string): LeaseClaim | null;
  unclaim(target: string): void;
  launchClaimed(d: LeasedDelivery): void;
  /** Stop leasing, let in-flight attempts end (bounded), release leases. */
  stop(): Promise<void>;
  /** A reloaded config's targets and forward headers (src/reload.ts). */
  reconfigure?(config: Config): void;
  /** The connected `hookrelay listen` clients, when the engine carries listen targets. */
  listen?: ListenHub;
}

export interface AppOptions {
  config: Config;
  store: Store;
  log: Logger;
  nowMs?: () => number;
  delivery?: DeliveryEngine;
  /** Pass one when the delivery engine was built first (its onAttempt feeds it); else one is made. */
  metrics?: RelayMetrics;
  /** Reads and checks the config file again (SIGHUP, POST /api/reload); without it a reload is refused. */
  readConfig?: () => LoadResult;
  /** The warnings of the config it starts with, logged already: a reload logs only new ones. */
  warnings?: readonly string[];
  /** Parts built outside the app (the alert watch) that take a reloaded config, with the app's own. */
  reconfigure?: ((config: Config) => void)[];
  /** Pacing of the bulk-job runner (tests); production uses its defaults. */
  jobPacing?: JobPacing;
}

export interface App {
  /** The runtime config in force (config + what is compiled from it); replaced whole by reload(). */
  live: LiveConfig;
  /** Re-reads the config file: checked first, then applied at once, or nothing changes (src/reload.ts). */
  reload(): ReloadOutcome;
  publicApp: Elysia<any, any, any, any, any, any, any>;
  adminApp: Elysia<any, any, any, any, any, any, any>;
  delivery: DeliveryEngine | null;
  metrics: RelayMetrics;
  /** Connected `hookrelay listen` clients (listen targets); stop it before the public app. */
  listen: ListenHub;
  /** Aggregated "rejected" log lines; flush it once the public app has stopped. */
  ingestLogs: IngestLogs;
  /** The admin UI's live-update streams; close them before the admin app stops. */
  streams: LiveHub;
  /** Runs bulk actions (jobs/): start it with the delivery engine, stop it before the store closes. */
  jobs: JobRunner;
}

/** How long /readyz waits for its probe's commit before it answers "busy". */
const READY_WAIT_MS = 1_000;

/** What /readyz says when the store cannot take writes. */
const UNWRITABLE: Record<StoreErrorCode, string> = {
  full: "full",
  readonly: "read-only",
  busy: "busy",
  corrupt: "corrupt",
  unavailable: "not writable",
  invalid: "not writable",
  unreachable: "unreachable",
};

/** Builds the apps without listening on anything. */
export function createApp(opts: AppOptions): App {
  const { config, store, log } = opts;
  const nowMs = opts.nowMs ?? Date.now;
  // Compiled once per config: ingest routes by it, the admin side explains it; a reload replaces it whole.
  const live = new LiveConfig(compileRuntimeConfig(config));
  const delivery = opts.delivery ?? null;
  const metrics = opts.metrics ?? createRelayMetrics({ config, store, nowMs });
  // Without an engine (tests of ingest alone) listen clients may connect, and get nothing.
  const listen = delivery?.listen ?? createListenHub({ targets: config.targets, log });
  const logs = ingestLogs(log, nowMs);
  const deps: IngestDeps = {
    writer: store.writer,
    limiter: new RejectionLimiter(),
    logs,
    nowMs,
    isPaused: (t) => delivery?.isPaused(t) ?? false,
    claim: delivery ? (t) => delivery.claim(t) : undefined,
    unclaim: (t) => delivery?.unclaim(t),
    log,
    maxDecodedBytes: config.server.maxBodyBytes,
    onStored: (r) => {
      metrics.received(r.source);
      for (const d of r.leased) delivery?.launchClaimed(d);
      if (r.targets.length > r.leased.length) {
        const leased = new Set(r.leased.map((d) => d.target));
        delivery?.wake(r.targets.filter((t) => !leased.has(t)));
      }
    },
    onRejected: (source, reason) => metrics.rejected(source, reason),
    onRefused: (code) => metrics.refused(code),
    onDuplicate: (source) => metrics.duplicate(source),
  };
  const trustedProxies = () => live.current().trustedProxies;
  const publicApp = new Elysia()
    .onRequest(requireHost(log, "public", ["/healthz"]))
    .onRequest(resolveClientAddress(trustedProxies))
    // Anything that is not a route of ours gets the same JSON error shape.
    .onError(({ code, error, request }) => {
      if (code !== "NOT_FOUND") return errorResponse(error);
      // Methods Elysia's .all() does not route (PROPFIND, …) on a real source are still 405.
      const name = /^\/in\/([^/]+)\/?$/.exec(new URL(request.url).pathname)?.[1];
      if (name !== undefined && live.current().sources.has(decodeURIComponent(name)))
        return errorResponse(new HttpError(405, "method_not_allowed", "webhooks must be sent with POST", { allow: "POST" }));
      return errorResponse(new HttpError(404, "not_found", "no such route; webhooks go to POST /in/<source>"));
    })
    // For load balancers: no auth, nothing read, a few bytes.
    .get("/healthz", () => new Response('{"ok":true}', { headers: { "content-type": "application/json" } }))
    .use(
      ingestController({
        current: () => live.current(),
        deps,
        maxBodyBytes: config.server.maxBodyBytes,
        maxInflightBytes: config.server.maxInflightBytes,
      }),
    )
    // Each listener counts failed tokens on its own: a public-port guesser does not shut admins out.
    .use(listenController({ hub: listen, limiter: new FailedAuthLimiter(nowMs, undefined, shutOutLogger(log, "listen")), log }));
  const streams = new LiveHub({ reads: store.reads, targets: () => live.current().config.targets, listenStatus: (t) => listen.status(t), nowMs, log });
  const jobs = createJobRunner({
    ...opts.jobPacing,
    db: store,
    nowMs,
    log,
    // The config in force at each batch: a reload's targets and routes apply to jobs already running.
    step: (job, limit, now) => {
      const { config: c, sources: s } = live.current();
      const knownTargets = new Set(c.targets.map((t) => t.name));
      return bulkStep({ db: store, knownTargets, routeEvent: (id) => routeStoredEvent(store.reads, s, id, c.server.maxBodyBytes) }, job, limit, now);
    },
    // New deliveries are due now: the engine sends them at each target's concurrency and rate.
    onBatch: () => delivery?.wake(),
  });
  const adminAuth = new AdminAuth({ token: config.admin.token, nowMs, limiter: new FailedAuthLimiter(nowMs, undefined, shutOutLogger(log, "admin")) });
  const warned = new Set(opts.warnings ?? []);
  const reload = () =>
    reloadConfig({
      live,
      read: opts.readConfig ?? (() => ({ ok: false, problems: ["this relay was not started from a config file (hookrelay dev): nothing to reload"] })),
      apply: [
        (c) => delivery?.reconfigure?.(c),
        // The engine's own hub is reconfigured by the engine.
        (c) => listen !== delivery?.listen && listen.setTargets(c.targets),
        (c) => adminAuth.setToken(c.admin.token),
        (c) => metrics.reconfigure(c),
        (c) => log.setLevel?.(c.logLevel),
        () => streams.configChanged(),
        ...(opts.reconfigure ?? []),
      ],
      metrics,
      log,
      warned,
    });
  const adminApp = new Elysia()
    .onRequest(requireHost(log, "admin", ["/healthz", "/readyz"]))
    .onRequest(resolveClientAddress(trustedProxies))
    .get("/healthz", () => ({ ok: true }))
    .get("/readyz", async ({ set }) => {
      // A probe still unanswered after a second waits on a lock (for up to busy_timeout) or a stalled
      // disk: say so now, before a health check's own timeout gives up on us with no reason at all.
      const reason = await Promise.race([store.unwritableReason(), Bun.sleep(READY_WAIT_MS).then(() => "busy" as const)]);
      if (reason === null) return { ok: true, store: "writable" };
      set.status = 503;
      return { ok: false, store: UNWRITABLE[reason] };
    })
    .use(metricsController({ metrics, auth: adminAuth }))
    .use(adminController({ live, store, nowMs, log, engine: delivery, jobs, publicPort: () => publicApp.server?.port ?? null, auth: adminAuth, reload, listenStatus: (t) => listen.status(t), streams }));
  return { live, reload, publicApp, adminApp, delivery, metrics, listen, ingestLogs: logs, streams, jobs };
}

/** The warning when an address is shut out for failed tokens (a guesser, or a client still on an old token). */
function shutOutLogger(log: Logger, door: "admin" | "listen") {
  return (remote: string, failures: number) =>
    log.warn("token attempts refused for a while", { door, remote, failures, hint: "a client still using an old token, or someone guessing" });
}
