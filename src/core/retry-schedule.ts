/**
 * When the next attempt of a delivery is due. The schedule is plain data
 * (RetryPolicy.scheduleMs: the delay before each attempt, the first one
 * included); jitter spreads retries of a burst so a recovering target is not
 * hit by all of them in the same second. Clock and randomness come in.
 */
import type { RetryPolicy } from "./types.ts";

/**
 * Time of attempt `attemptsMade + 1`, or null when the schedule is exhausted.
 * `random` is a number in [0, 1); `retryAfterMs` (from a 429/503) is the
 * earliest the target will take it: the later of that and the scheduled delay,
 * clamped within the schedule's bounds. Never sooner than the schedule: a
 * target answering "Retry-After: 1" would otherwise use up every attempt of a
 * day-long schedule within a minute.
 *
 * @example nextAttemptAt({ scheduleMs: [0, 5000], jitter: 0 }, 1, 1000, 0.5) // 6000
 */
export function nextAttemptAt(
  policy: RetryPolicy,
  attemptsMade: number,
  nowMs: number,
  random: number,
  retryAfterMs: number | null = null,
): number | null {
  if (isLastAttempt(policy, attemptsMade)) return null;
  const scheduled = policy.scheduleMs[attemptsMade]!;
  const factor = 1 + policy.jitter * (2 * random - 1);
  const delay = Math.max(0, Math.round(scheduled * factor));
  return nowMs + (retryAfterMs === null ? delay : Math.max(delay, clampRetryAfter(policy, retryAfterMs)));
}

/** True when attempt number `attempt` is the schedule's last: a failure of it ends the delivery. */
export function isLastAttempt(policy: RetryPolicy, attempt: number): boolean {
  return policy.scheduleMs[attempt] === undefined;
}

/**
 * Keeps a target's Retry-After between the schedule's smallest non-zero delay
 * (so "Retry-After: 0" cannot turn retries into a tight loop) and its largest
 * delay (so a target cannot park a delivery for a year).
 */
export function clampRetryAfter(policy: RetryPolicy, retryAfterMs: number): number {
  const nonZero = policy.scheduleMs.filter((d) => d > 0);
  const low = nonZero.length > 0 ? Math.min(...nonZero) : 0;
  const high = Math.max(low, ...policy.scheduleMs);
  return Math.min(high, Math.max(low, retryAfterMs));
}

/**
 * Parses a Retry-After header (delay-seconds or an HTTP date) into a delay in
 * ms from `nowMs`; null when absent or malformed. A date in the past is 0.
 *
 * @example parseRetryAfter("120", 0) // 120000
 */
export function parseRetryAfter(value: string | null, nowMs: number): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Only full HTTP dates: Date.parse alone accepts "1" or "2024" as dates.
  if (!/[a-z]{3},? .*\d{2}:\d{2}:\d{2}/i.test(text)) return null;
  // An HTTP date is GMT in each of its three forms, though asctime's ("Sun Nov  6 08:49:37 1994")
  // does not say so: Date.parse reads a date without a zone in the process's own.
  const at = Date.parse(/\d{4}$/.test(text) ? `${text} GMT` : text);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}
