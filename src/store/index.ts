/**
 * The store as the rest of the program sees it, through two doors: `reads`
 * (this thread's connection: admin pages and API, metrics, the delivery
 * engine's small reads) and `writer` (every write of the process: ingest,
 * leases and outcomes, target state, retention, admin actions, group-committed
 * on the writer thread). Also: open (migrate, PRAGMAs), WAL checkpoints on a
 * worker thread (off the request path), a writability probe for /readyz, and
 * close.
 */
import type { Client } from "@libsql/client";
import { applyMigrations } from "./migrate.ts";
import { openConnection } from "./client.ts";
import { GroupCommit } from "./writer/group-commit.ts";
import { WriterProxy, type Writer } from "./writer/proxy.ts";
import { classifyStoreError } from "./errors.ts";
import { startCheckpointer } from "./checkpointer.ts";

export { StoreError, classifyStoreError } from "./errors.ts";
export type { IngestItem, IngestOutcome, RejectionItem } from "./writer/group-commit.ts";
export type { Writer } from "./writer/proxy.ts";
export type { SqlReader, SqlWriter } from "./sql-client.ts";

export interface Store {
  /** Reads, on this thread's connection. (Tests also use it to stage faults.) */
  reads: Client;
  /** Every write, group-committed (on the writer thread for embedded files). */
  writer: Writer;
  /** Absolute path of an embedded store file, or null (a libSQL server). */
  filePath: string | null;
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
  /** Run the group commit on this thread's connection instead of the writer thread (remote URLs always do). */
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
        ? await WriterProxy.start(`file:${conn.filePath}`, opts.busyTimeoutMs)
        : new GroupCommit({ get: async () => conn.client });
  } catch (err) {
    conn.close();
    throw err;
  }
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
          restartWal: () => writer.checkpoint(),
        })
      : null;
  let closed = false;
  return {
    reads: conn.client,
    writer,
    filePath: conn.filePath,
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
