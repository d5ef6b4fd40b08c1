/**
 * What one attempt's result means for the delivery and the target
 * (SPEC.md "Outbound behaviour"): any 2xx delivers; 410 Gone disables the
 * target; everything else (3xx, other statuses, timeouts, network errors) is a
 * failure retried on the schedule, with Retry-After honoured on 429/503.
 * `classifyDelivery` reads the result; `decideOutcome` turns it into the
 * delivery's next state with the target's retry policy.
 */
import { nextAttemptAt, parseRetryAfter } from "./retry-schedule.ts";
import type { RetryPolicy } from "./types.ts";

/** The raw result of one HTTP attempt, as the sender reports it. */
export type SendResult =
  // `note`: what the relay knows beside the status (an OAuth2 token fetched anew was refused too).
  | { kind: "response"; status: number; retryAfter: string | null; location: string | null; note?: string }
  | { kind: "timeout"; phase: "connect" | "total"; afterMs: number }
  | { kind: "network"; message: string }
  /** The target's name resolved to a link-local / metadata address. */
  | { kind: "forbidden-address"; address: string }
  /** A `listen` client answered: its local request failed (status null: no response at all; the message says what happened). */
  | { kind: "client-failed"; status: number | null; message: string }
  /** The target's credentials could not be had (an OAuth2 token endpoint failed): the message says why, never a secret. */
  | { kind: "auth-failed"; message: string }
  /** Nothing reached the target, and nothing says it failed (a `listen` client went away): try again at once, uncounted. */
  | { kind: "not-sent"; reason: string }
  /** There was nothing to send: the event was erased. */
  | { kind: "erased" };

/** The classified outcome: a value, never an exception (STYLE.md). */
export type DeliveryOutcome =
  | { kind: "delivered" }
  /** 410: the target says this endpoint is gone for good; disable it, keep the delivery. */
  | { kind: "gone"; error: string }
  | { kind: "retry"; error: string; retryAfterMs: number | null }
  /** No attempt took place: the delivery goes back to the queue as it was. */
  | { kind: "release"; error: string }
  /** No attempt can ever take place. */
  | { kind: "give-up"; error: string };

/**
 * Classifies one attempt's result.
 *
 * @example classifyDelivery({ kind: "response", status: 503, retryAfter: "30", location: null }, now)
 * // { kind: "retry", error: "HTTP 503 (Retry-After: 30)", retryAfterMs: 30000 }
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
      // A Retry-After that was honoured is named: it is why the next attempt is later than the schedule says.
      // Only a 3xx with somewhere to go is a redirect (a 304 or a bare 300 is just not a success).
      const error =
        status >= 300 && status < 400 && result.location
          ? `HTTP ${status}: redirect not followed (Location: ${result.location.slice(0, 200)})`
          : `HTTP ${status}${result.note ? ` (${result.note})` : ""}${retryAfterMs !== null ? ` (Retry-After: ${result.retryAfter!.slice(0, 40)})` : ""}`;
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
    case "client-failed":
      // The developer's local service failing says nothing about the endpoint: no 410 or Retry-After rules.
      return { kind: "retry", error: result.message, retryAfterMs: null };
    case "auth-failed":
      // The request was never sent, but the target cannot be reached without it: retried on the schedule like any failure.
      return { kind: "retry", error: result.message, retryAfterMs: null };
    case "not-sent":
      return { kind: "release", error: result.reason };
    case "erased":
      return { kind: "give-up", error: "event erased" };
  }
}

/** What an attempt's result does to its delivery, and what it says of the target's health. */
export interface Decision {
  /**
   * The delivery's next status. `paused`: the target is gone (410) and is
   * being disabled; the delivery flows again when it is re-enabled.
   * `cancelled`: its event was erased, there is nothing left to send.
   */
  status: "delivered" | "pending" | "failed" | "paused" | "cancelled";
  /** For `pending` and `paused`: when it is due (ms). */
  nextAttemptAt: number | null;
  error: string | null;
  /** success/failure count towards the circuit and disable_after; gone disables the target; null: no verdict. */
  health: "success" | "failure" | "gone" | null;
  /** False when no request was made: no attempt row, and the attempt number is not used up. */
  counted: boolean;
}

/**
 * Decides attempt number `attempt`'s consequences: delivered, retried on the
 * schedule (Retry-After within its bounds), failed once the schedule is used
 * up, paused by a 410, handed back untouched when nothing was sent, or
 * cancelled when the event was erased.
 *
 * @example decideOutcome({ kind: "response", status: 500, retryAfter: null, location: null }, { scheduleMs: [0, 5000], jitter: 0 }, 1, 1000, 0.5)
 * // { status: "pending", nextAttemptAt: 6000, error: "HTTP 500", health: "failure", counted: true }
 */
export function decideOutcome(result: SendResult, policy: RetryPolicy, attempt: number, nowMs: number, random: number): Decision {
  const outcome = classifyDelivery(result, nowMs);
  switch (outcome.kind) {
    case "delivered":
      return { status: "delivered", nextAttemptAt: null, error: null, health: "success", counted: true };
    case "gone":
      return { status: "paused", nextAttemptAt: nowMs, error: outcome.error, health: "gone", counted: true };
    case "retry": {
      const next = nextAttemptAt(policy, attempt, nowMs, random, outcome.retryAfterMs);
      return { status: next === null ? "failed" : "pending", nextAttemptAt: next, error: outcome.error, health: "failure", counted: true };
    }
    case "release":
      return { status: "pending", nextAttemptAt: nowMs, error: outcome.error, health: null, counted: false };
    case "give-up":
      return { status: "cancelled", nextAttemptAt: null, error: outcome.error, health: null, counted: false };
  }
}
