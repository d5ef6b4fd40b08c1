import { expect, test } from "bun:test";
import { reconnectDelayMs } from "./reconnect-backoff.ts";

const policy = { baseMs: 500, maxMs: 30_000 };

test("the delay doubles with each failure and stays within half to all of it", () => {
  expect(reconnectDelayMs(1, 0, policy)).toBe(250);
  expect(reconnectDelayMs(1, 0.999999, policy)).toBe(500);
  expect(reconnectDelayMs(2, 0, policy)).toBe(500);
  expect(reconnectDelayMs(3, 0.5, policy)).toBe(1500);
});

test("the delay is capped however many failures there were", () => {
  expect(reconnectDelayMs(50, 0.999999, policy)).toBe(30_000);
  expect(reconnectDelayMs(10_000, 0, policy)).toBe(15_000);
});
