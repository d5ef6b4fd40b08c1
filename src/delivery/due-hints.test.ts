import { expect, test } from "bun:test";
import { DueHints } from "./due-hints.ts";

const asked = (h: DueHints, now: number) => {
  const t = h.take(now);
  return t === "every" ? "every" : [...t].sort();
};

test("the first round asks for every target; then only those that may have due work", () => {
  const h = new DueHints();
  expect(asked(h, 0)).toBe("every");
  expect(asked(h, 0)).toEqual([]);
  h.now("a");
  expect(asked(h, 0)).toEqual(["a"]);
  h.everyTarget();
  expect(asked(h, 0)).toBe("every");
  expect(asked(h, 0)).toEqual(["a"]);
});

test("a retry's target is asked for from its time on, in time order whatever order they came in", () => {
  const h = new DueHints();
  h.take(0);
  for (const [t, at] of [["c", 300], ["a", 100], ["b", 200], ["a", 400]] as const) h.later(t, at);
  expect(asked(h, 99)).toEqual([]);
  expect(asked(h, 100)).toEqual(["a"]);
  expect(asked(h, 250)).toEqual(["a", "b"]);
  // a's lease came back short: none of it is due now; its later retry brings it back.
  h.leased("a", 4, 1, h.stamp);
  expect(asked(h, 300)).toEqual(["b", "c"]);
  expect(asked(h, 400)).toEqual(["a", "b", "c"]);
});

test("the retries remembered are bounded: past the bound the poll finds them", () => {
  const h = new DueHints();
  h.take(0);
  for (let i = 0; i < 20_000; i++) h.later(`t${i}`, 100);
  const due = h.take(100);
  expect(due === "every" ? -1 : due.size).toBe(10_000);
});

test("a lease filled to what was asked keeps the target asked for; one short of it drops it", () => {
  const h = new DueHints();
  h.take(0);
  h.now("a");
  h.leased("a", 8, 8, h.stamp);
  expect(asked(h, 0)).toEqual(["a"]);
  h.leased("a", 8, 0, h.stamp);
  expect(asked(h, 0)).toEqual([]);
});

test("a target said to have due work while its round was written keeps its hint though that round's lease came back short", () => {
  const h = new DueHints();
  h.take(0);
  h.now("a");
  h.take(0);
  const planned = h.stamp; // the round is planned, its lease goes to the store
  h.now("a"); // ingest stores a pending delivery of a meanwhile
  h.leased("a", 8, 0, planned); // the lease, written before it, found nothing
  expect(asked(h, 0)).toEqual(["a"]);
  h.leased("a", 8, 0, h.stamp); // a later round finds nothing either: now it goes
  expect(asked(h, 0)).toEqual([]);
});
