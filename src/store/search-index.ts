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
  /** More events wait past this batch (it was cut by the row or byte limit). */
  more: boolean;
}

const MARK = { new: "hi", backfill: "lo" } as const;

/** Bodies up to this size come with the batch's one read; larger ones are read one by one. */
const INLINE_BODY_BYTES = 64 * 1024;

/**
 * The next events to index in `direction`: at most `maxRows`, and no more
 * bodies than `maxBytes` together (at least one event); null when there are none.
 */
export async function nextIndexBatch(reads: SqlReader, direction: IndexDirection, limits: { maxRows: number; maxBytes: number }): Promise<IndexBatch | null> {
  const [cmp, order] = direction === "new" ? [">", "ASC"] : ["<", "DESC"];
  // length(body) reads a blob's size from its header, not its pages: a large body is not loaded here.
  const rs = await reads.execute({
    sql: `SELECT s.${MARK[direction]} AS mark, e.rowid AS rid, e.id, e.headers, e.content_type,
            CASE WHEN length(e.body) <= ${INLINE_BODY_BYTES} THEN e.body END AS body, coalesce(length(e.body), 0) AS n
          FROM search_state s JOIN events e ON e.rowid ${cmp} s.${MARK[direction]} WHERE s.id = 1 ORDER BY e.rowid ${order} LIMIT ?`,
    args: [limits.maxRows],
  });
  if (rs.rows.length === 0) return null;
  const events: EventToIndex[] = [];
  let bytes = 0;
  for (const r of rs.rows) {
    const n = Number(r.n);
    if (events.length > 0 && bytes + n > limits.maxBytes) break;
    bytes += n;
    const body = n > INLINE_BODY_BYTES ? await bodyOf(reads, Number(r.rid)) : r.body;
    events.push({
      rowid: Number(r.rid),
      id: String(r.id),
      headers: r.headers === null ? null : (JSON.parse(String(r.headers)) as [string, string][]),
      body: body === null ? null : new Uint8Array(body as ArrayBuffer),
      contentType: r.content_type === null ? null : String(r.content_type),
    });
  }
  return {
    direction,
    mark: Number(rs.rows[0]!.mark),
    through: events.at(-1)!.rowid,
    more: events.length < rs.rows.length || rs.rows.length === limits.maxRows,
    events,
  };
}

async function bodyOf(reads: SqlReader, rowid: number): Promise<unknown> {
  const rs = await reads.execute({ sql: "SELECT body FROM events WHERE rowid = ?", args: [rowid] });
  return rs.rows[0]?.body ?? null;
}

/**
 * Writes the texts of `batch` and moves its watermark to `batch.through`, in
 * one write job; false when another relay moved the watermark first (then
 * nothing was written: it indexed these events). An event erased or deleted
 * since it was read is not indexed.
 */
export async function writeIndexBatch(writer: SqlWriter, batch: IndexBatch, texts: IndexedText[]): Promise<boolean> {
  const mark = MARK[batch.direction];
  const docs = JSON.stringify(texts.filter((t) => t.text !== "").map((t) => [t.rowid, t.id, t.text]));
  // One statement of one text for the whole batch (the writer keeps it prepared), the texts as one JSON argument.
  const stmts: InStatement[] = [
    {
      sql: `INSERT INTO events_fts (rowid, text)
            SELECT e.rowid, d.value ->> 2 FROM json_each(?) d JOIN events e ON e.rowid = d.value ->> 0 AND e.id = d.value ->> 1
            WHERE e.erased_at IS NULL AND (SELECT ${mark} FROM search_state WHERE id = 1) = ?`,
      args: [docs, batch.mark],
    },
    { sql: `UPDATE search_state SET ${mark} = ? WHERE id = 1 AND ${mark} = ?`, args: [batch.through, batch.mark] },
  ];
  // Redoable: a batch lost to a power failure is read and written again.
  const rs = await writer.write(stmts, "redoable");
  return rs[1]!.rowsAffected === 1;
}
