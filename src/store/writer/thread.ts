/**
 * The writer thread: owns the process's one write connection and runs its
 * group commit (group-commit.ts). SQLite's statement work and fsyncs stay off
 * the event loop that reads requests, and this process's writes never wait
 * on each other through SQLite's busy handler (which sleeps in coarse
 * steps): one connection, one queue, one transaction per round. Two kinds of
 * work arrive: a tick's ingest batch, and `write` jobs (statements that
 * commit together); and now and then a checkpoint between two transactions. The main thread's side is proxy.ts.
 */
import type { Durability } from "../sql-client.ts";
import { openWriteConnection, type WriteClient } from "../client.ts";
import { classifyStoreError } from "../errors.ts";
import { GroupCommit } from "./group-commit.ts";
import { decodeBatch, decodeStatements, encodeResults, post, receiving } from "./wire.ts";

declare const self: Worker;

/** Messages are flat records (wire.ts); the bytes of a batch or a write travel beside them. */
export type ToWriter =
  | { kind: "open"; url: string; busyTimeoutMs: number }
  /**
   * A tick's items (WireBatch's meta), with the consecutive sequence numbers firstSeq, firstSeq + 1, …,
   * posted at `postedAt` (Date.now(): the threads share the wall clock, not performance.now()).
   */
  | { kind: "batch"; firstSeq: number; meta: string; postedAt: number }
  /** Statements (WireValues' json) that commit together in the next group transaction. */
  | { kind: "write"; id: number; stmts: string; durability: Durability; postedAt: number }
  /** A WAL checkpoint between two transactions (the WAL may start over; truncate: its file emptied too). */
  | { kind: "checkpoint"; id: number; truncate: boolean }
  | { kind: "close" };

/** One item's outcome: stored (with the deliveries written leased) or duplicate with the event id, or a store error. */
export type BatchResult = ["stored", string, string[]] | ["duplicate", string] | ["error", string, string];

export type FromWriter =
  | { kind: "opened" }
  | { kind: "failed"; message: string }
  /** Outcomes in the batch's item order, as JSON (see BatchResult). */
  | { kind: "results"; firstSeq: number; results: string }
  /** Result sets (WireValues' json); their blobs travel beside. */
  | { kind: "written"; id: number; results: string }
  | { kind: "write-failed"; id: number; message: string; code: string | null }
  /** A checkpoint's answer: whether it ran to its end (the WAL emptied, for a TRUNCATE). */
  | { kind: "checkpointed"; id: number; whole: boolean }
  | { kind: "closed" };

let conn: { client: WriteClient; close(): void } | null = null;
let opened: { url: string; busyTimeoutMs: number } | null = null;
let commit: GroupCommit | null = null;
const answer = (m: FromWriter, bytes: Uint8Array | null = null) => post(self, m, bytes);

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

const failed = (id: number, err: unknown): FromWriter => ({
  kind: "write-failed",
  id,
  message: (err as Error).message,
  code: (err as { code?: string }).code ?? null,
});

self.onmessage = receiving<ToWriter>(async (msg, bytes) => {
  switch (msg.kind) {
    case "open":
      opened = { url: msg.url, busyTimeoutMs: msg.busyTimeoutMs };
      try {
        await connection.get();
        // The writer thread always holds an embedded file in WAL mode.
        commit = new GroupCommit(connection, { relaxRedoable: true });
        answer({ kind: "opened" });
      } catch (err) {
        answer({ kind: "failed", message: (err as Error).message });
      }
      return;
    case "close":
      // Close the connection here, between statements: terminating a thread
      // in the middle of a native call aborts the whole process.
      await commit?.flushed();
      conn?.close();
      answer({ kind: "closed" });
      return;
    case "write":
      try {
        const results = encodeResults(await commit!.write(decodeStatements({ json: msg.stmts, bytes }), msg.durability, msg.postedAt));
        answer({ kind: "written", id: msg.id, results: results.json }, results.bytes);
      } catch (err) {
        answer(failed(msg.id, err));
      }
      return;
    case "checkpoint":
      try {
        answer({ kind: "checkpointed", id: msg.id, whole: await commit!.checkpoint(msg.truncate) });
      } catch (err) {
        answer(failed(msg.id, err));
      }
      return;
    case "batch": {
      const c = commit!;
      const { items, rejections } = decodeBatch({ meta: msg.meta, bytes });
      for (const r of rejections) c.recordRejection(r);
      // Every item of this message joins the same flush (GroupCommit batches per tick).
      const results = await Promise.all(
        items.map((item) =>
          c.submit(item, msg.postedAt).then(
            (outcome): BatchResult => (outcome.kind === "stored" ? ["stored", outcome.id, outcome.leased] : ["duplicate", outcome.id]),
            (err: unknown): BatchResult => {
              const e = classifyStoreError(err);
              return ["error", e.code, e.message];
            },
          ),
        ),
      );
      // Rejections ride the same flush; answer only once they are written too.
      if (rejections.length > 0) await c.flushed();
      answer({ kind: "results", firstSeq: msg.firstSeq, results: JSON.stringify(results) });
    }
  }
});
