/**
 * `GET /metrics` on the admin listener, guarded like the admin API and by the
 * same AdminAuth (failed tokens count together): the admin bearer token (what
 * a Prometheus scraper sends via `authorization`), or open on a loopback-only
 * admin listener without a token.
 */
import { Elysia } from "elysia";
import { PROMETHEUS_CONTENT_TYPE } from "../metrics/registry.ts";
import type { RelayMetrics } from "../metrics/relay-metrics.ts";
import { refuseAdminRequest } from "./admin-api.ts";
import type { AdminAuth } from "./auth.ts";
import { requestClientKey } from "./failed-auth-limiter.ts";
import { errorResponse } from "./http-error.ts";
import { API_HEADERS, withHeaders } from "./security-headers.ts";

/** Elysia instance serving /metrics in the Prometheus text format. */
export function metricsController(opts: { metrics: RelayMetrics; auth: AdminAuth }) {
  const { auth } = opts;
  return new Elysia().get("/metrics", async ({ request, server }) => {
    const refused = refuseAdminRequest(auth, request, requestClientKey(server, request));
    if (refused) return withHeaders(errorResponse(refused), API_HEADERS);
    try {
      return new Response(await opts.metrics.render(), { headers: { ...API_HEADERS, "content-type": PROMETHEUS_CONTENT_TYPE } });
    } catch (err) {
      // The store gauges failed (store gone or busy): a 500 the scraper records as `up == 0`, nothing internal.
      return withHeaders(errorResponse(err), API_HEADERS);
    }
  });
}
