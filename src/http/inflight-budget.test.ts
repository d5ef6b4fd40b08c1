import { expect, test } from "bun:test";
import { inflightBudget } from "./inflight-budget.ts";

test("shares are taken while they fit and refused, untouched, past the cap", () => {
  const budget = inflightBudget(100, 5);
  const a = budget.hold();
  const b = budget.hold();
  expect(a.take(60)).toBe(true);
  expect(b.take(30)).toBe(true);
  expect(b.take(11)).toBe(false);
  expect(budget.usedBytes()).toBe(90);
  expect(b.take(10)).toBe(true);
  expect(budget.usedBytes()).toBe(100);
});

test("releasing a share gives back everything it took, once", () => {
  const budget = inflightBudget(100, 5);
  const a = budget.hold();
  a.take(40);
  a.take(20);
  const b = budget.hold();
  b.take(30);
  a.release();
  a.release();
  expect(budget.usedBytes()).toBe(30);
  expect(budget.hold().take(70)).toBe(true);
});

test("the refusal is a 503 with Retry-After naming server.max_inflight that closes the connection", () => {
  const err = inflightBudget(64, 7).hold().refusal();
  expect(err.status).toBe(503);
  expect(err.code).toBe("server_busy");
  expect(err.headers).toEqual({ "retry-after": "7", connection: "close" });
  expect(err.message).toContain("server.max_inflight (64 bytes)");
});

test("a share that is not a count of bytes (NaN, negative, fractional) is refused and leaves the total as it was", () => {
  const budget = inflightBudget(100, 5);
  const h = budget.hold();
  for (const bad of [Number.NaN, -5, 1.5, Number.POSITIVE_INFINITY]) expect(h.take(bad)).toBe(false);
  expect(budget.usedBytes()).toBe(0);
  expect(h.take(100)).toBe(true);
  expect(budget.hold().take(1)).toBe(false);
});

test("a late share moves to the late bodies' budget, as large again: the providers' budget is free, and past the late one the share goes", () => {
  const budget = inflightBudget(100, 5);
  const a = budget.hold();
  const b = budget.hold();
  expect(a.take(60)).toBe(true);
  expect(b.take(40)).toBe(true);
  expect(a.moveLate()).toBe(true);
  expect(budget.usedBytes()).toBe(40);
  expect(budget.lateBytes()).toBe(60);
  // The providers' budget has room again; a third late share finds no room among the late: refused,
  // and nothing held by it anywhere.
  const c = budget.hold();
  expect(c.take(50)).toBe(true);
  expect(c.moveLate()).toBe(false);
  expect([budget.usedBytes(), budget.lateBytes()]).toEqual([40, 60]);
  a.release();
  b.release();
  expect([budget.usedBytes(), budget.lateBytes()]).toEqual([0, 0]);
});
