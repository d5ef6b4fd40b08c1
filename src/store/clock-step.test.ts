import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { runCleanups, storeAt, submitEvent, tempDir } from "../../test/delivery/fixtures.ts";
import { rebaseAfterClockStep } from "./clock-step.ts";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(() => runCleanups(cleanups));

const HOUR = 3_600_000;

test("due times written before a backward step move back by the step, once, however many processes notice it", async () => {
  const store = await storeAt(join(tempDir(cleanups), "s.db"), cleanups);
  const client = store.reads;
  const t0 = 10 * HOUR;
  await submitEvent(store, { targets: ["a", "b", "c"], receivedAt: t0 });
  // a: a retry scheduled a minute ahead at t0; b: written after the step; c: already due.
  await client.execute({ sql: "UPDATE deliveries SET next_attempt_at = ?, updated_at = ? WHERE target = 'a'", args: [t0 + 60_000, t0] });
  await client.execute({ sql: "UPDATE deliveries SET next_attempt_at = ?, updated_at = ? WHERE target = 'b'", args: [t0 - 2 * HOUR + 31_000, t0 - 2 * HOUR + 1_000] });
  await client.execute({ sql: "UPDATE deliveries SET next_attempt_at = ?, updated_at = ? WHERE target = 'c'", args: [t0, t0] });
  await client.execute({ sql: "INSERT INTO target_state (name, circuit_open_until, updated_at) VALUES ('a', ?, ?)", args: [t0 + 10_000, t0] });
  const now = t0 - 2 * HOUR + 5_000; // 2 h back, noticed 5 s later
  const due = async () => Object.fromEntries((await client.execute("SELECT target, next_attempt_at FROM deliveries")).rows.map((r) => [r.target, Number(r.next_attempt_at)]));
  expect(await rebaseAfterClockStep(store.writer, { nowMs: now, stepMs: 2 * HOUR })).toEqual({ deliveries: 2, circuits: 1 });
  expect(await due()).toEqual({ a: t0 + 60_000 - 2 * HOUR, b: t0 - 2 * HOUR + 31_000, c: now });
  const circuit = await client.execute("SELECT circuit_open_until FROM target_state WHERE name = 'a'");
  expect(Number(circuit.rows[0]!.circuit_open_until)).toBe(t0 + 10_000 - 2 * HOUR);
  // A second process noticing the same step moves nothing again.
  expect(await rebaseAfterClockStep(store.writer, { nowMs: now + 100, stepMs: 2 * HOUR - 100 })).toEqual({ deliveries: 0, circuits: 0 });
});

test("with the step's size unknown, a due time is never further ahead than the delay it was scheduled with", async () => {
  const store = await storeAt(join(tempDir(cleanups), "s.db"), cleanups);
  const client = store.reads;
  const t0 = 10 * HOUR;
  await submitEvent(store, { targets: ["a"], receivedAt: t0 });
  await client.execute({ sql: "UPDATE deliveries SET next_attempt_at = ?, updated_at = ?", args: [t0 + 60_000, t0] });
  const now = t0 - HOUR;
  expect(await rebaseAfterClockStep(store.writer, { nowMs: now, stepMs: 0 })).toEqual({ deliveries: 1, circuits: 0 });
  const rs = await client.execute("SELECT next_attempt_at, updated_at FROM deliveries");
  expect(rs.rows.map((r) => [Number(r.next_attempt_at), Number(r.updated_at)])).toEqual([[now + 60_000, now]]);
});
