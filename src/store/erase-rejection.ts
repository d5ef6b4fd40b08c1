/**
 * Erasing one rejected request for a privacy request: its headers, body
 * excerpt, query string and the address it came from go; the row stays with
 * `erased_at` set — its source, time, reason and count — so that the
 * rejections list, the sources page's figures and the mismatch alert still
 * count it (as an erased event's metadata stays).
 */
import type { SqlWriter } from "./sql-client.ts";

/** What an erase found: whether the rejection exists, and when it was erased (the first erase's time). */
export interface ErasedRejection {
  found: boolean;
  erasedAt: number | null;
}

/** Blanks the rejection's request (first erase wins the time); found false when the id is unknown or already purged. */
export async function eraseRejection(writer: SqlWriter, id: string, nowMs: number): Promise<ErasedRejection> {
  const query = writer.dialect.position("path", "'?'");
  const rs = await writer.write([
    {
      // The path keeps its part before "?": the query string is the request's, like its headers.
      sql: `UPDATE rejections SET headers = '[]', body_excerpt = NULL, remote_addr = NULL,
          path = CASE WHEN ${query} > 0 THEN substr(path, 1, ${query} - 1) ELSE path END,
          erased_at = coalesce(erased_at, ?) WHERE id = ?`,
      args: [nowMs, id],
    },
    { sql: "SELECT erased_at FROM rejections WHERE id = ?", args: [id] },
  ]);
  const row = rs[1]!.rows[0];
  return { found: rs[0]!.rowsAffected > 0, erasedAt: row ? Number(row.erased_at) : null };
}
