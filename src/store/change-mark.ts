/**
 * A cheap mark that moves when the store may have changed: live views ask it
 * every tick and run their queries only when it moved. The file's is SQLite's
 * `PRAGMA data_version` (a counter of commits by other connections, read
 * without touching a table); PostgreSQL's is the WAL insert position, which
 * every commit moves (so does any other write to the cluster: a needless
 * re-read at worst, never a missed change).
 */
import type { SqlReader } from "./sql-client.ts";

/** The store's change mark now: compare it with the last one read, nothing more. */
export async function storeChangeMark(reads: SqlReader): Promise<unknown> {
  const sql = reads.dialect.engine === "postgres" ? "SELECT pg_current_wal_insert_lsn()::text" : "PRAGMA data_version";
  return (await reads.execute(sql)).rows[0]?.[0] ?? null;
}
