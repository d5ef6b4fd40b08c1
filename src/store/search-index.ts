/**
 * The full-text index's store side: which events the indexer takes next, and
 * the write that adds their text. The index (events_fts, contentless FTS5,
 * keyed by the events rowid) and its watermarks (search_state: rowids in
 * [lo, hi] are indexed) are made by the migration drizzle/*_search.sql, with
 * the triggers that take an event's words out when it is erased or deleted.
 *
 * Rowids follow commit order across every process on the store (one write
 * lock), so "rowid > hi" is exactly the events committed since the indexer
 * last wrote. Several relays on one store may read the same batch; each
 * write is a compare-and-set of its watermark, and its inserts are guarded
 * by the same comparison, so only the first to commit indexes the batch.
 * (VACUUM keeps the rowids of a table with indexes, as events has.)
 */
import type { InStatement } from "@libsql/client";
import type { SqlReader, SqlWriter } from "./sql-client.ts";

/** New events upward from hi; events stored before the index existed, downward from lo. */
export type IndexDirection = "new" | "backfill";

/** One event as the indexer reads it. */
export interface EventToIndex {
  rowid: number;
  id: string;
  headers: [string, string][] | null;
  body: Uint8Array | null;
  contentType: string | null;
}

/** An event's searchable text, ready to write. */
export interface IndexedText {
  rowid: number;
  id: string;
  text: string;
}

/** A batch read at watermark `mark`; `through` is the watermark once it is written. */
export interface IndexBatch {
  direction: IndexDirection;
  mark: number;
  through: number;
  events: EventToIndex[];
}

const MARK = { new: "hi", backfill: "lo" } as const;

/**
 * The next events to index in `direction`: at most `maxRows`, and no more
 * bodies than `maxBytes` together (at least one event); null when there are none.
 */
export async function nextIndexBatch(reads: SqlReader, direction: IndexDirection, limits: { maxRows: number; maxBytes: number }): Promise<IndexBatch | null> {
  const [cmp, order] = direction === "new" ? [">", "ASC"] : ["<", "DESC"];
  // length(body) reads a blob's size from its header, not its pages.
  const sizes = await reads.execute({
    sql: `SELECT s.${MARK[direction]} AS mark, e.rowid AS rid, coalesce(length(e.body), 0) AS n
          FROM search_state s JOIN events e ON e.rowid ${cmp} s.${MARK[direction]} WHERE s.id = 1 ORDER BY e.rowid ${order} LIMIT ?`,
    args: [limits.maxRows],
  });
  if (sizes.rows.length === 0) return null;
  let taken = 0;
  let bytes = 0;
  for (const r of sizes.rows) {
    if (taken > 0 && bytes + Number(r.n) > limits.maxBytes) break;
    bytes += Number(r.n);
    taken++;
  }
  const first = Number(sizes.rows[0]!.rid);
  const last = Number(sizes.rows[taken - 1]!.rid);
  const rs = await reads.execute({
    sql: "SELECT rowid AS rid, id, headers, body, content_type FROM events WHERE rowid BETWEEN ? AND ? ORDER BY rowid",
    args: [Math.min(first, last), Math.max(first, last)],
  });
  return {
    direction,
    mark: Number(sizes.rows[0]!.mark),
    through: last,
    events: rs.rows.map((r) => ({
      rowid: Number(r.rid),
      id: String(r.id),
      headers: r.headers === null ? null : (JSON.parse(String(r.headers)) as [string, string][]),
      body: r.body === null ? null : new Uint8Array(r.body as ArrayBuffer),
      contentType: r.content_type === null ? null : String(r.content_type),
    })),
  };
}

/**
 * Writes the texts of `batch` and moves its watermark to `batch.through`, in
 * one write job; false when another relay moved the watermark first (then
 * nothing was written: it indexed these events). An event erased or deleted
 * since it was read is not indexed.
 */
export async function writeIndexBatch(writer: SqlWriter, batch: IndexBatch, texts: IndexedText[]): Promise<boolean> {
  const mark = MARK[batch.direction];
  const stmts: InStatement[] = texts
    .filter((t) => t.text !== "")
    .map((t) => ({
      sql: `INSERT INTO events_fts (rowid, text) SELECT ?, ?
            WHERE (SELECT ${mark} FROM search_state WHERE id = 1) = ?
              AND EXISTS (SELECT 1 FROM events WHERE rowid = ? AND id = ? AND erased_at IS NULL)`,
      args: [t.rowid, t.text, batch.mark, t.rowid, t.id],
    }));
  stmts.push({ sql: `UPDATE search_state SET ${mark} = ? WHERE id = 1 AND ${mark} = ?`, args: [batch.through, batch.mark] });
  // Redoable: a batch lost to a power failure is read and written again.
  const rs = await writer.write(stmts, "redoable");
  return rs.at(-1)!.rowsAffected === 1;
}
