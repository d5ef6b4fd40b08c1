import { expect, test } from "bun:test";
import { idTimeMs, makeId } from "./ids.ts";

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
