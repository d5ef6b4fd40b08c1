/**
 * What a drain's SQL costs the store, statement by statement (by hand: `bun
 * bench/drain-sql.ts`, ~20 s). The relay's own rounds — `recordOutcomes`
 * with the previous round's outcomes and the next lease, the statements it
 * builds, on the relay's schema seeded as bench/deliver.ts seeds it (BENCH_EVENTS,
 * 20,000 pending deliveries) — executed in this one thread on `bun:sqlite`
 * (WAL, synchronous=NORMAL, secure_delete as the relay sets it), rounds of
 * ROUND (78, a drain's usual round). No thread hop, no JSON, no driver: what
 * is left is SQLite's own work. Prints µs per delivery for each statement and
 * the commit, as the schema is and without some of its indexes (what each
 * costs a drain; the admin queries of issue 4 are what they are for).
 */
import { Database } from "bun:sqlite";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeId } from "../src/core/ids.ts";
import { recordOutcomes, type LeasedDelivery, type OutcomeRecord } from "../src/store/deliveries.ts";
import { bunSqliteWriter, DRAIN_PRAGMAS } from "./bun-sqlite-writer.ts";
import { seedPendingDeliveries } from "./wrk.ts";

const EVENTS = Number(process.env.BENCH_EVENTS ?? 20_000);
const ROUND = Number(process.env.BENCH_ROUND ?? 78);
const BODY = JSON.stringify({ type: "order.paid", data: { id: "ord_123", amount: 4200, currency: "EUR", note: "ë Ñ ú ✓" } });
// An attempt's stored request as the relay packs it (store/attempt-request.ts): the event's values by name.
const REQUEST = JSON.stringify(["POST", "http://127.0.0.1:40000/hooks", "webhook-id", "webhook-timestamp", ["webhook-signature", "v1,Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5"], "content-type", ["user-agent", "hookrelay"]]);

const VARIANTS: { name: string; drop: string[] }[] = [
  { name: "as it is", drop: [] },
  { name: "without the attempts' three indexes", drop: ["attempts_delivery", "attempts_at", "attempts_target_at"] },
  { name: "without the deliveries' two attention indexes", drop: ["deliveries_attention", "deliveries_target_attention"] },
  { name: "without deliveries_event and deliveries_target_event", drop: ["deliveries_event", "deliveries_target_event"] },
];

const dir = mkdtempSync(join(tmpdir(), "hookrelay-bench-drain-sql-"));
const seeded = join(dir, "seeded.db");
await seedPendingDeliveries(`file:${seeded}`, EVENTS, BODY);

async function replay(variant: (typeof VARIANTS)[number]): Promise<{ perDelivery: number; spent: Map<string, number> }> {
  const file = join(dir, "replay.db");
  for (const suffix of ["", "-wal", "-shm"]) rmSync(file + suffix, { force: true });
  copyFileSync(seeded, file);
  // strict: named arguments bind without their ':' (as the relay's driver binds them).
  const db = new Database(file, { strict: true });
  db.exec(DRAIN_PRAGMAS);
  for (const index of variant.drop) db.exec(`DROP INDEX ${index}`);
  const spent = new Map<string, number>();
  // Each statement's time under its first words: the lease ("… SET status = 'delivering'") and the outcome ("… SET status = CASE") told apart.
  const writer = bunSqliteWriter(db, (sql, ms) => {
    const what = sql.trim().replace(/\s+/g, " ").split(" ").slice(0, 6).join(" ");
    spent.set(what, (spent.get(what) ?? 0) + ms);
  });
  let leased: LeasedDelivery[] = [];
  let delivered = 0;
  let round = 0;
  const started = performance.now();
  for (;;) {
    const now = Date.now();
    const outcomes = leased.map((d): OutcomeRecord => ({
      deliveryId: d.id, leaseId: d.leaseId, eventId: d.eventId, target: d.target, status: "delivered", nextAttemptAt: null, error: null, healthy: true,
      attempt: { id: makeId("att", now, crypto.getRandomValues(new Uint8Array(10))), at: now, statusCode: 200, durationMs: 1, error: null, responseExcerpt: "ok", request: REQUEST },
    }));
    delivered += outcomes.length;
    const lease = delivered >= EVENTS ? null : { leaseId: `lease_bench.${++round}`, holder: "lease_bench", nowMs: now + 10, wants: [{ target: "sink", slots: ROUND, concurrency: 64, leaseMs: 35_000, ordered: false, ahead: 128 }] };
    if (outcomes.length === 0 && lease === null) break;
    leased = (await recordOutcomes(writer, outcomes, now, lease)).leased;
    if (lease === null) break;
  }
  const perDelivery = ((performance.now() - started) * 1000) / delivered;
  db.close();
  return { perDelivery, spent: new Map([...spent].map(([k, ms]) => [k, (ms * 1000) / delivered])) };
}

console.log(`${EVENTS} deliveries in rounds of ${ROUND}, µs per delivery (each variant run twice, the second shown)`);
for (const variant of VARIANTS) {
  await replay(variant); // the first run warms the page cache and the JIT
  const { perDelivery, spent } = await replay(variant);
  console.log(`${variant.name.padEnd(52)} ${perDelivery.toFixed(1).padStart(5)} µs: ${[...spent].map(([k, us]) => `${k} ${us.toFixed(1)}`).join(", ")}`);
}
rmSync(dir, { recursive: true, force: true });
