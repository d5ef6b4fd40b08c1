/**
/**
 * The store as the rest of the program sees it, through two doors: `reads`
 * (for an embedded file, the reader thread's connection: admin pages and API,
 * metrics, the background jobs' reads, none of which then holds the event
 * loop; this thread's connection when inline) and `writer` (every write of the process: ingest,
 * leases and outcomes, target state, retention, admin actions, group-committed
 * on the writer thread). Also: open (migrate, PRAGMAs, refuse a read-only
 * store), WAL checkpoints on a worker thread (off the request path), a
 * writability check for /readyz (a probe plus the writer's failing commits),
 * and close.
 */
import { dirname } from "node:path";
import type { StoreReads } from "./sql-client.ts";
import type { Logger } from "../log/logger.ts";
import { isPostgresUrl, redactedUrl } from "./postgres/client.ts";
import { openPostgresReader, openPostgresStore } from "./postgres/open.ts";
import { applyMigrations, logMigrations } from "./migrate.ts";
import { openConnection, openReadConnection, readOnlyCause, type StoreConnection, type WriteClient } from "./client.ts";
import { GroupCommit } from "./writer/group-commit.ts";
import { WriterProxy, type CommitWriter, type Writer } from "./writer/proxy.ts";
import { ReaderProxy } from "./reader/proxy.ts";
import { classifyStoreError, StoreError, type StoreErrorCode } from "./errors.ts";
import { startCheckpointer } from "./checkpointer.ts";
import { CommitHealth, PROBE, unwritableReasonOf, watchCommits, type CommitOutage } from "./commit-health.ts";

export { StoreError, classifyStoreError, isStoreUnreachable, type StoreErrorCode } from "./errors.ts";
export type { IngestItem, IngestOutcome, RejectionItem } from "./writer/group-commit.ts";
export type { Writer } from "./writer/proxy.ts";
export type { SqlReader, SqlWriter, StoreReads } from "./sql-client.ts";
export type { Dialect } from "./dialect.ts";
export { isPostgresUrl } from "./postgres/client.ts";
export { filePathOf } from "./client.ts";

export interface Store {
  /** Reads, on the reader thread's connection (inline: this thread's; a pool on PostgreSQL). (Tests also use it to stage faults.) */
  reads: StoreReads;
  /**
   * The delivery engine's few small reads (target state, expired leases), on
   * this thread's connection: answered in the same turn, in step with the
   * writer's answers its health cache is built from, and never behind a heavy
   * page read queued on the reader thread. Elsewhere (inline, PostgreSQL) `reads`.
   */
  engineReads: StoreReads;
  /** Every write, group-committed (on the writer thread for embedded files). */
  writer: Writer;
  /** Absolute path of an embedded store file, or null (a libSQL server). */
  filePath: string | null;
  /** Runs a PASSIVE WAL checkpoint now on this connection (tests, tools). */
  checkpoint(): Promise<void>;
  /**
   * After an erase: the WAL's pages copied into the file (where secure_delete
   * has zeroed what the erase freed) and the WAL file emptied, unless a
   * reader is still on it (then it starts over at the next checkpoint), so
   * that the erased bytes' older page images do not stay in it while the
   * relay is idle. Nothing on PostgreSQL. Resolves false when the WAL could
   * not be emptied (a reader held it, or the checkpoint failed).
   */
  flushWal(): Promise<boolean>;
  /** True when a write transaction can be opened and committed and no commit of the writer's is failing. */
  isWritable(): Promise<boolean>;
  /** Why the store cannot take writes now (a probe fails, or the writer's commits do), or null. */
  unwritableReason(): Promise<StoreErrorCode | null>;
  /** The last time the writer's commits failed, from the first failure to the first success after it (commit-health.ts). */
  lastOutage(): CommitOutage | null;
  /**
   * Runs `run` unless another relay on the store is running the same job now
   * (then resolves null without running it): for a job every relay schedules
   * but one at a time should do. A file has one relay: it always runs.
   */
  inTurn<T>(job: string, run: () => Promise<T>): Promise<T | null>;
  /** Flushes pending writes, checkpoints and closes. */
  close(): Promise<void>;
}

export interface StoreOptions {
  url: string;
  /** The `[store] password` secret, resolved (PostgreSQL). */
  password?: string;
  /** Where the store logs a new store or schema update, and on PostgreSQL losing its database and getting it back (postgres/connection-watch.ts); none: silent. */
  log?: Logger;
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
  /** `refuse`: a store whose schema is behind this build is refused, unchanged, instead of migrated (a dry run). Default `apply`. */
  migrations?: "apply" | "refuse";
  /**
   * Run the group commit and the reads on this thread's connection instead of
   * the writer and reader threads (remote URLs always do): a command that
   * reads and writes a little and exits, and tests.
   */
  inlineWriter?: boolean;
  /** Free bytes that count as room again after a commit failed on a full disk (default 3 MiB; serve: 2 × max_body + 1 MiB). */
  roomBytes?: number;
}


