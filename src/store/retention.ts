/**
 * Retention: deletes events (with their deliveries and attempts), attempts and
 * rejections older than `store.retention`, a couple of hundred rows per
 * transaction with a pause between transactions, so neither the ingest writer
 * (another connection, waiting for the write lock) nor request handling (this
 * thread, which the driver blocks while it runs) waits long. An event is kept while any of its
 * deliveries is still open, and while it can still be a dedupe original.
 * With `[store] archive`, each batch of events is archived (event-archive.ts)
 * before it is deleted, and only the events archived are deleted.
 */
import { idFloor } from "../core/ids.ts";
import type { EventArchive } from "./event-archive.ts";
import { startPeriodicJob, type PeriodicJob } from "./periodic-job.ts";
import { expiredDedupeKeysStatement } from "./postgres/dedupe.ts";
import type { Logger } from "../log/logger.ts";
import type { SqlDoors, SqlWriter } from "./sql-client.ts";
import { isStoreUnreachable } from "./errors.ts";

const OPEN = "'pending','delivering','paused'";

export interface PurgeOptions {
  nowMs: number;
  retentionMs: number;
  /** Rows looked at per transaction at most (fewer while transactions are slow: PurgePace). Default 200. */
  batchRows?: number;
  /** Per source: keep its events at least this long (its dedupe window). */
  dedupeWindowMs?: Record<string, number>;
  /**
   * Least pause between transactions. Each pause is at least as long as the
   * transaction before it, so a purge never takes more than half of the write
   * connection's time from ingest. Default 5 ms.
   */
  pauseMs?: number;
  /** Rejections kept per source at most (default MAX_REJECTIONS_PER_SOURCE). */
  maxRejectionsPerSource?: number;
  /** Checked between transactions: true ends the purge early (shutdown). */
  stopped?: () => boolean;
  /** Called with each batch's events before they are deleted; when it rejects, the purge ends and nothing of the batch is deleted. */
  archive?: EventArchive;
}

export interface PurgeCounts {
  events: number;
  deliveries: number;
  attempts: number;
  rejections: number;
}

/** One event range to walk: every source but `except`, or one `source`, below `cutoffMs`. */
type Group = { cutoffMs: number; source?: string; except: string[] };

/** Deletes expired rows in small transactions; returns how many of each went. */
export async function purgeExpired(db: SqlDoors, opts: PurgeOptions): Promise<PurgeCounts> {
  const pace = new PurgePace(opts.batchRows ?? 200, opts.pauseMs ?? 5);
  const stopped = opts.stopped ?? (() => false);
  const cutoffMs = opts.nowMs - opts.retentionMs;
  const counts: PurgeCounts = { events: 0, deliveries: 0, attempts: 0, rejections: 0 };

  // Sources whose dedupe window outlives retention get their own, earlier cutoff.
  const longer = Object.entries(opts.dedupeWindowMs ?? {}).filter(([, w]) => w > opts.retentionMs);
  const groups: Group[] = [
    { cutoffMs, except: longer.map(([s]) => s) },
    ...longer.map(([source, w]) => ({ cutoffMs: opts.nowMs - w, source, except: [] })),
  ];
  for (const g of groups) {
    // Walk ids with a cursor so events kept for open deliveries are looked at once, not every batch.
    let cursor = "";
    const below = idFloor("evt", g.cutoffMs);
    const range = rangeSql(g);
    await pace.eachBatch(stopped, async (rows) => {
      const page = await db.reads.execute({
        sql: `SELECT id FROM events WHERE id > ? AND id < ? ${range.sql} ORDER BY id LIMIT ?`,
        args: [cursor, below, ...range.args, rows],
      });
      if (page.rows.length === 0) return 0;
      const last = String(page.rows[page.rows.length - 1]!.id);
      const deleted = await pace.timed(() => (opts.archive ? archiveThenDelete(db, opts.archive, cursor, last, range) : deleteEvents(db.writer, cursor, last, range)));
      counts.events += deleted.events;
      counts.deliveries += deleted.deliveries;
      counts.attempts += deleted.attempts;
      cursor = last;
      return page.rows.length;
    });
  }
  counts.attempts += await deleteByAge(db.writer, "attempts", "at", cutoffMs, pace, stopped);
  counts.rejections += await deleteByAge(db.writer, "rejections", "received_at", cutoffMs, pace, stopped);
  counts.rejections += await capRejections(db, opts.maxRejectionsPerSource ?? MAX_REJECTIONS_PER_SOURCE, pace, stopped);
  // PostgreSQL dedupes by a table of keys (postgres/dedupe.ts); the file looks its events up instead.
  if (db.writer.dialect.engine === "postgres") await deleteExpiredDedupeKeys(db.writer, opts.nowMs, pace, stopped);
  return counts;
}

