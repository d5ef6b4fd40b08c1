import { expect, test } from "bun:test";
import { freeSlots, planLeases, sendingLimit, type TargetView } from "./lease-planner.ts";

const view = (name: string, over: Partial<TargetView> = {}): TargetView => ({
  name,
  concurrency: 8,
  ordered: false,
  leaseMs: 15_000,
  aheadWaitMs: 0,
  inFlight: 0,
  ahead: 0,
  tokens: Number.POSITIVE_INFINITY,
  gate: { open: true, probeOnly: false },
  reachable: true,
  ...over,
});

test("a target may start its concurrency less what is in flight", () => {
  expect(freeSlots(view("t", { inFlight: 3 }))).toBe(5);
  expect(freeSlots(view("t", { inFlight: 8 }))).toBe(0);
});

test("rate tokens and the shared budget bound the slots", () => {
  expect(freeSlots(view("t", { tokens: 2 }))).toBe(2);
  expect(freeSlots(view("t"), 3)).toBe(3);
});

test("an ordered target or a half-open circuit takes one at a time", () => {
  expect(freeSlots(view("t", { ordered: true }))).toBe(1);
  expect(freeSlots(view("t", { ordered: true, inFlight: 1 }))).toBe(0);
  expect(freeSlots(view("t", { gate: { open: true, probeOnly: true } }))).toBe(1);
});

test("what may be sending at once: the concurrency at full health, one while ordered or probing, none past a closed gate", () => {
  const sendingLimitOf = (v: TargetView) => sendingLimit(v, v.gate);
  expect(sendingLimitOf(view("t"))).toBe(8);
  expect(sendingLimitOf(view("t", { ordered: true }))).toBe(1);
  expect(sendingLimitOf(view("t", { gate: { open: true, probeOnly: true } }))).toBe(1);
  expect(sendingLimitOf(view("t", { gate: { open: false } }))).toBe(0);
  // In flight and tokens bound what a round leases, not what may send: leased deliveries wait for a slot.
  expect(sendingLimitOf(view("t", { inFlight: 8, tokens: 0 }))).toBe(8);
});

test("a closed gate or an unreachable target gets nothing", () => {
  expect(freeSlots(view("t", { gate: { open: false } }))).toBe(0);
  expect(freeSlots(view("t", { reachable: false }))).toBe(0);
});

test("a round asks for every target with free slots, with the store-wide concurrency it must respect", () => {
  const wants = planLeases([view("a", { inFlight: 6 }), view("b", { gate: { open: false } }), view("c", { gate: { open: true, probeOnly: true } })], Infinity);
  expect(wants).toEqual([
    { target: "a", slots: 2, concurrency: 8, ordered: false, leaseMs: 15_000, ahead: 0 },
    { target: "c", slots: 1, concurrency: 1, ordered: false, leaseMs: 15_000, ahead: 0 },
  ]);
});

test("a shared budget is spent in order from the rotating first target", () => {
  const targets = [view("a"), view("b"), view("c")];
  expect(planLeases(targets, 10, 0).map((w) => [w.target, w.slots])).toEqual([["a", 8], ["b", 2]]);
  expect(planLeases(targets, 10, 2).map((w) => [w.target, w.slots])).toEqual([["c", 8], ["a", 2]]);
  expect(planLeases(targets, 0, 0)).toEqual([]);
});

test("a healthy, unlimited target leases ahead of its free slots; the store is told how far", () => {
  const [want] = planLeases([view("a", { inFlight: 10, ahead: 8 })], Infinity);
  expect(want).toEqual({ target: "a", slots: 6, concurrency: 8, ordered: false, leaseMs: 15_000, ahead: 8 });
  // Holding its concurrency and its lease ahead, it asks for nothing.
  expect(planLeases([view("a", { inFlight: 16, ahead: 8 })], Infinity)).toEqual([]);
});

test("no lease ahead when probing, rate-limited, ordered, or under an ingest-first cap", () => {
  const ask = (over: Partial<TargetView>, budget = Infinity) => planLeases([view("a", { ahead: 8, ...over })], budget).map((w) => [w.slots, w.ahead]);
  expect(ask({ gate: { open: true, probeOnly: true } })).toEqual([[1, 0]]);
  expect(ask({ tokens: 20 })).toEqual([[8, 0]]);
  expect(ask({ ordered: true })).toEqual([[1, 0]]);
  expect(ask({}, 12)).toEqual([[8, 0]]);
  expect(ask({ inFlight: 8 }, 12)).toEqual([]);
});

test("a want that leases ahead gets the longer lease (its deliveries may wait for a slot); one that does not keeps the target's", () => {
  const leaseOf = (over: Partial<TargetView>) => planLeases([view("a", { ahead: 8, aheadWaitMs: 20_000, ...over })], Infinity)[0]!.leaseMs;
  expect(leaseOf({})).toBe(35_000);
  expect(leaseOf({ ordered: true })).toBe(15_000);
  expect(leaseOf({ tokens: 20 })).toBe(15_000);
  expect(leaseOf({ gate: { open: true, probeOnly: true } })).toBe(15_000);
});
