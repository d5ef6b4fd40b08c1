/**
 * A job's batch on the embedded file: the batch's statement, then the job's
 * progress, which counts the rows it changed with changes().
 */
import type { InStatement, ResultSet } from "@libsql/client";

/** The batch's statements (`progress` given the SQL of the rows changed) and how to read that count from their results. */
export function batchStatements(stmt: InStatement | null, progress: (changed: string) => InStatement): { stmts: InStatement[]; changed(results: ResultSet[]): number } {
  if (!stmt) return { stmts: [progress("0")], changed: () => 0 };
  // changes(): the rows the batch's statement, just before in this savepoint, changed.
  return { stmts: [stmt, progress("changes()")], changed: (results) => results[0]!.rowsAffected };
}
