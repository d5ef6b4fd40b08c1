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
import { openPgClient, redactedUrl, type PgClient } from "./client.ts";
import { ConnectionWatch } from "./connection-watch.ts";
import { inTurn } from "./job-turns.ts";
import { silentLogger } from "../../log/logger.ts";

/**
 * How long one connection attempt may take (`[store] busy_timeout` is how long
 * a statement waits for a lock: lock_timeout).
 */
const CONNECT_TIMEOUT_MS = 5000;

/** Connects, applies the PostgreSQL migrations and starts the writer. */
export async function openPostgresStore(opts: StoreOptions): Promise<Store> {
  // Both pools report to one watch, which probes both (either may be the one that lost its connections).
  let pools: PgClient[] = [];
  const watch = new ConnectionWatch({
    probe: () => Promise.all(pools.map((p) => p.sql.unsafe("SELECT 1"))),
    log: opts.log ?? silentLogger,
    where: redactedUrl(opts.url),
  });
  const connect = (max: number) => openPgClient({ url: opts.url, password: opts.password, max, connectTimeoutMs: CONNECT_TIMEOUT_MS, lockTimeoutMs: opts.busyTimeoutMs, hooks: watch });
  const reads = await connect(4);
  let writes: PgClient;
  try {
    logMigrations(opts.log, redactedUrl(opts.url), await applyMigrations(reads, opts.nowMs(), opts.migrations));
    // The group commit runs one transaction at a time; a second connection stands by for a failed one.
    writes = await connect(2);
    pools = [reads, writes];
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
    writer: watched,
    filePath: null,
    checkpoint: async () => {},
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
