import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { runCleanups, storeAt, submitEvent, tempDir } from "../../test/delivery/fixtures.ts";
import { leaseDueDeliveries, reclaimExpiredLeases, recordOutcomes, releaseLeases, type LeaseWant, type OutcomeRecord } from "./deliveries.ts";
import { disableTarget, enableTarget, settleStragglers, readTargetStates } from "./target-state.ts";
import { redeliverEvent, scheduleReplay } from "./redeliver.ts";
import { eraseEvent } from "./erase-event.ts";
import { postgresDialect, sqliteDialect } from "./dialect.ts";
import type { LeaseRequest } from "./lease-request.ts";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(() => runCleanups(cleanups));

const want = (target: string, over: Partial<LeaseWant> = {}): LeaseWant => ({
  target, slots: 10, concurrency: 10, leaseMs: 60_000, ordered: false, ...over,
});

async function fresh() {
  const store = await storeAt(join(tempDir(cleanups), "s.db"), cleanups);
  return { store, client: store.reads };
}

function outcome(d: { id: string; leaseId: string; eventId: string; target: string }, over: Partial<OutcomeRecord> = {}): OutcomeRecord {
  return {
    deliveryId: d.id, leaseId: d.leaseId, eventId: d.eventId, target: d.target, status: "delivered", nextAttemptAt: null, error: null, healthy: true,
    attempt: { id: `att_${crypto.randomUUID()}`, at: 1000, statusCode: 200, durationMs: 3, error: null, responseExcerpt: "ok", request: null },
    ...over,
  };
}

test("leasing returns due deliveries with the stored body and never hands one out twice", async () => {
  const { store, client } = await fresh();
  await submitEvent(store, { targets: ["a"], receivedAt: 1000, body: "ë\n" });
  await submitEvent(store, { targets: ["a"], receivedAt: 5000 });
  const first = await leaseDueDeliveries(store.writer, { leaseId: "lease_1", nowMs: 2000, wants: [want("a")] });
  expect(first).toHaveLength(1);
  expect(new TextDecoder().decode(first[0]!.body!)).toBe("ë\n");
  expect(first[0]!.headers).toEqual([["content-type", "application/json"]]);
  expect(await leaseDueDeliveries(store.writer, { leaseId: "lease_2", nowMs: 2000, wants: [want("a")] })).toHaveLength(0);
});

test("live leases in the store count against a target's concurrency", async () => {
  const { store, client } = await fresh();
  for (let i = 0; i < 5; i++) await submitEvent(store, { targets: ["a", "b"], receivedAt: 1000 + i });
  const one = await leaseDueDeliveries(store.writer, { leaseId: "l1", nowMs: 9000, wants: [want("a", { concurrency: 3 }), want("b", { slots: 1 })] });
  expect(one.filter((d) => d.target === "a")).toHaveLength(3);
  expect(one.filter((d) => d.target === "b")).toHaveLength(1);
  // Another process asking for more of "a" gets none until one finishes.
  expect(await leaseDueDeliveries(store.writer, { leaseId: "l2", nowMs: 9000, wants: [want("a", { concurrency: 3 })] })).toHaveLength(0);
  const a = one.find((d) => d.target === "a")!;
  await recordOutcomes(store.writer, [outcome(a)], 9000);
  expect(await leaseDueDeliveries(store.writer, { leaseId: "l3", nowMs: 9000, wants: [want("a", { concurrency: 3 })] })).toHaveLength(1);
});

test("a lease reads back its own rows with their events, not the other live leases'; leasing nothing reads nothing", async () => {
  const { store } = await fresh();
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) {
    ids.push(await submitEvent(store, { targets: ["a"], receivedAt: 1000 + i, body: `{"n":${i}}`, source: `s${i}`, eventType: i === 3 ? null : `t.${i}` }));
  }
  const first = await leaseDueDeliveries(store.writer, { leaseId: "p.1", holder: "p", nowMs: 9000, wants: [want("a", { slots: 2 })] });
  expect(first.map((d) => d.eventId).sort()).toEqual(ids.slice(0, 2));
  const second = await leaseDueDeliveries(store.writer, { leaseId: "p.2", holder: "p", nowMs: 9000, wants: [want("a")] });
  expect(second.map((d) => [d.eventId, d.leaseId, d.source, d.eventType, new TextDecoder().decode(d.body!)]).sort()).toEqual([
    [ids[2]!, "p.2", "s2", "t.2", '{"n":2}'],
    [ids[3]!, "p.2", "s3", null, '{"n":3}'],
  ]);
  expect(second.every((d) => d.contentType === "application/json" && d.attempts === 0)).toBe(true);
  // Four live leases, nothing due: nothing comes back.
  expect(await leaseDueDeliveries(store.writer, { leaseId: "p.3", holder: "p", nowMs: 9000, wants: [want("a")] })).toEqual([]);
});

