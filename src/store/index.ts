/**
 * The store as the rest of the program sees it: open (migrate, PRAGMAs,
 * refuse a read-only store), the group-commit ingest writer, WAL checkpoints
 * on a worker thread (off the request path), a writability check for /readyz
 * (a probe plus the writer's failing commits), and close.
 */
import { dirname } from "node:path";
import { applyMigrations } from "./migrate.ts";
import { openConnection, readOnlyCause, type StoreConnection } from "./client.ts";
import { IngestWriter } from "./ingest-writer.ts";
import { WorkerWriter, type Writer } from "./worker-writer.ts";
import type { SqlClient } from "./remote-client.ts";
import { classifyStoreError, StoreError, type StoreErrorCode } from "./errors.ts";
import { startCheckpointer } from "./checkpointer.ts";
import { CommitHealth } from "./commit-health.ts";

export { StoreError, classifyStoreError, type StoreErrorCode } from "./errors.ts";
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
  /** True when a write transaction can be opened and committed and no commit of the writer's is failing. */
  isWritable(): Promise<boolean>;
  /** Why the store cannot take writes now (a probe fails, or the writer's commits do), or null. */
  unwritableReason(): Promise<StoreErrorCode | null>;
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
  /** Free bytes that count as room again after a commit failed on a full disk (default 3 MiB; serve: 2 × max_body + 1 MiB). */
  roomBytes?: number;
}

/** Opens and commits a write transaction; the classified failure, or null. */
async function probeWrite(client: StoreConnection["client"]): Promise<StoreError | null> {
  try {
    const tx = await client.transaction("write");
    try {
      await tx.execute("UPDATE source_counters SET received = received WHERE 0");
      await tx.commit();
    } finally {
      tx.close();
    }
    return null;
  } catch (err) {
    return classifyStoreError(err);
  }
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
  // Migrations write nothing to an up-to-date store: without this, a read-only
  // one would start, say "listening", and fail at its first write.
  const readOnly = await probeWrite(conn.client);
  if (readOnly?.code === "readonly") {
    conn.close();
    const where = conn.filePath ?? "the store";
    throw new StoreError("readonly", `${where}: store is read-only (${conn.filePath ? readOnlyCause(conn.filePath) : readOnly.message})`, { cause: readOnly });
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
  const sqlClient: SqlClient = writer instanceof WorkerWriter ? writer.sql : conn.client;
  const health = new CommitHealth({ dir: conn.filePath && dirname(conn.filePath), roomBytes: opts.roomBytes ?? 3 * 1024 * 1024 });
  const watched = watchCommits(writer, sqlClient, health);
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
          restartWal: () => sqlClient.execute("PRAGMA wal_checkpoint(PASSIVE)"),
        })
      : null;
  let closed = false;
  const unwritableReason = async () => (await probeWrite(conn.client))?.code ?? health.standingFailure();
  return {
    conn,
    writer: watched.writer,
    deliveryClient: watched.sql,
    checkpoint,
    unwritableReason,
    isWritable: async () => (await unwritableReason()) === null,
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

/**
 * The writer and delivery client as the rest sees them, reporting to `health`:
 * every ingest commit, and delivery statements that failed for want of space
 * or write access (their other errors may be the statement's own).
 */
function watchCommits(writer: Writer, sql: SqlClient, health: CommitHealth): { writer: Writer; sql: SqlClient } {
  const failed = (err: unknown): never => {
    health.failed(classifyStoreError(err).code);
    throw err;
  };
  const failedDelivery = (err: unknown): never => {
    const code = classifyStoreError(err).code;
    if (code === "full" || code === "readonly") health.failed(code);
    throw err;
  };
  return {
    writer: {
      submit: (item) =>
        writer.submit(item).then((outcome) => {
          health.succeeded();
          return outcome;
        }, failed),
      recordRejection: (item) => writer.recordRejection(item),
      flushed: () => writer.flushed(),
      ackBacklog: () => writer.ackBacklog(),
    },
    sql: {
      execute: ((stmt: string, args?: never) => sql.execute(stmt, args).catch(failedDelivery)) as SqlClient["execute"],
      batch: (stmts, mode) => sql.batch(stmts, mode).catch(failedDelivery),
    },
  };
}
