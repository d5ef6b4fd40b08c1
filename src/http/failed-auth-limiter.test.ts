import { expect, test } from "bun:test";
import { clientKey, FailedAuthLimiter } from "./failed-auth-limiter.ts";

const POLICY = { freeFailures: 5, baseBackoffMs: 1_000, maxBackoffMs: 30_000, forgetAfterMs: 15 * 60_000, maxAddresses: 100 };

function limiterAt(startMs = 1_000_000, policy = POLICY) {
  const clock = { now: startMs };
  return { clock, limiter: new FailedAuthLimiter(() => clock.now, policy) };
}

test("an address gets five free failures, then a back-off that doubles and is capped well under a minute", () => {
  const { clock, limiter } = limiterAt();
  for (let i = 0; i < 5; i++) {
    expect(limiter.retryAfterSec("1.2.3.4")).toBe(0);
    limiter.recordFailure("1.2.3.4", "admin");
  }
  const waits: number[] = [];
  for (let i = 0; i < 8; i++) {
    const wait = limiter.retryAfterSec("1.2.3.4");
    waits.push(wait);
    // The address may try again exactly when told to, and not a moment before.
    clock.now += wait * 1000 - 1;
    expect(limiter.retryAfterSec("1.2.3.4")).toBeGreaterThan(0);
    clock.now += 1;
    expect(limiter.retryAfterSec("1.2.3.4")).toBe(0);
    limiter.recordFailure("1.2.3.4", "admin");
  }
  expect(waits).toEqual([1, 2, 4, 8, 16, 30, 30, 30]);
  // Other addresses are not affected.
  expect(limiter.retryAfterSec("5.6.7.8")).toBe(0);
});

test("an address that stays quiet is forgotten, and starts again with its free failures", () => {
  const { clock, limiter } = limiterAt();
  for (let i = 0; i < 8; i++) limiter.recordFailure("1.2.3.4", "admin");
  expect(limiter.retryAfterSec("1.2.3.4")).toBe(8);
  clock.now += POLICY.forgetAfterMs;
  expect(limiter.retryAfterSec("1.2.3.4")).toBe(0);
  expect(limiter.size).toBe(0);
  for (let i = 0; i < 5; i++) limiter.recordFailure("1.2.3.4", "admin");
  expect(limiter.retryAfterSec("1.2.3.4")).toBe(1);
});

test("a right token clears its address's failures; while shut out, nothing is cleared (the token is not even checked)", () => {
  const { clock, limiter } = limiterAt();
  for (let i = 0; i < 6; i++) limiter.recordFailure("1.2.3.4", "admin");
  expect(limiter.retryAfterSec("1.2.3.4")).toBe(2);
  clock.now += 2_000;
  limiter.recordSuccess("1.2.3.4", "admin");
  expect(limiter.size).toBe(0);
  // Five free failures again, not the next back-off (4 s).
  for (let i = 0; i < 4; i++) limiter.recordFailure("1.2.3.4", "admin");
  expect(limiter.retryAfterSec("1.2.3.4")).toBe(0);
  limiter.recordFailure("1.2.3.4", "admin");
  expect(limiter.retryAfterSec("1.2.3.4")).toBe(1);
});

test("a right token clears only a streak of tries at that same token: one listen token cannot clear guesses at another", () => {
  const { limiter } = limiterAt();
  for (let i = 0; i < 4; i++) limiter.recordFailure("1.2.3.4", "listen:bob");
  limiter.recordSuccess("1.2.3.4", "listen:alice");
  limiter.recordSuccess("1.2.3.4", "admin");
  limiter.recordFailure("1.2.3.4", "listen:bob");
  expect(limiter.retryAfterSec("1.2.3.4")).toBe(1);
  // A streak mixing two tokens is cleared by neither.
  const mixed = limiterAt().limiter;
  mixed.recordFailure("1.2.3.4", "listen:alice");
  mixed.recordFailure("1.2.3.4", "listen:bob");
  mixed.recordSuccess("1.2.3.4", "listen:alice");
  expect(mixed.size).toBe(1);
  // Typos of one's own token are forgiven by it.
  mixed.recordFailure("5.6.7.8", "listen:alice");
  mixed.recordSuccess("5.6.7.8", "listen:alice");
  expect(mixed.size).toBe(1);
});

test("the table never holds more addresses than its cap, and drops quiet ones first", () => {
  const { clock, limiter } = limiterAt(0, { ...POLICY, maxAddresses: 100 });
  for (let i = 0; i < 1000; i++) limiter.recordFailure(`10.0.${i >> 8}.${i & 255}`, "admin");
  expect(limiter.size).toBe(100);
  // The newest addresses are the ones kept.
  for (let i = 0; i < 4; i++) limiter.recordFailure("10.0.3.231", "admin");
  expect(limiter.retryAfterSec("10.0.3.231")).toBe(1);
  clock.now += POLICY.forgetAfterMs;
  limiter.recordFailure("192.0.2.1", "admin");
  expect(limiter.size).toBe(1);
});

test("IPv6 clients share a bucket per /64, IPv4-mapped clients are keyed by their IPv4 address", () => {
  expect(clientKey("2001:db8:1:2:aaaa::1")).toBe(clientKey("2001:db8:1:2:ffff:ffff:ffff:ffff"));
  expect(clientKey("2001:db8:1:2::1")).not.toBe(clientKey("2001:db8:1:3::1"));
  expect(clientKey("::ffff:127.0.0.1")).toBe("127.0.0.1");
  expect(clientKey("127.0.0.1")).toBe("127.0.0.1");
  expect(clientKey(null)).toBe("unknown");
});

test("an address shut out is told once per streak of failures, not at every further failure", () => {
  const clock = { now: 1_000_000 };
  const told: [string, number][] = [];
  const limiter = new FailedAuthLimiter(() => clock.now, POLICY, (addr, failures) => told.push([addr, failures]));
  for (let i = 0; i < 4; i++) limiter.recordFailure("1.2.3.4", "admin");
  expect(told).toEqual([]);
  for (let i = 0; i < 6; i++) limiter.recordFailure("1.2.3.4", "admin");
  limiter.recordFailure("5.6.7.8", "admin");
  expect(told).toEqual([["1.2.3.4", 5]]);
  // Quiet long enough to be forgotten: a new streak is told again.
  clock.now += POLICY.forgetAfterMs + 1;
  for (let i = 0; i < 5; i++) limiter.recordFailure("1.2.3.4", "admin");
  expect(told).toEqual([["1.2.3.4", 5], ["1.2.3.4", 5]]);
});
