/**
 * The headers of one attempt: the provider headers the source forwards, the
 * stored Content-Type and Content-Encoding, and hookrelay's own Standard
 * Webhooks signature.
 * `webhook-id` is the event id: stable across retries, replays and targets,
 * so a target can dedupe on it; the timestamp and signature are fresh per attempt.
 */
import { contentEncodingHeader, selectForwardHeaders } from "../core/forward-headers.ts";
import { headerText } from "../core/header-text.ts";
import { signStandardWebhook } from "../core/outbound-signing.ts";
import type { LeasedDelivery } from "../store/deliveries.ts";

export const USER_AGENT = "hookrelay/0.1";

/** Builds the request headers for attempt `attempt` of a leased delivery (its body must be present). */
export function buildOutboundHeaders(
  d: LeasedDelivery & { body: Uint8Array<ArrayBuffer> },
  opts: { attempt: number; nowMs: number; keys: Uint8Array[]; forwardHeaders: readonly string[] },
): [string, string][] {
  const timestampSec = Math.floor(opts.nowMs / 1000);
  const headers: [string, string][] = selectForwardHeaders(d.headers ?? [], opts.forwardHeaders);
  if (d.contentType !== null) headers.push(["content-type", d.contentType]);
  const encoding = contentEncodingHeader(d.headers ?? []);
  if (encoding) headers.push(encoding);
  headers.push(["user-agent", USER_AGENT]);
  headers.push(["webhook-id", d.eventId]);
  headers.push(["webhook-timestamp", String(timestampSec)]);
  if (opts.keys.length > 0) headers.push(["webhook-signature", signStandardWebhook(d.eventId, timestampSec, d.body, opts.keys)]);
  headers.push(["hookrelay-source", d.source]);
  // The provider's text: percent-encoded when a header cannot carry it as it is (header-text.ts).
  if (d.eventType !== null) headers.push(["hookrelay-event-type", headerText(d.eventType)]);
  headers.push(["hookrelay-attempt", String(opts.attempt)]);
  // webhook-id is the event's, the same at a redelivery: a consumer that wants a redelivery
  // processed again tells it apart by the delivery, which is new at a redelivery.
  headers.push(["hookrelay-delivery", d.id]);
  return headers;
}
