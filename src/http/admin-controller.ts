/**
 * Everything served on admin_listen besides health: the JSON API and the UI,
 * sharing one AdminAuth (sessions, failed-token limiter) and one AdminActions.
 */
import { Elysia } from "elysia";
import type { ReloadOutcome } from "../config/config-diff.ts";
import type { LiveConfig } from "../ingest/runtime-config.ts";
import type { ListenStatus } from "../delivery/listen-hub.ts";
import type { Store } from "../store/index.ts";
import { createAdminActions, type EngineHooks } from "./admin-actions.ts";
import type { Logger } from "../log/logger.ts";
import { adminApiController } from "./admin-api.ts";
import type { AdminAuth } from "./auth.ts";
import { LiveHub } from "./live-stream.ts";
import { uiController } from "./ui-controller.ts";
import { silentLogger } from "../log/logger.ts";

/** What the admin side needs from app.ts. */
export interface AdminOptions {
  /** The runtime config in force: every handler reads it when it runs, so a reload shows at once. */
  live: LiveConfig;
  store: Store;
  nowMs: () => number;
  engine?: EngineHooks | null;
  /** The bulk-job runner, woken when a job is created. */
  jobs?: { wake(): void } | null;
  /** Where operators' actions are logged (erase, redeliver, retry, bulk actions, test events). */
  log?: Logger;
  /** The public listener's bound port once listening, for endpoint URLs. */
  publicPort?: () => number | null;
  /** Sessions and failed-token counts, shared with /metrics. */
  auth: AdminAuth;
  /** Re-reads the config file (POST /api/reload). */
  reload: () => ReloadOutcome;
  /** A listen target's client in this process; without it none is connected. */
  listenStatus?: (target: string) => ListenStatus;
  /** Live-update streams; one is made when absent (app.ts passes its own, to end them at stop). */
  streams?: LiveHub;
}

const NO_CLIENT = (): ListenStatus => ({ connected: false, sinceMs: null, remoteAddr: null });

/** The admin API and UI as one Elysia plugin. */
export function adminController(o: AdminOptions) {
  const auth = o.auth;
  // Getters: `config`, `routes` and `sources` are the ones in force whenever a handler reads them.
  const actions = createAdminActions({
    store: o.store,
    get config() {
      return o.live.current().config;
    },
    get sources() {
      return o.live.current().sources;
    },
    nowMs: o.nowMs,
    engine: o.engine,
    jobs: o.jobs,
    log: o.log,
  });
  const opts = {
    store: o.store,
    get config() {
      return o.live.current().config;
    },
    get routes() {
      return o.live.current().routes;
    },
    actions,
    auth,
    nowMs: o.nowMs,
    publicPort: o.publicPort ?? (() => null),
    reload: o.reload,
    listenStatus: o.listenStatus ?? NO_CLIENT,
    streams:
      o.streams ??
      new LiveHub({ reads: o.store.reads, targets: () => o.live.current().config.targets, listenStatus: o.listenStatus, nowMs: o.nowMs, log: silentLogger }),
  };
  return new Elysia().use(adminApiController(opts)).use(uiController(opts));
}
