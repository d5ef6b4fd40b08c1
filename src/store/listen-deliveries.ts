/**
 * Store reads for listen targets (src/delivery/listen-session.ts). Leasing
 * and recording reuse store/deliveries.ts; this only answers "is the head of
 * the line due?" with a read, so an idle connected client polls without
 * taking the write lock that the lease UPDATE would take every round.
 */
import type { SqlClient as Client } from "./remote-client.ts";
import { DB_NOW_MS } from "./db-clock.ts";

/**
 * True when the target's oldest open delivery (receive order, as the ordered
 * lease picks it) is pending and due by `nowMs`, or delivering with a lease
 * expired on the database clock.
 */
export async function isHeadDeliveryDue(client: Client, target: string, nowMs: number): Promise<boolean> {
  const rs = await client.execute({
    sql: `SELECT (status = 'pending' AND next_attempt_at <= :now)
        OR (status = 'delivering' AND lease_until <= ${DB_NOW_MS}) AS due
      FROM deliveries WHERE target = :target AND status IN ('pending', 'delivering', 'paused')
      ORDER BY created_at, rowid LIMIT 1`,
    args: { target, now: nowMs },
  });
  return rs.rows.length > 0 && Number(rs.rows[0]!.due) === 1;
}
