import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore, type Store } from "../index.ts";

const dirs: string[] = [];
const stores: Store[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function fileStore(inline: boolean): Promise<Store> {
  const dir = mkdtempSync(join(tmpdir(), "hookrelay-reader-"));
  dirs.push(dir);
  const store = await openStore({ url: `file:${join(dir, "relay.db")}`, busyTimeoutMs: 1000, nowMs: Date.now, checkpointEveryMs: 0, inlineWriter: inline });
  stores.push(store);
  return store;
}

// A read that keeps SQLite busy for a while (hundreds of ms), whatever the store holds.
const SLOW_READ = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) SELECT count(*) AS c FROM n";

/** The longest the event loop went without running a 5 ms timer while `work` ran, and how long the work took. */
async function longestStall(work: () => Promise<unknown>): Promise<{ stallMs: number; workMs: number }> {
  let last = performance.now();
  let stallMs = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    stallMs = Math.max(stallMs, now - last);
    last = now;
  }, 5);
  const started = performance.now();
  await work();
  const workMs = performance.now() - started;
  clearInterval(ticker);
  // The gap the work itself ended, when no tick could run during it.
  return { stallMs: Math.max(stallMs, performance.now() - last), workMs };
}

test("a slow read on an embedded store runs on the reader thread: the event loop keeps turning meanwhile", async () => {
  const threaded = await fileStore(false);
  const inline = await fileStore(true);
  // Inline, the same read holds the event loop for as long as it runs: what the reader thread is for.
  const held = await longestStall(() => inline.reads.execute(SLOW_READ));
  expect(held.stallMs).toBeGreaterThan(held.workMs * 0.8);
  const free = await longestStall(async () => expect(Number((await threaded.reads.execute(SLOW_READ)).rows[0]!.c)).toBe(3_000_000));
  expect(free.workMs).toBeGreaterThan(100);
  expect(free.stallMs).toBeLessThan(free.workMs / 4);
});

test("the reader thread answers as the connection would: rows by name and index, batches, blobs, errors with their codes", async () => {
  const store = await fileStore(false);
  await store.writer.write([{ sql: "CREATE TABLE t (id INTEGER, name TEXT, data BLOB)" }, { sql: "INSERT INTO t VALUES (1, 'a', ?), (2, NULL, NULL)", args: [new Uint8Array([0, 255, 7])] }]);
  const rs = await store.reads.execute("SELECT id, name, data FROM t ORDER BY id");
  expect(rs.columns).toEqual(["id", "name", "data"]);
  expect([rs.rows[0]!.id, rs.rows[0]![1], [...new Uint8Array(rs.rows[0]!.data as ArrayBuffer)]]).toEqual([1, "a", [0, 255, 7]]);
  expect(rs.rows[1]!.name).toBeNull();
  const [a, b] = await store.reads.batch([{ sql: "SELECT count(*) AS n FROM t WHERE id > ?", args: [0] }, "SELECT max(id) AS m FROM t"]);
  expect([a!.rows[0]!.n, b!.rows[0]!.m]).toEqual([2, 2]);
  const failed = await store.reads.execute("SELECT nope FROM t").then(() => null, (err: { message: string; code?: string }) => err);
  expect([failed?.message, failed?.code]).toEqual(["SQLITE_ERROR: no such column: nope", "SQLITE_ERROR"]);
  // A transaction is its own connection's: it can stage a lock the writer then waits for.
  const lock = await store.reads.transaction("write");
  await lock.rollback();
});
