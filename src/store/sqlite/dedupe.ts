/**
 * Dedupe on the embedded file: the one writer of the store looks the batch's
 * keys up inside its write transaction, and no other writer can store a key
 * between that lookup and the commit (SQLite's one write lock).
 */
import type { IngestItem } from "../writer/group-commit.ts";
import { dedupeMapKey, fixedChunks, type Original, type Tx } from "../writer/batch-rows.ts";

/** The newest stored event for each (source, dedupe key) in the batch. */
export async function findOriginals(tx: Tx, items: IngestItem[]): Promise<Map<string, Original>> {
  const found = new Map<string, Original>();
  const keyed = items.filter((it) => it.dedupeWindowMs > 0);
  for (const chunk of fixedChunks(keyed)) {
    const res = await tx.execute({
      sql: `SELECT id, source, dedupe_key, received_at FROM events
            WHERE (source, dedupe_key) IN (VALUES ${chunk.map(() => "(?, ?)").join(", ")})`,
      args: chunk.flatMap((it) => [it.source, it.dedupeKey]),
    });
    for (const row of res.rows) {
      const key = dedupeMapKey(String(row.source), String(row.dedupe_key));
      const at = Number(row.received_at);
      const prev = found.get(key);
      if (!prev || at > prev.receivedAt) found.set(key, { id: String(row.id), receivedAt: at });
    }
  }
  return found;
}