/**
 * A purge's pace: rows per transaction and the pause after each. Its writes
 * ride in the group commit with ingest's (one transaction a round), so every
 * ack of that round waits for them: a write that took longer than
 * SLOW_WRITE_MS halves the next batch (a drained backlog's events, each with
 * its deliveries and many attempts, are slow to delete), down to
 * MIN_BATCH_ROWS; one under a quarter of that doubles it back, up to
 * `maxRows`. Each pause lasts at least as long as the write before it, so a
 * purge never takes more than half of the writer's time.
 */
class PurgePace {
  #rows: number;
  #busySince = performance.now();

  constructor(
    private readonly maxRows: number,
    private readonly minPauseMs: number,
  ) {
    this.#rows = maxRows;
  }

  /**
   * Runs `batch` with the batch size of the moment until it looks at fewer
   * rows than it was given (nothing more to do) or the purge is `stopped`,
   * pausing after each.
   */
  async eachBatch(stopped: () => boolean, batch: (rows: number) => Promise<number>): Promise<void> {
    while (!stopped()) {
      const rows = this.#rows;
      if ((await batch(rows)) < rows) return;
      await this.#pause();
    }
  }

  /** Runs one batch's write and sizes the next by its time. */
  async timed<T>(write: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const result = await write();
    const tookMs = performance.now() - started;
    if (tookMs > SLOW_WRITE_MS) this.#rows = Math.max(Math.min(MIN_BATCH_ROWS, this.maxRows), Math.floor(this.#rows / 2));
    else if (tookMs < SLOW_WRITE_MS / 4) this.#rows = Math.min(this.maxRows, this.#rows * 2);
    return result;
  }

