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

test.skipIf(!onPostgres)("a commit PostgreSQL rolls back to break a deadlock with another writer is run again, not answered 503", async () => {
  const tmp = tempDir();
  cleanups.push(() => tmp.remove());
  const fresh = await freshStoreUrl(tmp.dir);
  cleanups.push(() => fresh.drop());
  const store: Store = await openStore({ url: fresh.url, busyTimeoutMs: 10_000, nowMs: Date.now, checkpointEveryMs: 0 });
  cleanups.push(() => store.close());
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