/** Opens and commits a write transaction on `client` before the writer starts; the classified failure, or null. */
async function probeWrite(client: StoreConnection["client"]): Promise<StoreError | null> {
  try {
    const tx = await client.transaction("write");
    try {
      await tx.execute(PROBE);
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
  if (isPostgresUrl(opts.url)) return openPostgresStore(opts);
  const conn = await openConnection({ url: opts.url, busyTimeoutMs: opts.busyTimeoutMs, mustExist: opts.mustExist });
  try {
    logMigrations(opts.log, conn.filePath ?? storeUrlForLog(opts.url), await applyMigrations(conn.client, opts.nowMs(), opts.migrations));
  } catch (err) {
    conn.close();
    // Named by its path, as a PostgreSQL store is by its URL: a relay started in the wrong directory says which file it found.
    if (err instanceof StoreError && err.code === "invalid" && conn.filePath) throw new StoreError(err.code, `${conn.filePath}: ${err.message}`, { cause: err });
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
  // An embedded file's writes and reads each get a thread of their own, off the event loop.
  const threads = conn.filePath !== null && !opts.inlineWriter;
  let writer: CommitWriter & { close?(): Promise<void> };
  try {
    writer = threads ? await WriterProxy.start(`file:${conn.filePath}`, opts.busyTimeoutMs) : new GroupCommit({ get: async () => conn.client }, { relaxRedoable: conn.filePath !== null });
  } catch (err) {
    conn.close();
    throw err;
  }
  let reader: ReaderProxy | null = null;
  try {
    reader = threads ? await ReaderProxy.start(`file:${conn.filePath}`, opts.busyTimeoutMs) : null;
  } catch (err) {
    await writer.close?.();
    conn.close();
    throw err;
  }
  const health = new CommitHealth({ dir: conn.filePath && dirname(conn.filePath), roomBytes: opts.roomBytes ?? 3 * 1024 * 1024, nowMs: opts.nowMs });
  const watched = watchCommits(writer, health);
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
          file: conn.filePath,
          restartWal: (truncate) => writer.checkpoint(truncate),
        })
      : null;
  let closed = false;
  const unwritableReason = unwritableReasonOf(watched, health);
  return {
    reads: reader ?? conn.client,
    engineReads: conn.client,
    writer: watched,
    filePath: conn.filePath,
    checkpoint,
    // Between the writer's transactions, on its own connection; best effort (a busy store retries later on its own).
    flushWal: () => (conn.filePath ? writer.checkpoint(true).catch(() => false) : Promise.resolve(true)),
    unwritableReason,
    lastOutage: () => health.lastOutage(),
    isWritable: async () => (await unwritableReason()) === null,
    inTurn: (_job, run) => run(),
    async close() {
      if (closed) return;
      closed = true;
      // The checkpointer first: it may still ask the writer for a checkpoint.
      await checkpointer?.stop();
      await writer.flushed();
      await writer.close?.();
      await reader?.close();
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

/** A store opened only to read it (export, backup, the archive): no migrations, no writer, no checkpoints; the file must exist. */
export interface StoreReader {
  /** Keeps its prepared statements (client.ts openReadConnection). */
  reads: WriteClient;
  /** Absolute path of an embedded store file, or null (a libSQL server, PostgreSQL). */
  filePath: string | null;
  close(): void;
}

/** Opens an existing store to read it, beside a relay that may be serving it (WAL readers never wait for writers). */
export async function openStoreReader(opts: { url: string; password?: string; busyTimeoutMs: number }): Promise<StoreReader> {
  if (isPostgresUrl(opts.url)) return openPostgresReader(opts);
  const conn = await openReadConnection(opts);
  return { reads: conn.client, filePath: conn.filePath, close: () => conn.close() };
}

/**
 * The store URL as the log names it: a PostgreSQL one as its other lines do (its password
 * masked); any other without userinfo or query (where a libSQL authToken may sit).
 */
export function storeUrlForLog(url: string): string {
  if (isPostgresUrl(url)) return redactedUrl(url);
  if (url.startsWith("file:") || url.includes(":memory:")) return url.split("?")[0]!;
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "(unparseable url)";
  }
}
