/**
 * The full-text index on the embedded file (see ../search-index.ts). The index
 * (events_fts, contentless FTS5, keyed by the events rowid) and its watermarks
 * (search_state: rowids in [lo, hi] are indexed) are made by the migration
 * drizzle/*_search.sql, with the triggers that take an event's words out when
 * it is erased or deleted.
 *
 * Rowids follow commit order across every process on the store (one write
 * lock), so "rowid > hi" is exactly the events committed since the indexer
 * last wrote. Several relays on one store may read the same batch; each
 * write is a compare-and-set of its watermark, and its inserts are guarded
 * by the same comparison, so only the first to commit indexes the batch.
 * (VACUUM keeps the rowids of a table with indexes, as events has.)
 */
import type { InStatement } from "@libsql/client";
import type { SqlReader, SqlWriter } from "../sql-client.ts";
import { eventsToIndex, INLINE_BODY_BYTES, type RowToIndex } from "../events-to-index.ts";
import type { IndexBatch, IndexDirection, IndexedText, IndexLimits } from "../search-index.ts";

const MARK = { new: "hi", backfill: "lo" } as const;

/** The next batch above the watermark hi (new) or below lo (backfill). */
export async function nextIndexBatch(reads: SqlReader, direction: IndexDirection, limits: IndexLimits): Promise<IndexBatch | null> {
  const [cmp, order] = direction === "new" ? [">", "ASC"] : ["<", "DESC"];
  // length(body) reads a blob's size from its header, not its pages: a large body is not loaded here.
  const rs = await reads.execute({
    sql: `SELECT s.${MARK[direction]} AS mark, e.rowid AS rid, e.id, e.headers, e.query, e.content_type,
            CASE WHEN length(e.body) <= ${INLINE_BODY_BYTES} THEN e.body END AS body, coalesce(length(e.body), 0) AS n
          FROM search_state s JOIN events e ON e.rowid ${cmp} s.${MARK[direction]} WHERE s.id = 1 ORDER BY e.rowid ${order} LIMIT ?`,
    args: [limits.maxRows],
  });
  if (rs.rows.length === 0) return null;
  const events = await eventsToIndex(reads, rs.rows as unknown as RowToIndex[], limits.maxBytes);
  return {
    events,
    more: events.length < rs.rows.length || rs.rows.length === limits.maxRows,
    watermark: { direction, mark: Number(rs.rows[0]!.mark), through: Number(rs.rows[events.length - 1]!.rid) },
  };
}

/** Inserts the texts and moves the watermark, both only if it still stands where the batch was read. */
export async function writeIndexBatch(writer: SqlWriter, batch: IndexBatch, texts: IndexedText[]): Promise<boolean> {
  const w = batch.watermark!;
  const mark = MARK[w.direction];
  const docs = JSON.stringify(texts.filter((t) => t.text !== "").map((t) => [t.id, t.text]));
  // One statement of one text for the whole batch (the writer keeps it prepared), the texts as one JSON argument.
  const stmts: InStatement[] = [
    {
      sql: `INSERT INTO events_fts (rowid, text)
            SELECT e.rowid, d.value ->> 1 FROM json_each(?) d JOIN events e ON e.id = d.value ->> 0
            WHERE e.erased_at IS NULL AND (SELECT ${mark} FROM search_state WHERE id = 1) = ?`,
      args: [docs, w.mark],
    },
    { sql: `UPDATE search_state SET ${mark} = ? WHERE id = 1 AND ${mark} = ?`, args: [w.through, w.mark] },
  ];
  // Redoable: a batch lost to a power failure is read and written again.
  const rs = await writer.write(stmts, "redoable");
  return rs[1]!.rowsAffected === 1;
}