test("a process holding every live lease of a target may lease ahead of its concurrency; with another's live lease, neither may", async () => {
  const { store } = await fresh();
  for (let i = 0; i < 12; i++) await submitEvent(store, { targets: ["a"], receivedAt: 1000 + i });
  const lease = (holder: string, n: number) =>
    leaseDueDeliveries(store.writer, { leaseId: `${holder}.${n}`, holder, nowMs: 9000, wants: [want("a", { concurrency: 3, ahead: 2 })] });
  // Alone: concurrency 3 and 2 ahead.
  const mine = await lease("p1", 1);
  expect(mine).toHaveLength(5);
  // Another process gets nothing while the live leases reach the concurrency, ahead or not ("p1x" is not "p1").
  expect(await lease("p1x", 1)).toHaveLength(0);
  await recordOutcomes(store.writer, mine.slice(0, 3).map((d) => outcome(d)), 9000);
  expect(await lease("p1x", 2)).toHaveLength(1);
  // Now neither holds every live lease: both are held to the concurrency (3 live already).
  expect(await lease("p1", 2)).toHaveLength(0);
  await recordOutcomes(store.writer, mine.slice(3).map((d) => outcome(d)), 9000);
  expect(await lease("p1", 3)).toHaveLength(2);
  // Without a holder nothing is leased ahead.
  const plain = await leaseDueDeliveries(store.writer, { leaseId: "x.1", nowMs: 9000, wants: [want("a", { concurrency: 5, ahead: 8 })] });
  expect(plain).toHaveLength(5 - 3);
});

test("an ordered target hands out only the oldest open delivery, one at a time", async () => {
  const { store, client } = await fresh();
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push(await submitEvent(store, { targets: ["o"], receivedAt: 1000 }));
  const w = want("o", { ordered: true });
  const [head] = await leaseDueDeliveries(store.writer, { leaseId: "l1", nowMs: 2000, wants: [w] });
  expect(head!.eventId).toBe(ids[0]!);
  expect(await leaseDueDeliveries(store.writer, { leaseId: "l2", nowMs: 2000, wants: [w] })).toHaveLength(0);
  // A failed attempt waiting for its retry still blocks the ones behind it.
  await recordOutcomes(store.writer, [outcome(head!, { status: "pending", nextAttemptAt: 10_000, healthy: false, error: "HTTP 500" })], 2000);
  expect(await leaseDueDeliveries(store.writer, { leaseId: "l3", nowMs: 5000, wants: [w] })).toHaveLength(0);
  const again = await leaseDueDeliveries(store.writer, { leaseId: "l4", nowMs: 10_000, wants: [w] });
  expect(again.map((d) => d.eventId)).toEqual([ids[0]!]);
  await recordOutcomes(store.writer, [outcome(again[0]!)], 10_000);
  const next = await leaseDueDeliveries(store.writer, { leaseId: "l5", nowMs: 10_000, wants: [w] });
  expect(next.map((d) => d.eventId)).toEqual([ids[1]!]);
});

test("an ordered target's line limits only its own part of a round's lease, wherever it stands among the targets", async () => {
  const ordered = want("o", { ordered: true });
  const leasedBy = async (targets: Record<string, number>, order: string[]) => {
    const { store } = await fresh();
    for (const [target, n] of Object.entries(targets)) for (let i = 0; i < n; i++) await submitEvent(store, { targets: [target], receivedAt: 1000 + i });
    const wants = order.map((t) => (t === "o" ? ordered : want(t)));
    const leased = await leaseDueDeliveries(store.writer, { leaseId: "l", nowMs: 2000, wants });
    const count: Record<string, number> = {};
    for (const d of leased) count[d.target] = (count[d.target] ?? 0) + 1;
    return count;
  };
  // Nothing due on the ordered target: the others still lease all that is due, first or last.
  expect(await leasedBy({ a: 3 }, ["a", "o"])).toEqual({ a: 3 });
  expect(await leasedBy({ a: 3 }, ["o", "a"])).toEqual({ a: 3 });
  // Its head (one) beside every other target's due deliveries, in any position.
  for (const order of [["o", "a", "b"], ["a", "o", "b"], ["a", "b", "o"]]) expect(await leasedBy({ o: 2, a: 3, b: 3 }, order)).toEqual({ o: 1, a: 3, b: 3 });
});

