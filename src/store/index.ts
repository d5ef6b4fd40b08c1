/**
 * The store as the rest of the program sees it: open (migrate, PRAGMAs),
 * the group-commit ingest writer, WAL checkpoints on a worker thread (off the
 * request path), a writability probe for /readyz, and close.
 */
import { applyMigrations } from "./migrate.ts";
import { openConnection, type StoreConnection } from "./client.ts";
import { IngestWriter } from "./ingest-writer.ts";
import { WorkerWriter, type Writer } from "./worker-writer.ts";
import type { SqlClient } from "./remote-client.ts";
import { classifyStoreError } from "./errors.ts";
import { startCheckpointer } from "./checkpointer.ts";

export { StoreError, classifyStoreError } from "./errors.ts";
export type { IngestItem, IngestOutcome, RejectionItem } from "./ingest-writer.ts";
export type { StoreConnection, Db } from "./client.ts";
export type { Writer } from "./worker-writer.ts";
export type { SqlClient } from "./remote-client.ts";

export interface Store {
  conn: StoreConnection;
  /** Group-commit ingest writes (on a worker thread for embedded files). */
  writer: Writer;
  /** Connection for the delivery engine's statements (the writer thread's, for embedded files). */
  deliveryClient: SqlClient;
  /** Runs a PASSIVE WAL checkpoint now on this connection (tests, tools). */
  checkpoint(): Promise<void>;
  /** True when a write transaction can be opened and committed. */
  isWritable(): Promise<boolean>;
  /** Flushes pending writes, checkpoints and closes. */
  close(): Promise<void>;
}

export interface StoreOptions {
  url: string;
  busyTimeoutMs: number;
  nowMs: () => number;
  /**
   * How often to checkpoint the WAL; 0 disables the timer (tests). 100 ms: at
   * saturation a checkpoint each second copied a second of pages in one burst
   * whose I/O held up the writer's commits (p99 21 → 14.5 ms at 100 ms).
   */
  checkpointEveryMs?: number;
  /** WAL size past which the writer lets the WAL start over (checkpoint-worker.ts); 64 MiB. */
  walRestartBytes?: number;
  mustExist?: boolean;
  /** Run ingest writes and delivery statements on this thread's connection instead of worker threads (remote URLs always do). */
  inlineWriter?: boolean;
}

/** Opens the store, applies embedded migrations and starts the checkpoint worker. */
export async function openStore(opts: StoreOptions): Promise<Store> {
  const conn = await openConnection({ url: opts.url, busyTimeoutMs: opts.busyTimeoutMs, mustExist: opts.mustExist });
  try {
    await applyMigrations(conn.client, opts.nowMs());
  } catch (err) {
    conn.close();
    throw err;
  }
  let writer: Writer & { close?(): Promise<void> };
  try {
    writer =
      conn.filePath && !opts.inlineWriter
        ? await WorkerWriter.start(`file:${conn.filePath}`, opts.busyTimeoutMs)
        : new IngestWriter({ get: async () => conn.client });
  } catch (err) {
    conn.close();
    throw err;
  }
  // Delivery statements share the writer thread's connection: one writer per process.
  const deliveryClient: SqlClient = writer instanceof WorkerWriter ? writer.sql : conn.client;
  const checkpoint = async () => {
    if (!conn.isFile) return;
    try {
      await conn.client.execute("PRAGMA wal_checkpoint(PASSIVE)");
    } catch {
      // A busy or full store shows up on the write path; a skipped checkpoint is harmless.
    }
  };
  const every = opts.checkpointEveryMs ?? 100;
  const checkpointer =
    every > 0 && conn.filePath
      ? startCheckpointer({
          url: `file:${conn.filePath}`,
          everyMs: every,
          busyTimeoutMs: opts.busyTimeoutMs,
          restartBytes: opts.walRestartBytes ?? 64 * 1024 * 1024,
          restartWal: () => deliveryClient.execute("PRAGMA wal_checkpoint(PASSIVE)"),
        })
      : null;
  let closed = false;
  return {
    conn,
    writer,
    deliveryClient,
    checkpoint,
    async isWritable() {
      try {
        const tx = await conn.client.transaction("write");
        try {
          await tx.execute("UPDATE source_counters SET received = received WHERE 0");
          await tx.commit();
        } finally {
          tx.close();
        }
        return true;
      } catch (err) {
        classifyStoreError(err);
        return false;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      // The checkpointer first: it may still ask the writer for a checkpoint.
      await checkpointer?.stop();
      await writer.flushed();
      await writer.close?.();
      if (conn.isFile) {
        try {
          await conn.client.execute("PRAGMA wal_checkpoint(TRUNCATE)");
        } catch {
          // another process may hold the WAL; it checkpoints on its own
        }
      }
      conn.close();
    },
  };
}
