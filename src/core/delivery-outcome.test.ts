import { expect, test } from "bun:test";
import { classifyDelivery, type SendResult } from "./delivery-outcome.ts";

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
});

test("410 Gone disables the target", () => {
  expect(classifyDelivery(response(410), 0).kind).toBe("gone");
});

test("Retry-After is read on 429 and 503 only", () => {
  expect(classifyDelivery(response(429, "7"), 0)).toEqual({ kind: "retry", error: "HTTP 429", retryAfterMs: 7_000 });
  expect(classifyDelivery(response(503, "7"), 0)).toEqual({ kind: "retry", error: "HTTP 503", retryAfterMs: 7_000 });
  expect(classifyDelivery(response(500, "7"), 0)).toEqual({ kind: "retry", error: "HTTP 500", retryAfterMs: null });
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
