import { expect, test } from "bun:test";
import { tempStores } from "../../test/support/temp-store.ts";
import { makeId } from "../core/ids.ts";
import type { Store } from "./index.ts";
import { silentLogger } from "../log/logger.ts";
import { bucketOf, OVERVIEW_BUCKETS, OVERVIEW_STEP_MS, readOverview, startOverviewJob, updateOverview } from "./overview.ts";

const HOUR = 3_600_000;
const NOW = bucketOf(1000 * HOUR) + 60_000; // one minute into a bucket
const STEP = OVERVIEW_STEP_MS;
const LAST = OVERVIEW_BUCKETS - 1;

const fresh = tempStores("hookrelay-overview-");
const freshStore = () => fresh({ nowMs: () => NOW, inlineWriter: true });

let seq = 0;
/** An event at `atMs` with one delivery to `target` in `status`, and attempts of the given statuses and durations. */
async function event(store: Store, atMs: number, target: string, status: string, attempts: [number | null, number][] = []) {
  const rnd = new Uint8Array(10).fill(++seq);
  const id = makeId("evt", atMs, rnd);
  const dlv = makeId("dlv", atMs, rnd);
  await store.writer.submit({
    id, source: "s", eventType: "x", dedupeKey: `k${seq}`, dedupeWindowMs: 0, receivedAt: atMs,
    method: "POST", path: "/in/s", query: "", headers: [], body: new TextEncoder().encode("{}"),
    contentType: "application/json", remoteAddr: null, deliveries: [{ id: dlv, target, status: "pending" }],
  });
  await store.writer.write([
    { sql: "UPDATE deliveries SET status = ? WHERE id = ?", args: [status, dlv] },
    ...attempts.map(([code, ms], k) => ({
      sql: "INSERT INTO attempts (id, delivery_id, event_id, target, at, status_code, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
      args: [makeId("att", atMs + k, new Uint8Array(10).fill(++seq)), dlv, id, target, atMs + k, code, ms],
    })),
  ]);
}

async function rejection(store: Store, atMs: number) {
  await store.writer.write([
    {
      sql: "INSERT INTO rejections (id, source, received_at, reason, method, path, headers) VALUES (?, 's', ?, 'bad_signature', 'POST', '/in/s', '[]')",
      args: [makeId("rej", atMs, new Uint8Array(10).fill(++seq)), atMs],
    },
  ]);
}

test("each 5-minute bucket counts its events, rejections, and delivered and failed attempts per target", async () => {
  const store = await freshStore();
  const twoHoursAgo = bucketOf(NOW) - 24 * STEP;
  await event(store, twoHoursAgo + 1000, "a", "delivered", [[200, 10]]);
  await event(store, twoHoursAgo + 2000, "a", "delivered", [[500, 30], [null, 5000], [204, 20]]);
  await event(store, twoHoursAgo + 3000, "b", "pending", [[503, 40]]);
  await rejection(store, twoHoursAgo + 4000);
  await event(store, NOW - 1000, "b", "delivered", [[200, 7]]);
  const o = await readOverview(store.reads, NOW, ["a", "b"]);
  const i = LAST - 24;
  expect(o.startMs + i * STEP).toBe(twoHoursAgo);
  expect([o.received[i], o.rejected[i], o.delivered.a![i], o.failed.a![i], o.delivered.b![i], o.failed.b![i]]).toEqual([3, 1, 2, 2, 0, 1]);
  expect([o.received[LAST], o.delivered.b![LAST]]).toEqual([1, 1]);
  expect(o.received.reduce((x, y) => x + y, 0)).toBe(4);
  // Nearest rank over the five attempts of the bucket (10, 20, 30, 40, 5000 ms).
  expect([o.latencyP50[i], o.latencyP95[i]]).toEqual([30, 5000]);
  expect(o.latencyP50[i - 1]).toBeNull();
});

test("a closed bucket summed by the minute job reads back the same as counting it live, and later rows do not change it twice", async () => {
  const store = await freshStore();
  const old = bucketOf(NOW) - 30 * STEP;
  await event(store, old + 10, "a", "delivered", [[200, 12]]);
  await event(store, old + 20, "a", "failed", [[500, 80]]);
  await rejection(store, old + 30);
  const live = await readOverview(store.reads, NOW, ["a"]);
  const { summed } = await updateOverview(store, NOW, ["a"]);
  expect(summed).toBe(OVERVIEW_BUCKETS - 2); // every bucket closed for 5 minutes: all but the last two
  expect((await updateOverview(store, NOW, ["a"])).summed).toBe(0);
  const read = await readOverview(store.reads, NOW, ["a"]);
  const { queue: _q1, ...liveFigures } = live;
  const { queue: _q2, ...readFigures } = read;
  expect(readFigures).toEqual(liveFigures);
  // The summed bucket is read from overview_buckets, not from the raw rows any more.
  await store.writer.write([{ sql: "DELETE FROM attempts" }, { sql: "DELETE FROM events" }]);
  const after = await readOverview(store.reads, NOW, ["a"]);
  expect(after.delivered.a![LAST - 30]).toBe(1);
  expect(after.received[LAST - 30]).toBe(2);
});

test("queue depth keeps the highest sample of each bucket, the current one reads the depth now, and rows past 25 h are deleted", async () => {
  const store = await freshStore();
  const start = bucketOf(NOW) - 10 * STEP;
  for (let k = 0; k < 3; k++) await event(store, start + k, "a", "pending");
  await updateOverview(store, start + 60_000, ["a", "b"]); // depth 3
  await store.writer.write([{ sql: "UPDATE deliveries SET status = 'delivered' WHERE id IN (SELECT id FROM deliveries ORDER BY id LIMIT 2)" }]);
  await updateOverview(store, start + 120_000, ["a", "b"]); // depth 1, same bucket
  await store.writer.write([
    { sql: "INSERT INTO overview_buckets (start_ms, series, key, value) VALUES (?, 'queue', 'a', 9)", args: [NOW - 26 * HOUR] },
  ]);
  await updateOverview(store, NOW, ["a", "b"]);
  const o = await readOverview(store.reads, NOW, ["a", "b"]);
  expect(o.queue.a![LAST - 10]).toBe(3);
  expect(o.queue.b![LAST - 10]).toBe(0);
  expect(o.queue.a![LAST - 11]).toBeNull(); // no sample taken then
  expect(o.queue.a![LAST]).toBe(1);
  const old = await store.reads.execute({ sql: "SELECT count(*) AS n FROM overview_buckets WHERE start_ms < ?", args: [NOW - 25 * HOUR] });
  expect(Number(old.rows[0]!.n)).toBe(0);
});

test("the minute job takes its first sample after its delay, and stop waits for a run in progress", async () => {
  const store = await fresh();
  const job = startOverviewJob({ db: store, targets: () => ["a"], nowMs: Date.now, log: silentLogger, firstAfterMs: 20, everyMs: 60_000 });
  const samples = async () => Number((await store.reads.execute("SELECT count(*) AS n FROM overview_buckets WHERE series = 'queue'")).rows[0]!.n);
  expect(await samples()).toBe(0);
  for (let i = 0; i < 100 && (await samples()) === 0; i++) await Bun.sleep(10);
  expect(await samples()).toBe(1);
  await job.stop();
});
