import { afterEach, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { makeId } from "../core/ids.ts";
import { searchQueryOf } from "../core/search-text.ts";
import { startSearchIndexer, type SearchIndexer } from "../ingest/search-indexer.ts";
import { silentLogger } from "../log/logger.ts";
import type { EventFilter } from "./admin-queries.ts";
import { eraseEvent } from "./erase-event.ts";
import { listEventsMatching } from "./event-search.ts";
import { openStore, type IngestItem, type Store } from "./index.ts";
import { purgeExpired } from "./retention.ts";
import { nextIndexBatch, writeIndexBatch, type IndexBatch } from "./search-index.ts";
import { countEvents } from "./admin-queries.ts";
import { freshStoreUrl, onPostgres } from "../../test/support/test-store.ts";

const DAY = 86_400_000;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A fresh store's URL (a file, or a database on the test cluster), removed after the test. */
async function freshUrl(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "hookrelay-search-"));
  const fresh = await freshStoreUrl(dir);
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }), () => fresh.drop());
  return fresh.url;
}

/** A store opened on `url` (another relay's, when given), closed after the test. */
async function freshStore(url?: string): Promise<Store> {
  const store = await openStore({ url: url ?? (await freshUrl()), busyTimeoutMs: 2000, nowMs: Date.now, checkpointEveryMs: 0 });
  cleanups.push(() => store.close());
  return store;
}

/** An indexer on `store` whose loop waits; tests index with drain(). */
function indexerOf(store: Store): SearchIndexer {
  const indexer = startSearchIndexer({ store, log: silentLogger, maxDecodedBytes: 1024 * 1024, everyMs: 60_000 });
  cleanups.push(() => indexer.stop());
  return indexer;
}

let clock = Date.now() - DAY;
/** Stores one event (one delivery to "t", pending) and returns its id. */
async function put(store: Store, body: string | Uint8Array, opts: { source?: string; headers?: [string, string][]; contentType?: string; atMs?: number; query?: string } = {}): Promise<string> {
  const at = opts.atMs ?? (clock += 1000);
  const id = makeId("evt", at, randomBytes(10));
  const item: IngestItem = {
    id, source: opts.source ?? "shop", eventType: "x", dedupeKey: `key-${id}`, dedupeWindowMs: 0, receivedAt: at,
    method: "POST", path: "/in/shop", query: opts.query ?? "", headers: opts.headers ?? [["content-type", opts.contentType ?? "application/json"]],
    body: typeof body === "string" ? new TextEncoder().encode(body) : body, contentType: opts.contentType ?? "application/json",
    remoteAddr: null, deliveries: [{ id: makeId("dlv", at, randomBytes(10)), target: "t", status: "pending" }],
  };
  await store.writer.submit(item);
  return id;
}

const search = async (store: Store, words: string, f: Partial<EventFilter> = {}) =>
  (await listEventsMatching(store.reads, { limit: 50, ...f, text: searchQueryOf(words)! })).events.map((e) => e.id);

