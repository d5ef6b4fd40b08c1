/**
 * The delivery queue's store functions: lease due deliveries, record attempts
 * and outcomes fenced by the lease, release leases. The state machine lives in
 * the `deliveries` row (status, attempts, next_attempt_at, lease_id,
 * lease_until), so nothing the scheduler knows lives only in memory.
 *
 * Due-ness compares next_attempt_at with the caller's (injectable) clock;
 * lease expiry compares lease_until with the database clock (dialect.nowMs).
 */
import type { InStatement, Row } from "@libsql/client";
import type { Durability, SqlDoors, SqlReader, SqlWriter } from "./sql-client.ts";
import type { Dialect } from "./dialect.ts";
import type { IngestItem, LeaseClaim } from "./writer/group-commit.ts";

export type { LeaseClaim } from "./writer/group-commit.ts";
import { makeId } from "../core/ids.ts";
import { type TargetState, targetStateFromRow } from "./target-state.ts";
import type { LeaseRequest } from "./lease-request.ts";
import { leaseStatements as sqliteLeaseStatements, reclaimStatements as sqliteReclaimStatements } from "./sqlite/leases.ts";
import { leaseStatements as pgLeaseStatements, reclaimStatements as pgReclaimStatements } from "./postgres/leases.ts";

import type { DeliveryStatus } from "../core/types.ts";
/** A delivery's status (core/types.ts); `cancelled` is final (an operator's bulk cancel) until the event is redelivered or the delivery retried. */
export type { DeliveryStatus };

export { OPEN_STATUSES, type LeaseRequest, type LeaseWant } from "./lease-request.ts";

/**
 * ORDER BY terms putting deliveries in the order they were stored: created_at,
 * then within a millisecond the file's rowid, or PostgreSQL's `seq`.
 */
export function storedOrder(dialect: Dialect, table = "deliveries"): string {
  return `${table}.created_at, ${table}.${dialect.engine === "postgres" ? "seq" : "rowid"}`;
}

/** A leased delivery with the stored request it must send. */
export interface LeasedDelivery {
  id: string;
  eventId: string;
  target: string;
  leaseId: string;
  /** Attempts already made; this one is attempts + 1. */
  attempts: number;
  source: string;
  eventType: string | null;
  contentType: string | null;
  /** Stored provider headers in received order; null once the event was erased. */
  headers: [string, string][] | null;
  /** Exact stored body bytes; null once the event was erased. */
  body: Uint8Array<ArrayBuffer> | null;
}

/**
 * Leases due deliveries for several targets in one write: pending ones due
 * by `nowMs` (the caller's clock), up to each target's free slots across every
 * process, with a lease that expires on the database clock. Expired leases
 * come back through `reclaimExpiredLeases`.
 */
export async function leaseDueDeliveries(writer: SqlWriter, opts: LeaseRequest): Promise<LeasedDelivery[]> {
  const stmts = leaseStatements(writer.dialect, opts);
  if (stmts.length === 0) return [];
  const leased = await writer.write(stmts, leaseDurability(writer.dialect));
  return leasedFromRows(leased.at(-1)!.rows, opts.leaseId);
}

/**
 * How durable a write that grants leases must be. A lease must outlive a
 * crash of the store that granted it whenever the process holding it can
 * outlive that crash: a PostgreSQL server restarted (or failed over) under a
 * running relay. Lost, it would put its delivery back in the queue while the
 * attempt is still being made, and another relay (or this one) would make a
 * second attempt at the same time. An embedded file loses a lease only with
 * its machine, and the process holding it goes with it: no wait for the disk.
 */
function leaseDurability(dialect: Dialect): Durability {
  return dialect.engine === "postgres" ? "durable" : "redoable";
}

// The embedded file's one write lock makes one statement exact; PostgreSQL needs the target's lock first (postgres/leases.ts).
function leaseStatements(dialect: Dialect, opts: LeaseRequest): InStatement[] {
  const wants = opts.wants.filter((w) => w.slots > 0);
  if (wants.length === 0) return [];
  return dialect.engine === "postgres" ? pgLeaseStatements(opts, wants) : sqliteLeaseStatements(opts, wants);
}

/**
 * The deliveries of a just-stored item that were written leased (ingest's
 * fast path), with the request bytes the caller still holds: nothing is
 * read back from the store.
 */
