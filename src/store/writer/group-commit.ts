/**
 * Group commit for the process's one write connection. Concurrent requests
 * queue their raw request here; one flush writes the whole queue in ONE
 * durable transaction (dedupe check, event row, one delivery per routed
 * target — written leased when ingest claimed a slot — counters) and then
 * settles every waiting request. Under load this turns N fsyncs into one.
 * Rejections ride the same transactions, best-effort, and so does every
 * other write of the process (`write`: leases and outcomes, target state,
 * retention, admin actions), each in a savepoint of its own: one fsync per
 * round for everything the process writes.
 */
import type { InStatement, ResultSet } from "@libsql/client";
import type { WriteClient as Client } from "../client.ts";
import { sqliteDialect, type Dialect } from "../dialect.ts";
import { classifyStoreError, isWriteConflict, StoreError } from "../errors.ts";
import type { Durability, SqlWriter } from "../sql-client.ts";
import { findOriginals } from "../sqlite/dedupe.ts";
import { claimDedupeKeys } from "../postgres/dedupe.ts";
import { lockTargets } from "../postgres/target-locks.ts";
import { dedupeMapKey, fixedChunks, type Tx, type Value } from "./batch-rows.ts";

/**
 * A fresh delivery that ingest asks to write already leased to this process
 * (the scheduler had a free slot): the row skips the pending state and the
 * lease round trip. Granted while the target's live leases across every
 * process stay under `concurrency`; otherwise the row is written pending.
 */
export interface LeaseClaim {
  leaseId: string;
  leaseMs: number;
  concurrency: number;
}

export interface IngestItem {
  id: string;
  source: string;
  eventType: string | null;
  dedupeKey: string;
  dedupeWindowMs: number;
  receivedAt: number;
  method: string;
  path: string;
  query: string;
  headers: [string, string][];
  body: Uint8Array;
  contentType: string | null;
  remoteAddr: string | null;
  /**
   * One delivery per entry; ids are made by the caller. A claim asks for the row to be written leased (deliveries.ts LeaseClaim).
   * None: no route took the event, which is stored as unrouted.
   */
  deliveries: { id: string; target: string; status: "pending" | "paused"; claim?: LeaseClaim }[];
}

/** Stored (with the ids of the deliveries written leased, as claimed) or a duplicate of `id`. */
export type IngestOutcome = { kind: "stored"; id: string; leased: string[] } | { kind: "duplicate"; id: string };

export interface RejectionItem {
  id: string;
  source: string;
  receivedAt: number;
  /** A short code (bad_signature, stale_timestamp, …). */
  reason: string;
  /** The one-line reason the sender got in the reply. */
  message: string;
  method: string;
  path: string;
  headers: [string, string][];
  bodyExcerpt: Uint8Array;
  remoteAddr: string | null;
  /** false when the rate limit said: count it, but do not keep the row. */
  keep: boolean;
}

interface Waiting {
  item: IngestItem;
  resolve(o: IngestOutcome): void;
  reject(e: StoreError): void;
}

/** Statements that must apply together (or not at all) in the next flush. */
interface Job {
  stmts: InStatement[];
  durability: Durability;
  resolve(r: ResultSet[]): void;
  reject(e: unknown): void;
}

/**
 * Where the writer gets its connection. After a failed transaction the
 * writer hands the client back with `discard` and asks for a fresh one:
 * libSQL can leave a statement that failed with SQLITE_BUSY "in progress",
 * which makes every later COMMIT on that connection fail too.
 */
export interface WriterConnection {
  get(): Promise<Client>;
  discard?(client: Client): void;
}

export interface GroupCommitOptions {
  /** Flush at most this many requests per transaction. */
  maxBatch?: number;
  /**
   * Commit a transaction that holds only redoable writes without an fsync
   * (synchronous=NORMAL; an embedded file in WAL mode): a delivery round then
   * does not wait for the disk. Any ingest item or durable job in the same
   * transaction makes it FULL again, and its fsync covers the WAL written before.
   */
  relaxRedoable?: boolean;
  /** The connection's engine (default: an embedded file). */
  dialect?: Dialect;
}

