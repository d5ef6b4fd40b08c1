import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeId } from "../core/ids.ts";
import { openStore, openStoreReader, type IngestItem, type Store, type StoreReader } from "./index.ts";
import { createLogger } from "../log/logger.ts";
import { purgeExpired, startRetentionRunner } from "./retention.ts";
import { createEventArchive } from "./event-archive.ts";
import { parseExportLine } from "../core/export-line.ts";
import { gunzipSync } from "node:zlib";
import { freshStoreUrl, onPostgres } from "../../test/support/test-store.ts";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";

const DAY = 86_400_000;
const NOW = 100 * DAY;
const RETENTION = 14 * DAY;

const dirs: string[] = [];
const stores: Store[] = [];
const drops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const drop of drops.splice(0)) await drop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function freshStore(): Promise<Store> {
  const dir = mkdtempSync(join(tmpdir(), "hookrelay-retention-"));
  dirs.push(dir);
  const { url, drop } = await freshStoreUrl(dir);
  drops.push(drop);
  const store = await openStore({ url, busyTimeoutMs: 1000, nowMs: () => NOW, checkpointEveryMs: 0, inlineWriter: true });
  stores.push(store);
  urls.set(store, url);
  return store;
}
const urls = new Map<Store, string>();

/** A second relay's store on the same database as `store`. */
async function secondRelay(store: Store): Promise<Store> {
  const other = await openStore({ url: urls.get(store)!, busyTimeoutMs: 1000, nowMs: () => NOW, checkpointEveryMs: 0, inlineWriter: true });
  // Closed before the first (the list closes in order): the database is dropped after both.
  stores.unshift(other);
  return other;
}

let seq = 0;
/** Stores one event received at `atMs` with one delivery to "t" in `status`, and one attempt at the same time. */
async function event(store: Store, atMs: number, status: string, source = "s"): Promise<string> {
  const rnd = new Uint8Array(10).fill(++seq);
  const id = makeId("evt", atMs, rnd);
  const dlv = makeId("dlv", atMs, rnd);
  const item: IngestItem = {
    id, source, eventType: "x", dedupeKey: `k${seq}`, dedupeWindowMs: 0, receivedAt: atMs,
    method: "POST", path: `/in/${source}`, query: "", headers: [], body: new TextEncoder().encode("{}"),
    contentType: "application/json", remoteAddr: null, deliveries: [{ id: dlv, target: "t", status: "pending" }],
  };
  await store.writer.submit(item);
  await store.reads.batch([
    { sql: "UPDATE deliveries SET status = ? WHERE id = ?", args: [status, dlv] },
    {
      sql: "INSERT INTO attempts (id, delivery_id, event_id, target, at, status_code, duration_ms) VALUES (?, ?, ?, 't', ?, 500, 10)",
      args: [makeId("att", atMs, rnd), dlv, id, atMs],
    },
  ], "write");
  return id;
}

async function rejection(store: Store, atMs: number): Promise<void> {
  store.writer.recordRejection({
    id: makeId("rej", atMs, new Uint8Array(10).fill(++seq)), source: "s", receivedAt: atMs, reason: "bad_signature",
    message: "signature does not match", method: "POST", path: "/in/s", headers: [], bodyExcerpt: new Uint8Array(), remoteAddr: null, keep: true,
  });
  await store.writer.flushed();
}

const ids = async (store: Store, table: string) =>
  (await store.reads.execute(`SELECT id FROM ${table} ORDER BY id`)).rows.map((r) => String(r.id));
const count = async (store: Store, table: string) => (await ids(store, table)).length;

test("old finished events go with their deliveries and attempts; recent ones stay", async () => {
  const store = await freshStore();
  await event(store, NOW - 20 * DAY, "delivered");
  await event(store, NOW - 15 * DAY, "failed");
  const recent = await event(store, NOW - 13 * DAY, "delivered");
  const counts = await purgeExpired(store, { nowMs: NOW, retentionMs: RETENTION });
  expect(counts).toEqual({ events: 2, deliveries: 2, attempts: 2, rejections: 0 });
  expect(await ids(store, "events")).toEqual([recent]);
  expect(await count(store, "deliveries")).toBe(1);
  expect(await count(store, "attempts")).toBe(1);
});

