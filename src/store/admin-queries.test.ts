import { afterAll, beforeAll, expect, test } from "bun:test";
import { adminToml, seedEvents, type SeededEvent } from "../../test/support/admin-fixture.ts";
import { startTestRelay, type TestRelay } from "../../test/support/relay.ts";
import { countEvents, countEventsUpTo, eventStatusOf, getEvent, listEvents, type EventFilter } from "./admin-queries.ts";

let relay: TestRelay;
let seeded: SeededEvent[];
beforeAll(async () => {
  relay = await startTestRelay(adminToml());
  seeded = await seedEvents(relay.store, 600, Date.UTC(2025, 0, 1));
});
afterAll(() => relay.close());

async function walk(f: Omit<EventFilter, "limit">, tuning = { broadPrefix: 10, scanWindow: 50 }) {
  const ids: string[] = [];
  const pageSizes: number[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await listEvents(relay.store.reads, { ...f, cursor, limit: 20 }, tuning);
    ids.push(...page.events.map((e) => e.id));
    pageSizes.push(page.events.length);
    if (!page.nextCursor) return { ids, pageSizes };
    cursor = page.nextCursor;
  }
}

test("a broad key prefix is searched window by window and still yields every match once, newest first", async () => {
  const expected = seeded.filter((e) => e.dedupeKey.startsWith("inv_")).map((e) => e.id).reverse();
  const { ids, pageSizes } = await walk({ q: "inv_" });
  expect(ids).toEqual(expected);
  // Windows of 50 events hold ~17 billing events each: pages come back short but the walk goes on.
  expect(pageSizes.some((n) => n > 0 && n < 20)).toBe(true);
});

test("a broad prefix combines with delivery filters", async () => {
  const expected = seeded.filter((e) => e.dedupeKey.startsWith("ord_") && e.statuses.audit === "failed").map((e) => e.id).reverse();
  expect((await walk({ q: "ord_", target: "audit", status: "failed" })).ids).toEqual(expected);
});

test("a narrow prefix is answered from the key index in one sorted page", async () => {
  const expected = seeded.filter((e) => e.dedupeKey.startsWith("ord_00012")).map((e) => e.id).reverse();
  const { ids, pageSizes } = await walk({ q: "ord_00012" }, { broadPrefix: 2000, scanWindow: 20_000 });
  expect(ids).toEqual(expected);
  expect(pageSizes).toEqual([expected.length]);
});

test("the type filter takes a glob as routes write it: * any run, ? one character, case as given, nothing else special", async () => {
  const types = (es: SeededEvent[]) => es.map((e) => e.id).sort().reverse();
  const byType = (pick: (t: string) => boolean) => types(seeded.filter((e) => pick(e.type)));
  expect((await walk({ type: "order.*" })).ids).toEqual(byType((t) => t.startsWith("order.")));
  expect((await walk({ type: "order.pai?" })).ids).toEqual(byType((t) => t === "order.paid"));
  expect((await walk({ type: "*.sent", source: "billing" })).ids).toEqual(types(seeded.filter((e) => e.source === "billing" && e.type.endsWith(".sent"))));
  expect((await walk({ type: "ORDER.*" })).ids).toEqual([]);
  // SQL's own wildcards are plain characters here.
  expect((await walk({ type: "order%" })).ids).toEqual([]);
  expect((await walk({ type: "order._aid" })).ids).toEqual([]);
  expect(await countEvents(relay.store.reads, { type: "invoice.*" })).toBe(byType((t) => t.startsWith("invoice.")).length);
});

test("an event's deliveries made together come in target order, the same on every event (not by their random ids)", async () => {
  for (const e of seeded.filter((x) => x.source === "shop").slice(0, 20)) {
    expect((await getEvent(relay.store.reads, e.id))!.deliveries.map((d) => d.target)).toEqual(["audit", "orders"]);
  }
});

test("an event's status comes from the latest delivery per target, failures first", () => {
  expect(eventStatusOf([])).toBe("unrouted");
  expect(eventStatusOf([{ id: "dlv_1", target: "a", status: "failed" }, { id: "dlv_2", target: "a", status: "delivered" }])).toBe("delivered");
  expect(eventStatusOf([{ id: "dlv_1", target: "a", status: "pending" }, { id: "dlv_2", target: "b", status: "failed" }])).toBe("failed");
  expect(eventStatusOf([{ id: "dlv_1", target: "a", status: "delivered" }, { id: "dlv_2", target: "b", status: "paused" }])).toBe("paused");
});

test("countEvents agrees with the list's walk for every filter, delivered and text search included; countEventsUpTo stops past its cap", async () => {
  const filters: Omit<EventFilter, "limit">[] = [
    {}, { source: "billing" }, { status: "delivered" }, { status: "delivered", target: "audit" }, { status: "delivered", source: "shop", type: "order.paid" },
    { status: "failed" }, { status: "pending", target: "orders" }, { q: "inv_" }, { q: "ord_", status: "delivered" }, { q: "ord_", target: "audit", status: "failed" },
    { status: "unrouted" }, { sinceMs: Date.UTC(2025, 0, 1) + 100_000, untilMs: Date.UTC(2025, 0, 1) + 300_000, status: "delivered" },
  ];
  const agree = async () => {
    for (const f of filters) {
      const { ids } = await walk(f);
      expect({ f, n: await countEvents(relay.store.reads, f) }).toEqual({ f, n: ids.length });
      expect({ f, n: await countEventsUpTo(relay.store.reads, f, 50) }).toEqual({ f, n: Math.min(ids.length, 51) });
    }
  };
  await agree();
  // Redeliveries supersede: newer deliveries, delivered over failed ones and pending over delivered ones.
  const newer = (e: SeededEvent, status: string, i: number) => ({
    sql: "INSERT INTO deliveries (id, event_id, target, status, attempts, next_attempt_at, created_at, updated_at) VALUES (?, ?, 'orders', ?, 0, 0, 0, 0)",
    args: [`dlv_ZZZZZZZZZZ${String(i).padStart(16, "0")}`, e.id, status],
  });
  const failed = seeded.filter((e) => e.statuses.orders === "failed").slice(0, 20);
  const delivered = seeded.filter((e) => e.statuses.orders === "delivered").slice(0, 20);
  await relay.store.writer.write([...failed.map((e, i) => newer(e, "delivered", i)), ...delivered.map((e, i) => newer(e, "pending", 100 + i))]);
  await agree();
});