/** Queues the process's writes and commits them in shared transactions. */
export class GroupCommit implements SqlWriter {
  #queue: Waiting[] = [];
  /** When a write last gave up on a locked store (Date.now()), or null. */
  #busyAt: number | null = null;
  /** True when work handed over at `queuedAt` has waited out a locked store already. */
  #lockedSince(queuedAt: number): boolean {
    return this.#busyAt !== null && queuedAt <= this.#busyAt;
  }
  #rejections: RejectionItem[] = [];
  #jobs: Job[] = [];
  #scheduled = false;
  #flushing: Promise<void> | null = null;
  readonly #maxBatch: number;
  readonly dialect: Dialect;

  constructor(
    private readonly connection: WriterConnection,
    private readonly opts: GroupCommitOptions = {},
  ) {
    this.#maxBatch = opts.maxBatch ?? 512;
    this.dialect = opts.dialect ?? sqliteDialect;
  }

  /**
   * Stores one request (or finds its original); resolves only once durable.
   * `queuedAt` (Date.now() when the request was handed over): a request
   * already waiting when a write gave up on a locked store (busy_timeout)
   * fails with it instead of waiting as long again with a try of its own.
   */
  submit(item: IngestItem, queuedAt = Date.now()): Promise<IngestOutcome> {
    if (this.#lockedSince(queuedAt)) return Promise.reject(new StoreError("busy", "store is locked"));
    return new Promise((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#schedule();
    });
  }

  /** Records a rejection on the next flush; never fails the caller. */
  recordRejection(item: RejectionItem): void {
    this.#rejections.push(item);
    this.#schedule();
  }

  /**
   * Runs write statements atomically (a savepoint) inside the next flush's
   * transaction; resolves with their results once that transaction is
   * committed, rejects with the statement's error (the rest of the flush
   * still commits) or, if the flush fails, with its error.
   */
  write(stmts: InStatement[], durability: Durability = "durable", queuedAt = Date.now()): Promise<ResultSet[]> {
    // Like submit: handed over while a write waited out busy_timeout, it fails with it (a readiness probe too).
    if (this.#lockedSince(queuedAt)) return Promise.reject(new StoreError("busy", "store is locked"));
    return new Promise((resolve, reject) => {
      this.#jobs.push({ stmts, durability, resolve, reject });
      this.#schedule();
    });
  }

  /**
   * Runs a PASSIVE WAL checkpoint on the write connection between two
   * transactions: the checkpoint thread found the WAL past its restart size,
   * and only the writer can let it start over (checkpoint-worker.ts).
   * `truncate` (a disk short of room): a TRUNCATE checkpoint instead, which
   * also hands the WAL file's room back to the disk; it waits for readers
   * still on the WAL at most TRUNCATE_WAIT_MS (the writer waits with it), and
   * finding them there is no error: the thread asks again.
   * Resolves true when the checkpoint ran to its end (no reader or writer
   * stopped it): after a TRUNCATE, the WAL is empty.
   */
  async checkpoint(truncate = false): Promise<boolean> {
    if (this.dialect.engine !== "sqlite") return true;
    while (this.#flushing) await this.#flushing;
    this.#client ??= await this.connection.get();
    // SQLite answers one row: busy (1 when it could not finish), the WAL's frames, those copied.
    const ranToEnd = (rs: { rows: ArrayLike<unknown>[] }) => Number(rs.rows[0]?.[0] ?? 1) === 0;
    if (!truncate) return ranToEnd(await this.#client.execute("PRAGMA wal_checkpoint(PASSIVE)"));
    const client = this.#client;
    const busyTimeout = Number((await client.execute("PRAGMA busy_timeout")).rows[0]?.[0] ?? 0);
    await client.execute(`PRAGMA busy_timeout = ${TRUNCATE_WAIT_MS}`);
    try {
      return ranToEnd(await client.execute("PRAGMA wal_checkpoint(TRUNCATE)"));
    } finally {
      await client.execute(`PRAGMA busy_timeout = ${busyTimeout}`);
    }
  }

  #pending(): boolean {
    return this.#queue.length > 0 || this.#rejections.length > 0 || this.#jobs.length > 0;
  }

  /** Resolves when everything queued so far is written (shutdown, tests). */
  async flushed(): Promise<void> {
    while (this.#pending() || this.#flushing) {
      if (this.#flushing) await this.#flushing;
      else await this.#flush();
    }
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // setImmediate lets every request already readable on the sockets join
    // this batch; while a commit runs, new ones pile up for the next.
    setImmediate(() => {
      this.#scheduled = false;
      if (!this.#flushing) void this.#flush();
      else void this.#flushing.then(() => this.#schedule());
    });
  }

  #flush(): Promise<void> {
    const run = async () => {
      while (this.#pending()) {
        const batch = this.#queue.splice(0, this.#maxBatch);
        const rejections = this.#rejections.splice(0, this.#maxBatch);
        const jobs = this.#jobs.splice(0);
        try {
          const { outcomes, jobResults } = await this.#writeAgainOnConflict(batch.map((w) => w.item), rejections, jobs);
          batch.forEach((w, i) => w.resolve(outcomes[i]!));
          jobs.forEach((j, i) => {
            const r = jobResults[i]!;
            if (r.ok) j.resolve(r.results);
            else j.reject(r.error);
          });
        } catch (cause) {
          const err = classifyStoreError(cause);
          for (const w of batch) w.reject(err);
          for (const j of jobs) j.reject(cause);
          // Locked for busy_timeout: the requests that queued meanwhile (here, or still on their way
          // to this thread, which a blocked embedded write holds up) have waited too, and a try of
          // their own would make them wait as long again. Answered now (503); later ones try afresh.
          if (err.code === "busy") {
            this.#busyAt = Date.now();
            for (const w of this.#queue.splice(0)) w.reject(err);
            for (const j of this.#jobs.splice(0)) j.reject(cause);
          }
          await this.#resetConnection();
        }
      }
      await this.#idleInFull();
    };
    this.#flushing = run().finally(() => {
      this.#flushing = null;
    });
    return this.#flushing;
  }

  #client: Client | null = null;
  /** The connection's synchronous setting as last set here; null when unknown (a fresh connection: FULL). */
  #synchronous: "FULL" | "NORMAL" | null = null;
  /** When a durable transaction last committed (performance.now()). */
  #durableAt = Number.NEGATIVE_INFINITY;

  /**
   * With nothing left to write, a connection relaxed for a round of redoable
   * writes goes back to FULL while durable work is about (ingest in the last
   * second): at low load every event's commit follows a delivery round's, and
   * would otherwise set FULL again on its own path to the ack. A relay only
   * draining a backlog stays relaxed between its rounds.
   */
  async #idleInFull(): Promise<void> {
    if (this.#synchronous !== "NORMAL" || performance.now() - this.#durableAt > DURABLE_RECENT_MS) return;
    try {
      await this.#syncFor(true);
    } catch {
      // Unchanged (and still known as NORMAL): the next durable transaction sets FULL before it begins.
    }
  }

  // Set between transactions (SQLite reads it at each commit): only a transaction with nothing
  // durable in it skips the fsync.
  async #syncFor(durable: boolean): Promise<void> {
    if (this.dialect.engine !== "sqlite") return;
    const wanted = durable || !this.opts.relaxRedoable ? "FULL" : "NORMAL";
    if (wanted === (this.#synchronous ?? "FULL")) return;
    await this.#client!.execute(`PRAGMA synchronous = ${wanted}`);
    this.#synchronous = wanted;
  }

  async #resetConnection(): Promise<void> {
    const c = this.#client;
    this.#client = null;
    this.#synchronous = null;
    if (c) this.connection.discard?.(c);
  }

  /**
   * #write, run again (at most WRITE_CONFLICT_TRIES times in all) when PostgreSQL rolled it back
   * to break a deadlock with another relay's transaction: nothing of it was written, and the
   * providers waiting for their acks would otherwise get a 503 for a lock they never held long.
   */
  async #writeAgainOnConflict(items: IngestItem[], rejections: RejectionItem[], jobs: Job[]): Promise<Written> {
    for (let tries = 1; ; tries++) {
      try {
        return await this.#write(items, rejections, jobs);
      } catch (err) {
        if (tries >= WRITE_CONFLICT_TRIES || !isWriteConflict(err)) throw err;
      }
    }
  }

  async #write(
    items: IngestItem[],
    rejections: RejectionItem[],
    jobs: Job[],
  ): Promise<Written> {
    this.#client ??= await this.connection.get();
    const durable = items.length > 0 || jobs.some((j) => j.durability === "durable");
    await this.#syncFor(durable);
    const tx = await this.#client.transaction("write");
    try {
      // PostgreSQL sets it per transaction; a transaction of redoable writes only skips waiting for the WAL flush.
      if (this.dialect.engine === "postgres" && !durable && this.opts.relaxRedoable) await tx.execute("SET LOCAL synchronous_commit = off");
      // Multi-row statements: the driver's cost is per statement, not per row,
      // so a batch of N requests costs a handful of statements, not 4N.
      // On PostgreSQL several relays may store the same key at once: a unique key decides, not a lookup.
      const originals = this.dialect.engine === "postgres" ? await claimDedupeKeys(tx, items) : await findOriginals(tx, items);
      const outcomes: IngestOutcome[] = [];
      const fresh: { item: IngestItem; outcome: { kind: "stored"; id: string; leased: string[] } }[] = [];
      const dupCounts = new Map<string, { n: number; lastAt: number }>();
      const counters = new Map<string, { received: number; duplicates: number; rejected: number }>();
      const count = (source: string) => {
        let c = counters.get(source);
        if (!c) counters.set(source, (c = { received: 0, duplicates: 0, rejected: 0 }));
        return c;
      };
      for (const it of items) {
        const key = dedupeMapKey(it.source, it.dedupeKey);
        const found = it.dedupeWindowMs > 0 ? originals.get(key) : undefined;
        if (found && found.receivedAt >= it.receivedAt - it.dedupeWindowMs) {
          const d = dupCounts.get(found.id) ?? { n: 0, lastAt: 0 };
          d.n++;
          d.lastAt = Math.max(d.lastAt, it.receivedAt);
          dupCounts.set(found.id, d);
          count(it.source).duplicates++;
          outcomes.push({ kind: "duplicate", id: found.id });
          continue;
        }
        // Later copies in this same batch are duplicates of this one.
        if (it.dedupeWindowMs > 0) originals.set(key, { id: it.id, receivedAt: it.receivedAt });
        const stored = { kind: "stored" as const, id: it.id, leased: [] as string[] };
        fresh.push({ item: it, outcome: stored });
        count(it.source).received++;
        outcomes.push(stored);
      }
      const leases = await grantClaims(tx, this.dialect, fresh.flatMap((f) => f.item.deliveries));
      // The batch's rows need no answer back: they go out together (pipelined on PostgreSQL,
      // one round trip instead of one per statement) and are awaited as one.
      const written: Promise<unknown>[] = [];
      const put = (stmt: InStatement) => written.push(tx.execute(stmt));
      insertRows(put, "events", EVENT_COLUMNS, fresh.map(({ item: it }) => [
        it.id, it.source, it.eventType, it.dedupeKey, it.receivedAt, it.method, it.path, it.query,
        JSON.stringify(it.headers), it.body, it.contentType, it.remoteAddr, it.deliveries.length === 0 ? 1 : null,
      ]));
      insertRows(put, "deliveries", DELIVERY_COLUMNS, fresh.flatMap(({ item: it, outcome }) =>
        it.deliveries.map((d) => {
          const leaseUntil = leases.get(d.id);
          if (leaseUntil === undefined) return [d.id, it.id, d.target, d.status, 0, it.receivedAt, null, null, it.receivedAt, it.receivedAt];
          outcome.leased.push(d.id);
          return [d.id, it.id, d.target, "delivering", 0, it.receivedAt, d.claim!.leaseId, leaseUntil, it.receivedAt, it.receivedAt];
        }),
      ));
      // Rows locked in one order (ids, then sources) by every relay's commit: two relays storing the
      // same provider retry at once then wait for each other instead of deadlocking.
      for (const [id, d] of [...dupCounts].sort(([a], [b]) => (a < b ? -1 : 1))) {
        put({ sql: "UPDATE events SET duplicates = duplicates + ?, last_duplicate_at = ? WHERE id = ?", args: [d.n, d.lastAt, id] });
      }
      for (const r of rejections) count(r.source).rejected++;
      const { kept, stoodFor, leftOver } = rejectionRows(rejections);
      insertRows(put, "rejections", REJECTION_COLUMNS, kept.map((r) => [
        r.id, r.source, r.receivedAt, r.reason, r.message, r.method, r.path, JSON.stringify(r.headers), r.bodyExcerpt, r.remoteAddr, stoodFor.get(r.id) ?? 1,
      ]));
      // Refused past the cap with no row of their source and reason in this batch: the newest stored one stands for them.
      for (const { source, reason, n } of leftOver) {
        put({
          sql: `UPDATE rejections SET represents = represents + ? WHERE id = (SELECT id FROM rejections WHERE source = ? AND reason = ? ORDER BY received_at DESC, id DESC LIMIT 1)`,
          args: [n, source, reason],
        });
      }
      for (const [source, c] of [...counters].sort(([a], [b]) => (a < b ? -1 : 1))) {
        put({
          sql: `INSERT INTO source_counters (source, received, duplicates, rejected) VALUES (?, ?, ?, ?)
                ON CONFLICT (source) DO UPDATE SET received = source_counters.received + excluded.received,
                  duplicates = source_counters.duplicates + excluded.duplicates, rejected = source_counters.rejected + excluded.rejected`,
          args: [source, c.received, c.duplicates, c.rejected],
        });
      }
      await Promise.all(written);
      // After the events, so that a lease in this flush already sees them.
      const jobResults = [];
      for (const job of jobs) jobResults.push(await runInSavepoint(tx, job.stmts));
      await tx.commit();
      if (durable) this.#durableAt = performance.now();
      return { outcomes, jobResults };
    } catch (err) {
      tx.close();
      throw err;
    }
  }
}

/** What one group commit answers: each item's outcome, and each job's results or error. */
type Written = { outcomes: IngestOutcome[]; jobResults: ({ ok: true; results: ResultSet[] } | { ok: false; error: unknown })[] };

/** Tries of one group commit that PostgreSQL keeps rolling back for a deadlock (GroupCommit #writeAgainOnConflict). */
const WRITE_CONFLICT_TRIES = 3;

/** The longest a truncating checkpoint waits for readers still on the WAL, holding up the writer (GroupCommit checkpoint). */
const TRUNCATE_WAIT_MS = 50;

/** How recent durable work must be for an idle connection to go back to FULL (GroupCommit #idleInFull). */
const DURABLE_RECENT_MS = 1000;

// unrouted: no route took the event (it gets no delivery), the admin list's status=unrouted.
const EVENT_COLUMNS = ["id", "source", "event_type", "dedupe_key", "received_at", "method", "path", "query", "headers", "body", "content_type", "remote_addr", "unrouted"];
const DELIVERY_COLUMNS = ["id", "event_id", "target", "status", "attempts", "next_attempt_at", "lease_id", "lease_until", "created_at", "updated_at"];
const REJECTION_COLUMNS = ["id", "source", "received_at", "reason", "message", "method", "path", "headers", "body_excerpt", "remote_addr", "represents"];

/**
 * A batch's rejections as rows: those kept, each standing for itself and, the
 * last of each source and reason, for those of its source and reason refused
 * past the storing cap (counted, not kept); refused ones with no such row in
 * the batch are left over for the newest stored row. So a count of what the
 * rows stand for (a wave of bad signatures) is the real one, not the cap's.
 */
function rejectionRows(rejections: RejectionItem[]): { kept: RejectionItem[]; stoodFor: Map<string, number>; leftOver: { source: string; reason: string; n: number }[] } {
  const kept = rejections.filter((r) => r.keep);
  const lastKept = new Map<string, string>();
  for (const r of kept) lastKept.set(`${r.source}\0${r.reason}`, r.id);
  const stoodFor = new Map<string, number>();
  const leftOver = new Map<string, { source: string; reason: string; n: number }>();
  for (const r of rejections) {
    if (r.keep) continue;
    const key = `${r.source}\0${r.reason}`;
    const id = lastKept.get(key);
    if (id !== undefined) stoodFor.set(id, (stoodFor.get(id) ?? 1) + 1);
    else {
      const o = leftOver.get(key) ?? { source: r.source, reason: r.reason, n: 0 };
      o.n++;
      leftOver.set(key, o);
    }
  }
  // In one order in every relay's commit: two updating the same rows wait for each other, never deadlock.
  return { kept, stoodFor, leftOver: [...leftOver].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, o]) => o) };
}

