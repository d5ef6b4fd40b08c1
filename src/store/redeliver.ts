/**
 * Creating NEW deliveries for stored events: `hookrelay replay` in bulk and
 * the UI's "redeliver" for one event. Old deliveries and their attempts stay
 * as they were (history); a new delivery starts at attempt 1, due now, or
 * `paused` when its target is disabled. Each new delivery says which of the
 * two made it (deliveries.origin), so the event page can tell an operator's
 * redelivery from the delivery ingest scheduled.
 */
import type { InStatement, InValue, Row } from "@libsql/client";
import type { SqlDoors, SqlReader } from "./sql-client.ts";
import { makeId } from "../core/ids.ts";
import type { DeliveryOrigin } from "../core/types.ts";
import { storedOrder, type DeliveryStatus } from "./deliveries.ts";
import { OPEN_STATUSES } from "./lease-request.ts";

export type { DeliveryOrigin };

const PAGE = 500;
// A pair with one of these is already on its way; another copy would double it.
const OPEN: readonly string[] = OPEN_STATUSES;

/**
 * SQL: a delivery of the same event to the same target is open (on its way), as a condition
 * over the given column expressions; `except` leaves one delivery out (the one being retried).
 * Checked inside the statement that would add or reopen a delivery: no race with another.
 */
export function openPairExists(eventId: string, target: string, except?: string): string {
  return `EXISTS (SELECT 1 FROM deliveries o WHERE o.event_id = ${eventId} AND o.target = ${target}${except ? ` AND o.id <> ${except}` : ""}
    AND o.status IN (${OPEN.map((s) => `'${s}'`).join(", ")}))`;
}

/**
 * SQL: the delivery aliased `d` is the latest of its (event, target) pair, no redelivery made
 * since (delivery ids sort by their creation time). What the lists count as its current state,
 * and the only one of the pair "Retry now" may send again.
 */
export function latestOfPair(d: string): string {
  return `NOT EXISTS (SELECT 1 FROM deliveries n WHERE n.event_id = ${d}.event_id AND n.target = ${d}.target AND n.id > ${d}.id)`;
}

/** A stored event as routing reads it: its request as received (never an erased one). */
export interface StoredEvent {
  source: string;
  eventType: string | null;
  /** The query string without "?". */
  query: string;
  headers: [string, string][];
  body: Uint8Array;
  contentType: string | null;
}

/** Filters of `hookrelay replay`; every field narrows the selection. */
/**
 * Which (event, target) pairs a replay takes by their latest delivery: one
 * with that status, or `unrouted`, a pair with no delivery yet (an event that
 * no route took when it arrived, or a target a route gained since).
 */
export type ReplayStatus = DeliveryStatus | "unrouted";

export interface ReplayFilter {
  source?: string;
  target?: string;
  /** Events received at or after this time (ms). */
  sinceMs?: number;
  /** Only (event, target) pairs whose latest delivery has this status. */
  status?: ReplayStatus;
  dryRun: boolean;
  nowMs: number;
  /** Targets an event is routed to now; pairs routed but never delivered are included. */
  routeTargets?: (event: StoredEvent) => string[] | Promise<string[]>;
  /** Targets that exist; pairs for any other target are skipped. */
  knownTargets?: ReadonlySet<string>;
}

/**
 * Schedules a new delivery for every matching (event, target) pair — the
 * event's existing deliveries plus its currently routed targets — skipping
 * erased events and pairs that already have an open delivery. Returns how many
 * were (or, with dryRun, would be) created.
 */
export async function scheduleReplay(db: SqlDoors, f: ReplayFilter): Promise<number> {
  let cursor = "";
  let count = 0;
  for (;;) {
    const page = await db.reads.execute({
      sql: `SELECT id, source, event_type, query, headers, body, content_type FROM events
        WHERE id > ? AND erased_at IS NULL AND (CAST(? AS TEXT) IS NULL OR source = ?) AND received_at >= ?
        ORDER BY id LIMIT ${PAGE}`,
      args: [cursor, f.source ?? null, f.source ?? null, f.sinceMs ?? 0],
    });
    if (page.rows.length === 0) return count;
    cursor = String(page.rows.at(-1)!.id);
    const ids = page.rows.map((r) => String(r.id));
    const latest = await latestStatuses(db.reads, ids);
    const inserts: { eventId: string; target: string }[] = [];
    for (const r of page.rows) {
      const eventId = String(r.id);
      const statuses = latest.get(eventId) ?? new Map<string, string>();
      const targets = new Set(statuses.keys());
      for (const t of (await f.routeTargets?.(storedEventOf(r))) ?? []) targets.add(t);
      for (const target of targets) {
        if (f.target !== undefined && target !== f.target) continue;
        if (f.knownTargets && !f.knownTargets.has(target)) continue;
        const status = statuses.get(target) ?? null;
        if (status !== null && OPEN.includes(status)) continue;
        if (f.status !== undefined && status !== (f.status === "unrouted" ? null : f.status)) continue;
        inserts.push({ eventId, target });
      }
    }
    if (f.dryRun || inserts.length === 0) count += inserts.length;
    else count += (await db.writer.write(inserts.map((p) => insertDelivery(p.eventId, p.target, f.nowMs, "replay")))).reduce((n, rs) => n + rs.rowsAffected, 0);
  }
}

/**
 * Redelivers one event: to `target` if given, else to every target it had a
 * delivery for; a target whose delivery of it is still open (on its way:
 * pending, delivering or paused) is skipped, so that nothing is sent twice.
 * Returns the new delivery ids and the targets skipped, or why nothing was
 * scheduled.
 */
