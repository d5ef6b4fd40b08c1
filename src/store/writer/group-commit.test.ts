import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ResultSet } from "@libsql/client";
import { openStore, type IngestItem, type Store } from "../index.ts";

const dirs: string[] = [];
const stores: Store[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function freshStore(inlineWriter = true): Promise<Store> {
  const dir = mkdtempSync(join(tmpdir(), "hookrelay-store-"));
  dirs.push(dir);
  const store = await openStore({ url: `file:${join(dir, "t.db")}`, busyTimeoutMs: 1000, nowMs: () => 1_000_000, checkpointEveryMs: 0, inlineWriter });
  stores.push(store);
  return store;
}

function item(id: string, dedupeKey: string, body = "{}"): IngestItem {
  return {
    id, source: "s", eventType: "x", dedupeKey, dedupeWindowMs: 60_000, receivedAt: 1_000_000,
    method: "POST", path: "/in/s", query: "", headers: [["content-type", "application/json"]],
    body: new TextEncoder().encode(body), contentType: "application/json", remoteAddr: "127.0.0.1",
    deliveries: [{ id: `dlv_${id}`, target: "t", status: "pending" }],
  };
}

test("concurrent submissions share a transaction and each gets its own id", async () => {
  const store = await freshStore();
  const outcomes = await Promise.all(Array.from({ length: 50 }, (_, i) => store.writer.submit(item(`evt_${i}`, `k${i}`))));
  expect(outcomes.map((o) => o.kind)).toEqual(Array(50).fill("stored"));
  const rows = await store.reads.execute("SELECT count(*) AS n FROM events");
  expect(Number(rows.rows[0]!.n)).toBe(50);
  const dl = await store.reads.execute("SELECT count(*) AS n FROM deliveries WHERE status = 'pending'");
  expect(Number(dl.rows[0]!.n)).toBe(50);
});

test("a duplicate in the same batch answers with the original id and is counted", async () => {
  const store = await freshStore();
  const [a, b] = await Promise.all([store.writer.submit(item("evt_a", "same")), store.writer.submit(item("evt_b", "same"))]);
  expect(a).toEqual({ kind: "stored", id: "evt_a", leased: [] });
  expect(b).toEqual({ kind: "duplicate", id: "evt_a" });
  const c = await store.writer.submit(item("evt_c", "same"));
  expect(c).toEqual({ kind: "duplicate", id: "evt_a" });
  const row = await store.reads.execute("SELECT duplicates FROM events WHERE id = 'evt_a'");
  expect(Number(row.rows[0]!.duplicates)).toBe(2);
  const dl = await store.reads.execute("SELECT count(*) AS n FROM deliveries");
  expect(Number(dl.rows[0]!.n)).toBe(1);
});

test("body bytes are stored exactly, invalid UTF-8 included", async () => {
  const store = await freshStore();
  const it = item("evt_raw", "raw");
  it.body = new Uint8Array([0xef, 0xbb, 0xbf, 0xff, 0x00, 0x0a]);
  await store.writer.submit(it);
  const row = await store.reads.execute("SELECT body FROM events WHERE id = 'evt_raw'");
  expect(new Uint8Array(row.rows[0]!.body as ArrayBuffer)).toEqual(new Uint8Array(it.body));
});

test("a store that cannot write rejects every request of the batch", async () => {
  const store = await freshStore();
  await store.reads.execute("PRAGMA query_only = ON");
  await expect(store.writer.submit(item("evt_ro", "ro"))).rejects.toMatchObject({ name: "StoreError" });
  await store.reads.execute("PRAGMA query_only = OFF");
  expect(await store.writer.submit(item("evt_ok", "ok"))).toEqual({ kind: "stored", id: "evt_ok", leased: [] });
});

test("on the writer thread, a batch cut into fixed-size statements stores every row and finds every original", async () => {
  const store = await freshStore(false);
  // 75 = 64 + 8 + 2 + 1 rows per statement; then 75 again, 70 of them duplicates.
  const first = await Promise.all(Array.from({ length: 75 }, (_, i) => store.writer.submit(item(`evt_a${i}`, `k${i}`))));
  expect(first.every((o) => o.kind === "stored")).toBe(true);
  const second = await Promise.all(Array.from({ length: 75 }, (_, i) => store.writer.submit(item(`evt_b${i}`, `k${i + 5}`))));
  expect(second.map((o) => o.id)).toEqual(Array.from({ length: 75 }, (_, i) => (i < 70 ? `evt_a${i + 5}` : `evt_b${i}`)));
  const n = await store.reads.execute("SELECT (SELECT count(*) FROM events) AS e, (SELECT count(*) FROM deliveries) AS d");
  expect([n.rows[0]!.e, n.rows[0]!.d]).toEqual([80, 80]);
  // Rows written back across the thread boundary answer by name and by index, as the driver's do.
  const [touched] = await store.writer.write([
    { sql: "UPDATE deliveries SET attempts = attempts WHERE id IN ('dlv_evt_a0', 'dlv_evt_a1') RETURNING id, attempts", args: [] },
  ]);
  expect(touched!.rows.map((r) => [r.id, r[1]]).sort()).toEqual([["dlv_evt_a0", 0], ["dlv_evt_a1", 0]]);
});

test("on the writer thread, every field crosses the thread boundary intact: raw bytes, odd header values, nulls, rejections", async () => {
  const store = await freshStore(false);
  const odd = item("evt_wire", "wire");
  odd.body = new Uint8Array([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x0a]);
  odd.headers = [["x-latin1", "caf\u00e9 \u00ff"], ["x-quote", 'a"b\\c\u0000'], ["x-empty", ""]];
  odd.eventType = null;
  odd.contentType = null;
  odd.remoteAddr = null;
  odd.query = "a=1&b=%E2%9C%93";
  const plain = item("evt_plain", "plain", '{"ok":"✓"}');
  store.writer.recordRejection({
    id: "rej_wire", source: "s", receivedAt: 1_000_000, reason: "bad_signature", message: "X-Signature: \"v1=\u00e9\" does not match ✓", method: "POST", path: "/in/s?x=1",
    headers: [["x-signature", "v1=\u00e9"]], bodyExcerpt: new Uint8Array([0x80, 0x81]), remoteAddr: null, keep: true,
  });
  expect(await Promise.all([store.writer.submit(odd), store.writer.submit(plain)])).toEqual([
    { kind: "stored", id: "evt_wire", leased: [] },
    { kind: "stored", id: "evt_plain", leased: [] },
  ]);
  await store.writer.flushed();
  const rs = await store.reads.execute("SELECT id, event_type, content_type, remote_addr, query, headers, body FROM events ORDER BY id");
  const [p, w] = rs.rows;
  expect(new TextDecoder().decode(p!.body as ArrayBuffer)).toBe('{"ok":"✓"}');
  expect([w!.event_type, w!.content_type, w!.remote_addr, w!.query]).toEqual([null, null, null, "a=1&b=%E2%9C%93"]);
  expect(JSON.parse(String(w!.headers))).toEqual(odd.headers);
  expect(new Uint8Array(w!.body as ArrayBuffer)).toEqual(new Uint8Array(odd.body));
  const rej = await store.reads.execute("SELECT reason, message, headers, body_excerpt, remote_addr FROM rejections WHERE id = 'rej_wire'");
  expect(rej.rows[0]!.reason).toBe("bad_signature");
  expect(rej.rows[0]!.message).toBe('X-Signature: "v1=\u00e9" does not match ✓');
  expect(JSON.parse(String(rej.rows[0]!.headers))).toEqual([["x-signature", "v1=\u00e9"]]);
  expect(new Uint8Array(rej.rows[0]!.body_excerpt as ArrayBuffer)).toEqual(new Uint8Array([0x80, 0x81]));
  const dl = await store.reads.execute("SELECT id FROM deliveries ORDER BY id");
  expect(dl.rows.map((r) => r.id)).toEqual(["dlv_evt_plain", "dlv_evt_wire"]);
});

test("on the writer thread, write jobs join the ingest commit; a failing one is undone alone", async () => {
  const store = await freshStore(false);
  await store.writer.submit(item("evt_j0", "j0"));
  const [ingested, good, bad] = await Promise.allSettled([
    store.writer.submit(item("evt_j1", "j1")),
    store.writer.write([
      { sql: "UPDATE deliveries SET status = 'failed' WHERE id = ? RETURNING id", args: ["dlv_evt_j0"] },
      { sql: "INSERT INTO source_counters (source, received, duplicates, rejected) VALUES ('other', 5, 0, 0)", args: [] },
    ]),
    store.writer.write([
      { sql: "UPDATE deliveries SET status = 'delivered' WHERE id = ?", args: ["dlv_evt_j0"] },
      // Same primary key twice: the second statement fails, and the first must not stay applied.
      { sql: "INSERT INTO rejections (id, source, received_at, reason, method, path, headers, remote_addr) VALUES ('rej_x', 's', 1, 'r', 'POST', '/', '[]', NULL), ('rej_x', 's', 1, 'r', 'POST', '/', '[]', NULL)", args: [] },
    ]),
  ]);
  expect(ingested).toEqual({ status: "fulfilled", value: { kind: "stored", id: "evt_j1", leased: [] } });
  expect(good.status).toBe("fulfilled");
  expect((good as PromiseFulfilledResult<ResultSet[]>).value[0]!.rows.map((r) => r.id)).toEqual(["dlv_evt_j0"]);
  expect(bad.status).toBe("rejected");
  expect(String((bad as PromiseRejectedResult).reason.code ?? (bad as PromiseRejectedResult).reason.message)).toMatch(/CONSTRAINT/);
  const rs = await store.reads.execute(
    "SELECT (SELECT status FROM deliveries WHERE id = 'dlv_evt_j0') AS s, (SELECT count(*) FROM rejections) AS r, (SELECT received FROM source_counters WHERE source = 'other') AS o, (SELECT count(*) FROM events) AS e",
  );
  expect([rs.rows[0]!.s, rs.rows[0]!.r, rs.rows[0]!.o, rs.rows[0]!.e]).toEqual(["failed", 0, 5, 2]);
});

for (const inline of [true, false])
  test(`${inline ? "inline" : "on the writer thread"}, ackWaitMs is how long the requests answered since the last look waited for their commit`, async () => {
    const store = await freshStore(inline);
    expect(store.writer.ackWaitMs()).toBe(0);
    const started = performance.now();
    await Promise.all(Array.from({ length: 30 }, (_, i) => store.writer.submit(item(`evt_${i}`, `k${i}`))));
    const longest = performance.now() - started;
    const wait = store.writer.ackWaitMs();
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(longest);
    expect(store.writer.ackWaitMs()).toBe(0); // it starts over at each look
  });

test("a transaction holding only redoable writes commits without an fsync; an ingest item or a durable job in it brings the fsync back", async () => {
  const store = await freshStore(); // inline: the group commit runs on store.reads' connection
  const synchronous = async () => Number((await store.reads.execute("PRAGMA synchronous")).rows[0]![0]);
  const counter = (source: string) => ({ sql: "INSERT INTO source_counters (source) VALUES (?)", args: [source] });
  // The setting the transaction itself commits with, read inside it.
  const inside = async (p: Promise<ResultSet[]>) => Number((await p).at(-1)!.rows[0]![0]);
  const withSetting = (source: string) => [counter(source), "PRAGMA synchronous"];
  // Nothing durable yet: a round commits relaxed, and the idle connection stays so (a backlog draining).
  expect(await inside(store.writer.write(withSetting("a"), "redoable"))).toBe(1);
  expect(await synchronous()).toBe(1);
  await store.writer.submit(item("evt_s1", "s1"));
  expect(await synchronous()).toBe(2); // FULL: an acknowledged event is on disk before its 200
  const [shared] = await Promise.all([store.writer.write(withSetting("b"), "redoable"), store.writer.write([counter("c")])]);
  expect(Number(shared!.at(-1)!.rows[0]![0])).toBe(2); // a durable admin write shares the round: FULL for all of it
  // A round after durable work still commits relaxed; the idle connection is FULL again for the next event.
  expect(await inside(store.writer.write(withSetting("d"), "redoable"))).toBe(1);
  expect(await synchronous()).toBe(2);
  expect((await store.reads.execute("SELECT count(*) AS n FROM source_counters WHERE source IN ('a', 'b', 'c', 'd')")).rows[0]!.n).toBe(4);
});

test("rejections refused past the storing cap are stood for by a kept row of their source and reason, in their batch or the newest stored", async () => {
  const store = await freshStore();
  const rej = (id: string, reason: string, keep: boolean) =>
    store.writer.recordRejection({ id, source: "s", receivedAt: 1_000_000, reason, message: "m", method: "POST", path: "/in/s", headers: [], bodyExcerpt: new Uint8Array(), remoteAddr: null, keep });
  // One batch: two kept, four refused (three bad_signature, one stale_timestamp with no kept row yet).
  rej("rej_a", "bad_signature", true);
  rej("rej_b", "bad_signature", true);
  for (let i = 0; i < 3; i++) rej(`rej_x${i}`, "bad_signature", false);
  rej("rej_s0", "stale_timestamp", false);
  await store.writer.flushed();
  // A later batch of refused ones only: the newest stored bad_signature row stands for them.
  for (let i = 0; i < 2; i++) rej(`rej_y${i}`, "bad_signature", false);
  await store.writer.flushed();
  const rs = await store.reads.execute("SELECT id, reason, represents FROM rejections ORDER BY id");
  expect(rs.rows.map((r) => [r.id, r.reason, Number(r.represents)])).toEqual([
    ["rej_a", "bad_signature", 1],
    ["rej_b", "bad_signature", 6],
  ]);
  const counted = await store.reads.execute("SELECT rejected FROM source_counters WHERE source = 's'");
  expect(Number(counted.rows[0]!.rejected)).toBe(8);
});

test("a truncating checkpoint (a disk short of room) empties the WAL file and leaves the writer's busy_timeout as it was", async () => {
  const store = await freshStore();
  for (let i = 0; i < 20; i++) await store.writer.submit(item(`evt_${String(i).padStart(26, "0")}`, `trunc-${i}`, "x".repeat(2000)));
  const wal = `${store.filePath}-wal`;
  expect(statSync(wal).size).toBeGreaterThan(0);
  await store.writer.checkpoint(true);
  expect(statSync(wal).size).toBe(0);
  // The checkpoint waits for readers with a short busy_timeout of its own: the writer's own is back.
  expect(Number((await store.reads.execute("PRAGMA busy_timeout")).rows[0]![0])).toBe(1000);
});