test("a worker that lost its lease cannot finish the delivery, but its attempt is kept", async () => {
  const { store, client } = await fresh();
  await submitEvent(store, { targets: ["a"], receivedAt: 1000 });
  const [d] = await leaseDueDeliveries(store.writer, { leaseId: "old", nowMs: 2000, wants: [want("a", { leaseMs: 0 })] });
  expect(await reclaimExpiredLeases(store, 2000)).toBe(1);
  const [taken] = await leaseDueDeliveries(store.writer, { leaseId: "new", nowMs: 2000, wants: [want("a")] });
  expect(taken!.id).toBe(d!.id);
  const res = await recordOutcomes(store.writer, [outcome(d!)], 3000);
  expect(res.updated.size).toBe(0);
  const row = await client.execute({ sql: "SELECT status, lease_id, attempts FROM deliveries WHERE id = ?", args: [d!.id] });
  expect(row.rows[0]).toMatchObject({ status: "delivering", lease_id: "new", attempts: 1 });
  // The lost attempt and the stale worker's late report are both on record.
  // (The lost one is dated at its lease, 2000; the late report's attempt at 1000.)
  const attempts = await client.execute("SELECT error FROM attempts ORDER BY at DESC");
  expect(String(attempts.rows[0]!.error)).toContain("lease expired");
  expect(attempts.rows).toHaveLength(2);
});

test("an attempt that ends after its event was erased keeps no reply excerpt, however long the relay lives", async () => {
  const { store, client } = await fresh();
  await submitEvent(store, { targets: ["a"], receivedAt: 1000, body: '{"email":"alice@example.com"}' });
  await submitEvent(store, { targets: ["a"], receivedAt: 1001 });
  const leased = await leaseDueDeliveries(store.writer, { leaseId: "l1", nowMs: 2000, wants: [want("a")] });
  const [erased, kept] = leased;
  await eraseEvent(store.writer, erased!.eventId, 2500);
  // The target echoed what it got, after the erase.
  const echo = (d: typeof erased) => outcome(d!, { attempt: { id: `att_${crypto.randomUUID()}`, at: 3000, statusCode: 200, durationMs: 900, error: null, responseExcerpt: "got alice@example.com", request: null } });
  await recordOutcomes(store.writer, [echo(erased), echo(kept)], 3000);
  const rows = await client.execute("SELECT event_id, status_code, response_excerpt FROM attempts ORDER BY event_id");
  const byEvent = new Map(rows.rows.map((r) => [String(r.event_id), r]));
  expect(byEvent.get(erased!.eventId)).toMatchObject({ status_code: 200, response_excerpt: null });
  expect(byEvent.get(kept!.eventId)).toMatchObject({ status_code: 200, response_excerpt: "got alice@example.com" });
});

test("a live lease is not reclaimed", async () => {
  const { store, client } = await fresh();
  await submitEvent(store, { targets: ["a"], receivedAt: 1000 });
  await leaseDueDeliveries(store.writer, { leaseId: "live", nowMs: 2000, wants: [want("a")] });
  expect(await reclaimExpiredLeases(store, 2000)).toBe(0);
  expect(await leaseDueDeliveries(store.writer, { leaseId: "other", nowMs: 2000, wants: [want("a")] })).toHaveLength(0);
});

test("a round for more targets than SQLite takes in one compound statement (500) still leases each one's due deliveries", async () => {
  const { store } = await fresh();
  const targets = Array.from({ length: 1001 }, (_, i) => `t${i}`);
  for (const t of ["t0", "t500", "t1000"]) await submitEvent(store, { targets: [t], receivedAt: 1000 });
  const leased = await leaseDueDeliveries(store.writer, { leaseId: "many", nowMs: 2000, wants: targets.map((t) => want(t)) });
  expect(leased.map((d) => d.target).sort()).toEqual(["t0", "t1000", "t500"]);
  // Leased once: a second round finds nothing left.
  expect(await leaseDueDeliveries(store.writer, { leaseId: "again", nowMs: 2000, wants: targets.map((t) => want(t)) })).toEqual([]);
});

