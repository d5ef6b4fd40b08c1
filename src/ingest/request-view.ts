/**
 * The RequestView of a STORED event, so that replay, redeliver and the routing
 * explanation route it as ingest did: the stored event type, headers and
 * query, and the body read by the same field reader, its Content-Encoding
 * undone first (at most `maxDecodedBytes`, as at ingest).
 */
import { makeFieldReader } from "../core/extract.ts";
import { requestView, type RequestView } from "../core/routing.ts";
import type { StoredEvent } from "../store/redeliver.ts";
import { decodeBody } from "./decode-body.ts";

/** The view routing reads of a stored event. */
export async function storedRequestView(ev: Omit<StoredEvent, "source">, maxDecodedBytes: number): Promise<RequestView> {
  const headers = new Headers(ev.headers);
  const query = new URLSearchParams(ev.query);
  const decoded = await decodeBody(ev.body, headers.get("content-encoding"), maxDecodedBytes);
  // An undecodable body has no fields, as at ingest.
  const fields = decoded.ok ? makeFieldReader({ headers, query, body: decoded.body, contentType: ev.contentType }) : () => undefined;
  return requestView({ eventType: ev.eventType, fields, headers: ev.headers, query });
}
