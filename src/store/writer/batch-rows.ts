/**
 * What the group commit's multi-row statements share, on either engine: the
 * fixed chunk sizes, the transaction they run in, the dedupe map's key.
 */
import type { WriteTransaction } from "../client.ts";

export type Value = string | number | null | Uint8Array;
export type Tx = Pick<WriteTransaction, "execute">;

/**
 * Rows per multi-row statement, largest first. A batch is cut into these
 * fixed sizes so that the writer's connection sees a handful of distinct SQL
 * texts and reuses their prepared statements (64 × 12 event columns stays
 * well under SQLite's bound-parameter limit). Powers of two: any batch up to
 * 127 rows takes at most 7 statements per table.
 */
const CHUNK_SIZES = [64, 32, 16, 8, 4, 2, 1];

/** Splits rows into chunks of CHUNK_SIZES (e.g. 75 rows → 64, 8, 2, 1). */
export function* fixedChunks<T>(rows: T[]): Generator<T[]> {
  let i = 0;
  for (const size of CHUNK_SIZES) {
    for (; rows.length - i >= size; i += size) yield rows.slice(i, i + size);
  }
}

/** One (source, dedupe key) as a map key. */
export const dedupeMapKey = (source: string, key: string) => `${source}\u0000${key}`;

/** The original a new copy is a duplicate of. */
export interface Original {
  id: string;
  receivedAt: number;
}
