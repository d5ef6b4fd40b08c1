/**
 * The store on PostgreSQL: the same two doors as the embedded file's
 * (../index.ts). Reads go to a small pool; every write of the process still
 * goes through one group commit (../writer/group-commit.ts), here on a pool
 * of its own in this thread — one transaction per round, its commit durable
 * (synchronous_commit on) unless it holds only redoable writes. No WAL
 * checkpoints, no file: the database server keeps its own.
 */
import { applyMigrations } from "../migrate.ts";
import { postgresDialect } from "../dialect.ts";
import { classifyStoreError, StoreError } from "../errors.ts";
import { CommitHealth, watchCommits } from "../commit-health.ts";
import { GroupCommit } from "../writer/group-commit.ts";
import type { Store, StoreOptions } from "../index.ts";
import { openPgClient, redactedUrl, type PgClient } from "./client.ts";

/** A write that changes nothing: can a transaction be opened and committed? */
const PROBE = "UPDATE source_counters SET received = received WHERE 1 = 0";

/** Connects, applies the PostgreSQL migrations and starts the writer. */
export async function openPostgresStore(opts: StoreOptions): Promise<Store> {
  const connect = (max: number) =>
    openPgClient({ url: opts.url, password: opts.password, max, connectTimeoutMs: Math.max(opts.busyTimeoutMs, 5000), lockTimeoutMs: opts.busyTimeoutMs });
  const reads = await connect(4);
  let writes: PgClient;
  try {
    await applyMigrations(reads, opts.nowMs());
    // The group commit runs one transaction at a time; a second connection stands by for a failed one.
    writes = await connect(2);
  } catch (err) {
    reads.close();
    if (err instanceof StoreError) throw new StoreError(err.code, `${redactedUrl(opts.url)}: ${err.message}`, { cause: err });
    throw err;
  }
  const writer = new GroupCommit({ get: async () => writes }, { relaxRedoable: true, dialect: postgresDialect });
  const health = new CommitHealth({ dir: null, roomBytes: opts.roomBytes ?? 3 * 1024 * 1024 });
  const watched = watchCommits(writer, health);
  const unwritableReason = async () =>
    (await watched.write([PROBE]).then(
      () => null,
      (err: unknown) => classifyStoreError(err).code,
    )) ?? health.standingFailure();
  let closed = false;
  return {
    reads,
    writer: watched,
    filePath: null,
    checkpoint: async () => {},
    unwritableReason,
    isWritable: async () => (await unwritableReason()) === null,
    async close() {
      if (closed) return;
      closed = true;
      await writer.flushed();
      await Promise.all([reads.end(), writes.end()]);
    },
  };
}
