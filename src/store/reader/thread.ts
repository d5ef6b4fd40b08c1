/**
 * The reader thread: its own read connection to the embedded store, for the
 * reads of the admin side and the relay's background jobs (store.reads). A
 * read of SQLite runs to its end once started, and on the event loop that
 * acks requests a heavy one (a page's hour of attempts over thirty targets,
 * the overview's recent buckets) held every ack and delivery for as long as
 * it took. Here it holds nothing but this thread. WAL readers never wait
 * for the writer, nor it for them. The main thread's side is proxy.ts.
 */
import type { TransactionMode } from "@libsql/client";
import { openReadConnection, type WriteClient } from "../client.ts";
import { decodeStatements, encodeResults, post, receiving } from "../writer/wire.ts";

declare const self: Worker;

/** Messages are flat records (writer/wire.ts); a statement's blobs travel beside it. */
export type ToReader =
  | { kind: "open"; url: string; busyTimeoutMs: number }
  /** Statements (WireValues' json): one statement alone (`batch` false), or a batch read in one snapshot. */
  | { kind: "read"; id: number; stmts: string; batch: boolean; mode: TransactionMode }
  | { kind: "close" };

export type FromReader =
  | { kind: "opened" }
  | { kind: "failed"; message: string }
  /** Result sets (WireValues' json); their blobs travel beside. */
  | { kind: "read"; id: number; results: string }
  | { kind: "read-failed"; id: number; message: string; code: string | null }
  | { kind: "closed" };

let conn: { client: WriteClient; close(): void } | null = null;
const answer = (m: FromReader, bytes: Uint8Array | null = null) => post(self, m, bytes);

self.onmessage = receiving<ToReader>(async (msg, bytes) => {
  switch (msg.kind) {
    case "open":
      try {
        conn = await openReadConnection({ url: msg.url, busyTimeoutMs: msg.busyTimeoutMs });
        answer({ kind: "opened" });
      } catch (err) {
        answer({ kind: "failed", message: (err as Error).message });
      }
      return;
    case "close":
      conn?.close();
      answer({ kind: "closed" });
      return;
    case "read":
      try {
        const stmts = decodeStatements({ json: msg.stmts, bytes });
        const results = encodeResults(msg.batch ? await conn!.client.batch(stmts, msg.mode) : [await conn!.client.execute(stmts[0]!)]);
        answer({ kind: "read", id: msg.id, results: results.json }, results.bytes);
      } catch (err) {
        answer({ kind: "read-failed", id: msg.id, message: (err as Error).message, code: (err as { code?: string }).code ?? null });
      }
  }
});
