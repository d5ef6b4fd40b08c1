import { expect, test } from "bun:test";
import { classifyDelivery, decideOutcome, type SendResult } from "./delivery-outcome.ts";

const response = (status: number, retryAfter: string | null = null, location: string | null = null): SendResult => ({
  kind: "response",
  status,
  retryAfter,
  location,
});

test("every 2xx status is delivered", () => {
  for (const status of [200, 201, 202, 204, 299]) expect(classifyDelivery(response(status), 0).kind).toBe("delivered");
});

test("a redirect is a failure that names the Location but does not follow it", () => {
  const outcome = classifyDelivery(response(302, null, "http://elsewhere/"), 0);
  expect(outcome).toEqual({ kind: "retry", error: "HTTP 302: redirect not followed (Location: http://elsewhere/)", retryAfterMs: null });
  // A 3xx with nowhere to go is not called a redirect.
  expect(classifyDelivery(response(304), 0)).toEqual({ kind: "retry", error: "HTTP 304", retryAfterMs: null });
});

test("410 Gone disables the target", () => {
  expect(classifyDelivery(response(410), 0).kind).toBe("gone");
});

test("Retry-After is read on 429 and 503 only", () => {
  // Named in the error when honoured (why the next attempt is later than the schedule); not when ignored or unreadable.
  expect(classifyDelivery(response(429, "7"), 0)).toEqual({ kind: "retry", error: "HTTP 429 (Retry-After: 7)", retryAfterMs: 7_000 });
  expect(classifyDelivery(response(503, "7"), 0)).toEqual({ kind: "retry", error: "HTTP 503 (Retry-After: 7)", retryAfterMs: 7_000 });
  expect(classifyDelivery(response(500, "7"), 0)).toEqual({ kind: "retry", error: "HTTP 500", retryAfterMs: null });
  expect(classifyDelivery(response(503, "soon"), 0)).toEqual({ kind: "retry", error: "HTTP 503", retryAfterMs: null });
});

test("client errors, timeouts, network errors and forbidden addresses are retried", () => {
  expect(classifyDelivery(response(400), 0).kind).toBe("retry");
  expect(classifyDelivery({ kind: "timeout", phase: "total", afterMs: 100 }, 0)).toEqual({
    kind: "retry",
    error: "timeout after 100ms",
    retryAfterMs: null,
  });
  expect(classifyDelivery({ kind: "network", message: "ECONNREFUSED" }, 0).kind).toBe("retry");
  expect(classifyDelivery({ kind: "forbidden-address", address: "169.254.169.254" }, 0).kind).toBe("retry");
});

const policy = { scheduleMs: [0, 5_000, 60_000], jitter: 0 };

test("credentials that could not be had fail the attempt: retried on the schedule, with the reason as the error", () => {
  const decision = decideOutcome({ kind: "auth-failed", message: "oauth2: token endpoint answered HTTP 503" }, { scheduleMs: [0, 5000], jitter: 0 }, 1, 1000, 0.5);
  expect(decision).toEqual({ status: "pending", nextAttemptAt: 6000, error: "oauth2: token endpoint answered HTTP 503", health: "failure", counted: true });
});

test("a 2xx decides delivered and counts as a success for the target", () => {
  expect(decideOutcome(response(204), policy, 1, 1_000, 0.5)).toEqual({
    status: "delivered", nextAttemptAt: null, error: null, health: "success", counted: true,
  });
});

test("a failure is due again after the schedule's next delay, and failed once the schedule is used up", () => {
  expect(decideOutcome(response(500), policy, 1, 1_000, 0.5)).toMatchObject({ status: "pending", nextAttemptAt: 6_000, error: "HTTP 500", health: "failure" });
  expect(decideOutcome(response(500), policy, 2, 1_000, 0.5)).toMatchObject({ status: "pending", nextAttemptAt: 61_000 });
  expect(decideOutcome(response(500), policy, 3, 1_000, 0.5)).toMatchObject({ status: "failed", nextAttemptAt: null, health: "failure", counted: true });
});

test("Retry-After replaces the scheduled delay, kept within the schedule's bounds", () => {
  expect(decideOutcome(response(503, "30"), policy, 1, 0, 0.5).nextAttemptAt).toBe(30_000);
  expect(decideOutcome(response(429, "86400"), policy, 1, 0, 0.5).nextAttemptAt).toBe(60_000);
});

test("jitter moves the next time within ±jitter of the delay, by the random number passed in", () => {
  const jittery = { scheduleMs: [0, 10_000], jitter: 0.2 };
  expect(decideOutcome(response(500), jittery, 1, 0, 0).nextAttemptAt).toBe(8_000);
  expect(decideOutcome(response(500), jittery, 1, 0, 0.999999).nextAttemptAt).toBe(12_000);
});

test("410 pauses the delivery, due now, and tells the engine the target is gone", () => {
  expect(decideOutcome(response(410), policy, 1, 7, 0.5)).toEqual({
    status: "paused", nextAttemptAt: 7, error: "HTTP 410 Gone: target disabled", health: "gone", counted: true,
  });
});

test("a listen client's local failure is retried without 410 or Retry-After rules", () => {
  expect(decideOutcome({ kind: "client-failed", status: 410, message: "HTTP 410" }, policy, 1, 0, 0.5)).toMatchObject({
    status: "pending", nextAttemptAt: 5_000, error: "HTTP 410", health: "failure",
  });
  expect(decideOutcome({ kind: "client-failed", status: null, message: "connection refused" }, policy, 1, 0, 0.5).error).toBe("connection refused");
});

test("nothing sent hands the delivery back due now, uncounted and without a health verdict", () => {
  expect(decideOutcome({ kind: "not-sent", reason: "client disconnected" }, policy, 3, 42, 0.5)).toEqual({
    status: "pending", nextAttemptAt: 42, error: "client disconnected", health: null, counted: false,
  });
});

test("an erased event's delivery is cancelled at once, without an attempt", () => {
  expect(decideOutcome({ kind: "erased" }, policy, 1, 0, 0.5)).toEqual({
    status: "cancelled", nextAttemptAt: null, error: "event erased", health: null, counted: false,
  });
});
