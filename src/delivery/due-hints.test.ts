import { expect, test } from "bun:test";
import { DueHints } from "./due-hints.ts";

const asked = (h: DueHints) => {
  const t = h.take();
  return t === "every" ? "every" : [...t].sort();
};

test("the first round asks for every target; then only those that may have due work", () => {
  const h = new DueHints();
  expect(asked(h)).toBe("every");
  expect(asked(h)).toEqual([]);
  h.now("a");
  expect(asked(h)).toEqual(["a"]);
  h.everyTarget();
  expect(asked(h)).toBe("every");
  expect(asked(h)).toEqual(["a"]);
});

test("a lease filled to what was asked keeps the target asked for; one short of it drops it", () => {
  const h = new DueHints();
  h.take();
  h.now("a");
  h.leased("a", 8, 8, h.stamp);
  expect(asked(h)).toEqual(["a"]);
  h.leased("a", 8, 0, h.stamp);
  expect(asked(h)).toEqual([]);
});

test("a target said to have due work while its round was written keeps its hint though that round's lease came back short", () => {
  const h = new DueHints();
  h.take();
  h.now("a");
  h.take();
  const planned = h.stamp; // the round is planned, its lease goes to the store
  h.now("a"); // ingest stores a pending delivery of a meanwhile
  h.leased("a", 8, 0, planned); // the lease, written before it, found nothing
  expect(asked(h)).toEqual(["a"]);
  h.leased("a", 8, 0, h.stamp); // a later round finds nothing either: now it goes
  expect(asked(h)).toEqual([]);
});
