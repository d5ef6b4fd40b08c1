/**
 * Worker thread that runs SQL for the delivery engine on its own connection,
 * so the driver's synchronous statement work and commit fsyncs stay off the
 * event loop that answers providers. The main side is remote-client.ts.
 */
import type { InStatement, ResultSet, TransactionMode } from "@libsql/client";
import { openConnection, type StoreConnection } from "./client.ts";

declare const self: Worker;

export type SqlRequest =
  | { kind: "open"; url: string; busyTimeoutMs: number }
  | { kind: "execute"; id: number; stmt: InStatement }
  | { kind: "batch"; id: number; stmts: InStatement[]; mode?: TransactionMode }
  | { kind: "close" };

/** A result set reduced to what survives structured cloning. */
export interface WireResult {
  columns: string[];
  columnTypes: string[];
  rows: unknown[][];
  rowsAffected: number;
  lastInsertRowid: bigint | undefined;
}

export type SqlReply =
  | { kind: "opened" }
  | { kind: "failed"; message: string }
  | { kind: "result"; id: number; result: WireResult | WireResult[] }
  | { kind: "error"; id: number; error: { message: string; code?: string } }
  | { kind: "closed" };

const toWire = (rs: ResultSet): WireResult => ({
  columns: rs.columns,
  columnTypes: rs.columnTypes,
  rows: rs.rows.map((r) => Array.from(r as ArrayLike<unknown>)),
  rowsAffected: rs.rowsAffected,
  lastInsertRowid: rs.lastInsertRowid,
});

let conn: StoreConnection | null = null;
let open: { url: string; busyTimeoutMs: number } | null = null;
const reply = (m: SqlReply) => self.postMessage(m);

self.onmessage = async (e: MessageEvent<SqlRequest>) => {
  const msg = e.data;
  switch (msg.kind) {
    case "open":
      open = { url: msg.url, busyTimeoutMs: msg.busyTimeoutMs };
      try {
        conn = await openConnection(open);
        reply({ kind: "opened" });
      } catch (err) {
        reply({ kind: "failed", message: (err as Error).message });
      }
      return;
    case "close":
      conn?.close();
      reply({ kind: "closed" });
      return;
    default:
      try {
        // A statement that failed with SQLITE_BUSY can poison a libSQL
        // connection (see ingest-writer.ts); a closed one is reopened here.
        if (!conn || conn.client.closed) conn = await openConnection(open!);
        const client = conn.client;
        const result =
          msg.kind === "execute" ? toWire(await client.execute(msg.stmt)) : (await client.batch(msg.stmts, msg.mode)).map(toWire);
        reply({ kind: "result", id: msg.id, result });
      } catch (err) {
        const error = { message: (err as Error).message, code: (err as { code?: string }).code };
        if (/SQLITE_BUSY|database is locked/i.test(`${error.code} ${error.message}`)) conn?.close();
        reply({ kind: "error", id: msg.id, error });
      }
  }
};
