/**
 * Erasing one event for a privacy request: the raw body and headers go, the
 * metadata row stays with `erased_at` set, so the list still shows that the
 * event existed and when it was erased.
 */
import type { SqlWriter } from "./sql-client.ts";

/**
 * Sets body and headers to NULL and erased_at (first erase wins); false when
 * the id is unknown. Open deliveries end as failed: there is nothing left to send.
 */
export async function eraseEvent(writer: SqlWriter, id: string, nowMs: number): Promise<{ found: boolean; erasedAt: number | null }> {
  const rs = await writer.write(
    [
      {
        // PostgreSQL keeps an event's words in the row (events.search): they go with the body, and
        // an empty vector tells the indexer there is nothing left to index. (The file's FTS5 trigger does this there.)
        sql: `UPDATE events SET body = NULL, headers = NULL, erased_at = coalesce(erased_at, ?)${writer.dialect.engine === "postgres" ? ", search = ''::tsvector" : ""}
          WHERE id = ?`,
        args: [nowMs, id],
      },
      {
        sql: "UPDATE deliveries SET status = 'failed', last_error = 'event erased', updated_at = ? WHERE event_id = ? AND status IN ('pending','paused')",
        args: [nowMs, id],
      },
      { sql: "SELECT erased_at FROM events WHERE id = ?", args: [id] },
    ],
  );
  const row = rs[2]!.rows[0];
  return { found: rs[0]!.rowsAffected > 0, erasedAt: row ? Number(row.erased_at) : null };
}
