/**
 * The store as the rest of the program sees it: open (migrate, PRAGMAs),
 * the group-commit ingest writer, a WAL checkpoint timer kept off the request
 * path, a writability probe for /readyz, and close.
 */
import { applyMigrations } from "./migrate.ts";
import { openConnection, type StoreConnection } from "./client.ts";
import { IngestWriter } from "./ingest-writer.ts";
import { classifyStoreError } from "./errors.ts";

export { StoreError, classifyStoreError } from "./errors.ts";
export type { IngestItem, IngestOutcome, RejectionItem } from "./ingest-writer.ts";
export type { StoreConnection, Db } from "./client.ts";

export interface Store {
  conn: StoreConnection;
  writer: IngestWriter;
  /** Runs a PASSIVE WAL checkpoint now (the timer calls it too). */
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
  /** How often to checkpoint the WAL; 0 disables the timer (tests). */
  checkpointEveryMs?: number;
  mustExist?: boolean;
  onFlush?(rows: number, ms: number): void;
}

/** Opens the store, applies embedded migrations and starts the checkpoint timer. */
export async function openStore(opts: StoreOptions): Promise<Store> {
  const conn = await openConnection({ url: opts.url, busyTimeoutMs: opts.busyTimeoutMs, mustExist: opts.mustExist });
  try {
    await applyMigrations(conn.client, opts.nowMs());
  } catch (err) {
    conn.close();
    throw err;
  }
  const writer = new IngestWriter(conn.client, { onFlush: opts.onFlush });
  const checkpoint = async () => {
    if (!conn.isFile) return;
    try {
      await conn.client.execute("PRAGMA wal_checkpoint(PASSIVE)");
    } catch {
      // A busy or full store shows up on the write path; a skipped checkpoint is harmless.
    }
  };
  const every = opts.checkpointEveryMs ?? 1000;
  const timer = every > 0 ? setInterval(checkpoint, every) : null;
  timer?.unref?.();
  let closed = false;
  return {
    conn,
    writer,
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
      if (timer) clearInterval(timer);
      await writer.flushed();
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
