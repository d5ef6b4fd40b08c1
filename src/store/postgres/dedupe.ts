/**
 * Dedupe on PostgreSQL, exact across relays where the embedded file relies on
 * its one write lock: by a primary key (dedupe_keys), not a lookup; the
 * second relay to insert a key waits for the first one's commit and then
 * finds it. Imported events bring their keys; retention drops keys whose
 * window is over.
 */
import type { InStatement } from "@libsql/client";
import type { IngestItem } from "../writer/group-commit.ts";
import { dedupeMapKey, fixedChunks, type Original, type Tx } from "../writer/batch-rows.ts";

/**
 * Claims the batch's dedupe keys; returns the originals of the keys it could
 * not claim (stored before, by any relay, within the window). Keys go in
 * sorted order so that two relays' batches lock them in the same order.
 * Later copies of a key within the batch are left to the caller.
 */
export async function claimDedupeKeys(tx: Tx, items: IngestItem[]): Promise<Map<string, Original>> {
  const firsts = new Map<string, IngestItem>();
  for (const it of items) {
    const key = dedupeMapKey(it.source, it.dedupeKey);
    if (it.dedupeWindowMs > 0 && !firsts.has(key)) firsts.set(key, it);
  }
  const sorted = [...firsts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, it]) => it);
  const claimed = new Set<string>();
  for (const chunk of fixedChunks(sorted)) {
    // A key comes back when it was new, or its last copy is past its window (then this one takes it over).
    const res = await tx.execute({
      sql: `INSERT INTO dedupe_keys (source, dedupe_key, event_id, received_at, window_ms)
            VALUES ${chunk.map(() => "(?, ?, ?, ?, ?)").join(", ")}
            ON CONFLICT (source, dedupe_key) DO UPDATE
              SET event_id = excluded.event_id, received_at = excluded.received_at, window_ms = excluded.window_ms
              WHERE dedupe_keys.received_at < excluded.received_at - excluded.window_ms
            RETURNING source, dedupe_key`,
      args: chunk.flatMap((it) => [it.source, it.dedupeKey, it.id, it.receivedAt, it.dedupeWindowMs]),
    });
    for (const row of res.rows) claimed.add(dedupeMapKey(String(row.source), String(row.dedupe_key)));
  }
  const taken = sorted.filter((it) => !claimed.has(dedupeMapKey(it.source, it.dedupeKey)));
  const found = new Map<string, Original>();
  for (const chunk of fixedChunks(taken)) {
    const res = await tx.execute({
      sql: `SELECT source, dedupe_key, event_id, received_at FROM dedupe_keys
            WHERE (source, dedupe_key) IN (${chunk.map(() => "(?, ?)").join(", ")})`,
      args: chunk.flatMap((it) => [it.source, it.dedupeKey]),
    });
    for (const row of res.rows)
      found.set(dedupeMapKey(String(row.source), String(row.dedupe_key)), { id: String(row.event_id), receivedAt: Number(row.received_at) });
  }
  return found;
}

/**
 * The dedupe key of an imported event (store/event-transfer.ts), so that a
 * provider retrying an event across a move to PostgreSQL is still a
 * duplicate. The newest event with the key keeps it, as ingest would have.
 */
export function importedDedupeKey(e: { id: string; source: string; dedupeKey: string; receivedAt: number }, windowMs: number): InStatement {
  return {
    sql: `INSERT INTO dedupe_keys (source, dedupe_key, event_id, received_at, window_ms)
          SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM events WHERE id = ?)
          ON CONFLICT (source, dedupe_key) DO UPDATE
            SET event_id = excluded.event_id, received_at = excluded.received_at, window_ms = excluded.window_ms
            WHERE dedupe_keys.received_at < excluded.received_at`,
    args: [e.source, e.dedupeKey, e.id, e.receivedAt, windowMs, e.id],
  };
}

/**
 * Deletes up to `batch` dedupe keys whose window is over at `nowMs` (a copy
 * arriving now would be stored anyway): retention's batch for this table,
 * which the embedded file does not have. Rows an ingest is claiming right now are left for the next batch.
 */
export function expiredDedupeKeysStatement(nowMs: number, batch: number): InStatement {
  return {
    sql: `DELETE FROM dedupe_keys WHERE (source, dedupe_key) IN (
        SELECT source, dedupe_key FROM dedupe_keys WHERE received_at < CAST(? AS BIGINT) - window_ms LIMIT ? FOR UPDATE SKIP LOCKED)`,
    args: [nowMs, batch],
  };
}
