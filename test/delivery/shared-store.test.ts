/**
 * Several workers on one store — an SQLite file, or one PostgreSQL database
 * (each its own openStore connection, as two `hookrelay serve` processes would have) share the delivery work through
 * leases: each delivery made, none attempted by two workers at once, and a
 * crashed worker's lease is picked up once it expires on the database clock.
 */
import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { createScheduler } from "../../src/delivery/scheduler.ts";
import { leaseDueDeliveries, recordOutcomes } from "../../src/store/deliveries.ts";
import { fakeClock, recordingTarget, runCleanups, storeAt, storeUrlFor, submitEvent, targetConfig, tempDir } from "./fixtures.ts";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(() => runCleanups(cleanups));

test("two worker processes on one store deliver a batch once each, never the same event at the same time", async () => {
  const file = join(tempDir(cleanups), "shared.db");
  const store = await storeAt(file, cleanups, Date.now);
  const target = recordingTarget(cleanups, () => ({ status: 200, delayMs: 2 }));
  const ids: string[] = [];
  for (let i = 0; i < 200; i++) ids.push(await submitEvent(store, { targets: ["t"], receivedAt: Date.now() }));
  const storeUrl = await storeUrlFor(file, cleanups);
  const workers = [0, 1].map(() =>
    Bun.spawn([process.execPath, join(import.meta.dir, "worker-process.ts"), storeUrl, target.url, "8"], { stdout: "pipe", stderr: "inherit" }),
  );
  const outputs = await Promise.all(workers.map(async (w) => JSON.parse(await new Response(w.stdout).text()) as { attempts: number }));
  expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0]);

  const got = target.received.map((r) => r.headers.get("webhook-id"));
  expect(new Set(got)).toEqual(new Set(ids));
  expect(got).toHaveLength(ids.length);
  expect(outputs[0]!.attempts + outputs[1]!.attempts).toBe(ids.length);
  // Sweep the [arrival, reply] intervals the target saw: concurrency is one
  // limit across both processes, because live leases in the store count.
  const edges = target.received.flatMap((r) => [[r.at, 1], [r.doneAt, -1]] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let maxOpen = 0;
  for (const [, d] of edges) maxOpen = Math.max(maxOpen, (open += d));
  expect(maxOpen).toBeLessThanOrEqual(8);
  const rows = await store.reads.execute("SELECT status, attempts, count(*) AS n FROM deliveries GROUP BY status, attempts");
  expect(rows.rows.map((r) => [r.status, r.attempts, r.n])).toEqual([["delivered", 1, ids.length]]);
  console.log(`worker attempts: ${outputs.map((o) => o.attempts).join(" + ")}`);
}, 30_000);

test("a crashed worker's lease is picked up by another worker once it expires", async () => {
  const clock = fakeClock();
  const file = join(tempDir(cleanups), "crash.db");
  const crashed = await storeAt(file, cleanups, clock);
  const survivor = await storeAt(file, cleanups, clock);
  const target = recordingTarget(cleanups);
  const scheduler = createScheduler({ store: survivor, targets: [targetConfig("t", target.url)], clock, random: () => 0.5, pollMs: 60_000 });
  cleanups.unshift(() => scheduler.stop(100));
  const id = await submitEvent(crashed, { targets: ["t"], receivedAt: clock() });
  // The crashed worker leased it (and perhaps sent it), then died without recording anything.
  const [lost] = await leaseDueDeliveries(crashed.writer, {
    leaseId: "lease_crashed",
    nowMs: clock(),
    wants: [{ target: "t", slots: 1, concurrency: 4, leaseMs: 60_000, ordered: false }],
  });
  expect(lost!.eventId).toBe(id);
  await scheduler.drain();
  expect(target.received).toHaveLength(0);
  // Time passes on the database clock: the lease ran out. (Rewinding lease_until stands in for a minute of waiting.)
  await survivor.reads.execute("UPDATE deliveries SET lease_until = lease_until - 61000");
  await scheduler.drain();
  expect(target.received.map((r) => r.headers.get("webhook-id"))).toEqual([id]);
  // The crashed worker's attempt counts: this one is the second.
  expect(target.received[0]!.headers.get("hookrelay-attempt")).toBe("2");
  // The crashed worker coming back cannot overwrite the survivor's result.
  const late = await recordOutcomes(crashed.writer, [{
    deliveryId: lost!.id, leaseId: "lease_crashed", eventId: id, target: "t", attempt: null,
    status: "pending", nextAttemptAt: clock(), error: "late", healthy: null,
  }], clock());
  expect(late.updated.size).toBe(0);
  const row = await survivor.reads.execute("SELECT status, attempts FROM deliveries");
  expect(row.rows[0]).toMatchObject({ status: "delivered", attempts: 2 });
});

test("stopping a scheduler releases the leases of attempts that did not finish", async () => {
  const clock = fakeClock();
  const file = join(tempDir(cleanups), "stop.db");
  const store = await storeAt(file, cleanups, clock);
  const target = recordingTarget(cleanups, () => "hang");
  const scheduler = createScheduler({ store, targets: [targetConfig("t", target.url, { timeoutMs: 10_000 })], clock, random: () => 0.5, pollMs: 60_000 });
  await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  expect(await scheduler.tick()).toBe(1);
  await target.until(1);
  await scheduler.stop(50);
  const row = await store.reads.execute("SELECT status, lease_id, attempts FROM deliveries");
  expect(row.rows[0]).toMatchObject({ status: "pending", lease_id: null, attempts: 0 });
});
