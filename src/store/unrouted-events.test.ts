import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { adminToml, seedEvents, type SeededEvent } from "../../test/support/admin-fixture.ts";
import { rows, startTestRelay, tempDir, type TestRelay } from "../../test/support/relay.ts";
import { makeId } from "../core/ids.ts";
import { listEvents, type EventFilter } from "./admin-queries.ts";
import { openStore, type Store } from "./index.ts";
import { redeliverEvent } from "./redeliver.ts";

const START = Date.UTC(2025, 0, 1);

/** Stores an event that no route took: no deliveries. */
async function storeUnrouted(store: Store, i: number, source: string, type: string): Promise<string> {
  const receivedAt = START + i * 1000 + 500;
  const id = makeId("evt", receivedAt, randomBytes(10));
  await store.writer.submit({
    id, source, eventType: type, dedupeKey: `unr_${String(i).padStart(4, "0")}`, dedupeWindowMs: 0, receivedAt,
    method: "POST", path: `/in/${source}`, query: "", headers: [["content-type", "application/json"]],
    body: new TextEncoder().encode("{}"), contentType: "application/json", remoteAddr: null, deliveries: [],
  });
  return id;
}

describe("the unrouted status", () => {
  let relay: TestRelay;
  let seeded: SeededEvent[];
  const unrouted: { id: string; source: string; type: string }[] = [];

  beforeAll(async () => {
    relay = await startTestRelay(adminToml());
    seeded = await seedEvents(relay.store, 150, START);
    for (let i = 0; i < 150; i += 5) {
      const source = i % 10 === 0 ? "billing" : "shop";
      const type = i % 15 === 0 ? "ping" : "order.created";
      unrouted.push({ id: await storeUnrouted(relay.store, i, source, type), source, type });
    }
  });
  afterAll(() => relay.close());

  async function walk(f: Omit<EventFilter, "limit">, tuning = { broadPrefix: 10, scanWindow: 40 }): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await listEvents(relay.store.reads, { ...f, cursor, limit: 7 }, tuning);
      for (const e of page.events) {
        expect(e.status).toBe("unrouted");
        ids.push(e.id);
      }
      if (!page.nextCursor) return ids;
      cursor = page.nextCursor;
    }
  }
  const expected = (match: (e: (typeof unrouted)[number]) => boolean) => unrouted.filter(match).map((e) => e.id).reverse();

  test("status=unrouted lists exactly the events stored without deliveries, newest first, with every other filter", async () => {
    expect(seeded.length).toBe(150);
    expect(await walk({ status: "unrouted" })).toEqual(expected(() => true));
    expect(await walk({ status: "unrouted", source: "billing" })).toEqual(expected((e) => e.source === "billing"));
    expect(await walk({ status: "unrouted", type: "ping" })).toEqual(expected((e) => e.type === "ping"));
    expect(await walk({ status: "unrouted", q: "unr_" })).toEqual(expected(() => true));
    expect(await walk({ status: "unrouted", q: "unr_0010" })).toEqual(expected((e) => e.id === unrouted[2]!.id));
    expect(await walk({ status: "unrouted", sinceMs: START + 100_000 })).toEqual(expected((e) => e.id > makeId("evt", START + 100_000, new Uint8Array(10))));
    expect(await walk({ status: "unrouted", target: "orders" })).toEqual([]);
  });

  test("an unrouted event that is redelivered to a target is no longer unrouted", async () => {
    const first = unrouted[0]!;
    const r = await redeliverEvent(relay.store, { eventId: first.id, target: "orders", nowMs: START });
    expect(r.ok).toBe(true);
    expect(await walk({ status: "unrouted" })).toEqual(expected((e) => e.id !== first.id));
    expect((await walk({ status: "unrouted", q: "unr_" })).includes(first.id)).toBe(false);
  });
});

test("events stored before the unrouted column are marked by the migration when they have no delivery", async () => {
  const tmp = tempDir();
  const url = `file:${tmp.dir}/old.db`;
  try {
    let store = await openStore({ url, busyTimeoutMs: 1000, nowMs: () => START, checkpointEveryMs: 0 });
    const lone = await storeUnrouted(store, 1, "shop", "x");
    const routedId = makeId("evt", START, randomBytes(10));
    await store.writer.submit({
      id: routedId, source: "shop", eventType: "x", dedupeKey: "k", dedupeWindowMs: 0, receivedAt: START, method: "POST", path: "/in/shop",
      query: "", headers: [], body: new Uint8Array(), contentType: null, remoteAddr: null,
      deliveries: [{ id: makeId("dlv", START, randomBytes(10)), target: "orders", status: "pending" }],
    });
    // As an older relay left them: no flag, and the backfill not yet applied.
    await store.writer.write([{ sql: "UPDATE events SET unrouted = NULL", args: [] }, { sql: "DELETE FROM hookrelay_migrations WHERE tag = '0008_backfill_unrouted'", args: [] }]);
    expect((await rows(store, "SELECT count(*) AS n FROM events WHERE unrouted = 1"))[0]!.n).toBe(0);
    await store.close();
    store = await openStore({ url, busyTimeoutMs: 1000, nowMs: () => START, checkpointEveryMs: 0 });
    const marked = await rows(store, "SELECT id FROM events WHERE unrouted = 1");
    expect(marked.map((r) => r.id)).toEqual([lone]);
    await store.close();
  } finally {
    tmp.remove();
  }
});
