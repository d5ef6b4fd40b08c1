/**
 * The full-text index on PostgreSQL (see ../search-index.ts): events.search,
 * a tsvector (GIN index events_search) that is null until the indexer wrote
 * it; the partial index events_unindexed holds the ids of those events alone,
 * so the next batch is a short walk however many events are indexed. An
 * erased event's search is an empty tsvector: no words, and not taken again.
 *
 * Relays indexing the same batch at once each write only the events still
 * null and not locked by the other: neither waits, and the second changes nothing.
 */
import type { SqlReader, SqlWriter } from "../sql-client.ts";
import { eventsToIndex, INLINE_BODY_BYTES, type RowToIndex } from "../events-to-index.ts";
import type { IndexBatch, IndexDirection, IndexedText, IndexLimits } from "../search-index.ts";
import { tsvectorOf } from "./words.ts";

/** An erased event's words: none (and not null, so it is not indexed again). */
export const ERASE_WORDS = ", search = ''::tsvector";

/** The oldest events not indexed yet; there is no backfill (those events are null like new ones). */
export async function nextIndexBatch(reads: SqlReader, direction: IndexDirection, limits: IndexLimits): Promise<IndexBatch | null> {
  if (direction === "backfill") return null;
  // length(bytea) reads a stored value's size without fetching it: a large body is not loaded here.
  const rs = await reads.execute({
    sql: `SELECT e.id, e.headers, e.query, e.content_type, CASE WHEN length(e.body) <= ${INLINE_BODY_BYTES} THEN e.body END AS body, coalesce(length(e.body), 0) AS n
          FROM events e WHERE e.search IS NULL ORDER BY e.id LIMIT ?`,
    args: [limits.maxRows],
  });
  if (rs.rows.length === 0) return null;
  const events = await eventsToIndex(reads, rs.rows as unknown as RowToIndex[], limits.maxBytes);
  return { events, more: events.length < rs.rows.length || rs.rows.length === limits.maxRows, watermark: null };
}

/** Writes each event's words if it has none yet; an event erased since it was read gets none. */
export async function writeIndexBatch(writer: SqlWriter, batch: IndexBatch, texts: IndexedText[]): Promise<boolean> {
  if (texts.length === 0) return false;
  const docs = JSON.stringify(texts.map((t) => [t.id, tsvectorOf(t.text)]));
  const rs = await writer.write(
    [
      {
        // Rows another transaction holds (another relay indexing the same batch, or storing a duplicate
        // of one) are skipped, not waited for: taken next batch if still null. Waiting for them, in a
        // group transaction that also upserts target_state rows, closed a deadlock with that relay.
        sql: `UPDATE events e SET search = CASE WHEN e.erased_at IS NULL THEN (d.doc ->> 1)::tsvector ELSE ''::tsvector END
              FROM jsonb_array_elements(CAST(?1 AS text)::jsonb) AS d(doc)
              WHERE e.id = d.doc ->> 0 AND e.search IS NULL
                AND e.id IN (SELECT f.id FROM events f WHERE f.id IN (SELECT x.doc ->> 0 FROM jsonb_array_elements(CAST(?1 AS text)::jsonb) AS x(doc))
                  AND f.search IS NULL FOR UPDATE SKIP LOCKED)`,
        // Typed text: a parameter typed jsonb would be sent as a JSON string, not parsed.
        args: [docs],
      },
    ],
    // Redoable: a batch lost to a power failure is read and written again.
    "redoable",
  );
  return rs[0]!.rowsAffected > 0;
}