export function leasedDeliveriesOf(item: IngestItem, leasedIds: readonly string[]): LeasedDelivery[] {
  if (leasedIds.length === 0) return [];
  return item.deliveries
    .filter((d) => d.claim !== undefined && leasedIds.includes(d.id))
    .map((d) => ({
      id: d.id,
      eventId: item.id,
      target: d.target,
      leaseId: d.claim!.leaseId,
      attempts: 0,
      source: item.source,
      eventType: item.eventType,
      contentType: item.contentType,
      headers: item.headers,
      body: item.body as Uint8Array<ArrayBuffer>,
    }));
}

/**
 * Hands deliveries whose lease ran out on the database clock (a crashed or
 * stalled worker's) back to `pending`, due now. The lost attempt counts: it
 * may have reached the target (so the next one says `hookrelay-attempt: 2`),
 * and a delivery that keeps killing its worker still runs out of attempts.
 * It is recorded with an error saying no outcome came back. A cheap read
 * first, so the usual case takes no write lock.
 */
export async function reclaimExpiredLeases(db: SqlDoors, nowMs: number): Promise<number> {
  const found = await db.reads.execute(`SELECT id FROM deliveries WHERE status = 'delivering' AND lease_until <= ${db.writer.dialect.nowMs} LIMIT ${RECLAIM_BATCH}`);
  if (found.rows.length === 0) return 0;
  const lost = found.rows.map((r) => ({ id: String(r.id), attemptId: makeId("att", nowMs, crypto.getRandomValues(new Uint8Array(10))) }));
  const reclaim = db.writer.dialect.engine === "postgres" ? pgReclaimStatements : sqliteReclaimStatements;
  const results = await db.writer.write(reclaim(lost, LOST_ATTEMPT, nowMs), "redoable");
  return results.at(-1)!.rowsAffected;
}

/** The most expired leases one reclaim write hands back. */
export const RECLAIM_BATCH = 500;

// The store cannot tell an attempt under way from a delivery leased ahead, waiting for a slot: either
// may be the one a crash cut short, so the row says "may".
const LOST_ATTEMPT = "no outcome: the lease expired (the process holding it stopped or stalled); the attempt may not have reached the target";

function leasedFromRows(rows: Row[], leaseId: string): LeasedDelivery[] {
  return rows.map((r) => ({
    id: String(r.id),
    eventId: String(r.event_id),
    target: String(r.target),
    leaseId,
    attempts: Number(r.attempts),
    source: String(r.source ?? ""),
    eventType: r.event_type === null ? null : String(r.event_type),
    contentType: r.content_type === null ? null : String(r.content_type),
    headers: r.headers === null ? null : (JSON.parse(String(r.headers)) as [string, string][]),
    body: r.body === null ? null : new Uint8Array(r.body as ArrayBuffer),
  }));
}

/** One attempt as it is recorded (the attempts table). */
export interface AttemptRecord {
  id: string;
  at: number;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  responseExcerpt: string | null;
  /** The request sent (secrets masked) in its stored form (attempt-request.ts); null when none was made. */
  request: string | null;
}

/** The request an attempt made, as stored with it (delivery/transport.ts masks it). */
export interface AttemptRequest {
  method: string;
  url: string;
  headers: [string, string][];
}

/** The result of one leased delivery, written by `recordOutcomes`. */
export interface OutcomeRecord {
  deliveryId: string;
  leaseId: string;
  eventId: string;
  target: string;
  /** null when no request was made (e.g. the event was erased). */
  attempt: AttemptRecord | null;
  /**
   * `pending` becomes `paused` when the target is disabled meanwhile. An
   * outcome with no attempt and status `pending` hands the delivery back
   * uncounted (nothing was sent).
   */
  status: "delivered" | "pending" | "failed" | "paused" | "cancelled";
  /** For `pending`: when the next attempt is due (caller's clock). */
  nextAttemptAt: number | null;
  /** null with no attempt keeps the delivery's last error. */
  error: string | null;
  /** true/false counts towards the target's health (circuit, disable_after); null leaves it alone. */
  healthy: boolean | null;
}