test("an old event with a pending, delivering or paused delivery is kept until it ends", async () => {
  const store = await freshStore();
  const kept = [
    await event(store, NOW - 30 * DAY, "pending"),
    await event(store, NOW - 30 * DAY, "delivering"),
    await event(store, NOW - 30 * DAY, "paused"),
  ];
  await event(store, NOW - 30 * DAY, "delivered");
  await purgeExpired(store, { nowMs: NOW, retentionMs: RETENTION });
  expect(await ids(store, "events")).toEqual(kept.sort());
  expect(await count(store, "deliveries")).toBe(3);

  await store.reads.execute({ sql: "UPDATE deliveries SET status = 'delivered' WHERE event_id = ?", args: [kept[0]!] });
  await purgeExpired(store, { nowMs: NOW, retentionMs: RETENTION });
  expect(await ids(store, "events")).toEqual(kept.slice(1));
});

test("old rejections and old attempts of kept events are purged", async () => {
  const store = await freshStore();
  await rejection(store, NOW - 20 * DAY);
  await rejection(store, NOW - DAY);
  const pending = await event(store, NOW - 20 * DAY, "pending");
  const counts = await purgeExpired(store, { nowMs: NOW, retentionMs: RETENTION });
  expect(counts.rejections).toBe(1);
  expect(counts.attempts).toBe(1);
  expect(await count(store, "rejections")).toBe(1);
  expect(await ids(store, "events")).toEqual([pending]);
  expect(await count(store, "attempts")).toBe(0);
});

test("events inside their source's dedupe window outlive retention", async () => {
  const store = await freshStore();
  const inWindow = await event(store, NOW - 20 * DAY, "delivered", "long");
  await event(store, NOW - 40 * DAY, "delivered", "long");
  await event(store, NOW - 20 * DAY, "delivered", "short");
  await purgeExpired(store, { nowMs: NOW, retentionMs: RETENTION, dedupeWindowMs: { long: 30 * DAY, short: DAY } });
  expect(await ids(store, "events")).toEqual([inWindow]);
});

test.skipIf(!onPostgres)("on PostgreSQL, dedupe keys whose window is over are deleted in batches; a key still in its window stays and still dedupes", async () => {
  const store = await freshStore();
  const keyed = (key: string, atMs: number, windowMs: number): IngestItem => ({
    id: makeId("evt", atMs, crypto.getRandomValues(new Uint8Array(10))), source: "s", eventType: "x", dedupeKey: key, dedupeWindowMs: windowMs,
    receivedAt: atMs, method: "POST", path: "/in/s", query: "", headers: [], body: new TextEncoder().encode("{}"),
    contentType: "application/json", remoteAddr: null, deliveries: [],
  });
  for (let i = 0; i < 5; i++) await store.writer.submit(keyed(`over${i}`, NOW - 3 * DAY + i, DAY));
  await store.writer.submit(keyed("live", NOW - 3 * DAY, 30 * DAY));
  await purgeExpired(store, { nowMs: NOW, retentionMs: RETENTION, batchRows: 2, pauseMs: 0 });
  const keys = await store.reads.execute("SELECT dedupe_key FROM dedupe_keys ORDER BY dedupe_key");
  expect(keys.rows.map((r) => r.dedupe_key)).toEqual(["live"]);
  expect((await store.writer.submit(keyed("live", NOW, 30 * DAY))).kind).toBe("duplicate");
  expect((await store.writer.submit(keyed("over0", NOW, DAY))).kind).toBe("stored");
});

test("a purge larger than one batch walks every batch, past kept events", async () => {
  const store = await freshStore();
  for (let i = 0; i < 25; i++) await event(store, NOW - 20 * DAY + i, i % 5 === 0 ? "pending" : "delivered");
  for (let i = 0; i < 12; i++) await rejection(store, NOW - 20 * DAY + i);
  const counts = await purgeExpired(store, { nowMs: NOW, retentionMs: RETENTION, batchRows: 4, pauseMs: 0 });
  expect(counts.events).toBe(20);
  expect(counts.rejections).toBe(12);
  expect(await count(store, "events")).toBe(5);
});

test("a slow purge write makes the next batch smaller (every ack in its commit waits for it), a quick one larger again", async () => {
  const store = await freshStore();
  for (let i = 0; i < 120; i++) await event(store, NOW - 20 * DAY + i, "delivered");
  // The store's writer, timed as a loaded one would be for the first four batches.
  const sizes: number[] = [];
  const writer = Object.create(store.writer) as Store["writer"];
  writer.write = async (stmts, durability) => {
    const rs = await store.writer.write(stmts, durability);
    if (rs.length === 3) sizes.push(rs[2]!.rowsAffected); // an events batch: attempts, deliveries, events
    if (sizes.length <= 4) await Bun.sleep(30);
    return rs;
  };
  const counts = await purgeExpired({ reads: store.reads, writer }, { nowMs: NOW, retentionMs: RETENTION, batchRows: 40, pauseMs: 0 });
  expect(counts.events).toBe(120);
  // Halved while slow, down to 10; doubled back once quick (an embedded file's write of ten events
  // is well under 5 ms; a database server's round trips may not be), never past the configured 40.
  expect(sizes.slice(0, 5)).toEqual([40, 20, 10, 10, 10]);
  if (!onPostgres) expect(sizes[5]).toBe(20);
  expect(Math.max(...sizes)).toBe(40);
  expect(sizes.reduce((a, b) => a + b, 0)).toBe(120);
});

