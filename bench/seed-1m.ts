/**
 * Seeds a store with 1,000,000 events (plus their deliveries and attempts)
 * spread over the last 14 days, straight through SQL: multi-row INSERTs,
 * 10,000 events per transaction, synchronous=OFF for the seed only.
 *
 *   bun bench/seed-1m.ts            # BENCH_DB=/tmp/… BENCH_EVENTS=1000000
 *
 * Mix: 96 % delivered, ~2 % failed (3 attempts), 1 % pending, 1 % paused;
 * 1 % of events are duplicated; 1 % are unrouted (no route took them: no
 * deliveries). The rare source makes selective filters.
 *
 * Then the full-text index of every event, built by the relay's indexer with
 * no pauses (the time it took is printed); BENCH_NO_INDEX=1 skips it, leaving
 * the events to the indexer of the next relay that opens the store.
 */
import { rmSync } from "node:fs";
import { dirname } from "node:path";
import type { InValue } from "@libsql/client";
import { makeId } from "../src/core/ids.ts";
import { startSearchIndexer } from "../src/ingest/search-indexer.ts";
import { silentLogger } from "../src/log/logger.ts";
import { openStore } from "../src/store/index.ts";
import { BENCH_DB, BENCH_SOURCES, BENCH_TYPES } from "./admin-fixture.ts";

const TOTAL = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const PER_TX = 10_000;
const ROUTES: Record<string, string[]> = { shop: ["orders", "audit"], billing: ["orders"], github: ["audit"], rare: ["orders"] };

rmSync(dirname(BENCH_DB), { recursive: true, force: true });
const store = await openStore({ url: `file:${BENCH_DB}`, busyTimeoutMs: 10_000, nowMs: Date.now, checkpointEveryMs: 0 });
const client = store.reads;
await client.execute("PRAGMA synchronous = OFF");

const now = Date.now();
const spanMs = 14 * 86_400_000;
const rnd = () => crypto.getRandomValues(new Uint8Array(10));
// Deterministic mix from the index, so reruns seed the same shape.
const sourceOf = (i: number) => {
  const x = ((i * 2654435761) >>> 0) / 2 ** 32;
  let acc = 0;
  for (const [name, share] of BENCH_SOURCES) if (x < (acc += share)) return name;
  return BENCH_SOURCES[0]![0];
};
const statusOf = (i: number, t: string) => {
  const x = ((i * 40503 + t.length * 7919) % 1000) / 1000;
  return x < 0.02 ? "failed" : x < 0.03 ? "pending" : x < 0.04 ? "paused" : "delivered";
};
const headers = JSON.stringify([["content-type", "application/json"], ["user-agent", "Bench/1.0"], ["x-request-id", "req-0000"]]);

/** Runs one multi-row INSERT per `rows`-sized chunk. */
async function insertMany(tx: Awaited<ReturnType<typeof client.transaction>>, head: string, cols: number, rows: InValue[][]) {
  const per = Math.floor(30_000 / cols);
  for (let i = 0; i < rows.length; i += per) {
    const chunk = rows.slice(i, i + per);
    await tx.execute({ sql: `${head} VALUES ${chunk.map(() => `(${Array(cols).fill("?").join(",")})`).join(",")}`, args: chunk.flat() });
  }
}

const started = performance.now();
for (let base = 0; base < TOTAL; base += PER_TX) {
  const events: InValue[][] = [];
  const deliveries: InValue[][] = [];
  const attempts: InValue[][] = [];
  for (let i = base; i < Math.min(TOTAL, base + PER_TX); i++) {
    const at = now - spanMs + Math.floor((i * spanMs) / TOTAL);
    const source = sourceOf(i);
    const type = BENCH_TYPES[i % BENCH_TYPES.length]!;
    const id = makeId("evt", at, rnd());
    const key = `${source}_${i.toString(36).padStart(6, "0")}`;
    const body = JSON.stringify({ id: key, type, data: { amount: i % 10_000, currency: "EUR", customer: `cus_${i % 5000}` } });
    const unrouted = i % 100 === 37;
    events.push([id, source, type, key, at, "POST", `/in/${source}`, "", headers, Buffer.from(body), "application/json", "203.0.113.9", i % 100 === 0 ? 1 : 0, unrouted ? 1 : null]);
    for (const t of unrouted ? [] : ROUTES[source]!) {
      const status = statusOf(i, t);
      const did = makeId("dlv", at, rnd());
      const n = status === "failed" ? 3 : status === "delivered" ? 1 : 0;
      deliveries.push([did, id, t, status, n, at, status === "failed" ? "HTTP 503" : null, at, at]);
      for (let k = 0; k < n; k++) {
        const ok = status === "delivered";
        attempts.push([makeId("att", at + k * 5000, rnd()), did, id, t, at + k * 5000, ok ? 200 : 503, ok ? 35 : 120, ok ? null : "HTTP 503", ok ? "ok" : "Service Unavailable"]);
      }
    }
  }
  const tx = await client.transaction("write");
  await insertMany(tx, `INSERT INTO events (id, source, event_type, dedupe_key, received_at, method, path, query, headers, body, content_type, remote_addr, duplicates, unrouted)`, 14, events);
  await insertMany(tx, `INSERT INTO deliveries (id, event_id, target, status, attempts, next_attempt_at, last_error, created_at, updated_at)`, 9, deliveries);
  await insertMany(tx, `INSERT INTO attempts (id, delivery_id, event_id, target, at, status_code, duration_ms, error, response_excerpt)`, 9, attempts);
  await tx.commit();
  if ((base / PER_TX) % 10 === 0) console.log(`${base + events.length} events, ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
await client.execute(
  "INSERT INTO source_counters (source, received, duplicates) SELECT source, count(*), sum(duplicates) FROM events GROUP BY source",
);
// No ANALYZE: a production store has no sqlite_stat1 either, so the bench sees the same query plans.
if (process.env.BENCH_NO_INDEX !== "1") {
  const indexing = performance.now();
  const indexer = startSearchIndexer({ store, log: silentLogger, maxDecodedBytes: 1 << 20, everyMs: 3_600_000, batchRows: 1024 });
  await indexer.drain();
  await indexer.stop();
  const sec = (performance.now() - indexing) / 1000;
  console.log(`indexed ${TOTAL} events in ${sec.toFixed(1)} s (${Math.round(TOTAL / sec)}/s, no pauses)`);
}
await store.close();
console.log(`seeded ${TOTAL} events into ${BENCH_DB} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
