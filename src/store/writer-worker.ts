/**
 * Worker thread that owns the process's write connection. It runs the ingest
 * group commit (IngestWriter) and the delivery engine's statements, so that
 * SQLite's statement work and fsyncs stay off the event loop that reads
 * requests, and so that this process's writers never wait on each other
 * through SQLite's busy handler (which sleeps in coarse steps): one
 * connection, one queue, and one transaction per round — the delivery
 * engine's writes join the ingest batch's commit. Main side: worker-writer.ts.
 */
import type { InStatement, ResultSet, TransactionMode } from "@libsql/client";
import { CachedResultSet, openWriteConnection, type WriteClient } from "./client.ts";
import { classifyStoreError } from "./errors.ts";
import { decodeBatch, type WireBatch } from "./ingest-wire.ts";
import { IngestWriter } from "./ingest-writer.ts";

declare const self: Worker;

export type ToWorker =
  | { kind: "open"; url: string; busyTimeoutMs: number }
  /** Items carry the consecutive sequence numbers firstSeq, firstSeq + 1, … */
  | { kind: "batch"; firstSeq: number; wire: WireBatch }
  | { kind: "execute"; id: number; stmt: InStatement }
  | { kind: "sql-batch"; id: number; stmts: InStatement[]; mode?: TransactionMode }
  | { kind: "close" };

/** A result set reduced to what survives structured cloning. */
export interface WireResult {
  columns: string[];
  columnTypes: string[];
  rows: unknown[][];
  rowsAffected: number;
  lastInsertRowid: bigint | undefined;
}

/** One item's outcome: stored (with the deliveries written leased) or duplicate with the event id, or a store error. */
export type BatchResult = ["stored", string, string[]] | ["duplicate", string] | ["error", string, string];

export type FromWorker =
  | { kind: "opened" }
  | { kind: "failed"; message: string }
  /** Outcomes in the batch's item order, as JSON (see BatchResult). */
  | { kind: "results"; firstSeq: number; results: string }
  | { kind: "sql-result"; id: number; result: WireResult | WireResult[] }
  | { kind: "sql-error"; id: number; error: { message: string; code?: string } }
  | { kind: "closed" };

// The cached client's results carry plain value arrays: no row objects are built on this thread.
const toWire = (rs: ResultSet): WireResult => ({
  columns: rs.columns,
  columnTypes: rs.columnTypes,
  rows: rs instanceof CachedResultSet ? rs.values : rs.rows.map((r) => Array.from(r as ArrayLike<unknown>)),
  rowsAffected: rs.rowsAffected,
  lastInsertRowid: rs.lastInsertRowid,
});

let conn: { client: WriteClient; close(): void } | null = null;
let opened: { url: string; busyTimeoutMs: number } | null = null;
let writer: IngestWriter | null = null;
const post = (m: FromWorker) => self.postMessage(m);

/** INSERT, UPDATE, DELETE, REPLACE or WITH … (which may write): statements that can join a group transaction. */
const isDataWrite = (s: InStatement) => /^\s*(insert|update|delete|replace|with)\b/i.test(typeof s === "string" ? s : s.sql);

// libSQL can leave a statement that failed with SQLITE_BUSY "in progress",
// after which every COMMIT on that connection fails: after a failure the
// connection is dropped and the next use opens a fresh one.
const connection = {
  get: async () => {
    if (!conn || conn.client.closed) conn = await openWriteConnection(opened!);
    return conn.client;
  },
  discard: () => conn?.close(),
};

self.onmessage = async (e: MessageEvent<ToWorker>) => {
  const msg = e.data;
  switch (msg.kind) {
    case "open":
      opened = { url: msg.url, busyTimeoutMs: msg.busyTimeoutMs };
      try {
        await connection.get();
        writer = new IngestWriter(connection);
        post({ kind: "opened" });
      } catch (err) {
        post({ kind: "failed", message: (err as Error).message });
      }
      return;
    case "close":
      // Close the connection here, between statements: terminating a thread
      // in the middle of a native call aborts the whole process.
      await writer?.flushed();
      conn?.close();
      post({ kind: "closed" });
      return;
    case "execute":
    case "sql-batch":
      try {
        const stmts = msg.kind === "execute" ? [msg.stmt] : msg.stmts;
        // Writes join the ingest writer's next transaction (one fsync per round
        // for everything); reads and anything else (PRAGMAs) run at once.
        const results =
          (msg.kind === "sql-batch" && msg.mode === "read") || !stmts.some(isDataWrite)
            ? msg.kind === "execute"
              ? [await (await connection.get()).execute(msg.stmt)]
              : await (await connection.get()).batch(msg.stmts, msg.mode)
            : await writer!.run(stmts);
        const result = msg.kind === "execute" ? toWire(results[0]!) : results.map(toWire);
        post({ kind: "sql-result", id: msg.id, result });
      } catch (err) {
        const error = { message: (err as Error).message, code: (err as { code?: string }).code };
        if (/SQLITE_BUSY|database is locked/i.test(`${error.code} ${error.message}`)) connection.discard();
        post({ kind: "sql-error", id: msg.id, error });
      }
      return;
    case "batch": {
      const w = writer!;
      const { items, rejections } = decodeBatch(msg.wire);
      for (const r of rejections) w.recordRejection(r);
      // Every item of this message joins the same flush (IngestWriter batches per tick).
      const results = await Promise.all(
        items.map((item) =>
          w.submit(item).then(
            (outcome): BatchResult => (outcome.kind === "stored" ? ["stored", outcome.id, outcome.leased] : ["duplicate", outcome.id]),
            (err: unknown): BatchResult => {
              const e = classifyStoreError(err);
              return ["error", e.code, e.message];
            },
          ),
        ),
      );
      // Rejections ride the same flush; answer only once they are written too.
      if (rejections.length > 0) await w.flushed();
      post({ kind: "results", firstSeq: msg.firstSeq, results: JSON.stringify(results) });
    }
  }
};