test("a purge stops between batches when asked", async () => {
  const store = await freshStore();
  for (let i = 0; i < 10; i++) await event(store, NOW - 20 * DAY + i, "delivered");
  let batches = 0;
  const counts = await purgeExpired(store, { nowMs: NOW, retentionMs: RETENTION, batchRows: 3, pauseMs: 0, stopped: () => batches++ >= 1 });
  expect(counts.events).toBe(3);
});

test("the runner purges shortly after start, logs what it removed, and stops cleanly", async () => {
  const store = await freshStore();
  await event(store, NOW - 20 * DAY, "delivered");
  const lines: string[] = [];
  let done = () => {};
  const logged = new Promise<void>((r) => (done = r));
  const runner = startRetentionRunner({
    db: store, retentionMs: RETENTION, dedupeWindowMs: {}, nowMs: () => NOW, firstAfterMs: 0,
    log: createLogger("info", (l) => (lines.push(l), done())),
  });
  await logged;
  await runner.stop();
  expect(JSON.parse(lines[0]!)).toMatchObject({ msg: "retention purge", events: 1, deliveries: 1, attempts: 1 });
  expect(await count(store, "events")).toBe(0);
});

test("each source keeps at most its newest rejections, however recent the flood", async () => {
  const store = await freshStore();
  for (let i = 0; i < 30; i++) await rejection(store, NOW - 1000 + i);
  const counts = await purgeExpired(store, { nowMs: NOW, retentionMs: RETENTION, maxRejectionsPerSource: 10, batchRows: 4, pauseMs: 0 });
  expect(counts.rejections).toBe(20);
  const kept = (await store.reads.execute("SELECT received_at FROM rejections ORDER BY received_at")).rows.map((r) => Number(r.received_at));
  expect(kept).toEqual(Array.from({ length: 10 }, (_, i) => NOW - 1000 + 20 + i));
});

/** The ids in an archive dir's files, per file name; each file is read by zcat, as an operator would. */
async function archived(dir: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const name of readdirSync(dir).sort()) {
    const p = Bun.spawn(["zcat", join(dir, name)], { stdout: "pipe", stderr: "pipe" });
    const text = await new Response(p.stdout as ReadableStream).text();
    expect(await p.exited).toBe(0);
    expect(gunzipSync(readFileSync(join(dir, name))).toString()).toBe(text);
    out[name] = text.trimEnd().split("\n").map((l) => {
      const parsed = parseExportLine(l);
      if (!parsed.ok) throw new Error(parsed.reason);
      return parsed.event.id;
    });
  }
  return out;
}

test("with an archive, retention appends exactly the events it deletes to gzipped files per receive day first, readable by zcat", async () => {
  const store = await freshStore();
  const dir = join(dirs[0]!, "archive");
  const archive = createEventArchive({ dir, reads: await reader(store) });
  const day1 = [await event(store, NOW - 20 * DAY, "delivered"), await event(store, NOW - 20 * DAY + 5, "failed")];
  const day2 = [await event(store, NOW - 19 * DAY, "delivered")];
  await event(store, NOW - 20 * DAY + 9, "pending"); // kept: still open
  await event(store, NOW - DAY, "delivered"); // kept: recent
  // The archive is written before the delete: when it is called, its events are all still stored.
  let storedWhenArchived: string[] = [];
  const counts = await purgeExpired(store, {
    nowMs: NOW, retentionMs: RETENTION, batchRows: 2, pauseMs: 0,
    archive: async (ids) => {
      storedWhenArchived.push(...(await stillStored(store, ids)));
      await archive(ids);
    },
  });
  expect(counts.events).toBe(3);
  expect(storedWhenArchived.sort()).toEqual([...day1, ...day2].sort());
  const d1 = new Date(NOW - 20 * DAY).toISOString().slice(0, 10);
  const d2 = new Date(NOW - 19 * DAY).toISOString().slice(0, 10);
  expect(await archived(dir)).toEqual({ [`events-${d1}.ndjson.gz`]: day1, [`events-${d2}.ndjson.gz`]: day2 });
  expect(statSync(join(dir, `events-${d1}.ndjson.gz`)).mode & 0o777).toBe(0o600);

  // A later purge appends a second gzip member to the same day's file.
  const later = await event(store, NOW - 20 * DAY + 7, "delivered");
  storedWhenArchived = [];
  await purgeExpired(store, { nowMs: NOW, retentionMs: RETENTION, archive });
  expect((await archived(dir))[`events-${d1}.ndjson.gz`]).toEqual([...day1, later]);
});

