/**
 * A SqlWriter on `bun:sqlite` for benchmarks that run the relay's own store
 * statements with no thread hop, no JSON and no driver between them and
 * SQLite: each write one transaction, each statement prepared once.
 * `timed` (optional) is told how long each statement and each COMMIT took.
 */
import type { Database } from "bun:sqlite";
import type { InStatement, ResultSet } from "@libsql/client";
import { sqliteDialect } from "../src/store/dialect.ts";
import type { SqlWriter } from "../src/store/sql-client.ts";

/** The pragmas the relay's writer runs a drain's rounds with (WAL, a round not waiting for the disk, erased bytes zeroed). */
export const DRAIN_PRAGMAS = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA secure_delete = ON";

export function bunSqliteWriter(db: Database, timed?: (sql: string, ms: number) => void): SqlWriter {
  const prepared = new Map<string, ReturnType<Database["prepare"]>>();
  const time = <T>(sql: string, run: () => T): T => {
    if (!timed) return run();
    const t = performance.now();
    const out = run();
    timed(sql, performance.now() - t);
    return out;
  };
  return {
    dialect: sqliteDialect,
    async write(stmts: InStatement[]) {
      db.exec("BEGIN");
      const results = stmts.map((st) => {
        const sql = typeof st === "string" ? st : st.sql;
        const args = typeof st === "string" ? [] : (st.args ?? []);
        let p = prepared.get(sql);
        if (!p) prepared.set(sql, (p = db.prepare(sql)));
        const rows = time(sql, () => (Array.isArray(args) ? p!.all(...(args as never[])) : p!.all(args as never)));
        return { rows, columns: [], columnTypes: [], rowsAffected: 0, lastInsertRowid: undefined } as unknown as ResultSet;
      });
      time("COMMIT", () => db.exec("COMMIT"));
      return results;
    },
  };
}
