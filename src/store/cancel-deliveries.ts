/**
 * Cancelling deliveries (a bulk cancel's batch): pending and paused ones
 * become `cancelled`, a final status — never leased, not open (queue depth,
 * an ordered target's line and retention ignore it) — until the event is
 * redelivered or the delivery retried. A delivery in flight (`delivering`) is
 * left alone: its attempt ends and records its outcome as usual.
 */
import type { InStatement, InValue } from "@libsql/client";
import type { DeliveryStatus } from "./deliveries.ts";

/** The statuses a cancel takes a delivery from. */
export const CANCELLABLE: readonly DeliveryStatus[] = ["pending", "paused"];

/**
 * ONE statement cancelling the deliveries of `eventIds` whose status is one of
 * `statuses` (a subset of CANCELLABLE), to `target` only when given, and only
 * while `guard` (a job's fence) holds; `reason` is kept as their last error.
 */
export function cancelStatement(
  eventIds: string[],
  opts: { target?: string; statuses: readonly DeliveryStatus[]; nowMs: number; guard: { sql: string; args: InValue[] }; reason: string },
): InStatement {
  const statuses = opts.statuses.filter((s) => CANCELLABLE.includes(s));
  // Literals (never request text): each status spelt out lets SQLite use the partial indexes.
  const status = statuses.map((s) => `status = '${s}'`).join(" OR ");
  // The reason takes the place of the last error, as an erase's does: the event page says why it ended.
  const args: InValue[] = [opts.reason, opts.nowMs, ...eventIds];
  if (opts.target !== undefined) args.push(opts.target);
  args.push(...opts.guard.args);
  return {
    sql: `UPDATE deliveries SET status = 'cancelled', last_error = ?, updated_at = ?
      WHERE event_id IN (${eventIds.map(() => "?").join(", ")}) AND (${status || "1 = 0"})
        ${opts.target !== undefined ? "AND target = ?" : ""} AND ${opts.guard.sql}`,
    args,
  };
}
