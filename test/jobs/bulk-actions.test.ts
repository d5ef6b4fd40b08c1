/**
 * Bulk actions through the admin API on a real store: dry-run counts that
 * agree with the events list, redeliver and cancel jobs run to done, a job
 * stopped by DELETE, and bad requests refused with a reason.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startSearchIndexer } from "../../src/ingest/search-indexer.ts";
import { searchQueryOf } from "../../src/core/search-text.ts";
import { bulkStep } from "../../src/jobs/bulk-actions.ts";
import { listEventRefs, type EventFilter, type SearchTuning } from "../../src/store/admin-queries.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { ADMIN_TOKEN, adminToml, seedEvents, type SeededEvent } from "../support/admin-fixture.ts";
import { rows, startTestRelay, type TestRelay } from "../support/relay.ts";
import { onPostgres } from "../support/test-store.ts";

const START = Date.UTC(2025, 0, 1);
const COUNT = 600;

type Api = (path: string, init?: { method?: string; body?: unknown }) => Promise<{ status: number; body: any }>;

function apiOf(relay: TestRelay): Api {
  return async (path, init = {}) => {
    const res = await relay.app.adminApp.handle(
      new Request(`http://127.0.0.1${path}`, {
        method: init.method ?? "GET",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
        body: init.body === undefined ? undefined : typeof init.body === "string" ? init.body : JSON.stringify(init.body),
      }),
    );
    return { status: res.status, body: await res.json() };
  };
}

/** Polls GET /api/jobs/<id> until it is no longer running (deadline 20 s). */
async function finished(api: Api, id: string): Promise<any> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const { body } = await api(`/api/jobs/${id}`);
    if (body.status !== "running" || Date.now() > deadline) return body;
    await Bun.sleep(20);
  }
}

/** Every event id the events list gives for `query`, following its cursor. */
async function listed(api: Api, query: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor = "";
  for (;;) {
    const { body } = await api(`/api/events?${query}&limit=500${cursor ? `&cursor=${cursor}` : ""}`);
    ids.push(...body.events.map((e: { id: string }) => e.id));
    if (!body.nextCursor) return ids;
    cursor = body.nextCursor;
  }
}

const deliveryCount = async (relay: TestRelay) => Number((await rows(relay.store, "SELECT count(*) AS n FROM deliveries"))[0]!.n);

