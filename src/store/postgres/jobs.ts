/**
 * A job's batch on PostgreSQL, which has no changes(): the batch's statement
 * runs as a data-modifying CTE of the progress update, which counts its rows.
 */
import type { InStatement, ResultSet } from "@libsql/client";

/** The batch's statements (`progress` given the SQL of the rows changed) and how to read that count from their results. */
export function batchStatements(stmt: InStatement | null, progress: (changed: string) => InStatement): { stmts: InStatement[]; changed(results: ResultSet[]): number } {
  if (!stmt) return { stmts: [progress("0")], changed: () => 0 };
  const p = progress("(SELECT count(*) FROM batch)");
  const args = (s: InStatement) => {
    if (typeof s === "string") return [];
    if (!Array.isArray(s.args ?? [])) throw new Error("a job's batch statement takes positional arguments");
    return (s.args ?? []) as unknown[];
  };
  const text = (s: InStatement) => (typeof s === "string" ? s : s.sql);
  return {
    stmts: [{ sql: `WITH batch AS (${text(stmt)} RETURNING 1) ${text(p)}, (SELECT count(*) FROM batch) AS changed`, args: [...args(stmt), ...args(p)] as never }],
    changed: (results) => Number(results[0]!.rows[0]?.changed ?? 0),
  };
}
