/**
 * Restart with a large backlog: 100,000 deliveries waiting in the store (as
 * after a long target outage), 1,000 of them still leased by a process that
 * died. The compiled binary must start listening quickly and work the queue
 * within the target's concurrency, not fire everything at once.
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { makeId } from "../../src/core/ids.ts";
import type { RunningBinary } from "../support/binary.ts";
import { openStoreFile, recordingTarget, relayToml, scratchDir, serveBinary } from "../support/fault-harness.ts";
import { waitFor } from "../support/wait.ts";

const BACKLOG = 100_000;
const STALE_LEASES = 1_000;
const CONCURRENCY = 8;

const tmp = scratchDir("hookrelay-backlog-");
const t = recordingTarget(async () => {
  await Bun.sleep(2);
  return new Response("ok");
});
let bin: RunningBinary | null = null;
afterAll(async () => {
  if (bin && bin.proc.exitCode === null) await bin.stop("SIGKILL");
  await t.stop();
  tmp.remove();
});

/** Writes `BACKLOG` events with one delivery each straight into the SQLite file, 1,000 rows per INSERT. */
async function seed(db: string): Promise<void> {
  const store = await openStoreFile(db);
  const client = store.reads;
  const now = Date.now();
  const rnd = () => crypto.getRandomValues(new Uint8Array(10));
  const q = (s: string) => `'${s.replaceAll("'", "''")}'`;
  const headers = q(JSON.stringify([["content-type", "application/json"]]));
  for (let start = 0; start < BACKLOG; start += 10_000) {
    const tx = await client.transaction("write");
    for (let chunk = start; chunk < start + 10_000; chunk += 1_000) {
      const events: string[] = [];
      const deliveries: string[] = [];
      for (let i = chunk; i < chunk + 1_000; i++) {
        const at = now - BACKLOG + i;
        const id = makeId("evt", at, rnd());
        const body = `{"id":"backlog_${i}","type":"points.earned"}`;
        events.push(`(${q(id)}, 'p', 'points.earned', ${q(`backlog_${i}`)}, ${at}, 'POST', '/in/p', '', ${headers}, CAST(${q(body)} AS BLOB), 'application/json', '127.0.0.1')`);
        // The oldest are still leased by a process that died; their lease ran out a minute ago.
        const leased = i < STALE_LEASES;
        deliveries.push(
          `(${q(makeId("dlv", at, rnd()))}, ${q(id)}, 't0', ${leased ? "'delivering'" : "'pending'"}, 0, ${at}, ${leased ? "'lease_dead'" : "NULL"}, ${leased ? now - 60_000 : "NULL"}, ${at}, ${at})`,
        );
      }
      await tx.execute(
        `INSERT INTO events (id, source, event_type, dedupe_key, received_at, method, path, query, headers, body, content_type, remote_addr) VALUES ${events.join(", ")}`,
      );
      await tx.execute(
        `INSERT INTO deliveries (id, event_id, target, status, attempts, next_attempt_at, lease_id, lease_until, created_at, updated_at) VALUES ${deliveries.join(", ")}`,
      );
    }
    await tx.commit();
  }
  await store.close();
}

test("a restart with 100,000 pending deliveries listens within seconds and never exceeds the target's concurrency", async () => {
  const db = join(tmp.dir, "data/relay.db");
  const seedStarted = performance.now();
  await seed(db);
  const seedMs = performance.now() - seedStarted;

  const started = performance.now();
  bin = await serveBinary(tmp.dir, relayToml({ targets: [{ url: t.url, concurrency: CONCURRENCY }] }));
  const startMs = performance.now() - started;
  // Work the queue for a few seconds while the relay is also serving its admin side.
  await waitFor("2,000 deliveries at the target", () => t.hits.length >= 2_000, 20_000, 20);
  const health = await fetch(`${bin.adminUrl}/healthz`);
  expect(health.status).toBe(200);
  const workedMs = performance.now() - started - startMs;
  const stopStarted = performance.now();
  expect(await bin.stop()).toBe(0);
  const stopMs = performance.now() - stopStarted;
  bin = null;

  const store = await openStoreFile(db);
  const rows = await store.reads.execute("SELECT status, count(*) AS n FROM deliveries GROUP BY status ORDER BY status");
  await store.close();
  const counts = Object.fromEntries(rows.rows.map((r) => [String(r.status), Number(r.n)]));
  console.log(
    `backlog restart: seeded ${BACKLOG} in ${Math.round(seedMs)} ms; listening after ${Math.round(startMs)} ms; ` +
      `${t.hits.length} delivered in ${Math.round(workedMs)} ms (peak ${t.peak()} in flight, concurrency ${CONCURRENCY}); stopped in ${Math.round(stopMs)} ms; ` +
      `store: ${JSON.stringify(counts)}`,
  );
  expect(startMs).toBeLessThan(10_000);
  // No thundering herd: never more requests at the target than its concurrency.
  expect(t.peak()).toBeLessThanOrEqual(CONCURRENCY);
  // The dead process's expired leases were taken back, and nothing was lost or left leased.
  expect(counts.delivering).toBeUndefined();
  expect((counts.pending ?? 0) + (counts.delivered ?? 0)).toBe(BACKLOG);
  expect(counts.delivered).toBe(new Set(t.hits.map((h) => h.webhookId)).size);
  expect(stopMs).toBeLessThan(10_000);
}, 60_000);