test("released leases go back to pending for another process", async () => {
  const { store, client } = await fresh();
  await submitEvent(store, { targets: ["a"], receivedAt: 1000 });
  await leaseDueDeliveries(store.writer, { leaseId: "mine", nowMs: 2000, wants: [want("a")] });
  expect(await releaseLeases(store.writer, ["mine"], 2500)).toBe(1);
  expect(await leaseDueDeliveries(store.writer, { leaseId: "other", nowMs: 2500, wants: [want("a")] })).toHaveLength(1);
});

test("failures build a streak with its start time, and a success clears it", async () => {
  const { store, client } = await fresh();
  for (let i = 0; i < 3; i++) await submitEvent(store, { targets: ["a"], receivedAt: 1000 });
  const ds = await leaseDueDeliveries(store.writer, { leaseId: "l", nowMs: 2000, wants: [want("a")] });
  const fail = (d: (typeof ds)[0], at: number) =>
    outcome(d, { status: "pending", nextAttemptAt: 9e9, healthy: false, error: `HTTP 500 at ${at}`, attempt: { id: `att_${at}`, at, statusCode: 500, durationMs: 1, error: "HTTP 500", responseExcerpt: null, request: null } });
  let res = await recordOutcomes(store.writer, [fail(ds[0]!, 2000), fail(ds[1]!, 2100)], 2100);
  expect(res.targets[0]).toMatchObject({ name: "a", consecutiveFailures: 2, failingSince: 2000, lastError: "HTTP 500 at 2100" });
  res = await recordOutcomes(store.writer, [outcome(ds[2]!)], 2200);
  expect(res.targets[0]).toMatchObject({ consecutiveFailures: 0, failingSince: null, lastError: "HTTP 500 at 2100" });
});

test("a success on a target that is healthy already leaves its stored state unwritten (and returns none)", async () => {
  const { store, client } = await fresh();
  for (let i = 0; i < 3; i++) await submitEvent(store, { targets: ["a"], receivedAt: 1000 });
  const ds = await leaseDueDeliveries(store.writer, { leaseId: "l", nowMs: 2000, wants: [want("a")] });
  // No row is healthy: a success writes none (a plain UPDATE, which on PostgreSQL locks no row it leaves be).
  expect((await recordOutcomes(store.writer, [outcome(ds[0]!)], 2100)).targets).toEqual([]);
  expect((await readTargetStates(client)).get("a")).toBeUndefined();
  // Nor one whose stored state is healthy.
  await client.execute("INSERT INTO target_state (name, consecutive_failures, updated_at) VALUES ('a', 0, 2100)");
  const res = await recordOutcomes(store.writer, [outcome(ds[1]!)], 2200);
  expect(res.updated.has(ds[1]!.id)).toBe(true);
  expect(res.targets).toEqual([]);
  expect((await readTargetStates(client)).get("a")).toMatchObject({ consecutiveFailures: 0, updatedAt: 2100 });
  // A circuit left open (opened by another relay, say) is closed by a success, and the row comes back.
  await client.execute("UPDATE target_state SET circuit_open_until = 9999 WHERE name = 'a'");
  expect((await recordOutcomes(store.writer, [outcome(ds[2]!)], 2300)).targets).toMatchObject([{ name: "a", circuitOpenUntil: null, updatedAt: 2300 }]);
});

test("disabling pauses pending deliveries and enabling makes them due now", async () => {
  const { store, client } = await fresh();
  await submitEvent(store, { targets: ["a"], receivedAt: 1000 });
  expect(await disableTarget(store.writer, { name: "a", reason: "maintenance", by: "api", nowMs: 1500 })).toBe(1);
  expect((await readTargetStates(client)).get("a")).toMatchObject({ disabled: true, disabledBy: "api", disabledReason: "maintenance" });
  expect(await enableTarget(store.writer, { name: "a", nowMs: 7000 })).toBe(1);
  const row = await client.execute("SELECT status, next_attempt_at FROM deliveries");
  expect(row.rows[0]).toMatchObject({ status: "pending", next_attempt_at: 7000 });
});

