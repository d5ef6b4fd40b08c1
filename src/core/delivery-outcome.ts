/**
 * What one attempt's result means for the delivery and the target
 * (SPEC.md "Outbound behaviour"): any 2xx delivers; 410 Gone disables the
 * target; everything else (3xx, other statuses, timeouts, network errors) is a
 * failure retried on the schedule, with Retry-After honoured on 429/503.
 */
import { parseRetryAfter } from "./retry-schedule.ts";

/** The raw result of one HTTP attempt, as the sender reports it. */
export type SendResult =
  | { kind: "response"; status: number; retryAfter: string | null; location: string | null }
  | { kind: "timeout"; phase: "connect" | "total"; afterMs: number }
  | { kind: "network"; message: string }
  /** The target's name resolved to a link-local / metadata address. */
  | { kind: "forbidden-address"; address: string };

/** The classified outcome: a value, never an exception (STYLE.md). */
export type DeliveryOutcome =
  | { kind: "delivered" }
  /** 410: the target says this endpoint is gone for good; disable it, keep the delivery. */
  | { kind: "gone"; error: string }
  | { kind: "retry"; error: string; retryAfterMs: number | null };

/**
 * Classifies one attempt's result.
 *
 * @example classifyDelivery({ kind: "response", status: 503, retryAfter: "30", location: null }, now)
 * // { kind: "retry", error: "HTTP 503", retryAfterMs: 30000 }
 */
export function classifyDelivery(result: SendResult, nowMs: number): DeliveryOutcome {
  switch (result.kind) {
    case "response": {
      const { status } = result;
      if (status >= 200 && status < 300) return { kind: "delivered" };
      if (status === 410) return { kind: "gone", error: "HTTP 410 Gone: target disabled" };
      const honoursRetryAfter = status === 429 || status === 503;
      const retryAfterMs = honoursRetryAfter ? parseRetryAfter(result.retryAfter, nowMs) : null;
      // The Location is shown so the operator can fix the URL; it is never requested.
      const error =
        status >= 300 && status < 400
          ? `HTTP ${status}: redirect not followed${result.location ? ` (Location: ${result.location.slice(0, 200)})` : ""}`
          : `HTTP ${status}`;
      return { kind: "retry", error, retryAfterMs };
    }
    case "timeout":
      return {
        kind: "retry",
        error: result.phase === "connect" ? `connect timeout after ${result.afterMs}ms` : `timeout after ${result.afterMs}ms`,
        retryAfterMs: null,
      };
    case "network":
      return { kind: "retry", error: `network error: ${result.message}`, retryAfterMs: null };
    case "forbidden-address":
      // DNS may change back, so this is retried like any failure, and stays visible.
      return { kind: "retry", error: `refused: target resolved to forbidden address ${result.address}`, retryAfterMs: null };
  }
}
