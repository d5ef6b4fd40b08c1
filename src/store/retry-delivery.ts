/**
 * "Retry now" for one delivery: the same delivery (same id, so the same
 * `webhook-id`) becomes due at once and its next attempt carries the next
 * attempt number. Not a new delivery: a redelivery is that.
 */
import type { SqlDoors } from "./sql-client.ts";
import type { DeliveryStatus } from "./deliveries.ts";
import { latestOfPair, openPairExists } from "./redeliver.ts";

/** What a retry did, or why it did nothing. */
export type RetryResult =
  | {
      ok: true;
      id: string;
      status: "pending" | "paused";
      attempt: number;
      nextAttemptAt: number;
      /** Its target's circuit is open until then: the attempt waits for it (target-health.ts). */
      circuitOpenUntil: number | null;
      /** The delivery's target. */
      target: string;
    }
  | { ok: false; reason: "not_found" | "delivered" | "in_flight" | "erased" | "target_not_configured" | "newer_open" | "replaced" };

/**
 * The statuses "Retry now" applies to: finished or waiting deliveries may go
 * again; a delivered one is done, a delivering one is in the air. The event
 * page draws the form for these, and hands them to its live updates.
 */
export const RETRYABLE_STATUSES: readonly DeliveryStatus[] = ["pending", "failed", "cancelled", "paused"];

/**
 * Makes delivery `id` due at `nowMs`: `pending`, or `paused` while its
 * target is disabled (it goes once the target is enabled). Its attempts so
 * far, and its schedule position, are kept: the next attempt is attempts + 1.
 * Not when its event was erased: with no body left, the attempt would only
 * record that (as a redelivery of it is refused).
 */
// Another delivery of the same event to the same target still on its way (a redelivery made
// meanwhile): retrying this one as well would send the event twice.
const otherOpen = (d: string) => openPairExists(`${d}.event_id`, `${d}.target`, `${d}.id`);
// Only the pair's latest delivery: a later one (a redelivery), whatever became of it, replaced this
// one, and retrying it would send the event again though the later one may have delivered it.
const replaced = (d: string) => `NOT ${latestOfPair(d)}`;

export async function retryDelivery(db: SqlDoors, id: string, nowMs: number, configured: readonly string[]): Promise<RetryResult> {
  // Only to a configured target: one a reload removed would take nothing, and the delivery would
  // read "due now" for good.
  const [rs] = await db.writer.write([
    {
      sql: `UPDATE deliveries SET
          status = CASE WHEN EXISTS (SELECT 1 FROM target_state t WHERE t.name = deliveries.target AND t.disabled = 1) THEN 'paused' ELSE 'pending' END,
          next_attempt_at = ?, updated_at = ?
        WHERE id = ? AND status IN (${RETRYABLE_STATUSES.map((s) => `'${s}'`).join(", ")})
          AND target IN (${configured.map(() => "?").join(", ") || "NULL"})
          AND NOT EXISTS (SELECT 1 FROM events e WHERE e.id = deliveries.event_id AND e.erased_at IS NOT NULL)
          AND NOT ${otherOpen("deliveries")}
          AND NOT ${replaced("deliveries")}
        RETURNING status, attempts, target, (SELECT t.circuit_open_until FROM target_state t WHERE t.name = deliveries.target AND t.circuit_open_until > ?) AS circuit_open_until`,
      args: [nowMs, nowMs, id, ...configured, nowMs],
    },
  ]);
  const row = rs!.rows[0];
  if (row) {
    const circuitOpenUntil = row.circuit_open_until === null ? null : Number(row.circuit_open_until);
    return { ok: true, id, status: String(row.status) as "pending" | "paused", attempt: Number(row.attempts) + 1, nextAttemptAt: nowMs, circuitOpenUntil, target: String(row.target) };
  }
  const now = await db.reads.execute({
    sql: `SELECT d.status, d.target, e.erased_at, ${otherOpen("d")} AS other_open, ${replaced("d")} AS replaced
      FROM deliveries d LEFT JOIN events e ON e.id = d.event_id WHERE d.id = ?`,
    args: [id],
  });
  const found = now.rows[0];
  if (found === undefined) return { ok: false, reason: "not_found" };
  if (found.status === "delivered") return { ok: false, reason: "delivered" };
  if (!configured.includes(String(found.target))) return { ok: false, reason: "target_not_configured" };
  if (Boolean(Number(found.other_open))) return { ok: false, reason: "newer_open" };
  if (Boolean(Number(found.replaced))) return { ok: false, reason: "replaced" };
  return { ok: false, reason: found.erased_at !== null ? "erased" : "in_flight" };
}

/**
 * Makes every delivery of `target` waiting for a retry due at `nowMs`. A
 * `hookrelay listen` client that connects has changed something (restarted
 * with other --forward-to routes, its app back up): what failed locally goes
 * again at once rather than at the schedule's next step, an hour away maybe,
 * with every later event of the ordered target held behind it. Returns how many.
 */
export async function retryTargetNow(db: SqlDoors, target: string, nowMs: number): Promise<number> {
  const [rs] = await db.writer.write([
    {
      sql: "UPDATE deliveries SET next_attempt_at = ?, updated_at = ? WHERE target = ? AND status = 'pending' AND next_attempt_at > ?",
      args: [nowMs, nowMs, target, nowMs],
    },
  ]);
  return rs!.rowsAffected;
}
