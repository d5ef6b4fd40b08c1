/**
 * Two relays on one PostgreSQL database lease from the same queue at once:
 * each store here has its own pools, so its transactions are another
 * session's, as a second relay's would be. A target's concurrency is one
 * limit across both, and an ordered target's deliveries go one at a time in
 * receive order, whoever leases them. (On the embedded file one write lock
 * makes this trivially true; the same assertions run there in deliveries.test.ts.)
 */
import { afterEach, expect, test } from "bun:test";
import { freshStoreUrl, onPostgres } from "../../test/support/test-store.ts";
import { submitEvent } from "../../test/delivery/fixtures.ts";
import { openStore, type Store } from "./index.ts";
import { leaseDueDeliveries, recordOutcomes, type LeasedDelivery, type LeaseRequest, type OutcomeRecord } from "./deliveries.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function twoStoresOnOneDatabase(): Promise<[Store, Store]> {
  const { url, drop } = await freshStoreUrl("unused");
  const open = () => openStore({ url, busyTimeoutMs: 5000, nowMs: Date.now, checkpointEveryMs: 0 });
  const a = await open();
  const b = await open();
  cleanups.push(async () => {
    await a.close();
    await b.close();
    await drop();
  });
  return [a, b];
}

const NOW = 10_000_000;
const CONCURRENCY = 2;

test.skipIf(!onPostgres)("two stores on one database lease concurrently: never more than a target's concurrency, an ordered target one at a time in receive order", async () => {
  const [a, b] = await twoStoresOnOneDatabase();
  const wide: string[] = [];
  const ordered: string[] = [];
  for (let i = 0; i < 60; i++) wide.push(await submitEvent(i % 2 ? a : b, { targets: ["c"], receivedAt: 1000 + i }));
  // Several events in one millisecond too: receive order is the order they were stored in.
  for (let i = 0; i < 30; i++) ordered.push(await submitEvent(i % 2 ? a : b, { targets: ["o"], receivedAt: 2000 + Math.floor(i / 3) }));

  // What the test process holds: counted up once a lease is committed, down before its outcome is
  // sent, so it is never above the store's own count of live leases.
  const held = { c: 0, o: 0 };
  const maxHeld = { c: 0, o: 0 };
  let maxStored = 0;
  const orderedLeases: string[] = [];
  const delivered = new Set<string>();
  let failedOnce = 0;

  const request = (store: Store, round: number): LeaseRequest => ({
    leaseId: `lease_${store === a ? "a" : "b"}_${round}`,
    nowMs: NOW,
    wants: [
      { target: "c", slots: CONCURRENCY, concurrency: CONCURRENCY, leaseMs: 60_000, ordered: false },
      { target: "o", slots: 1, concurrency: 1, leaseMs: 60_000, ordered: true },
    ],
  });

  const took = async (store: Store, leased: LeasedDelivery[]) => {
    for (const d of leased) {
      const t = d.target as "c" | "o";
      held[t]++;
      maxHeld[t] = Math.max(maxHeld[t], held[t]);
      if (t === "o") orderedLeases.push(d.eventId);
    }
    const live = await store.reads.execute("SELECT count(*) AS n FROM deliveries WHERE target = 'c' AND status = 'delivering'");
    maxStored = Math.max(maxStored, Number(live.rows[0]!.n));
  };

  const outcomeOf = (d: LeasedDelivery): OutcomeRecord => {
    // Every fifth ordered delivery fails once and is due again at once: it must go again before the next one.
    const fail = d.target === "o" && d.attempts === 0 && ordered.indexOf(d.eventId) % 5 === 0;
    if (fail) failedOnce++;
    else delivered.add(d.eventId);
    return {
      deliveryId: d.id, leaseId: d.leaseId, eventId: d.eventId, target: d.target,
      status: fail ? "pending" : "delivered", nextAttemptAt: fail ? NOW : null, error: fail ? "HTTP 500" : null, healthy: !fail,
      attempt: { id: `att_${crypto.randomUUID()}`, at: NOW, statusCode: fail ? 500 : 200, durationMs: 1, error: null, responseExcerpt: null, request: null },
    };
  };

  const worker = async (store: Store) => {
    let mine: LeasedDelivery[] = [];
    for (let round = 0; round < 2000 && delivered.size < wide.length + ordered.length; round++) {
      let leased: LeasedDelivery[];
      if (mine.length > 0 && round % 2 === 0) {
        // Outcomes and the next lease in one write, as the scheduler's rounds do.
        const done = mine;
        mine = [];
        for (const d of done) held[d.target as "c" | "o"]--;
        ({ leased } = await recordOutcomes(store.writer, done.map(outcomeOf), NOW, request(store, round)));
      } else {
        leased = await leaseDueDeliveries(store.writer, request(store, round));
      }
      await took(store, leased);
      mine.push(...leased);
      await Bun.sleep(round % 3);
    }
    for (const d of mine) held[d.target as "c" | "o"]--;
    if (mine.length > 0) await recordOutcomes(store.writer, mine.map(outcomeOf), NOW);
  };
  await Promise.all([worker(a), worker(b)]);

  expect(delivered.size).toBe(wide.length + ordered.length);
  expect(maxHeld.c).toBeLessThanOrEqual(CONCURRENCY);
  expect(maxStored).toBeLessThanOrEqual(CONCURRENCY);
  expect(maxHeld.o).toBe(1);
  // In receive order; a failed one again before the one behind it.
  expect(failedOnce).toBe(6);
  expect(orderedLeases.filter((id, i) => orderedLeases[i - 1] !== id)).toEqual(ordered);
  const rows = await a.reads.execute("SELECT status, count(*) AS n FROM deliveries GROUP BY status");
  expect(rows.rows.map((r) => [r.status, Number(r.n)])).toEqual([["delivered", 90]]);
}, 60_000);