  async #pause(): Promise<void> {
    await new Promise((r) => setTimeout(r, Math.max(this.minPauseMs, performance.now() - this.#busySince)));
    this.#busySince = performance.now();
  }
}

/** A purge write slower than this makes the next batch smaller (PurgePace). */
const SLOW_WRITE_MS = 20;

/** The fewest rows a purge batch shrinks to. */
const MIN_BATCH_ROWS = 10;

/** Rejected requests kept per source at most, whatever their age. */
export const MAX_REJECTIONS_PER_SOURCE = 10_000;

/**
 * Keeps only the newest `max` rejections of each source: the per-source rate
 * limit bounds how fast a flood of bad signatures is stored, this bounds how
 * much of it is kept for the whole retention period.
 */
async function capRejections(db: SqlDoors, max: number, pace: PurgePace, stopped: () => boolean): Promise<number> {
  let total = 0;
  const sources = (await db.reads.execute("SELECT DISTINCT source FROM rejections")).rows.map((r) => String(r.source));
  for (const source of sources) {
    await pace.eachBatch(stopped, async (rows) => {
      const [rs] = await pace.timed(() => db.writer.write([{
        sql: `DELETE FROM rejections WHERE id IN (SELECT id FROM rejections WHERE source = ? AND received_at <
                (SELECT received_at FROM rejections WHERE source = ? ORDER BY received_at DESC LIMIT 1 OFFSET ?)
              ORDER BY received_at LIMIT ?)`,
        args: [source, source, max - 1, rows],
      }], "redoable"));
      total += rs!.rowsAffected;
      return rs!.rowsAffected;
    });
  }
  return total;
}

function rangeSql(g: Group): { sql: string; args: string[] } {
  if (g.source !== undefined) return { sql: "AND source = ?", args: [g.source] };
  if (g.except.length === 0) return { sql: "", args: [] };
  return { sql: `AND source NOT IN (${g.except.map(() => "?").join(",")})`, args: g.except };
}

/**
 * Deletes the events in (after, last] with no open delivery, their deliveries
 * and attempts, in ONE transaction. The open-delivery check runs inside it, so
 * a redelivery created a moment earlier keeps its event.
 */
async function deleteEvents(writer: SqlWriter, after: string, last: string, range: { sql: string; args: string[] }) {
  return deleteDoomed(writer, doomedSql(range), [after, last, ...range.args]);
}

const NO_OPEN_DELIVERY = `NOT EXISTS (SELECT 1 FROM deliveries o WHERE o.event_id = events.id AND o.status IN (${OPEN}))`;

/** The events in (after, last] of the range with no open delivery. */
function doomedSql(range: { sql: string }): string {
  return `SELECT id FROM events WHERE id > ? AND id <= ? ${range.sql} AND ${NO_OPEN_DELIVERY}`;
}

/** Deletes the events `doomed` selects, with their deliveries and attempts, in one transaction. */
async function deleteDoomed(writer: SqlWriter, doomed: string, args: string[]) {
  const rs = await writer.write(
    [
      {
        sql: `DELETE FROM attempts WHERE delivery_id IN (SELECT d.id FROM deliveries d WHERE d.event_id IN (${doomed}))`,
        args,
      },
      { sql: `DELETE FROM deliveries WHERE event_id IN (${doomed})`, args },
      { sql: `DELETE FROM events WHERE id IN (${doomed})`, args },
    ],
    "redoable", // the next purge deletes them again
  );
  return { attempts: rs[0]!.rowsAffected, deliveries: rs[1]!.rowsAffected, events: rs[2]!.rowsAffected };
}

/**
 * The batch's events that may go (no open delivery now) are archived, then
 * deleted by id — the open-delivery check runs again inside the delete, so an
 * event redelivered meanwhile stays (and is archived again when it goes).
 */
async function archiveThenDelete(db: SqlDoors, archive: EventArchive, after: string, last: string, range: { sql: string; args: string[] }) {
  const rs = await db.reads.execute({ sql: `${doomedSql(range)} ORDER BY id`, args: [after, last, ...range.args] });
  const ids = rs.rows.map((r) => String(r.id));
  if (ids.length === 0) return { attempts: 0, deliveries: 0, events: 0 };
  await archive(ids);
  return deleteDoomed(db.writer, `SELECT id FROM events WHERE id IN (${ids.map(() => "?").join(",")}) AND ${NO_OPEN_DELIVERY}`, ids);
}

/** Deletes rows of `table` with `column` < cutoff, a batch per transaction (the column is indexed). */
async function deleteByAge(
  writer: SqlWriter,
  table: "attempts" | "rejections",
  column: "at" | "received_at",
  cutoffMs: number,
  pace: PurgePace,
  stopped: () => boolean,
): Promise<number> {
  let total = 0;
  await pace.eachBatch(stopped, async (rows) => {
    const [rs] = await pace.timed(() => writer.write([{
      sql: `DELETE FROM ${table} WHERE id IN (SELECT id FROM ${table} WHERE ${column} < ? LIMIT ?)`,
      args: [cutoffMs, rows],
    }], "redoable"));
    total += rs!.rowsAffected;
    return rs!.rowsAffected;
  });
  return total;
}

/** Deletes dedupe keys whose window is over, a batch per transaction. */
async function deleteExpiredDedupeKeys(writer: SqlWriter, nowMs: number, pace: PurgePace, stopped: () => boolean): Promise<void> {
  await pace.eachBatch(stopped, async (rows) => {
    const [rs] = await pace.timed(() => writer.write([expiredDedupeKeysStatement(nowMs, rows)], "redoable"));
    return rs!.rowsAffected;
  });
}

/** The retention runner: one purge now (or the one running), stop at the next batch boundary. */
export type RetentionRunner = PeriodicJob<PurgeCounts | null>;


/** Purges every `everyMs` (first run `firstAfterMs` after start); failures are logged and retried next time. */
export function startRetentionRunner(opts: {
  db: SqlDoors;
  retentionMs: number;
  dedupeWindowMs: Record<string, number>;
  nowMs: () => number;
  log: Logger;
  everyMs?: number;
  firstAfterMs?: number;
  /** `[store] archive`: events are archived before they are deleted. */
  archive?: EventArchive;
  /**
   * Runs a purge unless another relay on the store is purging (Store.inTurn):
   * relays purging the same batches at once would each archive them.
   */
  inTurn?: <T>(job: string, run: () => Promise<T>) => Promise<T | null>;
}): RetentionRunner {
  const inTurn = opts.inTurn ?? ((_job, run) => run());
  return startPeriodicJob(
    async (stopping) => {
      const started = performance.now();
      try {
        const counts = await inTurn("retention", () =>
          purgeExpired(opts.db, {
            nowMs: opts.nowMs(),
            retentionMs: opts.retentionMs,
            dedupeWindowMs: opts.dedupeWindowMs,
            stopped: stopping,
            archive: opts.archive,
          }),
        );
        if (counts === null) {
          opts.log.debug("retention purge skipped: another relay on the store is purging");
          return null;
        }
        const total = counts.events + counts.attempts + counts.rejections;
        if (total > 0) opts.log.info("retention purge", { ...counts, durationMs: Math.round(performance.now() - started) });
        return counts;
      } catch (err) {
        const error = String((err as Error).message ?? err);
        // Nothing is deleted unarchived, so retention is stuck until someone fixes the archive: say so loudly.
        if (opts.archive && error.startsWith("archive ")) opts.log.error("retention archive failed; nothing deleted", { error });
        // A busy store is the usual cause; the next run catches up. An unreachable one the store logs itself.
        else if (!isStoreUnreachable(err)) opts.log.warn("retention purge failed", { error });
        return null;
      }
    },
    // Once a minute, as the contract says: an expired request is gone within a minute of its time. The
    // first run comes sooner, out of start-up's way: a relay restarted more often than once a minute
    // (a crash loop) would otherwise never purge.
    { firstAfterMs: opts.firstAfterMs ?? 10_000, everyMs: opts.everyMs ?? 60_000 },
  );
}