describe("searching stored events by words", () => {
  test("an indexed event is found by a word of its body; words it does not have find nothing", async () => {
    const store = await freshStore();
    const id = await put(store, JSON.stringify({ note: "refund in EUR" }));
    await put(store, JSON.stringify({ note: "charge in USD" }));
    await indexerOf(store).drain();
    expect(await search(store, "refund")).toEqual([id]);
    expect(await search(store, "refund EUR")).toEqual([id]);
    expect(await search(store, "refund USD")).toEqual([]);
    expect(await search(store, "chargeback")).toEqual([]);
  });

  test("an event is found by its query string's decoded values, and no longer once erased", async () => {
    const store = await freshStore();
    const id = await put(store, JSON.stringify({ note: "nothing personal" }), { query: "email=alice%40example.com&plan=pro+yearly" });
    await put(store, JSON.stringify({ note: "someone else" }), { query: "email=bob%40example.com" });
    await indexerOf(store).drain();
    expect(await search(store, "alice@example.com")).toEqual([id]);
    expect(await search(store, "yearly")).toEqual([id]);
    await eraseEvent(store.writer, id, Date.now());
    expect(await search(store, "alice@example.com")).toEqual([]);
  });

  test("a gzip body is searched by its decoded words", async () => {
    const store = await freshStore();
    const id = await put(store, gzipSync(JSON.stringify({ note: "zipped refund" })), { headers: [["content-encoding", "gzip"]] });
    await indexerOf(store).drain();
    expect(await search(store, "zipped")).toEqual([id]);
  });

  test("large bodies are indexed too, a batch taking no more body bytes than its budget", async () => {
    const store = await freshStore();
    const big = await put(store, JSON.stringify({ pad: "x".repeat(200_000), note: "needle-in-big" }));
    const small = await put(store, JSON.stringify({ note: "needle-in-small" }));
    // Over budget alone: the big body goes in a batch of its own, the small one waits for the next.
    const first = await nextIndexBatch(store.reads, "new", { maxRows: 10, maxBytes: 100_000 });
    expect(first!.events.map((e) => e.id)).toEqual([big]);
    expect(first!.more).toBe(true);
    await indexerOf(store).drain();
    expect(await search(store, "needle-in-big")).toEqual([big]);
    expect(await search(store, "needle-in-small")).toEqual([small]);
  });

  test("matches come newest first, page by cursor without repeats, and combine with the source and status filters", async () => {
    const store = await freshStore();
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push(await put(store, JSON.stringify({ note: `common word ${i}` }), { source: i % 3 === 0 ? "billing" : "shop" }));
    await put(store, JSON.stringify({ note: "other" }));
    await store.reads.execute({ sql: "UPDATE deliveries SET status = 'failed' WHERE event_id IN (?, ?)", args: [ids[4]!, ids[9]!] });
    await indexerOf(store).drain();
    const pages: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await listEventsMatching(store.reads, { limit: 7, cursor, text: searchQueryOf("common")! });
      pages.push(...page.events.map((e) => e.id));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    expect(pages).toEqual([...ids].reverse());
    expect(await search(store, "common", { source: "billing" })).toEqual(ids.filter((_, i) => i % 3 === 0).reverse());
    expect(await search(store, "common", { status: "failed" })).toEqual([ids[9]!, ids[4]!]);
    expect(await search(store, "common", { status: "failed", source: "billing" })).toEqual([ids[9]!]);
  });

  test("words match as the index cuts them: any case, Latin diacritics folded, an address's parts, a term with punctuation as a phrase, a trailing * as a prefix", async () => {
    const store = await freshStore();
    const a = await put(store, JSON.stringify({ note: "Café refund ord_123 for a.b@mail.example" }));
    const b = await put(store, JSON.stringify({ note: "ord 999 then 123 refunded" }));
    await indexerOf(store).drain();
    expect(await search(store, "CAFE")).toEqual([a]);
    expect(await search(store, "café")).toEqual([a]);
    expect(await search(store, "mail")).toEqual([a]);
    // A phrase: b has both words, but not next to each other.
    expect(await search(store, "ord_123")).toEqual([a]);
    expect(await search(store, "refund")).toEqual([a]);
    expect(await search(store, "refund*")).toEqual([b, a]);
    expect(await search(store, "ord_12*")).toEqual([a]);
    expect(await countEvents(store.reads, { text: searchQueryOf("refund*")! })).toBe(2);
    expect(await countEvents(store.reads, { text: searchQueryOf("ord_123")! })).toBe(1);
  });

  test("time bounds are exact", async () => {
    const store = await freshStore();
    const t0 = Date.now() - 10 * 60_000;
    const ids = [];
    for (let i = 0; i < 10; i++) ids.push(await put(store, "bounded word", { atMs: t0 + i * 60_000, contentType: "text/plain" }));
    await indexerOf(store).drain();
    expect(await search(store, "bounded", { sinceMs: t0 + 3 * 60_000, untilMs: t0 + 6 * 60_000 })).toEqual([ids[5]!, ids[4]!, ids[3]!]);
  });

  test("the box's exact dedupe key is found before the event is indexed, and together with the word matches", async () => {
    const store = await freshStore();
    const older = await put(store, JSON.stringify({ note: "mentions key-x" }));
    await indexerOf(store).drain();
    const id = await put(store, JSON.stringify({ note: "not indexed yet" }));
    const row = await store.reads.execute({ sql: "SELECT dedupe_key FROM events WHERE id = ?", args: [id] });
    const key = String(row.rows[0]!.dedupe_key);
    const page = await listEventsMatching(store.reads, { limit: 50, text: searchQueryOf(`${key}`)!, orKey: key });
    expect(page.events.map((e) => e.id)).toEqual([id]);
    const both = await listEventsMatching(store.reads, { limit: 50, text: searchQueryOf("mentions")!, orKey: id });
    expect(both.events.map((e) => e.id)).toEqual([id, older]);
  });
});

