/**
 * How much room the store takes, for /metrics: the embedded file with its WAL,
 * or on PostgreSQL the database's own size (tables, indexes, TOAST). A remote
 * libSQL server's size is not ours to see.
 */
import { statSync } from "node:fs";
import type { SqlReader } from "./sql-client.ts";

/** The store's size in bytes; null when it cannot be known. */
export async function storeSizeBytes(store: { reads: SqlReader; filePath: string | null }): Promise<number | null> {
  if (store.reads.dialect.engine === "postgres") {
    const rs = await store.reads.execute("SELECT pg_database_size(current_database()) AS n");
    return Number(rs.rows[0]!.n);
  }
  const path = store.filePath;
  if (!path) return null;
  const size = (p: string) => {
    try {
      return statSync(p).size;
    } catch {
      return 0;
    }
  };
  return size(path) + size(`${path}-wal`);
}