/**
 * Records a batch of outcomes in ONE transaction and, when `lease` is given,
 * leases the next due work in the same transaction (one commit, one fsync per
 * round instead of two). A delivery whose lease was lost (expired and taken by
 * another worker) is not changed: the fence is `lease_id`. Its attempt row is
 * still written, because the request was made. Returns the delivery ids that
 * were updated, the new state of each target, and what was leased.
 */
export async function recordOutcomes(
  writer: SqlWriter,
  outcomes: OutcomeRecord[],
  nowMs: number,
  lease?: LeaseRequest | null,
): Promise<{ updated: Set<string>; targets: TargetState[]; leased: LeasedDelivery[] }> {
  if (outcomes.length === 0) return { updated: new Set(), targets: [], leased: lease ? await leaseDueDeliveries(writer, lease) : [] };
  const leaseStmts = lease ? leaseStatements(writer.dialect, lease) : [];
  const stmts: InStatement[] = [];
  const dArgs: (string | number | null)[] = [];
  const dValues = outcomes.map((o) => {
    dArgs.push(o.deliveryId, o.leaseId, o.status, o.attempt ? 1 : 0, o.nextAttemptAt, o.error);
    // Typed for PostgreSQL, which reads an untyped VALUES parameter as text (a no-op in SQLite).
    return "(?, ?, ?, CAST(? AS INTEGER), CAST(? AS BIGINT), ?)";
  });
  stmts.push({
    sql: `UPDATE deliveries SET
        status = CASE WHEN v.column3 = 'pending' AND EXISTS (SELECT 1 FROM target_state t
          WHERE t.name = deliveries.target AND t.disabled = 1) THEN 'paused' ELSE v.column3 END,
        attempts = attempts + v.column4, next_attempt_at = coalesce(v.column5, next_attempt_at),
        last_error = coalesce(v.column6, CASE WHEN v.column4 = 1 THEN NULL ELSE last_error END),
        lease_id = NULL, lease_until = NULL, updated_at = ?
      FROM (VALUES ${dValues.join(", ")}) AS v
      WHERE deliveries.id = v.column1 AND deliveries.lease_id = v.column2 AND deliveries.status = 'delivering'
      RETURNING deliveries.id`,
    args: [nowMs, ...dArgs],
  });
  const made = outcomes.filter((o) => o.attempt !== null);
  if (made.length > 0) {
    const aArgs: (string | number | null)[] = [];
    for (const o of made) {
      const a = o.attempt!;
      aArgs.push(a.id, o.deliveryId, o.eventId, o.target, a.at, a.statusCode, a.durationMs, a.error, a.responseExcerpt, a.request);
    }
    // An event erased while its attempt was on its way keeps no reply excerpt from it (a target may
    // echo what it got): checked in the write itself, so neither a crash nor another relay lets one in.
    stmts.push({
      sql: `INSERT INTO attempts (id, delivery_id, event_id, target, at, status_code, duration_ms, error, response_excerpt, request)
        SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7, v.column8,
          CASE WHEN e.erased_at IS NULL THEN v.column9 END, v.column10
        FROM (VALUES ${made.map(() => "(?, ?, ?, ?, CAST(? AS BIGINT), CAST(? AS INTEGER), CAST(? AS INTEGER), ?, ?, ?)").join(", ")}) AS v
          LEFT JOIN events e ON e.id = v.column3`,
      args: aArgs,
    });
  }
  // By target name, in every relay's round: two rounds upserting the same targets' rows wait for each other.
  // (Two rounds in one group transaction may still lock failing targets in another order than another
  // relay's: PostgreSQL then rolls one back and the whole transaction is written again, group-commit.ts.)
  const health = [...summariseHealth(outcomes)].sort(([a], [b]) => (a < b ? -1 : 1)).map(([target, h]) => healthStatement(target, h, nowMs));
  stmts.push(...health);
  // Last, so that the slots freed by this batch's outcomes count as free.
  stmts.push(...leaseStmts);
  // A power failure that loses a round loses leases that expire and outcomes whose attempts
  // are made again (at-least-once): no reason to wait for the disk, unless the round grants
  // leases on a server that may crash under this process (leaseDurability).
  const results = await writer.write(stmts, leaseStmts.length > 0 ? leaseDurability(writer.dialect) : "redoable");
  const updated = new Set(results[0]!.rows.map((r) => String(r.id)));
  const firstHealth = made.length > 0 ? 2 : 1;
  const targets = results.slice(firstHealth, firstHealth + health.length).flatMap((rs) => rs.rows.map(targetStateFromRow));
  const leased = leaseStmts.length > 0 ? leasedFromRows(results.at(-1)!.rows, lease!.leaseId) : [];
  return { updated, targets, leased };
}

