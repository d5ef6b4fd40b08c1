import { expect, test } from "bun:test";
import { idTimeMs, makeId, monotonicIds } from "./ids.ts";

test("ids carry their prefix and creation time", () => {
  const id = makeId("evt", 1_764_000_000_123, new Uint8Array(10).fill(7));
  expect(id).toMatch(/^evt_[0-9A-Z]{26}$/);
  expect(idTimeMs(id)).toBe(1_764_000_000_123);
});

test("ids sort by creation time", () => {
  const r = new Uint8Array(10).fill(255);
  const a = makeId("evt", 1_000, r);
  const b = makeId("evt", 1_001, new Uint8Array(10));
  expect(a < b).toBe(true);
});

test("ids made within one millisecond sort in the order they were made, and a new millisecond starts afresh", () => {
  let draws = 0;
  // Random parts drawn high, so that order by chance would be unlikely to pass.
  const ids = monotonicIds("evt", () => (draws++, new Uint8Array(10).fill(0xf0 - draws)));
  const sameMs = Array.from({ length: 300 }, () => ids(5_000));
  expect([...sameMs].sort()).toEqual(sameMs);
  expect(new Set(sameMs).size).toBe(300);
  expect(sameMs.every((id) => idTimeMs(id) === 5_000)).toBe(true);
  expect(draws).toBe(1);
  // The increment carries: a random part ending in 0xff becomes …01 00.
  const carry = monotonicIds("evt", () => Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff]));
  expect(carry(7)).toBe(makeId("evt", 7, Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff])));
  expect(carry(7)).toBe(makeId("evt", 7, Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 1, 0])));
  // The next millisecond draws again; so does a clock stepped back.
  const next = ids(5_001);
  expect(draws).toBe(2);
  expect(next > sameMs.at(-1)!).toBe(true);
  ids(4_000);
  expect(draws).toBe(3);
});
