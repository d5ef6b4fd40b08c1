import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { runCleanups, storeAt, submitEvent, tempDir } from "../../test/delivery/fixtures.ts";
import { cancelStatement, CANCELLABLE } from "./cancel-deliveries.ts";
import { leaseDueDeliveries, type LeaseWant } from "./deliveries.ts";
import { purgeExpired } from "./retention.ts";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(() => runCleanups(cleanups));

const want = (over: Partial<LeaseWant> = {}): LeaseWant => ({ target: "a", slots: 10, concurrency: 10, leaseMs: 60_000, ordered: false, ...over });
const always = { sql: "1 = 1", args: [] };

async function fresh() {
  return storeAt(join(tempDir(cleanups), "s.db"), cleanups, () => 10_000);
}

test("a cancelled delivery is never leased and does not hold up an ordered target's line", async () => {
  const store = await fresh();
  const first = await submitEvent(store, { targets: ["a"], receivedAt: 1000 });
  const second = await submitEvent(store, { targets: ["a"], receivedAt: 2000 });
  const [rs] = await store.writer.write([cancelStatement([first], { statuses: CANCELLABLE, nowMs: 3000, guard: always, reason: "cancelled by a test" })]);
  expect(rs!.rowsAffected).toBe(1);
  const leased = await leaseDueDeliveries(store.writer, { leaseId: "lease_1", nowMs: 5000, wants: [want({ ordered: true })] });
  expect(leased.map((d) => d.eventId)).toEqual([second]);
  expect(await leaseDueDeliveries(store.writer, { leaseId: "lease_2", nowMs: 5000, wants: [want()] })).toEqual([]);
});

test("a cancel takes pending and paused deliveries, and leaves one in flight alone", async () => {
  const store = await fresh();
  const flying = await submitEvent(store, { targets: ["a"], receivedAt: 1000 });
  const paused = await submitEvent(store, { targets: ["b"], receivedAt: 1500, paused: ["b"] });
  const pending = await submitEvent(store, { targets: ["a"], receivedAt: 2000 });
  await leaseDueDeliveries(store.writer, { leaseId: "lease_1", nowMs: 5000, wants: [want({ slots: 1 })] });
  const [rs] = await store.writer.write([cancelStatement([flying, paused, pending], { statuses: CANCELLABLE, nowMs: 6000, guard: always, reason: "cancelled by a test" })]);
  expect(rs!.rowsAffected).toBe(2);
  const statuses = await store.reads.execute("SELECT event_id, status, last_error FROM deliveries ORDER BY event_id");
  expect(statuses.rows.map((r) => [r.event_id, r.status])).toEqual([[flying, "delivering"], [paused, "cancelled"], [pending, "cancelled"]]);
  // Why they ended is kept as their last error (the event page shows it), the one in flight untouched.
  expect(statuses.rows.map((r) => r.last_error)).toEqual([null, "cancelled by a test", "cancelled by a test"]);
});

test("a cancel limited to one status or one target touches only those", async () => {
  const store = await fresh();
  const a = await submitEvent(store, { targets: ["a", "b"], receivedAt: 1000, paused: ["b"] });
  await store.writer.write([cancelStatement([a], { statuses: ["paused"], nowMs: 2000, guard: always, reason: "cancelled by a test" })]);
  await store.writer.write([cancelStatement([a], { target: "x", statuses: CANCELLABLE, nowMs: 2000, guard: always, reason: "cancelled by a test" })]);
  const statuses = await store.reads.execute("SELECT target, status FROM deliveries ORDER BY target");
  expect(statuses.rows.map((r) => [r.target, r.status])).toEqual([["a", "pending"], ["b", "cancelled"]]);
});

test("retention purges an expired event whose deliveries were cancelled: cancelled is not open", async () => {
  const store = await fresh();
  const old = await submitEvent(store, { targets: ["a"], receivedAt: 1000 });
  const kept = await submitEvent(store, { targets: ["a"], receivedAt: 1500 });
  await store.writer.write([cancelStatement([old], { statuses: CANCELLABLE, nowMs: 2000, guard: always, reason: "cancelled by a test" })]);
  const counts = await purgeExpired(store, { nowMs: 100_000, retentionMs: 10_000, pauseMs: 0 });
  expect(counts).toMatchObject({ events: 1, deliveries: 1 });
  const left = await store.reads.execute("SELECT id FROM events");
  expect(left.rows.map((r) => r.id)).toEqual([kept]); // still pending: kept
});