interface Health {
  /** A success came after the last failure run, or before the trailing failures. */
  sawSuccess: boolean;
  trailingFailures: number;
  firstTrailingFailureAt: number | null;
  lastError: string | null;
}

// Outcomes of a batch arrive in completion order; only the trailing run of failures matters.
function summariseHealth(outcomes: OutcomeRecord[]): Map<string, Health> {
  const out = new Map<string, Health>();
  for (const o of outcomes) {
    if (o.healthy === null) continue;
    let h = out.get(o.target);
    if (!h) out.set(o.target, (h = { sawSuccess: false, trailingFailures: 0, firstTrailingFailureAt: null, lastError: null }));
    if (o.healthy) {
      h.sawSuccess = true;
      h.trailingFailures = 0;
      h.firstTrailingFailureAt = null;
    } else {
      h.trailingFailures++;
      h.firstTrailingFailureAt ??= o.attempt?.at ?? null;
      h.lastError = o.error;
    }
  }
  return out;
}

function healthStatement(target: string, h: Health, nowMs: number): InStatement {
  const upsert = `INSERT INTO target_state (name, consecutive_failures, failing_since, last_error, last_error_at, updated_at)
    VALUES (:name, :n, :since, :err, CASE WHEN CAST(:err AS TEXT) IS NULL THEN NULL ELSE :now END, :now) ON CONFLICT (name) DO UPDATE SET`;
  const ret = "RETURNING *";
  const args = { name: target, n: h.trailingFailures, since: h.firstTrailingFailureAt, err: h.lastError, now: nowMs };
  if (h.trailingFailures === 0) {
    // Healthy again: the circuit closes and the failure clock stops; the last error stays for the UI.
    // A target that was healthy already (or has no row: healthy) is not written at all, and no row
    // comes back: a steady round of successes would otherwise rewrite its page in every round. A plain
    // UPDATE, not an upsert: on PostgreSQL an upsert locks the row even when its WHERE leaves it be,
    // and relays whose rounds locked their targets' rows in different orders deadlocked (a second's stall).
    return {
      sql: `UPDATE target_state SET consecutive_failures = 0, failing_since = NULL, circuit_open_until = NULL, circuit_wait_ms = NULL, updated_at = :now
        WHERE name = :name AND (consecutive_failures <> 0 OR failing_since IS NOT NULL OR circuit_open_until IS NOT NULL) ${ret}`,
      args: { name: target, now: nowMs },
    };
  }
  if (h.sawSuccess) {
    return {
      sql: `${upsert} consecutive_failures = :n, failing_since = :since, last_error = :err, last_error_at = :now, updated_at = :now ${ret}`,
      args,
    };
  }
  return {
    sql: `${upsert} consecutive_failures = target_state.consecutive_failures + :n, failing_since = coalesce(target_state.failing_since, :since),
      last_error = :err, last_error_at = :now, updated_at = :now ${ret}`,
    args,
  };
}

/**
 * Gives leased deliveries back (shutdown): still-`delivering` rows holding one
 * of these leases become `pending` again, due now, so another process takes them.
 */
export async function releaseLeases(writer: SqlWriter, leaseIds: string[], nowMs: number): Promise<number> {
  if (leaseIds.length === 0) return 0;
  const [rs] = await writer.write([{
    sql: `UPDATE deliveries SET status = 'pending', lease_id = NULL, lease_until = NULL, updated_at = ?
      WHERE status = 'delivering' AND lease_id IN (${leaseIds.map(() => "?").join(", ")})`,
    args: [nowMs, ...leaseIds],
  }]);
  return rs!.rowsAffected;
}

/** Delivery counts per target and status (queue depth for the UI and /metrics). */
export async function countDeliveriesByTarget(client: SqlReader): Promise<{ target: string; status: DeliveryStatus; count: number }[]> {
  const rs = await client.execute("SELECT target, status, count(*) AS n FROM deliveries GROUP BY target, status");
  return rs.rows.map((r) => ({ target: String(r.target), status: String(r.status) as DeliveryStatus, count: Number(r.n) }));
}