export async function redeliverEvent(
  db: SqlDoors,
  opts: { eventId: string; target?: string; nowMs: number },
): Promise<{ ok: true; deliveryIds: string[]; onItsWay: string[] } | { ok: false; reason: "not_found" | "erased" | "no_targets" }> {
  const ev = await db.reads.execute({ sql: "SELECT erased_at FROM events WHERE id = ?", args: [opts.eventId] });
  if (ev.rows.length === 0) return { ok: false, reason: "not_found" };
  if (ev.rows[0]!.erased_at !== null) return { ok: false, reason: "erased" };
  let targets: string[];
  if (opts.target !== undefined) targets = [opts.target];
  else {
    const rs = await db.reads.execute({ sql: "SELECT DISTINCT target FROM deliveries WHERE event_id = ? ORDER BY target", args: [opts.eventId] });
    targets = rs.rows.map((r) => String(r.target));
  }
  if (targets.length === 0) return { ok: false, reason: "no_targets" };
  const stmts = targets.map((t) => insertDelivery(opts.eventId, t, opts.nowMs, "redeliver"));
  const written = await db.writer.write(stmts);
  const made = (i: number) => written[i]!.rowsAffected > 0;
  return {
    ok: true,
    deliveryIds: stmts.filter((_, i) => made(i)).map((s) => String((s as { args: unknown[] }).args[0])),
    onItsWay: targets.filter((_, i) => !made(i)),
  };
}

/** A stored event's request as routing reads it; null when unknown or erased. */
export async function getStoredEvent(reads: SqlReader, id: string): Promise<StoredEvent | null> {
  const rs = await reads.execute({
    sql: "SELECT source, event_type, query, headers, body, content_type FROM events WHERE id = ? AND erased_at IS NULL",
    args: [id],
  });
  return rs.rows[0] ? storedEventOf(rs.rows[0]) : null;
}

function storedEventOf(r: Row): StoredEvent {
  return {
    source: String(r.source),
    eventType: r.event_type === null ? null : String(r.event_type),
    query: String(r.query),
    headers: JSON.parse(String(r.headers)) as [string, string][],
    body: new Uint8Array(r.body as ArrayBuffer),
    contentType: r.content_type === null ? null : String(r.content_type),
  };
}

// eventId → target → status of the newest delivery of that pair.
async function latestStatuses(client: SqlReader, eventIds: string[]): Promise<Map<string, Map<string, string>>> {
  const rs = await client.execute({
    sql: `SELECT event_id, target, status FROM deliveries WHERE event_id IN (${eventIds.map(() => "?").join(", ")})
      ORDER BY ${storedOrder(client.dialect)}`,
    args: eventIds,
  });
  const out = new Map<string, Map<string, string>>();
  for (const r of rs.rows) {
    const id = String(r.event_id);
    if (!out.has(id)) out.set(id, new Map());
    out.get(id)!.set(String(r.target), String(r.status));
  }
  return out;
}

/**
 * ONE statement creating a new delivery for each (event, target) pair (a bulk
 * redeliver's batch), due now — or `paused` for a disabled target — skipping
 * pairs that have an open delivery when it runs (already on their way) and
 * events gone meanwhile (purged by retention, erased), and changing nothing
 * unless `guard` (a job's fence) holds.
 */
export function redeliverPairsStatement(pairs: { eventId: string; target: string }[], nowMs: number, guard: { sql: string; args: InValue[] }): InStatement {
  const args: InValue[] = [nowMs, nowMs, nowMs];
  const values = pairs.map((p, i) => {
    args.push(makeId("dlv", nowMs, crypto.getRandomValues(new Uint8Array(10))), p.eventId, p.target);
    // Its place among the pairs (our own count): rows are inserted in the pairs' order, the order
    // an ordered or listen target's line takes them in, whatever plan checks the conditions.
    return `(?, ?, ?, ${i})`;
  });
  args.push(...guard.args);
  return {
    sql: `INSERT INTO deliveries (id, event_id, target, status, attempts, next_attempt_at, created_at, updated_at, origin)
      SELECT v.column1, v.column2, v.column3,
        CASE WHEN EXISTS (SELECT 1 FROM target_state t WHERE t.name = v.column3 AND t.disabled = 1) THEN 'paused' ELSE 'pending' END,
        0, ?, ?, ?, 'redeliver'
      FROM (VALUES ${values.join(", ")}) AS v
      WHERE ${guard.sql} AND NOT ${openPairExists("v.column2", "v.column3")} AND ${EVENT_STILL_THERE("v.column2")}
      ORDER BY v.column4`,
    args,
  };
}

// The event is stored and not erased, checked in the statement that adds a delivery: retention
// may have purged it since it was read (a bulk job walks events for minutes), and a delivery of
// an event that is gone is never sent.
const EVENT_STILL_THERE = (eventId: string) => `EXISTS (SELECT 1 FROM events e WHERE e.id = ${eventId} AND e.erased_at IS NULL)`;

// A new delivery of the pair, unless one is open already (checked in the same statement: no race with another).
function insertDelivery(eventId: string, target: string, nowMs: number, origin: Exclude<DeliveryOrigin, "ingest">): InStatement {
  const id = makeId("dlv", nowMs, crypto.getRandomValues(new Uint8Array(10)));
  return {
    sql: `INSERT INTO deliveries (id, event_id, target, status, attempts, next_attempt_at, created_at, updated_at, origin)
      SELECT ?, ?, ?, CASE WHEN EXISTS (SELECT 1 FROM target_state WHERE name = ? AND disabled = 1) THEN 'paused' ELSE 'pending' END,
        0, ?, ?, ?, ?
      WHERE NOT ${openPairExists("?", "?")} AND ${EVENT_STILL_THERE("?")}`,
    args: [id, eventId, target, target, nowMs, nowMs, nowMs, origin, eventId, target, eventId],
  };
}
