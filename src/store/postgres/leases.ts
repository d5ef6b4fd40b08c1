/**
 * Leasing on PostgreSQL, exact across any number of relays on one database.
 * Two statements in the round's one savepoint:
 *
 * 1. take each target's advisory try-lock (target-locks.ts targetLocked) and note
 *    in a transaction-local setting which ones this transaction holds;
 * 2. per held target, count its live leases (database clock) and take that
 *    many fewer due rows, `FOR UPDATE SKIP LOCKED`.
 *
 * Two statements, because in READ COMMITTED a statement sees what was
 * committed when it started: a count in the statement that takes the lock
 * could miss the leases of the relay that held the lock a moment before. A
 * target whose lock another relay holds now is skipped this round (it is
 * leasing it), and no relay ever waits for a lock or a row.
 */
import type { InStatement } from "@libsql/client";
import { postgresDialect as dialect } from "../dialect.ts";
import { holderArgs, leaseInt as int, OPEN_STATUSES, type LeaseRequest, type LeaseWant } from "../lease-request.ts";
import { targetLocked } from "./target-locks.ts";

/** The transaction-local setting naming the round's targets whose locks are held, as `|0|2|` (indexes into the wants). */
const HELD = "hookrelay.leasing";

/** Targets one lock-and-lease pair takes: PostgreSQL passes at most 100 arguments to a function (the lock's concat). */
const MAX_TARGETS = 90;

/** The round's lease as statements; the last one returns the leased rows (deliveries.ts reads them). */
export function leaseStatements(opts: LeaseRequest, wants: LeaseWant[]): InStatement[] {
  if (wants.length > MAX_TARGETS) {
    // A lock-and-lease pair per MAX_TARGETS targets, under the same lease id (each lease reads the
    // setting its own lock just wrote), then one read of every row the round leased.
    const pairs: InStatement[] = [];
    for (let at = 0; at < wants.length; at += MAX_TARGETS) pairs.push(...leaseStatements(opts, wants.slice(at, at + MAX_TARGETS)));
    const leased = `SELECT d.id, d.event_id, d.target, d.attempts, e.source, e.event_type, e.content_type, e.headers, e.body
      FROM deliveries d LEFT JOIN events e ON e.id = d.event_id WHERE d.status = 'delivering' AND d.lease_id = :lease`;
    return [...pairs, { sql: leased, args: { lease: opts.leaseId } }];
  }
  const targets: Record<string, string> = {};
  wants.forEach((w, i) => (targets[`t${i}`] = w.target));
  const lock: InStatement = {
    sql: `SELECT set_config('${HELD}', concat('|', ${wants.map((_, i) => `CASE WHEN ${targetLocked(`:t${i}`)} THEN '${i}|' END`).join(", ")}), true)`,
    args: targets,
  };

  const holder = holderArgs(opts, wants);
  const args: Record<string, string | number> = { ...targets, lease: opts.leaseId, now: opts.nowMs, ...holder };
  const arms = wants.map((w, i) => {
    args[`s${i}`] = int(w.slots);
    args[`c${i}`] = int(w.ordered ? 1 : w.concurrency);
    args[`ms${i}`] = int(w.leaseMs);
    const live = `FROM deliveries WHERE target = :t${i} AND status = 'delivering' AND lease_until > ${dialect.nowMs}`;
    let room = `CAST(:c${i} AS BIGINT) - (SELECT count(*) ${live})`;
    if (holder && !w.ordered && (w.ahead ?? 0) > 0) {
      // Lease ahead: `ahead` more while every live lease is this relay's (see LeaseWant).
      args[`a${i}`] = int(w.ahead!);
      room = `(SELECT CAST(:c${i} AS BIGINT) - count(*) + CASE WHEN count(*) FILTER (WHERE substr(lease_id, 1, CAST(:holderLen AS INT)) = :holder) = count(*)
        THEN CAST(:a${i} AS BIGINT) ELSE 0 END ${live})`;
    }
    // Nothing (not even the count) for a target this transaction does not hold.
    const limit = `CASE WHEN strpos(current_setting('${HELD}', true), '|${i}|') > 0
      THEN greatest(0, least(CAST(:s${i} AS BIGINT), ${room})) ELSE 0 END`;
    if (w.ordered) {
      // The head of the line is the oldest open delivery in receive order (created_at, then the
      // order rows were stored in); only it may go, and only when it is pending and due. The
      // oldest of each open status, one index seek each (deliveries_open), then the oldest of those.
      const oldest = (status: string) =>
        `(SELECT id, created_at, seq FROM deliveries WHERE status = '${status}' AND target = :t${i} ORDER BY created_at, seq LIMIT 1)`;
      const head = `(SELECT h.id FROM (${OPEN_STATUSES.map(oldest).join(" UNION ALL ")}) AS h ORDER BY h.created_at, h.seq LIMIT 1)`;
      // SKIP LOCKED: a head that another transaction is changing right now is not taken, and
      // nothing behind it is either.
      return `a${i} AS (SELECT id, event_id FROM deliveries WHERE id = ${head} AND status = 'pending' AND next_attempt_at <= :now
        LIMIT ${limit} FOR UPDATE SKIP LOCKED)`;
    }
    return `a${i} AS (SELECT id, event_id FROM deliveries WHERE target = :t${i} AND status = 'pending' AND next_attempt_at <= :now
      ORDER BY next_attempt_at LIMIT ${limit} FOR UPDATE SKIP LOCKED)`;
  });
  const leaseMs = `CASE deliveries.target ${wants.map((_, i) => `WHEN :t${i} THEN CAST(:ms${i} AS BIGINT)`).join(" ")} END`;
  const lease: InStatement = {
    sql: `WITH ${arms.join(",\n")}
      UPDATE deliveries SET status = 'delivering', lease_id = :lease, updated_at = :now, lease_until = ${dialect.nowMs} + ${leaseMs}
      FROM (${wants.map((_, i) => `SELECT id, event_id FROM a${i}`).join(" UNION ALL ")}) AS p
        LEFT JOIN events e ON e.id = p.event_id
      WHERE deliveries.id = p.id AND deliveries.status = 'pending'
      RETURNING deliveries.id, deliveries.event_id, deliveries.target, deliveries.attempts,
        e.source, e.event_type, e.content_type, e.headers, e.body`,
    args,
  };
  return [lock, lease];
}

