/**
 * The search indexer's read of a batch, the same on both engines once the
 * engine's statement (sqlite/search-index.ts, postgres/search-index.ts) has
 * chosen the rows: small bodies come with the rows, large ones are read one
 * by one, and the batch stops at its byte budget.
 */
import type { SqlReader } from "./sql-client.ts";

/** One event as the indexer reads it. */
export interface EventToIndex {
  id: string;
  headers: [string, string][] | null;
  /** The query string as received (without "?"); "" when none, or erased. */
  query: string;
  body: Uint8Array | null;
  contentType: string | null;
}

/** Bodies up to this size come with the batch's one read; larger ones are read one by one. */
export const INLINE_BODY_BYTES = 64 * 1024;

/** A batch's row: the body null when larger than INLINE_BODY_BYTES, n its size. */
export interface RowToIndex {
  id: unknown;
  headers: unknown;
  query: unknown;
  content_type: unknown;
  body: unknown;
  n: unknown;
}

/** The rows as events, cut where their bodies pass `maxBytes` together (at least one event). */
export async function eventsToIndex(reads: SqlReader, rows: RowToIndex[], maxBytes: number): Promise<EventToIndex[]> {
  const events: EventToIndex[] = [];
  let bytes = 0;
  for (const r of rows) {
    const n = Number(r.n);
    if (events.length > 0 && bytes + n > maxBytes) break;
    bytes += n;
    const body = n > INLINE_BODY_BYTES ? await bodyOf(reads, String(r.id)) : r.body;
    events.push({
      id: String(r.id),
      headers: r.headers === null ? null : (JSON.parse(String(r.headers)) as [string, string][]),
      query: r.query === null || r.query === undefined ? "" : String(r.query),
      body: body === null || body === undefined ? null : new Uint8Array(body as ArrayBuffer),
      contentType: r.content_type === null ? null : String(r.content_type),
    });
  }
  return events;
}

async function bodyOf(reads: SqlReader, id: string): Promise<unknown> {
  const rs = await reads.execute({ sql: "SELECT body FROM events WHERE id = ?", args: [id] });
  return rs.rows[0]?.body ?? null;
}
