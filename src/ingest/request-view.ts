/**
 * The RequestView of a STORED event, so that replay, redeliver and the routing
 * explanation route it as ingest did: the stored event type, headers and
 * query, and the body read by the same field reader, its Content-Encoding
 * undone first (at most `maxDecodedBytes`, as at ingest).
 */
import { makeFieldReader } from "../core/extract.ts";
import { requestView, type RequestView } from "../core/routing.ts";
import { getStoredEvent, type StoredEvent } from "../store/redeliver.ts";
import type { SqlReader } from "../store/sql-client.ts";
import { decodeBody } from "./decode-body.ts";
import { routedTargets, type CompiledSource } from "./sources.ts";

/** The view routing reads of a stored event. */
export async function storedRequestView(ev: Omit<StoredEvent, "source">, maxDecodedBytes: number): Promise<RequestView> {
  const headers = new Headers(ev.headers);
  const query = new URLSearchParams(ev.query);
  const decoded = await decodeBody(ev.body, headers.get("content-encoding"), maxDecodedBytes);
  // An undecodable body has no fields, as at ingest.
  const fields = decoded.ok ? makeFieldReader({ headers, query, body: decoded.body, contentType: ev.contentType }) : () => undefined;
  return requestView({ eventType: ev.eventType, fields, headers: ev.headers, query });
}

/**
 * The targets today's routes give stored event `id` — its source's routes and
 * filters over its stored request, as ingest would route it now; [] when it is
 * unknown, erased, or from a source no longer configured.
 */
export async function routeStoredEvent(reads: SqlReader, sources: ReadonlyMap<string, CompiledSource>, id: string, maxDecodedBytes: number): Promise<string[]> {
  const ev = await getStoredEvent(reads, id);
  const source = ev && sources.get(ev.source);
  return ev && source ? routedTargets(source, await storedRequestView(ev, maxDecodedBytes)) : [];
}