test("a member a crash cut short is cut off before the next append: the day's file stays whole for zcat and import", async () => {
  const store = await freshStore();
  const dir = join(dirs[0]!, "archive");
  const archive = createEventArchive({ dir, reads: await reader(store) });
  const first = await event(store, NOW - 20 * DAY, "delivered");
  const second = await event(store, NOW - 20 * DAY + 1, "delivered");
  const third = await event(store, NOW - 20 * DAY + 2, "delivered");
  const file = join(dir, `events-${new Date(NOW - 20 * DAY).toISOString().slice(0, 10)}.ndjson.gz`);
  await archive([first]);
  const whole = readFileSync(file);
  // A process killed in the middle of its next append: half a member, whose events were never deleted.
  const scratch = join(dirs[0]!, "scratch");
  await createEventArchive({ dir: scratch, reads: await reader(store) })([second]);
  const cut = readFileSync(join(scratch, readdirSync(scratch)[0]!));
  writeFileSync(file, Buffer.concat([whole, cut.subarray(0, cut.length >> 1)]));
  // The restarted relay's archive (a new process: nothing known of the file) archives them again, and more.
  await createEventArchive({ dir, reads: await reader(store) })([second, third]);
  expect((await archived(dir))[file.slice(dir.length + 1)]).toEqual([first, second, third]);
  // A tail shorter than a member's header is cut as well.
  writeFileSync(file, Buffer.concat([readFileSync(file), cut.subarray(0, 7)]));
  await createEventArchive({ dir, reads: await reader(store) })([third]);
  expect((await archived(dir))[file.slice(dir.length + 1)]).toEqual([first, second, third, third]);
});

test("a day's file from before members said their length is appended to when it inflates whole, refused untouched when it does not", async () => {
  const store = await freshStore();
  const dir = join(dirs[0]!, "archive");
  const [a, b] = [await event(store, NOW - 20 * DAY, "delivered"), await event(store, NOW - 20 * DAY + 1, "delivered")];
  const file = join(dir, `events-${new Date(NOW - 20 * DAY).toISOString().slice(0, 10)}.ndjson.gz`);
  const scratch = join(dirs[0]!, "scratch");
  await createEventArchive({ dir: scratch, reads: await reader(store) })([a]);
  const line = gunzipSync(readFileSync(join(scratch, readdirSync(scratch)[0]!)));
  // Plain gzip members, as the archive wrote them before.
  const { gzipSync } = await import("node:zlib");
  const legacy = Buffer.concat([gzipSync(line), gzipSync(line)]);
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, legacy);
  await createEventArchive({ dir, reads: await reader(store) })([b]);
  expect((await archived(dir))[file.slice(dir.length + 1)]).toEqual([a, a, b]);
  // Broken inside: where its good part ends cannot be told, so nothing is cut and nothing appended.
  const broken = Buffer.concat([legacy, gzipSync(line).subarray(0, 30)]);
  writeFileSync(file, broken);
  await expect(createEventArchive({ dir, reads: await reader(store) })([b])).rejects.toThrow(/are not whole gzip members that can be told apart; move the file aside/);
  expect(readFileSync(file).equals(broken)).toBe(true);
});

/** A reader on the store's file, as the relay gives its archive (closed after the test); on PostgreSQL the store's pool. */
async function reader(store: Store) {
  if (store.filePath === null) return store.reads;
  const r = await openStoreReader({ url: `file:${store.filePath}`, busyTimeoutMs: 1000 });
  readers.push(r);
  return r.reads;
}
const readers: StoreReader[] = [];
afterEach(() => {
  for (const r of readers.splice(0)) r.close();
});

async function stillStored(store: Store, ids: string[]): Promise<string[]> {
  const rs = await store.reads.execute({ sql: `SELECT id FROM events WHERE id IN (${ids.map(() => "?").join(",")})`, args: ids });
  return rs.rows.map((r) => String(r.id));
}

