/**
 * Why an event went where it went: each route's verdict on a stored event
 * (GET /api/events/<id>/routing, the event page), or a route's that is not in
 * the config yet (POST /api/routes/test). The stored request is routed as
 * ingest routed it, through core/routing.ts over ingest/request-view.ts.
 */
import { explainRoutes, type RequestView, type RouteTable, type RouteVerdict } from "../core/routing.ts";
import { storedRequestView } from "../ingest/request-view.ts";
import type { EventDetail } from "../store/admin-queries.ts";

/** The RequestView of a stored event, or null once erased (no body or headers left to route by). */
export function eventRequestView(ev: EventDetail, maxDecodedBytes: number): Promise<RequestView> | null {
  if (ev.body === null || ev.headers === null) return null;
  return storedRequestView({ eventType: ev.eventType, query: ev.query, headers: ev.headers, body: ev.body, contentType: ev.contentType }, maxDecodedBytes);
}

/** Every route of `table` judged on a stored event; null once erased. */
export async function explainEvent(ev: EventDetail, table: RouteTable, maxDecodedBytes: number): Promise<RouteVerdict[] | null> {
  const view = eventRequestView(ev, maxDecodedBytes);
  return view && explainRoutes(table, ev.source, await view);
}
