/**
 * Erasing one event for a privacy request: the raw body, headers, query
 * string and the address it came from go, and so do the reply excerpts its targets answered with (a target
 * may echo what it received); the metadata row stays with `erased_at` set,
 * so the list still shows that the event existed and when it was erased.
 *
 * An attempt already on its way when the event is erased still reaches its
 * target; its outcome is recorded without the reply (recordOutcomes checks
 * erased_at in the write), and the erase says which targets it was on its way to.
 */
import type { SqlWriter } from "./sql-client.ts";
import { eraseWordsSet } from "./search-index.ts";

/** What an erase found: the event, when it was erased, and the targets of its deliveries in flight. */
export interface Erased {
  found: boolean;
  erasedAt: number | null;
  inFlightTo: string[];
}

const eraseExcerpts = (id: string) => ({
  sql: "UPDATE attempts SET response_excerpt = NULL WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id = ?) AND response_excerpt IS NOT NULL",
  args: [id],
});

/**
 * Sets body, headers and the address to NULL, the query to '' and erased_at (first erase
 * wins), and its attempts' reply excerpts to NULL; false when the id is
 * unknown. Open deliveries end cancelled ("event erased"): there is nothing
 * left to send, and nothing for an operator to act on.
 */
export async function eraseEvent(writer: SqlWriter, id: string, nowMs: number): Promise<Erased> {
  const rs = await writer.write(
    [
      // Its words leave the search index with it (on the file a trigger takes them out).
      { sql: `UPDATE events SET body = NULL, headers = NULL, query = '', remote_addr = NULL, erased_at = coalesce(erased_at, ?)${eraseWordsSet(writer)} WHERE id = ?`, args: [nowMs, id] },
      eraseExcerpts(id),
      {
        sql: "UPDATE deliveries SET status = 'cancelled', last_error = 'event erased', updated_at = ? WHERE event_id = ? AND status IN ('pending','paused')",
        args: [nowMs, id],
      },
      { sql: "SELECT erased_at FROM events WHERE id = ?", args: [id] },
      { sql: "SELECT DISTINCT target FROM deliveries WHERE event_id = ? AND status = 'delivering'", args: [id] },
    ],
  );
  const row = rs[3]!.rows[0];
  return { found: rs[0]!.rowsAffected > 0, erasedAt: row ? Number(row.erased_at) : null, inFlightTo: rs[4]!.rows.map((r) => String(r.target)) };
}
