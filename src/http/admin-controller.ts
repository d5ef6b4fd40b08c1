/**
 * Everything served on admin_listen besides health: the JSON API and the UI,
 * sharing one AdminAuth (sessions, failed-token limiter) and one AdminActions.
 */
import { Elysia } from "elysia";
import type { Config } from "../config/types.ts";
import type { RouteTable } from "../core/routing.ts";
import type { CompiledSource } from "../ingest/sources.ts";
import type { Store } from "../store/index.ts";
import { createAdminActions, type EngineHooks } from "./admin-actions.ts";
import { adminApiController } from "./admin-api.ts";
import type { AdminAuth } from "./auth.ts";
import { uiController } from "./ui-controller.ts";

/** What the admin side needs from app.ts. */
export interface AdminOptions {
  config: Config;
  store: Store;
  sources: Map<string, CompiledSource>;
  /** The configured routes, compiled (the routing explanation). */
  routes: RouteTable;
  nowMs: () => number;
  engine?: EngineHooks | null;
  /** The bulk-job runner, woken when a job is created. */
  jobs?: { wake(): void } | null;
  /** The public listener's bound port once listening, for endpoint URLs. */
  publicPort?: () => number | null;
  /** Sessions and failed-token counts, shared with /metrics. */
  auth: AdminAuth;
}

/** The admin API and UI as one Elysia plugin. */
export function adminController(o: AdminOptions) {
  const auth = o.auth;
  const actions = createAdminActions({ store: o.store, config: o.config, sources: o.sources, nowMs: o.nowMs, engine: o.engine, jobs: o.jobs });
  const opts = { store: o.store, config: o.config, routes: o.routes, actions, auth, nowMs: o.nowMs, publicPort: o.publicPort ?? (() => null) };
  return new Elysia().use(adminApiController(opts)).use(uiController(opts));
}