describe("what leaves the index", () => {
  test("an erased event is never found by its old words, erased after or before it was indexed", async () => {
    const store = await freshStore();
    const indexer = indexerOf(store);
    const early = await put(store, JSON.stringify({ secret: "erasable-word" }));
    await indexer.drain();
    expect(await search(store, "erasable")).toEqual([early]);
    await eraseEvent(store.writer, early, Date.now());
    expect(await search(store, "erasable")).toEqual([]);
    const late = await put(store, JSON.stringify({ secret: "unindexed-word" }));
    await eraseEvent(store.writer, late, Date.now());
    await indexer.drain();
    expect(await search(store, "unindexed")).toEqual([]);
  });

  test("retention takes purged events out of the index, and a rowid used again carries only its new event's words", async () => {
    const store = await freshStore();
    const indexer = indexerOf(store);
    const now = Date.now();
    await put(store, JSON.stringify({ note: "ancient words" }), { atMs: now - 30 * DAY });
    await put(store, JSON.stringify({ note: "ancient too" }), { atMs: now - 29 * DAY });
    await store.reads.execute("UPDATE deliveries SET status = 'delivered'");
    await indexer.drain();
    expect((await search(store, "ancient")).length).toBe(2);
    const purged = await purgeExpired(store, { nowMs: now, retentionMs: 14 * DAY });
    expect(purged.events).toBe(2);
    expect(await search(store, "ancient")).toEqual([]);
    // The table is empty again: the next event takes rowid 1 once more, and is indexed as new.
    const fresh = await put(store, JSON.stringify({ note: "fresh words" }), { atMs: now });
    await indexer.drain();
    expect(await search(store, "fresh")).toEqual([fresh]);
    expect(await search(store, "ancient")).toEqual([]);
  });
});

describe("indexing in the store", () => {
  test("two relays indexing one store at once leave every event found", async () => {
    const url = await freshUrl();
    const a = await freshStore(url);
    const b = await freshStore(url);
    const ids: string[] = [];
    for (let i = 0; i < 300; i++) ids.push(await put(i % 2 ? a : b, JSON.stringify({ note: `shared word ${i}` })));
    const [ia, ib] = [indexerOf(a), indexerOf(b)];
    await Promise.all([ia.drain(), ib.drain(), ia.drain(), ib.drain()]);
    // A word count comes from the index alone: an event indexed twice would count twice.
    expect(await countEvents(a.reads, { text: searchQueryOf("shared")! })).toBe(300);
    expect((await listEventsMatching(a.reads, { limit: 500, text: searchQueryOf("shared")! })).events.map((e) => e.id)).toEqual([...ids].reverse());
  });

  test("a batch another relay wrote first is not written again", async () => {
    const url = await freshUrl();
    const a = await freshStore(url);
    const b = await freshStore(url);
    for (let i = 0; i < 5; i++) await put(a, JSON.stringify({ note: "raced" }));
    const limits = { maxRows: 100, maxBytes: 1 << 20 };
    // Both relays read the same batch before either writes it.
    const [ba, bb] = [(await nextIndexBatch(a.reads, "new", limits))!, (await nextIndexBatch(b.reads, "new", limits))!];
    const texts = (batch: IndexBatch, text: string) => batch.events.map((e) => ({ id: e.id, text }));
    expect(await writeIndexBatch(a.writer, ba, texts(ba, "first"))).toBe(true);
    expect(await writeIndexBatch(b.writer, bb, texts(bb, "second"))).toBe(false);
    const matches = (word: string) => countEvents(a.reads, { text: searchQueryOf(word)! });
    expect(await matches("first")).toBe(5);
    expect(await matches("second")).toBe(0);
  });

  // The file's watermarks; on PostgreSQL every event without words is taken alike, oldest first.
  test.skipIf(onPostgres)("events stored before the index existed are backfilled, and new events are indexed first", async () => {
    const store = await freshStore();
    const old: string[] = [];
    for (let i = 0; i < 40; i++) old.push(await put(store, JSON.stringify({ note: `legacy ${i}` })));
    // As the migration leaves a store that already had these events: nothing indexed, all below lo.
    await store.writer.write(["UPDATE search_state SET hi = (SELECT max(rowid) FROM events), lo = (SELECT max(rowid) FROM events) + 1"]);
    const indexer = startSearchIndexer({ store, log: silentLogger, maxDecodedBytes: 1 << 20, everyMs: 60_000, batchRows: 16 });
    cleanups.push(() => indexer.stop());
    const fresh = await put(store, JSON.stringify({ note: "legacy newcomer" }));
    await indexer.drain();
    expect(await search(store, "legacy")).toEqual([fresh, ...[...old].reverse()]);
    const state = await store.reads.execute("SELECT hi, lo, (SELECT min(rowid) FROM events) AS first, (SELECT max(rowid) FROM events) AS last FROM search_state");
    expect(Number(state.rows[0]!.hi)).toBe(Number(state.rows[0]!.last));
    expect(Number(state.rows[0]!.lo)).toBe(Number(state.rows[0]!.first));
  });

  test.skipIf(onPostgres)("a store migrated with events in it leaves them all to the backfill", async () => {
    const store = await freshStore();
    const rs = await store.reads.execute("SELECT hi, lo FROM search_state");
    expect(rs.rows.map((r) => [Number(r.hi), Number(r.lo)])).toEqual([[0, 1]]);
  });
});