/**
 * Hands the `lost` deliveries whose lease ran out back to `pending`, each with
 * an attempt row saying no outcome came back; the statement's count is how
 * many. One statement: the attempt rows are written only for the rows this
 * update took (locked, expiry checked again), so two relays reclaiming at
 * once record the lost attempt once; a row another transaction is changing
 * is left to it.
 */
export function reclaimStatements(lost: { id: string; attemptId: string }[], error: string, nowMs: number): InStatement[] {
  const args: Record<string, string | number> = { err: error, now: nowMs };
  const pairs = lost.map(({ id, attemptId }, i) => {
    args[`d${i}`] = id;
    args[`a${i}`] = attemptId;
    return `(:d${i}, :a${i})`;
  });
  return [{
    sql: `WITH r AS (
        UPDATE deliveries SET status = 'pending', attempts = attempts + 1, last_error = :err, lease_id = NULL, lease_until = NULL,
          next_attempt_at = least(next_attempt_at, :now), updated_at = :now
        FROM (SELECT id AS lost_id, updated_at AS leased_at FROM deliveries
          WHERE id IN (${lost.map((_, i) => `:d${i}`).join(", ")}) AND status = 'delivering' AND lease_until <= ${dialect.nowMs}
          FOR UPDATE SKIP LOCKED) AS lost
        WHERE deliveries.id = lost.lost_id
        RETURNING deliveries.id, deliveries.event_id, deliveries.target, lost.leased_at)
      INSERT INTO attempts (id, delivery_id, event_id, target, at, status_code, duration_ms, error, response_excerpt)
      SELECT v.column2, r.id, r.event_id, r.target, r.leased_at, NULL, 0, :err, NULL
      FROM r JOIN (VALUES ${pairs.join(", ")}) AS v ON v.column1 = r.id`,
    args,
  }];
}
