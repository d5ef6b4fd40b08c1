/**
 * Leasing on the embedded file: ONE statement for all of a round's targets.
 * The file's one write lock serialises every writer of every process, so the
 * count of live leases and the lease itself can never interleave with another
 * process's lease.
 */
import type { InStatement } from "@libsql/client";
import { sqliteDialect as dialect } from "../dialect.ts";
import { holderArgs, leaseInt as int, OPEN_STATUSES, type LeaseRequest, type LeaseWant } from "../lease-request.ts";

/**
 * One target's arm of the lease's UNION ALL, as a subquery of its own: a
 * LIMIT written at an arm's top level would be a syntax error in any arm but
 * the last, and in the last would limit the whole union, every target's arm.
 */
const arm = (select: string) => `SELECT id FROM (${select})`;

/**
 * Targets one lease statement takes: SQLite refuses a compound SELECT of more
 * than 500 terms (SQLITE_MAX_COMPOUND_SELECT), and a relay with more targets
 * than that leased nothing at all.
 */
const MAX_ARMS = 400;

/** The round's lease as statements; the last one reads the leased rows back (deliveries.ts reads them). */
export function leaseStatements(opts: LeaseRequest, wants: LeaseWant[]): InStatement[] {
  if (wants.length > MAX_ARMS) {
    // One lease statement per MAX_ARMS targets, under the same lease id; the read-back finds all their rows.
    const updates: InStatement[] = [];
    for (let at = 0; at < wants.length; at += MAX_ARMS) updates.push(leaseStatements(opts, wants.slice(at, at + MAX_ARMS))[0]!);
    return [...updates, { sql: leasedBack(false), args: { lease: opts.leaseId } }];
  }
  const holder = holderArgs(opts, wants);
  const args: Record<string, string | number> = { lease: opts.leaseId, now: opts.nowMs, ...holder };
  const arms = wants.map((w, i) => {
    args[`t${i}`] = w.target;
    // Numbers are bound, not inlined, so that a round's SQL text depends only on
    // its targets' count and kinds and the writer reuses its prepared statement.
    args[`s${i}`] = int(w.slots);
    args[`c${i}`] = int(w.ordered ? 1 : w.concurrency);
    // Free slots across every process: live leases in the store count against concurrency.
    const live = `FROM deliveries WHERE target = :t${i} AND status = 'delivering' AND lease_until > ${dialect.nowMs}`;
    let room = `:c${i} - (SELECT count(*) ${live})`;
    if (holder && !w.ordered && (w.ahead ?? 0) > 0) {
      // Lease ahead: `ahead` more while every live lease is this process's (see LeaseWant).
      args[`a${i}`] = int(w.ahead!);
      room = `(SELECT :c${i} - count(*) + CASE WHEN total(substr(lease_id, 1, :holderLen) = :holder) = count(*) THEN :a${i} ELSE 0 END ${live})`;
    }
    // Counting the live leases reads each of their rows (expiry, holder): only worth it
    // when something is due, which most rounds of a relay whose fresh events are claimed lack.
    const due = `EXISTS (SELECT 1 FROM deliveries WHERE target = :t${i} AND status = 'pending' AND next_attempt_at <= :now)`;
    const limit = `CASE WHEN ${due} THEN ${dialect.greatest("0", dialect.least(`:s${i}`, room))} ELSE 0 END`;
    if (w.ordered) {
      // The head of the line is the oldest open delivery in receive order; nothing behind it may
      // go first. The oldest of each open status, one index seek each (deliveries_open), then the oldest of those.
      const oldest = (status: string) =>
        `SELECT * FROM (SELECT id, status, next_attempt_at, created_at, rowid AS r FROM deliveries
          WHERE status = '${status}' AND target = :t${i} ORDER BY created_at LIMIT 1)`;
      const head = `SELECT * FROM (${OPEN_STATUSES.map(oldest).join(" UNION ALL ")}) ORDER BY created_at, r LIMIT 1`;
      return arm(`SELECT id FROM (${head}) WHERE status = 'pending' AND next_attempt_at <= :now LIMIT ${limit}`);
    }
    return arm(`SELECT id FROM deliveries WHERE target = :t${i} AND status = 'pending'
      AND next_attempt_at <= :now ORDER BY next_attempt_at LIMIT ${limit}`);
  });
  const oneLeaseMs = new Set(wants.map((w) => w.leaseMs)).size === 1;
  (oneLeaseMs ? wants.slice(0, 1) : wants).forEach((w, i) => (args[`ms${i}`] = int(w.leaseMs)));
  const leaseMs = oneLeaseMs ? ":ms0" : `CASE target ${wants.map((_, i) => `WHEN :t${i} THEN :ms${i}`).join(" ")} END`;
  // Kept deliberately simple (a long statement costs more to prepare), and expired leases
  // are handed back to `pending` by reclaimExpiredLeases instead of here.
  const lease = `UPDATE deliveries SET status = 'delivering', lease_id = :lease, updated_at = :now,
      lease_until = ${dialect.nowMs} + ${leaseMs}
    WHERE id IN (${arms.join(" UNION ALL ")})`;
  return [
    { sql: lease, args },
    { sql: leasedBack(true), args: { lease: opts.leaseId } },
  ];
}

/**
 * Reads the lease's rows back with their events, in one join: RETURNING could
 * name the events' columns only as one correlated lookup each, five per row.
 * The round's lease id finds them among the few live leases (deliveries_open);
 * right after its one lease statement (`afterOne`) the limit, the count that
 * statement changed, ends the scan once all are found (with nothing leased it
 * returns nothing, but the statement still runs).
 */
function leasedBack(afterOne: boolean): string {
  return `SELECT d.id, d.event_id, d.target, d.attempts, e.source, e.event_type, e.content_type, e.headers, e.body
    FROM deliveries d LEFT JOIN events e ON e.id = d.event_id
    WHERE d.status = 'delivering' AND d.lease_id = :lease${afterOne ? " LIMIT changes()" : ""}`;
}

/**
 * Hands the `lost` deliveries whose lease ran out back to `pending`, each with
 * an attempt row saying no outcome came back; the last statement's count is
 * how many. Expiry is checked again in the write: another process may have
 * reclaimed one meanwhile.
 */
export function reclaimStatements(lost: { id: string; attemptId: string }[], error: string, nowMs: number): InStatement[] {
  const expired = `status = 'delivering' AND lease_until <= ${dialect.nowMs}`;
  const stmts: InStatement[] = lost.map(({ id, attemptId }) => ({
    sql: `INSERT INTO attempts (id, delivery_id, event_id, target, at, status_code, duration_ms, error, response_excerpt)
      SELECT ?, id, event_id, target, updated_at, NULL, 0, ?, NULL FROM deliveries WHERE id = ? AND ${expired}`,
    args: [attemptId, error, id],
  }));
  stmts.push({
    sql: `UPDATE deliveries SET status = 'pending', attempts = attempts + 1, last_error = ?, lease_id = NULL,
        lease_until = NULL, next_attempt_at = ${dialect.least("next_attempt_at", "?")}, updated_at = ?
      WHERE id IN (${lost.map(() => "?").join(", ")}) AND ${expired}`,
    args: [error, nowMs, nowMs, ...lost.map((l) => l.id)],
  });
  return stmts;
}
