/**
 * Admin read paths on a big store (seed it first: `bun bench/seed-1m.ts`).
 * Times `adminApp.handle(request)` in-process — routing, validation, store
 * queries and JSON/HTML rendering, i.e. the server-side time — for the events
 * list under several filters and a deep cursor, one event's page, and the
 * targets / sources pages, and /overview. Target: ≤ 100 ms each (docs/PERFORMANCE.md).
 *
 *   bun bench/admin-queries.ts       # BENCH_DB=/tmp/hookrelay-bench-1m/relay.db BENCH_RUNS=20
 */
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/config/index.ts";
import { silentLogger } from "../src/log/logger.ts";
import { openStore } from "../src/store/index.ts";
import { updateOverview } from "../src/store/overview.ts";
import { BENCH_DB, BENCH_TOKEN, benchToml } from "./admin-fixture.ts";

const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const loaded = loadConfig(benchToml(), { env: {}, baseDir: "/tmp" });
if (!loaded.ok) throw new Error(loaded.problems.join("\n"));
const config = loaded.config;
config.store.url = `file:${BENCH_DB}`;
const store = await openStore({ url: config.store.url, busyTimeoutMs: 5000, nowMs: Date.now, checkpointEveryMs: 0, mustExist: true });
const app = createApp({ config, store, log: silentLogger });
const client = store.reads;

const total = Number((await client.execute("SELECT count(*) AS n FROM events")).rows[0]!.n);
const at = async (offset: number) =>
  String((await client.execute({ sql: "SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?", args: [offset] })).rows[0]!.id);
const deep = await at(Math.floor(total * 0.9));
const middle = await at(Math.floor(total / 2));
const sample = (await client.execute({ sql: "SELECT id, dedupe_key FROM events WHERE id <= ? ORDER BY id DESC LIMIT 1", args: [middle] })).rows[0]!;
const failedEvent = String(
  (await client.execute("SELECT event_id FROM deliveries WHERE status = 'failed' ORDER BY event_id LIMIT 1 OFFSET 100")).rows[0]!.event_id,
);
const dayAgo = new Date(Date.now() - 86_400_000).toISOString();
const tenDaysAgo = new Date(Date.now() - 10 * 86_400_000).toISOString();
const nineDaysAgo = new Date(Date.now() - 9 * 86_400_000).toISOString();
let cookie = "";

const cases: [string, string][] = [
  ["list: newest 50", "/api/events"],
  ["list: deep cursor (90 % down)", `/api/events?cursor=${deep}`],
  ["list: source=shop", "/api/events?source=shop"],
  ["list: source=rare, deep cursor", `/api/events?source=rare&cursor=${deep}`],
  ["list: type=invoice.paid", "/api/events?type=invoice.paid"],
  ["list: source=github&type=push", "/api/events?source=github&type=push"],
  ["list: status=failed", "/api/events?status=failed"],
  ["list: status=failed, deep cursor", `/api/events?status=failed&cursor=${deep}`],
  ["list: target=audit&status=pending", "/api/events?target=audit&status=pending"],
  ["list: status=delivered", "/api/events?status=delivered"],
  ["list: target=orders&status=delivering (none in flight)", "/api/events?target=orders&status=delivering"],
  ["list: target=orders", "/api/events?target=orders"],
  ["list: status=paused&source=rare", "/api/events?status=paused&source=rare"],
  ["list: status=unrouted", "/api/events?status=unrouted"],
  ["list: status=unrouted, deep cursor", `/api/events?status=unrouted&cursor=${deep}`],
  ["list: status=unrouted&source=rare", "/api/events?status=unrouted&source=rare"],
  ["list: since 24h", `/api/events?since=${dayAgo}`],
  ["list: since/until one day, 10 days back", `/api/events?since=${tenDaysAgo}&until=${nineDaysAgo}`],
  ["list: q=exact dedupe key", `/api/events?q=${sample.dedupe_key}`],
  ["list: q=key prefix", `/api/events?q=${String(sample.dedupe_key).slice(0, -2)}`],
  ["list: q=event id", `/api/events?q=${sample.id}`],
  ["list: limit=500", "/api/events?limit=500"],
  // Full-text search (the seed indexes every event; 1 in 5,000 has a given customer).
  ["words: text=EUR (every event)", "/api/events?text=EUR"],
  ["words: text=refunded (1 in 10)", "/api/events?text=refunded"],
  ["words: text=cus_1234 (200 events)", "/api/events?text=cus_1234"],
  ["words: text=EUR, deep cursor", `/api/events?text=EUR&cursor=${deep}`],
  ["words: text=refunded&source=rare&status=failed", "/api/events?text=refunded&source=rare&status=failed"],
  ["words: text=cus_1234&source=shop", "/api/events?text=cus_1234&source=shop"],
  ["words: text=EUR since 24h", `/api/events?text=EUR&since=${dayAgo}`],
  ["UI: events page, box=cus_1234", "/?q=cus_1234"],
  // Adversarial: filters that the driving index cannot narrow.
  ["worst: q=shop_ (prefix of half the keys)", "/api/events?q=shop_"],
  ["worst: status=failed&source=rare&type=ping", "/api/events?status=failed&source=rare&type=ping"],
  ["worst: source=rare&type=ping&since 10 days back", `/api/events?source=rare&type=ping&until=${tenDaysAgo}`],
  // No unrouted event has this type in the seed: the walk reads every unrouted event.
  ["worst: status=unrouted&type=ping (none match)", "/api/events?status=unrouted&type=ping"],
  ["worst: status=unrouted&q=shop_", "/api/events?status=unrouted&q=shop_"],
  // Every event has the word and none the filter: the walk reads the whole index.
  ["worst: text=EUR&type=no.such.type", "/api/events?text=EUR&type=no.such.type"],
  ["event: JSON", `/api/events/${sample.id}`],
  ["event: JSON, failed with attempts", `/api/events/${failedEvent}`],
  ["UI: events page", "/"],
  ["UI: events page, status=failed deep", `/?status=failed&cursor=${deep}`],
  ["UI: events page, status=unrouted", "/?status=unrouted"],
  ["UI: event page", `/events/${failedEvent}`],
  ["UI: targets page", "/targets"],
  ["UI: sources page", "/sources"],
  ["API: targets", "/api/targets"],
  ["API: sources", "/api/sources"],
  ["UI: overview (24 h, minute job has run)", "/overview"],
  ["API: overview", "/api/overview"],
];

