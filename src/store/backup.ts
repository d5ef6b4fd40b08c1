/**
 * An online copy of an embedded store file, taken with `VACUUM INTO` on a
 * connection of its own (another process than the relay, usually).
 *
 * Why VACUUM INTO and not the online backup API in steps: in WAL mode both
 * only read the store, so neither ever takes the write lock from the relay's
 * writer (acks wait for nothing); but a stepped backup starts over whenever
 * another connection writes between two steps, and a serving relay writes
 * every few milliseconds, so under ingest it may never finish (bench/backup.ts
 * measures both). VACUUM INTO reads one snapshot from start to end: it always
 * finishes, and the copy is that snapshot, compacted. Its cost: while it runs,
 * the relay's checkpoints cannot move past that snapshot, so the WAL grows by
 * what is written meanwhile and is checkpointed after (docs/OPERATIONS.md).
 */
import { openWriteConnection } from "./client.ts";
import type { StoreReader } from "./index.ts";

/**
 * Writes a consistent copy of the store into `destPath` (absent or an empty
 * file) and returns how many events it holds. The copy is one self-contained
 * file: VACUUM INTO keeps the source's WAL mode, so counting in it would
 * leave a -wal and a -shm beside it (under the temporary name, one pair per
 * backup); it is switched to a rollback journal first. A relay started on it
 * puts it back in WAL mode. Its search index is merged whole, so that it
 * keeps no word of an event deleted or erased.
 */
export async function copyStoreInto(store: StoreReader, destPath: string, busyTimeoutMs: number): Promise<number> {
  await store.reads.execute({ sql: "VACUUM INTO ?", args: [destPath] });
  const copy = await openWriteConnection({ url: `file:${destPath}`, busyTimeoutMs });
  try {
    await copy.client.execute("PRAGMA journal_mode = DELETE");
    // The search index drops a deleted or erased event's words only when its segments are merged
    // (contentless: it never knew them by row): merged whole in the copy, the pages it frees zeroed
    // (secure_delete, client.ts), so that a copy swapped in for the store keeps none of an erased
    // event's words. A quarter of a second for 200,000 events.
    if ((await copy.client.execute("SELECT 1 FROM sqlite_master WHERE name = 'events_fts'")).rows.length > 0) {
      await copy.client.execute("INSERT INTO events_fts(events_fts) VALUES('optimize')");
    }
    const rs = await copy.client.execute("SELECT count(*) AS n FROM events");
    return Number(rs.rows[0]!.n);
  } finally {
    copy.close();
  }
}
