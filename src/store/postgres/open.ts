/**
 * The store on PostgreSQL: the same two doors as the embedded file's
 * (../index.ts). Reads go to a small pool; every write of the process still
 * goes through one group commit (../writer/group-commit.ts), here on a pool
 * of its own in this thread — one transaction per round, its commit durable
 * (synchronous_commit on) unless it holds only redoable writes. No WAL
 * checkpoints, no file: the database server keeps its own.
 */
import { applyMigrations, logMigrations } from "../migrate.ts";
import { postgresDialect } from "../dialect.ts";
import { StoreError } from "../errors.ts";
import { CommitHealth, unwritableReasonOf, watchCommits } from "../commit-health.ts";
import { GroupCommit } from "../writer/group-commit.ts";
import type { Store, StoreOptions, StoreReader } from "../index.ts";
import { openPgClient, redactedUrl, withinAnswerTime, type PgClient } from "./client.ts";
import { ConnectionWatch } from "./connection-watch.ts";
import { inTurn } from "./job-turns.ts";
import { silentLogger } from "../../log/logger.ts";

/**
 * How long one connection attempt may take (`[store] busy_timeout` is how long
 * a statement waits for a lock: lock_timeout).
 */
const CONNECT_TIMEOUT_MS = 5000;

/**
 * How long a write statement (or the watch's probe) may go unanswered before
 * the server is taken for gone (client.ts answerTimeoutMs): longer than a
 * lock wait (busy_timeout) and a slow commit's fsync, shorter than the
 * providers' own timeouts (10 s and up), so that a frozen server or a cut
 * network is answered 503 rather than with silence.
 */
const answerTimeoutMs = (busyTimeoutMs: number) => Math.max(5000, busyTimeoutMs + 3000);

/** Connects, applies the PostgreSQL migrations and starts the writer. */
export async function openPostgresStore(opts: StoreOptions): Promise<Store> {
  // Both pools report to one watch. It asks the writes' pool whether the server answers: its statements
  // are short, where a reads' connection may be busy with a long admin read for good reason; a pool
  // that lost its connections opens new ones by itself.
  let probed: PgClient | null = null;
  const watch = new ConnectionWatch({
    probe: () => (probed === null ? Promise.resolve() : withinAnswerTime(probed.sql.unsafe("SELECT 1"), answerTimeoutMs(opts.busyTimeoutMs))),
    log: opts.log ?? silentLogger,
    where: redactedUrl(opts.url),
  });
  const connect = (max: number, answerTimeoutMs?: number) =>
    openPgClient({ url: opts.url, password: opts.password, max, connectTimeoutMs: CONNECT_TIMEOUT_MS, lockTimeoutMs: opts.busyTimeoutMs, hooks: watch, answerTimeoutMs });
  // Reads may rightly take long (an admin page over a million events): only the writes' silence says the server is gone.
  const reads = await connect(4);
  let writes: PgClient;
  try {
    logMigrations(opts.log, redactedUrl(opts.url), await applyMigrations(reads, opts.nowMs(), opts.migrations));
    // The group commit runs one transaction at a time; a second connection stands by for a failed one.
    writes = await connect(2, answerTimeoutMs(opts.busyTimeoutMs));
    probed = writes;
  } catch (err) {
    reads.close();
    if (err instanceof StoreError) throw new StoreError(err.code, `${redactedUrl(opts.url)}: ${err.message}`, { cause: err });
    throw err;
  }
  const writer = new GroupCommit({ get: async () => writes }, { relaxRedoable: true, dialect: postgresDialect });
  const health = new CommitHealth({ dir: null, roomBytes: opts.roomBytes ?? 3 * 1024 * 1024, nowMs: opts.nowMs });
  const watched = watchCommits(writer, health);
  const unwritableReason = unwritableReasonOf(watched, health);
  let closed = false;
  return {
    reads,
    engineReads: reads,
    writer: watched,
    filePath: null,
    checkpoint: async () => {},
    flushWal: async () => true,
    unwritableReason,
    lastOutage: () => health.lastOutage(),
    isWritable: async () => (await unwritableReason()) === null,
    inTurn: (job, run) => inTurn(reads.sql, job, run),
    async close() {
      if (closed) return;
      closed = true;
      watch.close();
      await writer.flushed();
      await Promise.all([reads.end(), writes.end()]);
    },
  };
}

/** Opens an existing database to read it (export, the archive): a small pool, no migrations, no writer. */
export async function openPostgresReader(opts: { url: string; password?: string }): Promise<StoreReader> {
  const reads = await openPgClient({ url: opts.url, password: opts.password, max: 2, connectTimeoutMs: CONNECT_TIMEOUT_MS });
  return { reads, filePath: null, close: () => reads.close() };
}