describe("bulk actions (no delivery engine: rows stay as the jobs leave them)", () => {
  let relay: TestRelay;
  let api: Api;
  let seeded: SeededEvent[];
  beforeAll(async () => {
    relay = await startTestRelay(adminToml(), { jobs: { pollMs: 50, pauseMs: 0, batchEvents: 50 } });
    api = apiOf(relay);
    seeded = await seedEvents(relay.store, COUNT, START);
    const indexer = startSearchIndexer({ store: relay.store, log: silentLogger, maxDecodedBytes: 1 << 20, everyMs: 60_000 });
    await indexer.drain();
    await indexer.stop();
  });
  afterAll(() => relay.close());

  test("a dry run answers how many events the list's filter matches, and changes nothing", async () => {
    const before = await deliveryCount(relay);
    const filters: [Record<string, unknown>, string][] = [
      [{}, ""],
      [{ source: "billing" }, "source=billing"],
      [{ status: "failed" }, "status=failed"],
      [{ status: "delivered" }, "status=delivered"],
      [{ target: "audit", status: "delivered" }, "target=audit&status=delivered"],
      [{ target: "orders", status: "pending" }, "target=orders&status=pending"],
      [{ type: "order.paid", since: START + 100_000, until: new Date(START + 400_000).toISOString() }, `type=order.paid&since=${START + 100_000}&until=${new Date(START + 400_000).toISOString()}`],
      // The words of GET /api/events?text= (the index built below).
      [{ text: "inv_000003" }, "text=inv_000003"],
      [{ text: "Customer", source: "billing" }, "text=Customer&source=billing"],
    ];
    for (const [filter, query] of filters) {
      const expected = (await listed(api, query)).length;
      expect(expected).toBeGreaterThan(0);
      for (const path of ["/api/events/redeliver", "/api/deliveries/cancel"]) {
        const r = await api(path, { method: "POST", body: { filter, dryRun: true } });
        expect({ path, filter, status: r.status, body: r.body }).toEqual({ path, filter, status: 200, body: { matched: expected } });
      }
    }
    expect(await deliveryCount(relay)).toBe(before);
    expect(await rows(relay.store, "SELECT id FROM jobs")).toEqual([]);
  });

  test("a job's walk goes oldest first page by page, the same events the list gives newest first, on each of the list's paths", async () => {
    const walk = async (f: Omit<EventFilter, "limit" | "cursor">, oldestFirst: boolean, tuning?: SearchTuning) => {
      const ids: string[] = [];
      let cursor: string | undefined;
      for (;;) {
        const page = await listEventRefs(relay.store.reads, { ...f, cursor, limit: 37, oldestFirst }, tuning);
        ids.push(...page.events.map((e) => e.id));
        if (page.nextCursor === null) return ids;
        cursor = page.nextCursor;
      }
    };
    const windowed: SearchTuning = { broadPrefix: 10, scanWindow: 100 }; // a broad key prefix walks id windows
    const cases: [Omit<EventFilter, "limit" | "cursor">, SearchTuning | undefined][] = [
      [{}, undefined],
      [{ source: "billing", sinceMs: START + 50_000, untilMs: START + 400_000 }, undefined],
      [{ target: "orders", status: "failed" }, undefined],
      [{ text: searchQueryOf("Customer")! }, undefined],
      [{ q: "inv_" }, windowed],
      [{ q: "ord_", status: "delivered" }, windowed],
    ];
    for (const [f, tuning] of cases) {
      const newest = await walk(f, false, tuning);
      expect({ f, n: newest.length > 37 }).toEqual({ f, n: true });
      expect({ f, ids: await walk(f, true, tuning) }).toEqual({ f, ids: [...newest].reverse() });
    }
  });

  test("a job an older build made (oldest_first 0, as migration 0018 leaves it) goes on newest first from its cursor", async () => {
    const below = seeded[300]!.id;
    const job = { id: "job_0", kind: "cancel", status: "running", params: { filter: { source: "shop" } }, total: 0, done: 0, affected: 0, cursor: below, oldestFirst: false, error: null, createdAt: 0, finishedAt: null, leaseId: "l" } as const;
    const step = await bulkStep({ db: relay.store, knownTargets: new Set(), routeEvent: async () => [] }, job, 10, Date.now());
    const shopBelow = seeded.filter((e) => e.source === "shop" && e.id < below).map((e) => e.id);
    expect(step.cursor).toBe(shopBelow.at(-10)!);
  });

  test("redeliver of failed deliveries runs as a job to done: one new pending delivery per failed pair, nothing else", async () => {
    const failedPairs = seeded.flatMap((e) => Object.entries(e.statuses).filter(([, s]) => s === "failed").map(([t]) => `${e.id}/${t}`));
    const failedEvents = seeded.filter((e) => Object.values(e.statuses).includes("failed"));
    const before = await deliveryCount(relay);
    const start = await api("/api/events/redeliver", { method: "POST", body: { filter: { status: "failed" } } });
    expect(start.status).toBe(202);
    expect(start.body).toEqual({ matched: failedEvents.length, job: expect.stringMatching(/^job_[0-9A-Z]{26}$/) });
    const job = await finished(api, start.body.job);
    expect(job).toMatchObject({ id: start.body.job, kind: "redeliver", status: "done", total: failedEvents.length, done: failedEvents.length, affected: failedPairs.length });
    expect(Date.parse(job.finishedAt)).toBeGreaterThanOrEqual(Date.parse(job.createdAt));
    const created = await rows(relay.store, "SELECT event_id, target, status, attempts FROM deliveries WHERE created_at > ?", [START + COUNT * 1000]);
    expect(created.map((r) => `${r.event_id}/${r.target}`).sort()).toEqual(failedPairs.sort());
    expect(new Set(created.map((r) => `${r.status}:${r.attempts}`))).toEqual(new Set(["pending:0"]));
    // Made in receive order, across the job's batches (50 events each): the order an ordered or
    // listen target's line takes them in (creation time, then insertion order).
    const line = await rows(relay.store, `SELECT event_id FROM deliveries WHERE target = 'orders' AND origin = 'redeliver' ORDER BY created_at, ${onPostgres ? "seq" : "rowid"}`);
    const ordersFailed = seeded.filter((e) => e.statuses.orders === "failed").map((e) => e.id);
    expect(ordersFailed.length).toBeGreaterThan(50);
    expect(line.map((r) => String(r.event_id))).toEqual([...ordersFailed].sort());
    expect(await deliveryCount(relay)).toBe(before + failedPairs.length);
    // Those pairs are open now: the same filter matches nothing, and a second job finds nothing to do.
    expect((await api("/api/events/redeliver", { method: "POST", body: { filter: { status: "failed" }, dryRun: true } })).body).toEqual({ matched: 0 });
  });

  test("redeliver to a named target creates one delivery per matched event to that target", async () => {
    const billing = seeded.filter((e) => e.source === "billing" && e.receivedAt < START + 60_000);
    const start = await api("/api/events/redeliver", {
      method: "POST",
      body: { filter: { source: "billing", until: START + 60_000 }, target: "audit" },
    });
    expect(start.body.matched).toBe(billing.length);
    expect(await finished(api, start.body.job)).toMatchObject({ status: "done", affected: billing.length, target: "audit" });
    const audit = await rows(relay.store, `SELECT event_id FROM deliveries WHERE target = 'audit' AND event_id IN (${billing.map(() => "?").join(",")})`, billing.map((e) => e.id));
    expect(audit.map((r) => String(r.event_id)).sort()).toEqual(billing.map((e) => e.id).sort());
  });

  test("cancel makes the pending and paused deliveries of matched events cancelled and leaves delivered and failed ones alone", async () => {
    const statusCounts = async () =>
      Object.fromEntries((await rows(relay.store, "SELECT status, count(*) AS n FROM deliveries WHERE target = 'orders' GROUP BY status")).map((r) => [r.status, Number(r.n)]));
    const before = await statusCounts();
    const open = (before.pending ?? 0) + (before.paused ?? 0);
    expect(open).toBeGreaterThan(0);
    const start = await api("/api/deliveries/cancel", { method: "POST", body: { filter: { target: "orders" } } });
    expect(start.status).toBe(202);
    const job = await finished(api, start.body.job);
    expect(job).toMatchObject({ kind: "cancel", status: "done", affected: open });
    const after = await statusCounts();
    expect(after).toEqual({ delivered: before.delivered, failed: before.failed, cancelled: open });
    // Cancelled is a status like any other: listed, filtered and counted.
    const cancelled = await listed(api, "target=orders&status=cancelled");
    expect(cancelled.length).toBeGreaterThan(0);
    expect((await api("/api/deliveries/cancel", { method: "POST", body: { filter: { target: "orders", status: "cancelled" }, dryRun: true } })).body).toEqual({
      matched: cancelled.length,
    });
    const { body: targets } = await api("/api/targets");
    const orders = targets.targets.find((t: { name: string }) => t.name === "orders");
    expect(orders).toMatchObject({ queueDepth: 0, queue: { pending: 0, paused: 0, cancelled: open } });
  });

  test("a job shows the filter it was started with, its search words included", async () => {
    const start = await api("/api/events/redeliver", { method: "POST", body: { filter: { text: "inv_000003", source: "billing" }, target: "audit" } });
    expect(start.status).toBe(202);
    const job = await finished(api, start.body.job);
    expect(job.filter).toMatchObject({ source: "billing", text: "inv_000003", q: null, status: null });
  });

  test("a bulk action with nothing matched answers matched 0 and a job already done", async () => {
    const start = await api("/api/events/redeliver", { method: "POST", body: { filter: { source: "shop", type: "no.such.type" } } });
    expect(start.body.matched).toBe(0);
    expect((await api(`/api/jobs/${start.body.job}`)).body).toMatchObject({ status: "done", total: 0, done: 0 });
  });

  test("bad bulk requests are refused with the problem named", async () => {
    const cases: [unknown, number, RegExp][] = [
      ["{not json", 400, /body must be JSON/],
      // Left out, the filter is not "everything": that is {"filter": {}}, said.
      ["", 400, /needs a "filter": \{"filter": \{\}\} acts on every stored event/],
      [{ target: "audit" }, 400, /needs a "filter"/],
      [{ filter: { sorce: "shop" } }, 400, /^filter\.sorce: unknown key$/],
      [{ filter: { status: "lost" } }, 400, /^filter\.status: expected one of "pending", .*"unrouted", got "lost"$/],
      [{ filter: { since: "yesterday-ish" } }, 400, /filter\.since/],
      [{ filter: {}, dryRun: "yes" }, 400, /^dryRun: expected boolean, got "yes"$/],
      [{ filter: {}, target: "nope" }, 404, /no target named "nope"/],
      [{ filter: { target: "nope" } }, 404, /no target named "nope"/],
      // A list is no filter: it would have read as {}, every stored event.
      [{ filter: [] }, 400, /^filter: expected an object of the list's filters \(\{\} for every stored event\), got a list$/],
      [[], 400, /^body must be a JSON object, got/],
      [{ filter: { since: "1h", until: "2h" } }, 400, /^filter\.since: 1h is not before until 2h/],
    ];
    for (const [body, status, message] of cases) {
      const r = await api(body === "" ? "/api/deliveries/cancel" : "/api/events/redeliver", { method: "POST", body });
      expect({ body, status: r.status }).toEqual({ body, status });
      expect(r.body.error.message).toMatch(message);
    }
    // One event's redelivery: a misspelt key is refused, not read as "every target".
    const one = seeded[0]!.id;
    const misspelt = await api(`/api/events/${one}/redeliver`, { method: "POST", body: { tagret: "audit" } });
    expect([misspelt.status, misspelt.body.error.message]).toEqual([400, "tagret: unknown key"]);
    expect((await api(`/api/events/${one}/redeliver`, { method: "POST", body: [] })).status).toBe(400);
    // A filter by key or id (the list's q) takes bulk actions too.
    const byKey = await api("/api/deliveries/cancel", { method: "POST", body: { filter: { q: seeded[0]!.dedupeKey }, dryRun: true } });
    expect(byKey.body).toEqual({ matched: 1 });
    expect((await api("/api/jobs/job_nope")).status).toBe(404);
    expect((await api("/api/jobs/job_00000000000000000000000000")).status).toBe(404);
    expect((await api("/api/jobs/job_00000000000000000000000000", { method: "DELETE" })).status).toBe(404);
  });
});

test("DELETE /api/jobs/<id> stops a running job: it is cancelled and makes no further progress", async () => {
  // Slow pacing: 10 events a batch, 40 ms apart, so the job is still running when stopped.
  const relay = await startTestRelay(adminToml(), { jobs: { pollMs: 50, pauseMs: 40, batchEvents: 10 } });
  try {
    const api = apiOf(relay);
    await seedEvents(relay.store, 400, START);
    const start = await api("/api/events/redeliver", { method: "POST", body: { filter: {}, target: "audit" } });
    expect(start.body.matched).toBe(400);
    const deadline = Date.now() + 10_000;
    while ((await api(`/api/jobs/${start.body.job}`)).body.done === 0 && Date.now() < deadline) await Bun.sleep(10);
    const stopped = await api(`/api/jobs/${start.body.job}`, { method: "DELETE" });
    expect(stopped.status).toBe(200);
    expect(stopped.body).toMatchObject({ status: "cancelled", finishedAt: expect.any(String) });
    expect(stopped.body.done).toBeLessThan(400);
    // Several batch periods later nothing more was done, and the deliveries made are the ones counted.
    await Bun.sleep(300);
    const later = (await api(`/api/jobs/${start.body.job}`)).body;
    expect(later).toMatchObject({ status: "cancelled", done: stopped.body.done, affected: stopped.body.affected });
    const made = await rows(relay.store, "SELECT count(*) AS n FROM deliveries WHERE created_at > ?", [START + 400 * 1000]);
    expect(Number(made[0]!.n)).toBe(later.affected);
  } finally {
    await relay.close();
  }
});

test("the open deliveries of a target no longer configured are listed on the targets page and can be cancelled (not redelivered to)", async () => {
  const relay = await startTestRelay(adminToml(), { jobs: { pollMs: 50, pauseMs: 0, batchEvents: 50 } });
  try {
    const api = apiOf(relay);
    const seeded = await seedEvents(relay.store, 30, START);
    // A target taken out of the config with deliveries still waiting for it.
    await relay.store.writer.write(
      seeded.slice(0, 12).map((e, i) => ({
        sql: "INSERT INTO deliveries (id, event_id, target, status, attempts, next_attempt_at, created_at, updated_at) VALUES (?, ?, 'gone', 'pending', 0, 0, ?, ?)",
        args: [`dlv_ZZZZZZZZZZ${String(i).padStart(16, "0")}`, e.id, START, START],
      })),
    );
    const page = await (await relay.app.adminApp.handle(new Request("http://127.0.0.1/targets", { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }))).text();
    expect(page).toContain("<strong>gone</strong>: 12 open");
    expect(page).toContain('<a href="/bulk/cancel?target=gone">cancel them…</a>');
    // The API lists them as the page does.
    expect((await api("/api/targets")).body.unconfigured).toEqual([{ name: "gone", open: 12 }]);
    expect((await api("/api/events/redeliver", { method: "POST", body: { filter: { target: "gone" } } })).status).toBe(404);
    const start = await api("/api/deliveries/cancel", { method: "POST", body: { filter: { target: "gone" }, target: "gone" } });
    expect(start.status).toBe(202);
    expect(await finished(api, start.body.job)).toMatchObject({ status: "done", affected: 12 });
    expect(await rows(relay.store, "SELECT DISTINCT status FROM deliveries WHERE target = 'gone'")).toEqual([{ status: "cancelled" }] as never);
    const after = await (await relay.app.adminApp.handle(new Request("http://127.0.0.1/targets", { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }))).text();
    expect(after).not.toContain("no longer configured");
    expect((await api("/api/targets")).body.unconfigured).toEqual([]);
  } finally {
    await relay.close();
  }
});

test("a bulk job started while ingest runs acts on the events it counted, no more", async () => {
  const relay = await startTestRelay(adminToml(), { jobs: { pollMs: 20, pauseMs: 0, batchEvents: 50 } });
  try {
    const api = apiOf(relay);
    for (let round = 0; round < 5; round++) {
      const sends = Array.from({ length: 300 }, (_, i) => relay.post("shop", JSON.stringify({ id: `race_${round}_${i}`, type: "order.paid" })));
      await Bun.sleep(2 + round); // started while those are being written
      const started = await api("/api/events/redeliver", { method: "POST", body: { filter: { source: "shop" }, target: "audit" } });
      await Promise.all(sends);
      const job = await finished(api, started.body.job);
      // The job's total is the count it answered, and it worked through exactly those events.
      expect({ round, total: job.total, done: job.done }).toEqual({ round, total: started.body.matched, done: started.body.matched });
      expect(started.body.matched).toBeGreaterThan(0);
    }
  } finally {
    await relay.close();
  }
}, 60_000);