const login = await app.adminApp.handle(
  new Request("http://127.0.0.1/login", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin" },
    body: `token=${BENCH_TOKEN}`,
  }),
);
cookie = login.headers.get("set-cookie")!.split(";")[0]!;

// /overview reads the buckets the relay's minute job summed; time it also before that job ever ran
// (every bucket counted from the raw rows), and the job's first run on this store.
await client.execute("DELETE FROM overview_buckets");
const coldTimes: number[] = [];
for (let i = 0; i < 3; i++) {
  const t0 = performance.now();
  await (await app.adminApp.handle(new Request("http://127.0.0.1/overview", { headers: { cookie } }))).text();
  coldTimes.push(performance.now() - t0);
}
const jobStarted = performance.now();
const { summed } = await updateOverview(store, Date.now(), config.targets.map((t) => t.name));
const jobMs = performance.now() - jobStarted;

console.log(`store: ${BENCH_DB} — ${total.toLocaleString("en")} events; ${RUNS} runs per case (after 3 warm-ups)\n`);
console.log("| case | p50 ms | p95 ms | max ms | rows |");
console.log("|---|---:|---:|---:|---:|");
let worst = 0;
for (const [name, path] of cases) {
  const headers: Record<string, string> = path.startsWith("/api") ? { authorization: `Bearer ${BENCH_TOKEN}` } : { cookie };
  const once = async () => {
    const t0 = performance.now();
    const res = await app.adminApp.handle(new Request(`http://127.0.0.1${path}`, { headers }));
    const text = await res.text();
    const ms = performance.now() - t0;
    if (res.status !== 200) throw new Error(`${name}: HTTP ${res.status} ${text.slice(0, 200)}`);
    return { ms, text };
  };
  for (let i = 0; i < 3; i++) await once();
  const times: number[] = [];
  let rows = "";
  for (let i = 0; i < RUNS; i++) {
    const r = await once();
    times.push(r.ms);
    if (path.startsWith("/api/events?") || path === "/api/events") rows = String((JSON.parse(r.text) as { events: unknown[] }).events.length);
  }
  times.sort((a, b) => a - b);
  const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))]!;
  worst = Math.max(worst, q(0.95));
  console.log(`| ${name} | ${q(0.5).toFixed(1)} | ${q(0.95).toFixed(1)} | ${times.at(-1)!.toFixed(1)} | ${rows} |`);
}
console.log(`\nworst p95: ${worst.toFixed(1)} ms (target ≤ 100 ms)`);
console.log(`overview before the minute job's first run: ${coldTimes.map((t) => t.toFixed(0)).join(", ")} ms; the job's first run summed ${summed} buckets in ${jobMs.toFixed(0)} ms`);
await store.close();
