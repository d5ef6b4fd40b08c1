/**
 * The jobs table's state machine at the store level (the runner and the bulk
 * actions are tested in src/jobs and test/jobs): a batch's statement and the
 * job's progress commit together, counted, and only under the job's fence.
 */
import { expect, test } from "bun:test";
import { tempStores } from "../../test/support/temp-store.ts";
import { submitEvent } from "../../test/delivery/fixtures.ts";
import { cancelStatement, CANCELLABLE } from "./cancel-deliveries.ts";
import { claimJob, commitBatch, createJob, finishJob, getJob, jobFence, stopJob } from "./jobs.ts";
import { redeliverPairsStatement } from "./redeliver.ts";

const open = tempStores("hookrelay-jobs-");

test("a batch's changed rows are counted into the job with its cursor, and a stopped job's batch changes nothing", async () => {
  const store = await open();
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) ids.push(await submitEvent(store, { targets: ["a", "b"], receivedAt: 1000 + i }));
  const created = await createJob(store.writer, { kind: "cancel", params: { filter: {} }, total: 4, nowMs: 5000 });
  const job = (await claimJob(store, { leaseId: "lease_1", leaseMs: 60_000, nowMs: 5000 }))!;
  expect(job.id).toBe(created.id);

  const cancel = (eventIds: string[]) => cancelStatement(eventIds, { target: "a", statuses: CANCELLABLE, nowMs: 5000, guard: jobFence(job), reason: "cancelled by a test" });
  expect(await commitBatch(store.writer, job, { stmt: cancel(ids.slice(0, 3)), examined: 3, cursor: ids[2]! }, { leaseMs: 60_000, nowMs: 5000 })).toBe(3);
  // A batch with nothing to change still moves the cursor.
  expect(await commitBatch(store.writer, job, { stmt: null, examined: 0, cursor: null }, { leaseMs: 60_000, nowMs: 5000 })).toBe(0);
  expect(await getJob(store.reads, job.id)).toMatchObject({ status: "running", done: 3, affected: 3, cursor: ids[2]! });

  await stopJob(store, job.id, 6000);
  expect(await commitBatch(store.writer, job, { stmt: cancel(ids.slice(3)), examined: 1, cursor: ids[3]! }, { leaseMs: 60_000, nowMs: 6000 })).toBeNull();
  expect(await getJob(store.reads, job.id)).toMatchObject({ status: "cancelled", done: 3, affected: 3 });
  const rs = await store.reads.execute("SELECT target, status, count(*) AS n FROM deliveries GROUP BY target, status ORDER BY target, status");
  expect(rs.rows.map((r) => [r.target, r.status, Number(r.n)])).toEqual([["a", "cancelled", 3], ["a", "pending", 1], ["b", "pending", 4]]);
});

test("a redeliver batch counts the deliveries it made, skipping pairs still open, and finishing makes done meet total", async () => {
  const store = await open();
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push(await submitEvent(store, { targets: ["a"], receivedAt: 1000 + i }));
  await store.reads.execute({ sql: "UPDATE deliveries SET status = 'delivered' WHERE event_id <> ?", args: [ids[0]!] });
  await createJob(store.writer, { kind: "redeliver", params: { filter: {} }, total: 5, nowMs: 5000 });
  const job = (await claimJob(store, { leaseId: "lease_1", leaseMs: 60_000, nowMs: 5000 }))!;
  const stmt = redeliverPairsStatement(ids.map((eventId) => ({ eventId, target: "a" })), 5000, jobFence(job));
  // The first event's delivery is still pending: it is on its way already. The third is purged
  // (retention) after the batch read it: no delivery is made for an event that is gone.
  await store.writer.write([
    { sql: "DELETE FROM deliveries WHERE event_id = ?", args: [ids[2]!] },
    { sql: "DELETE FROM events WHERE id = ?", args: [ids[2]!] },
  ]);
  expect(await commitBatch(store.writer, job, { stmt, examined: 3, cursor: ids[2]! }, { leaseMs: 60_000, nowMs: 5000 })).toBe(1);
  await finishJob(store.writer, job, 5000);
  expect(await getJob(store.reads, job.id)).toMatchObject({ status: "done", total: 5, done: 5, affected: 1, finishedAt: 5000 });
  expect(Number((await store.reads.execute({ sql: "SELECT count(*) AS n FROM deliveries WHERE event_id = ?", args: [ids[2]!] })).rows[0]!.n)).toBe(0);
});

test("a job made now walks oldest first; a row an older build left (migration 0018's default) walks newest first", async () => {
  const store = await open();
  const made = await createJob(store.writer, { kind: "cancel", params: { filter: {} }, total: 1, nowMs: 5000 });
  expect(made.oldestFirst).toBe(true);
  // As a job row stood before the migration added the column: its default.
  await store.reads.execute({
    sql: "INSERT INTO jobs (id, kind, status, params, total, cursor, created_at, updated_at) VALUES ('job_OLD', 'cancel', 'running', '{\"filter\":{}}', 5, 'evt_X', 1, 1)",
  });
  expect(await getJob(store.reads, "job_OLD")).toMatchObject({ oldestFirst: false, cursor: "evt_X" });
  expect(await getJob(store.reads, made.id)).toMatchObject({ oldestFirst: true });
});