test("an archive that cannot be written deletes nothing, and the runner logs why", async () => {
  const store = await freshStore();
  const blocker = join(dirs[0]!, "not-a-dir");
  writeFileSync(blocker, "");
  await event(store, NOW - 20 * DAY, "delivered");
  await event(store, NOW - 20 * DAY + 1, "delivered");
  await expect(purgeExpired(store, { nowMs: NOW, retentionMs: RETENTION, archive: createEventArchive({ dir: join(blocker, "archive"), reads: await reader(store) }) })).rejects.toThrow(
    /archive/,
  );
  expect(await count(store, "events")).toBe(2);
  expect(await count(store, "attempts")).toBe(2);

  const lines: string[] = [];
  const runner = startRetentionRunner({
    db: store, retentionMs: RETENTION, dedupeWindowMs: {}, nowMs: () => NOW, firstAfterMs: 60_000,
    archive: createEventArchive({ dir: join(blocker, "archive"), reads: await reader(store) }),
    log: createLogger("info", (l) => lines.push(l)),
  });
  expect(await runner.runNow()).toBeNull();
  await runner.stop();
  expect(JSON.parse(lines[0]!)).toMatchObject({ level: "error", msg: "retention archive failed; nothing deleted" });
  expect(lines[0]).toContain("not-a-dir");
  expect(await count(store, "events")).toBe(2);
  expect(existsSync(join(blocker, "archive"))).toBe(false);
});

test("a link planted in the archive folder is not written through: the file it names is left as it was, and nothing is deleted", async () => {
  const store = await freshStore();
  const archiveDir = join(dirs[0]!, "archive");
  mkdirSync(archiveDir);
  const victim = join(dirs[0]!, "victim.txt");
  writeFileSync(victim, "IMPORTANT\n", { mode: 0o644 });
  const day = new Date(NOW - 20 * DAY).toISOString().slice(0, 10);
  symlinkSync(victim, join(archiveDir, `events-${day}.ndjson.gz`));
  await event(store, NOW - 20 * DAY, "delivered");
  const archive = createEventArchive({ dir: archiveDir, reads: await reader(store) });
  const err = await purgeExpired(store, { nowMs: NOW, retentionMs: RETENTION, archive }).then(() => null, (e: Error) => e);
  expect(err?.message).toContain("is a symbolic link, which the archive does not write through");
  expect(readFileSync(victim, "utf8")).toBe("IMPORTANT\n");
  expect(statSync(victim).mode & 0o777).toBe(0o644);
  expect(await count(store, "events")).toBe(1);
});

test.skipIf(!onPostgres)("relays on one database take turns at retention: while one purges, another's run is skipped, and a batch is archived once", async () => {
  const a = await freshStore();
  const b = await secondRelay(a);
  const expired = [await event(a, NOW - 20 * DAY, "delivered"), await event(a, NOW - 20 * DAY + 1, "failed")];
  const dir = join(dirs[0]!, "archive-b");
  const lines: string[] = [];
  const runnerB = startRetentionRunner({
    db: b, retentionMs: RETENTION, dedupeWindowMs: {}, nowMs: () => NOW, firstAfterMs: 60_000,
    archive: createEventArchive({ dir, reads: await reader(b) }),
    inTurn: (job, run) => b.inTurn(job, run),
    log: createLogger("debug", (l) => lines.push(l)),
  });
  // Relay A's purge is running (its turn held until we let go).
  let letGo!: () => void;
  const aPurging = a.inTurn("retention", () => new Promise<string>((r) => (letGo = () => r("a purged"))));
  await Bun.sleep(50);
  expect(await runnerB.runNow()).toBeNull();
  expect(JSON.parse(lines.at(-1)!)).toMatchObject({ level: "debug", msg: "retention purge skipped: another relay on the store is purging" });
  expect(await count(b, "events")).toBe(2);
  expect(existsSync(dir)).toBe(false);
  // Another job is not held by retention's turn.
  expect(await b.inTurn("overview", async () => "ran")).toBe("ran");

  letGo();
  expect(await aPurging).toBe("a purged");
  expect(await runnerB.runNow()).toMatchObject({ events: 2 });
  await runnerB.stop();
  expect(Object.values(await archived(dir)).flat().sort()).toEqual(expired.sort());
});

test.skipIf(onPostgres)("a relay on a file runs every job: it has the store to itself", async () => {
  const store = await freshStore();
  let letGo!: () => void;
  const first = store.inTurn("retention", () => new Promise<void>((r) => (letGo = r)));
  expect(await store.inTurn("retention", async () => "ran")).toBe("ran");
  letGo();
  await first;
});
