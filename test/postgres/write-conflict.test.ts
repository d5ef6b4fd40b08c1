/**
 * Two relays on one PostgreSQL database store the same provider retry at once:
 * their commits lock the same rows, and PostgreSQL may break a deadlock by
 * rolling one back. The relay runs that commit again instead of answering
 * 503 for it. Here a second connection plays the other relay and makes the
 * deadlock happen for certain: it holds the source's counters row, the
 * relay's commit takes the original event's row and waits for the counters,
 * then the other connection asks for the event's row.
 */
import { afterEach, expect, test } from "bun:test";
import { SQL } from "bun";
import { openStore, type IngestItem, type Store } from "../../src/store/index.ts";
import { readOverview, updateOverview } from "../../src/store/overview.ts";
import { makeId } from "../../src/core/ids.ts";
import { leaseDueDeliveries, recordOutcomes, type OutcomeRecord } from "../../src/store/deliveries.ts";
import { writeIndexBatch } from "../../src/store/search-index.ts";
import { tempDir } from "../support/relay.ts";
import { freshStoreUrl, onPostgres } from "../support/test-store.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function item(id: string, dedupeKey: string): IngestItem {
  return {
    id, source: "s", eventType: "x", dedupeKey, dedupeWindowMs: 60_000, receivedAt: Date.now(),
    method: "POST", path: "/in/s", query: "", headers: [["content-type", "application/json"]],
    body: new TextEncoder().encode("{}"), contentType: "application/json", remoteAddr: "127.0.0.1", deliveries: [],
  };
}

/** A store on a fresh database of the test cluster (its URL for a second connection), dropped after the test. */
async function freshStore(): Promise<{ fresh: { url: string }; store: Store }> {
  const tmp = tempDir();
  cleanups.push(() => tmp.remove());
  const fresh = await freshStoreUrl(tmp.dir);
  cleanups.push(() => fresh.drop());
  const store: Store = await openStore({ url: fresh.url, busyTimeoutMs: 10_000, nowMs: Date.now, checkpointEveryMs: 0 });
  cleanups.push(() => store.close());
  return { fresh, store };
}

test.skipIf(!onPostgres)("a commit PostgreSQL rolls back to break a deadlock with another writer is run again, not answered 503", async () => {
  const { fresh, store } = await freshStore();
  const first = await store.writer.submit(item("evt_a0000000000000000000000000", "same"));
  expect(first.kind).toBe("stored");

  const other = new SQL(fresh.url);
  cleanups.push(() => other.close());
  const tx = await other.reserve();
  cleanups.push(() => tx.release());
  await tx.unsafe("BEGIN");
  await tx.unsafe("UPDATE source_counters SET received = received WHERE source = 's'");
  // The retry: its commit updates the original's duplicate count, then waits for the counters row.
  const retry = store.writer.submit(item("evt_b0000000000000000000000000", "same"));
  await Bun.sleep(300);
  // The other writer now wants the original's row: a deadlock, which PostgreSQL breaks after
  // deadlock_timeout by rolling back the transaction that waited first (the relay's).
  await tx.unsafe("UPDATE events SET duplicates = duplicates WHERE id = 'evt_a0000000000000000000000000'");
  await tx.unsafe("COMMIT");
  expect(await retry).toEqual({ kind: "duplicate", id: "evt_a0000000000000000000000000" });
  const [row] = await store.reads.execute("SELECT duplicates FROM events WHERE id = 'evt_a0000000000000000000000000'").then((r) => r.rows);
  expect(Number(row!.duplicates)).toBe(1);
}, 20_000);

test.skipIf(!onPostgres)("two relays summing the overview's closed buckets at once both succeed (the same figures, either row stands)", async () => {
  const tmp = tempDir();
  cleanups.push(() => tmp.remove());
  const fresh = await freshStoreUrl(tmp.dir);
  cleanups.push(() => fresh.drop());
  const open = async () => {
    const s = await openStore({ url: fresh.url, busyTimeoutMs: 10_000, nowMs: Date.now, checkpointEveryMs: 0 });
    cleanups.push(() => s.close());
    return s;
  };
  const [a, b] = [await open(), await open()];
  const now = Date.now();
  // Ids begin with their time, and the buckets are read by id: one an hour ago.
  await a.writer.submit({ ...item(makeId("evt", now - 3_600_000, new Uint8Array(10)), "c"), receivedAt: now - 3_600_000 });
  const results = await Promise.allSettled([updateOverview(a, now, []), updateOverview(b, now, [])]);
  expect(results.map((r) => (r.status === "rejected" ? String(r.reason) : "ok"))).toEqual(["ok", "ok"]);
  const read = await readOverview(a.reads, now, []);
  expect(read.received.reduce((x, y) => x + y, 0)).toBe(1);
}, 20_000);