/**
 * Runs one job's statements between SAVEPOINT and RELEASE. A failing
 * statement undoes only that job; if SQLite ended the whole transaction (a
 * full disk, I/O error), the ROLLBACK TO fails too and the flush fails. A
 * deadlock with another relay's transaction fails the flush as well: the
 * whole flush is written again (#writeAgainOnConflict), where failing the job
 * alone would lose a round's outcomes (its attempts sent again at the leases'
 * end) for a lock the other relay held a moment.
 */
async function runInSavepoint(tx: Tx, stmts: InStatement[]): Promise<{ ok: true; results: ResultSet[] } | { ok: false; error: unknown }> {
  await tx.execute("SAVEPOINT job");
  try {
    const results: ResultSet[] = [];
    for (const stmt of stmts) results.push(await tx.execute(stmt));
    await tx.execute("RELEASE job");
    return { ok: true, results };
  } catch (error) {
    if (isWriteConflict(error)) throw error;
    try {
      await tx.execute("ROLLBACK TO job");
      await tx.execute("RELEASE job");
    } catch {
      throw error;
    }
    return { ok: false, error };
  }
}

/** Queues INSERTs of rows in multi-row statements of fixed sizes (batch-rows.ts CHUNK_SIZES). */
function insertRows(put: (stmt: InStatement) => void, table: string, columns: string[], rows: Value[][]): void {
  const tuple = `(${columns.map(() => "?").join(", ")})`;
  for (const chunk of fixedChunks(rows)) {
    put({ sql: `INSERT INTO ${table} (${columns.join(", ")}) VALUES ${chunk.map(() => tuple).join(", ")}`, args: chunk.flat() });
  }
}

