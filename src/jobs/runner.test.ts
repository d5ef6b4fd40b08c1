import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { runCleanups, storeAt, tempDir } from "../../test/delivery/fixtures.ts";
import { seedEvents } from "../../test/support/admin-fixture.ts";
import { createLogger, silentLogger } from "../log/logger.ts";
import { claimJob, commitBatch, getJob } from "../store/jobs.ts";
import type { Store } from "../store/index.ts";
import { bulkStep, startBulkAction } from "./bulk-actions.ts";
import { createJobRunner, type JobPacing } from "./runner.ts";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(() => runCleanups(cleanups));

const START = Date.UTC(2025, 0, 1);
const EVENTS = 300;

/** A runner over `store` as a relay process builds it (every fixture target known, no routing needed). */
function runnerOn(store: Store, pacing: JobPacing = {}, onBatch?: (done: number, affected: number) => void) {
  const runner = createJobRunner({
    batchEvents: 10,
    pauseMs: 0,
    pollMs: 60_000,
    ...pacing,
    db: store,
    nowMs: Date.now,
    log: silentLogger,
    step: (job, limit, now) => bulkStep({ db: store, knownTargets: new Set(["orders", "audit"]), routeEvent: async () => [] }, job, limit, now),
    onBatch: (job, affected) => onBatch?.(job.done, affected),
  });
  cleanups.unshift(() => runner.stop());
  return runner;
}

/** A store file with seeded events, a second connection to it (another process), and a redeliver job to audit. */
async function setUp() {
  const file = join(tempDir(cleanups), "jobs.db");
  const a = await storeAt(file, cleanups, Date.now);
  const b = await storeAt(file, cleanups, Date.now);
  await seedEvents(a, EVENTS, START);
  const { job } = await startBulkAction(a, { kind: "redeliver", filter: {}, target: "audit", dryRun: false }, Date.now());
  return { a, b, jobId: job!.id };
}

/** Each event's count of deliveries to audit made by the job (created after the seed). */
async function madeByJob(store: Store): Promise<number[]> {
  const rs = await store.reads.execute({ sql: "SELECT count(*) AS n FROM deliveries WHERE target = 'audit' AND created_at > ? GROUP BY event_id", args: [START + EVENTS * 1000] });
  return rs.rows.map((r) => Number(r.n));
}

test("a job stopped midway resumes from its cursor in the next process and makes each delivery once", async () => {
  const { a, b, jobId } = await setUp();
  let stopping: Promise<void> | null = null;
  const first = runnerOn(a, {}, (done) => {
    if (done >= 50 && !stopping) stopping = first.stop();
  });
  await first.drain();
  await stopping;
  const midway = await getJob(a.reads, jobId);
  expect(midway).toMatchObject({ status: "running", done: 50, affected: 50 });
  expect((await a.reads.execute({ sql: "SELECT lease_id FROM jobs WHERE id = ?", args: [jobId] })).rows[0]!.lease_id).toBeNull();

  await runnerOn(b).drain();
  expect(await getJob(b.reads, jobId)).toMatchObject({ status: "done", total: EVENTS, done: EVENTS, affected: EVENTS, finishedAt: expect.any(Number) });
  const made = await madeByJob(b);
  expect(made).toHaveLength(EVENTS);
  expect(new Set(made)).toEqual(new Set([1]));
});

test("two processes sharing the store never run one job at once: its progress counts every event once", async () => {
  const { a, b, jobId } = await setUp();
  const batches: number[] = [];
  await Promise.all([runnerOn(a, {}, (_d, n) => batches.push(n)).drain(), runnerOn(b, {}, (_d, n) => batches.push(n)).drain()]);
  expect(await getJob(a.reads, jobId)).toMatchObject({ status: "done", total: EVENTS, done: EVENTS, affected: EVENTS });
  expect(batches.reduce((x, y) => x + y, 0)).toBe(EVENTS);
  expect(await madeByJob(a)).toEqual(Array(EVENTS).fill(1));
});

test("a dead process's job is taken over once its lease runs out, and the dead one can commit nothing more", async () => {
  const { a, b, jobId } = await setUp();
  const dead = await claimJob(a, { leaseId: "lease_dead", leaseMs: 200, nowMs: Date.now() });
  expect(dead!.id).toBe(jobId);
  const survivor = runnerOn(b);
  await survivor.drain(); // the lease still holds: nothing to claim
  expect((await getJob(b.reads, jobId))!.done).toBe(0);
  const deadline = Date.now() + 5000;
  while ((await getJob(b.reads, jobId))!.status === "running" && Date.now() < deadline) {
    await Bun.sleep(50);
    await survivor.drain();
  }
  expect(await getJob(b.reads, jobId)).toMatchObject({ status: "done", done: EVENTS });
  // The dead process wakes up and tries its batch: fenced off, nothing changes.
  const late = await bulkStep({ db: a, knownTargets: new Set(["audit"]), routeEvent: async () => [] }, dead!, 10, Date.now());
  expect(await commitBatch(a.writer, dead!, late, { leaseMs: 1000, nowMs: Date.now() })).toBeNull();
  expect(await madeByJob(a)).toEqual(Array(EVENTS).fill(1));
});

test("a redeliver job whose target a reload removed fails at once, saying so, and makes nothing", async () => {
  const { a, jobId } = await setUp();
  const runner = createJobRunner({
    batchEvents: 10,
    pauseMs: 0,
    pollMs: 60_000,
    db: a,
    nowMs: Date.now,
    log: silentLogger,
    step: (job, limit, now) => bulkStep({ db: a, knownTargets: new Set(["orders"]), routeEvent: async () => [] }, job, limit, now),
  });
  cleanups.unshift(() => runner.stop());
  await runner.drain();
  const job = await getJob(a.reads, jobId);
  expect(job).toMatchObject({ status: "failed", done: 0, affected: 0 });
  expect(job!.error).toBe('target "audit" is no longer configured (a reload removed it)');
  expect(await madeByJob(a)).toEqual([]);
});

test("a job whose events stopped matching meanwhile ends, in its log line as in the store, with every matched event worked through", async () => {
  const file = join(tempDir(cleanups), "jobs.db");
  const store = await storeAt(file, cleanups, Date.now);
  await seedEvents(store, 40, START);
  const { job } = await startBulkAction(store, { kind: "cancel", filter: { source: "shop" }, dryRun: false }, Date.now());
  // Some of them leave the filter before the job reaches them.
  await store.reads.execute("DELETE FROM events WHERE id IN (SELECT id FROM events WHERE source = 'shop' ORDER BY id LIMIT 5)");
  const lines: Record<string, unknown>[] = [];
  const runner = createJobRunner({
    batchEvents: 10, pauseMs: 0, pollMs: 60_000, db: store, nowMs: Date.now,
    log: createLogger("info", (l) => lines.push(JSON.parse(l))),
    step: (j, limit, now) => bulkStep({ db: store, knownTargets: new Set(["orders", "audit"]), routeEvent: async () => [] }, j, limit, now),
  });
  cleanups.unshift(() => runner.stop());
  await runner.drain();
  const stored = (await getJob(store.reads, job!.id))!;
  expect(stored).toMatchObject({ status: "done", done: job!.total, total: job!.total });
  expect(lines.find((l) => l.msg === "job done")).toMatchObject({ job: job!.id, events: job!.total });
});