test("pausing stragglers pauses only targets the store says are disabled: a stale view cannot undo an enable", async () => {
  const { store, client } = await fresh();
  await submitEvent(store, { targets: ["a"], receivedAt: 1000 });
  await submitEvent(store, { targets: ["b"], receivedAt: 1000 });
  await disableTarget(store.writer, { name: "a", reason: "r", by: "api", nowMs: 1 });
  await enableTarget(store.writer, { name: "a", nowMs: 2 });
  await disableTarget(store.writer, { name: "b", reason: "r", by: "api", nowMs: 1 });
  // A housekeeping round that read the states before the enable committed still names "a".
  await settleStragglers(store.writer, { disabled: ["a", "b"], enabled: [] }, 3);
  const rs = await client.execute("SELECT target, status FROM deliveries ORDER BY target");
  expect(rs.rows.map((r) => [r.target, r.status])).toEqual([["a", "pending"], ["b", "paused"]]);
});

test("resuming stragglers resumes paused deliveries only of targets the store says are enabled", async () => {
  const { store, client } = await fresh();
  await submitEvent(store, { targets: ["a"], receivedAt: 1000, paused: ["a"] });
  await submitEvent(store, { targets: ["b"], receivedAt: 1000, paused: ["b"] });
  await disableTarget(store.writer, { name: "b", reason: "r", by: "api", nowMs: 1 });
  // A round whose cache missed b's disable still names "b".
  expect(await settleStragglers(store.writer, { disabled: [], enabled: ["a", "b"] }, 3)).toEqual({ paused: 0, resumed: 1 });
  const rs = await client.execute("SELECT target, status, next_attempt_at FROM deliveries ORDER BY target");
  expect(rs.rows.map((r) => [r.target, r.status, r.next_attempt_at])).toEqual([["a", "pending", 3], ["b", "paused", 1000]]);
});

test("replay creates new deliveries for finished pairs only, filtered by status, target and time", async () => {
  const { store, client } = await fresh();
  await submitEvent(store, { targets: ["a", "b"], receivedAt: 1000 });
  await submitEvent(store, { targets: ["a"], receivedAt: 9000 });
  const ds = await leaseDueDeliveries(store.writer, { leaseId: "l", nowMs: 10_000, wants: [want("a"), want("b")] });
  await recordOutcomes(store.writer, ds.map((d) => outcome(d, d.target === "b" ? { status: "failed", healthy: false, error: "x" } : {})), 10_000);
  expect(await scheduleReplay(store, { dryRun: true, nowMs: 11_000 })).toBe(3);
  expect(await scheduleReplay(store, { status: "failed", dryRun: true, nowMs: 11_000 })).toBe(1);
  expect(await scheduleReplay(store, { sinceMs: 5000, dryRun: true, nowMs: 11_000 })).toBe(1);
  // A newly routed target counts too.
  expect(await scheduleReplay(store, { target: "c", routeTargets: () => ["c"], dryRun: true, nowMs: 11_000 })).toBe(2);
  expect(await scheduleReplay(store, { target: "a", dryRun: false, nowMs: 11_000 })).toBe(2);
  // The new ones are open now, so replaying again adds nothing for "a".
  expect(await scheduleReplay(store, { target: "a", dryRun: true, nowMs: 11_000 })).toBe(0);
  expect(Number((await client.execute("SELECT count(*) AS n FROM deliveries WHERE status = 'pending'")).rows[0]!.n)).toBe(2);
});

test("redelivering an event to a disabled target creates a paused delivery, once its open one has ended", async () => {
  const { store, client } = await fresh();
  const id = await submitEvent(store, { targets: ["a"], receivedAt: 1000 });
  await disableTarget(store.writer, { name: "a", reason: "x", by: "api", nowMs: 1000 });
  // Its first delivery, paused, is still on its way: not doubled.
  expect(await redeliverEvent(store, { eventId: id, nowMs: 2000 })).toEqual({ ok: true, deliveryIds: [], onItsWay: ["a"] });
  await client.execute("UPDATE deliveries SET status = 'cancelled'");
  const res = await redeliverEvent(store, { eventId: id, nowMs: 2000 });
  expect(res).toMatchObject({ ok: true, onItsWay: [] });
  const rows = await client.execute("SELECT status FROM deliveries ORDER BY created_at");
  expect(rows.rows.map((r) => r.status)).toEqual(["cancelled", "paused"]);
  expect(await redeliverEvent(store, { eventId: "evt_nope", nowMs: 2000 })).toEqual({ ok: false, reason: "not_found" });
});