/**
 * Which claimed deliveries are written leased, and until when (database
 * clock): per target, as many as its concurrency leaves beside the live
 * leases of every process; the rest are written pending and leased by a
 * round. One read per batch, whatever its size.
 */
async function grantClaims(tx: Tx, dialect: Dialect, deliveries: IngestItem["deliveries"]): Promise<Map<string, number>> {
  const granted = new Map<string, number>();
  const claimed = deliveries.filter((d) => d.claim !== undefined);
  if (claimed.length === 0) return granted;
  let targets = [...new Set(claimed.map((d) => d.target))];
  // Several relays on one PostgreSQL database: counting live leases is exact only under the
  // target's lock (postgres/target-locks.ts); a target another relay holds now gets its rows pending.
  if (dialect.engine === "postgres") targets = await lockTargets(tx, targets);
  if (targets.length === 0) return granted;
  const live = targets.map(
    (_, i) => `(SELECT count(*) FROM deliveries WHERE target = ?${i + 1} AND status = 'delivering' AND lease_until > ${dialect.nowMs}) AS c${i}`,
  );
  const row = (await tx.execute({ sql: `SELECT ${dialect.nowMs} AS now, ${live.join(", ")}`, args: targets })).rows[0]!;
  const room = new Map(targets.map((t, i) => [t, Number(row[`c${i}`])]));
  for (const d of claimed) {
    const inUse = room.get(d.target);
    if (inUse === undefined || inUse >= d.claim!.concurrency) continue;
    room.set(d.target, inUse + 1);
    granted.set(d.id, Number(row.now) + d.claim!.leaseMs);
  }
  return granted;
}

