/**
 * `hookrelay replay`: schedules new deliveries for stored events. The CLI
 * parses its flags and prints the count; the running scheduler (or the next
 * `serve`) sends them, since they are plain pending rows in the store.
 */
import type { Config } from "../config/types.ts";
import { compileRoutes, routeTargets } from "../core/routing.ts";
import { storedRequestView } from "../ingest/request-view.ts";
import type { Store } from "../store/index.ts";
import { scheduleReplay, type ReplayStatus } from "../store/redeliver.ts";

/** The replay filters; each one narrows the selection. */
export interface ReplayOptions {
  source?: string;
  target?: string;
  /** Only events received at or after this time (ms since epoch). */
  sinceMs?: number;
  /** Only (event, target) pairs whose latest delivery has this status, e.g. "failed"; "unrouted": those with none yet. */
  status?: ReplayStatus;
  /** Count, create nothing. */
  dryRun: boolean;
  /** Defaults to the wall clock. */
  nowMs?: number;
}

/**
 * Creates a new delivery for each matching (event, target) pair — the
 * targets the event already had, plus those the current routes send it to —
 * for targets that exist in config, skipping erased events and pairs with a
 * delivery still open. Returns how many were (with dryRun: would be) created.
 *
 * @example await replay(store, config, { target: "orders", status: "failed", dryRun: true }) // 12
 */
export async function replay(
  store: Store,
  config: Pick<Config, "routes" | "targets"> & { server: Pick<Config["server"], "maxBodyBytes"> },
  opts: ReplayOptions,
): Promise<number> {
  const routes = compileRoutes(config.routes);
  return scheduleReplay(store, {
    source: opts.source,
    target: opts.target,
    sinceMs: opts.sinceMs,
    status: opts.status,
    dryRun: opts.dryRun,
    nowMs: opts.nowMs ?? Date.now(),
    // Routed as ingest routed it: event type and payload filters over the stored request.
    routeTargets: async (ev) => routeTargets(routes, ev.source, await storedRequestView(ev, config.server.maxBodyBytes)),
    knownTargets: new Set(config.targets.map((t) => t.name)),
  });
}