test("a claimed delivery is written leased to the claimant, as long as the target's concurrency leaves room beside every process's live leases", async () => {
  const { store, client } = await fresh();
  // Another process holds 3 live leases of "a", whose concurrency is 4.
  for (let i = 0; i < 3; i++) await submitEvent(store, { targets: ["a"], receivedAt: 1000 });
  expect(await leaseDueDeliveries(store.writer, { leaseId: "other", nowMs: 2000, wants: [want("a", { concurrency: 4 })] })).toHaveLength(3);
  const claim = { leaseId: "lease_fresh.1", leaseMs: 60_000, concurrency: 4 };
  const item = (n: number) => ({
    id: `evt_fresh${n}`, source: "src", eventType: "t", dedupeKey: `k${n}`, dedupeWindowMs: 0, receivedAt: 3000, method: "POST", path: "/in/src",
    query: "", headers: [] as [string, string][], body: new TextEncoder().encode("{}"), contentType: null, remoteAddr: null,
    deliveries: [{ id: `dlv_fresh${n}`, target: "a", status: "pending" as const, claim: { ...claim, leaseId: `lease_fresh.${n}` } }],
  });
  // Two fresh events in one commit: room for one.
  const [first, second] = await Promise.all([store.writer.submit(item(1)), store.writer.submit(item(2))]);
  expect(first).toEqual({ kind: "stored", id: "evt_fresh1", leased: ["dlv_fresh1"] });
  expect(second).toEqual({ kind: "stored", id: "evt_fresh2", leased: [] });
  const rows = await client.execute(`SELECT id, status, lease_id, lease_until - ${client.dialect.nowMs} AS left FROM deliveries WHERE id LIKE 'dlv_fresh%' ORDER BY id`);
  expect(rows.rows.map((r) => [r.id, r.status, r.lease_id])).toEqual([["dlv_fresh1", "delivering", "lease_fresh.1"], ["dlv_fresh2", "pending", null]]);
  // The lease runs on the database clock, for the claim's length.
  expect(Number(rows.rows[0]!.left)).toBeGreaterThan(55_000);
  expect(Number(rows.rows[0]!.left)).toBeLessThanOrEqual(60_000);
  // The claimant records its outcome like any leased delivery's.
  const done = await recordOutcomes(store.writer, [outcome({ id: "dlv_fresh1", leaseId: "lease_fresh.1", eventId: "evt_fresh1", target: "a" })], 4000);
  expect(done.updated).toEqual(new Set(["dlv_fresh1"]));
});

test("a round that grants leases waits for the disk on PostgreSQL (a server crash must not undo a lease whose attempt is under way), not on an embedded file", async () => {
  const asked: string[] = [];
  const writerOf = (dialect: typeof sqliteDialect) => ({
    dialect,
    write: async (stmts: unknown[], durability?: string) => {
      asked.push(`${dialect.engine} ${durability}`);
      return stmts.map(() => ({ columns: [], columnTypes: [], rows: [], rowsAffected: 0, lastInsertRowid: undefined, toJSON: () => ({}) }));
    },
  });
  const lease = { leaseId: "w1.1", holder: "w1", nowMs: 0, wants: [{ target: "t", slots: 1, concurrency: 1, leaseMs: 1000, ordered: false }] };
  for (const dialect of [sqliteDialect, postgresDialect]) {
    await leaseDueDeliveries(writerOf(dialect), lease as unknown as LeaseRequest);
    // Outcomes alone stay redoable on both: a lost one only makes the attempt again, after its lease.
    await recordOutcomes(writerOf(dialect), [{ deliveryId: "d", leaseId: "l", eventId: "e", target: "t", attempt: null, status: "pending", nextAttemptAt: 0, error: null, healthy: null }], 0);
    await recordOutcomes(writerOf(dialect), [{ deliveryId: "d", leaseId: "l", eventId: "e", target: "t", attempt: null, status: "pending", nextAttemptAt: 0, error: null, healthy: null }], 0, lease as unknown as LeaseRequest);
  }
  expect(asked).toEqual(["sqlite redoable", "sqlite redoable", "sqlite redoable", "postgres durable", "postgres redoable", "postgres durable"]);
});
