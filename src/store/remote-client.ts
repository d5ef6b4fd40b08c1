/**
 * The part of the libSQL client the delivery engine's store functions use
 * (`execute`, `batch`), and the conversion of results that crossed from the
 * writer thread (writer-worker.ts) back into the driver's row shape.
 */
import type { InArgs, InStatement, ResultSet, TransactionMode } from "@libsql/client";
import type { WireResult } from "./writer-worker.ts";
import { rowBuilder } from "./result-rows.ts";

/** What the delivery-side store functions need from a client. */
export interface SqlClient {
  execute(stmt: InStatement): Promise<ResultSet>;
  execute(sql: string, args?: InArgs): Promise<ResultSet>;
  batch(stmts: InStatement[], mode?: TransactionMode): Promise<ResultSet[]>;
}

/** Error carrying the driver's code, so classifyStoreError reads it as before. */
export class RemoteSqlError extends Error {
  constructor(message: string, readonly code: string | undefined) {
    super(message);
  }
}

/** Rebuilds a ResultSet whose rows answer by column name and by index, as the driver's do. */
export function fromWire(w: WireResult): ResultSet {
  const rows = w.rows.length === 0 ? [] : w.rows.map(rowBuilder(w.columns));
  return {
    columns: w.columns,
    columnTypes: w.columnTypes,
    rows,
    rowsAffected: w.rowsAffected,
    lastInsertRowid: w.lastInsertRowid,
    toJSON: () => ({ columns: w.columns, rows: w.rows }),
  };
}
