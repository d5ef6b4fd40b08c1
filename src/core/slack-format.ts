/**
 * `format = "slack"` targets (Slack and Mattermost incoming webhooks) take a
 * `{"text": …}` body, not the provider's: every event sent to one becomes a
 * readable line. An alert reads as its kind, subject and message; any other
 * event as its type, source and id (its payload stays in hookrelay, one click
 * away in the UI). The line is what gets signed, so the webhook-* headers
 * still verify against the bytes the target receives.
 */
import { ALERT_SOURCE } from "./alert.ts";

/** The event parts a summary reads. */
export interface SummarySource {
  eventId: string;
  source: string;
  eventType: string | null;
  body: Uint8Array;
}

/** The `{"text": …}` body for an event sent to a slack-format target. */
export function slackBody(e: SummarySource): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(JSON.stringify({ text: slackText(e) }));
}

/** One line: `[hookrelay] target.disabled orders: …`, or `[hookrelay] order.paid from shop (evt_…)`. */
export function slackText(e: SummarySource): string {
  const alert = e.source === ALERT_SOURCE ? parseAlert(e.body) : null;
  if (alert) return `[hookrelay] ${alert.resolved ? "RESOLVED " : ""}${alert.type} ${alert.subject}: ${alert.message}`;
  return `[hookrelay] ${e.eventType ?? "event"} from ${e.source} (${e.eventId})`;
}

function parseAlert(body: Uint8Array): { type: string; subject: string; message: string; resolved: boolean } | null {
  try {
    const a = JSON.parse(new TextDecoder().decode(body)) as Record<string, unknown>;
    if (typeof a.type !== "string" || typeof a.subject !== "string" || typeof a.message !== "string") return null;
    return { type: a.type, subject: a.subject, message: a.message, resolved: a.resolved === true };
  } catch {
    return null;
  }
}