test.skipIf(!onPostgres)("a delivery round PostgreSQL rolls back to break a deadlock on target health is written again: its outcomes are kept, not sent twice", async () => {
  const { leaseDueDeliveries, recordOutcomes } = await import("../../src/store/deliveries.ts");
  const { fresh, store } = await freshStore();
  const id = "evt_c0000000000000000000000000";
  const deliveries = ["a", "b"].map((target) => ({ id: makeId("dlv", Date.now(), crypto.getRandomValues(new Uint8Array(10))), target, status: "pending" as const }));
  await store.writer.submit({ ...item(id, "k"), deliveries });
  const leased = await leaseDueDeliveries(store.writer, { leaseId: "lease_x", nowMs: Date.now() + 1000, wants: ["a", "b"].map((target) => ({ target, slots: 5, concurrency: 5, leaseMs: 60_000, ordered: false })) });
  expect(leased).toHaveLength(2);

  const other = new SQL(fresh.url);
  cleanups.push(() => other.close());
  await other.unsafe("INSERT INTO target_state (name, disabled, updated_at) VALUES ('a', 0, 0), ('b', 0, 0)");
  const tx = await other.reserve();
  cleanups.push(() => tx.release());
  await tx.unsafe("BEGIN");
  // The other relay's round holds b's health row; this one takes a's (name order), then waits for b's.
  await tx.unsafe("UPDATE target_state SET consecutive_failures = consecutive_failures WHERE name = 'b'");
  const failed = (d: (typeof leased)[number]) => ({
    deliveryId: d.id, leaseId: d.leaseId, eventId: d.eventId, target: d.target, status: "pending" as const, nextAttemptAt: Date.now() + 60_000, error: "HTTP 500", healthy: false,
    attempt: { id: makeId("att", Date.now(), crypto.getRandomValues(new Uint8Array(10))), at: Date.now(), statusCode: 500, durationMs: 3, error: "HTTP 500", responseExcerpt: null, request: null },
  });
  const round = recordOutcomes(store.writer, leased.map(failed), Date.now());
  await Bun.sleep(300);
  // Now the other relay wants a's row: a deadlock, which PostgreSQL breaks by rolling one back.
  await tx.unsafe("UPDATE target_state SET consecutive_failures = consecutive_failures WHERE name = 'a'").catch(() => {});
  await tx.unsafe("COMMIT").catch(() => {});
  const written = await round;
  expect([...written.updated].sort()).toEqual(leased.map((d) => d.id).sort());
  const rows = (await store.reads.execute("SELECT status, attempts, lease_id FROM deliveries ORDER BY target")).rows.map((r) => ({ status: r.status, attempts: Number(r.attempts), lease_id: r.lease_id }));
  expect(rows).toEqual([{ status: "pending", attempts: 1, lease_id: null }, { status: "pending", attempts: 1, lease_id: null }]);
  expect(Number((await store.reads.execute("SELECT count(*) AS n FROM attempts")).rows[0]!.n)).toBe(2);
}, 20_000);

test.skipIf(!onPostgres)("a relay's success upsert and its search index batch wait for no row another relay holds: neither can close a deadlock", async () => {
  const { fresh, store } = await freshStore();
  const id = "evt_c0000000000000000000000000";
  await store.writer.submit({ ...item(id, "k"), deliveries: [{ id: "dlv_c0000000000000000000000000", target: "t", status: "pending" }] });
  await store.writer.write([{ sql: "INSERT INTO target_state (name, consecutive_failures, updated_at) VALUES ('t', 0, 1)" }]);
  // The other relay holds the event's row (indexing it, or storing a duplicate) and the target's row (its own round).
  const other = new SQL(fresh.url);
  cleanups.push(() => other.close());
  const tx = await other.reserve();
  cleanups.push(() => tx.release());
  await tx.unsafe("BEGIN");
  await tx.unsafe(`SELECT 1 FROM events WHERE id = '${id}' FOR UPDATE`);
  await tx.unsafe("SELECT 1 FROM target_state WHERE name = 't' FOR UPDATE");
  try {
    const [leased] = await leaseDueDeliveries(store.writer, { leaseId: "l", nowMs: Date.now(), wants: [{ target: "t", slots: 1, concurrency: 1, leaseMs: 60_000, ordered: false }] });
    const success: OutcomeRecord = {
      deliveryId: leased!.id, leaseId: "l", eventId: id, target: "t", status: "delivered", nextAttemptAt: null, error: null, healthy: true,
      attempt: { id: "att_c0000000000000000000000000", at: Date.now(), statusCode: 200, durationMs: 1, error: null, responseExcerpt: null, request: null },
    };
    const started = performance.now();
    // A target healthy already: nothing to write, so no lock to wait for.
    const recorded = await recordOutcomes(store.writer, [success], Date.now());
    expect(recorded.updated.has(leased!.id)).toBe(true);
    // The locked event is skipped (indexed by a later batch), not waited for.
    expect(await writeIndexBatch(store.writer, { events: [], more: false, watermark: null }, [{ id, text: "hello" }])).toBe(false);
    expect(performance.now() - started).toBeLessThan(500);
  } finally {
    await tx.unsafe("ROLLBACK");
  }
  expect(await writeIndexBatch(store.writer, { events: [], more: false, watermark: null }, [{ id, text: "hello" }])).toBe(true);
}, 20_000);
