/**
 * The jobs table: bulk actions that run in batches (SPEC "Bulk actions and
 * jobs"). The state machine is the row — status running → done | cancelled |
 * failed, a cursor, progress counts, and a lease on the database clock — so a
 * job survives restarts and is worked on by one process at a time, however
 * many share the store:
 *
 *   create (running) → claim (lease) → commitBatch … (cursor, done; lease renewed) → finish
 *
 * Every statement of a batch is guarded by the job's fence (this lease still
 * holds it and it is still running) and commits together with the cursor, so
 * a batch is done exactly once: a process that lost the lease, or a job
 * stopped by DELETE /api/jobs/<id>, changes nothing more.
 */
import type { InStatement, InValue, Row } from "@libsql/client";
import { makeId } from "../core/ids.ts";
import type { EventFilter } from "./admin-queries.ts";
import type { SqlDoors, SqlReader, SqlWriter } from "./sql-client.ts";
import { batchStatements as sqliteBatchStatements } from "./sqlite/jobs.ts";
import { batchStatements as pgBatchStatements } from "./postgres/jobs.ts";

/** What a job does to the events its filter matches. */
export type JobKind = "redeliver" | "cancel";
/** A job's state; only `running` ones are worked on. */
export type JobStatus = "running" | "done" | "cancelled" | "failed";

/** What a bulk action acts on: the events list's filter (no paging), and the target named, if any. */
export interface JobParams {
  filter: Omit<EventFilter, "cursor" | "limit" | "oldestFirst">;
  target?: string;
}

/** One job as stored. */
export interface Job {
  id: string;
  kind: JobKind;
  status: JobStatus;
  params: JobParams;
  /** Events matched when the job was created. */
  total: number;
  /** Events worked through. */
  done: number;
  /** Deliveries created (redeliver) or cancelled (cancel). */
  affected: number;
  /** The last event id worked through, or null before the first batch. */
  cursor: string | null;
  /**
   * The walk goes oldest event first: every job made since migration 0018, so that a redeliver's
   * deliveries are made in receive order. false: a job an older build made, which goes on newest
   * first from its cursor (an older build refuses a store with that migration, so none walks one
   * of these the other way).
   */
  oldestFirst: boolean;
  error: string | null;
  createdAt: number;
  finishedAt: number | null;
}

/** A running job as the process holding its lease sees it. */
export interface LeasedJob extends Job {
  leaseId: string;
}

/**
 * The condition every statement of a batch carries: the job is still running
 * and still leased to us. As a SQL fragment with its positional arguments.
 */
export interface JobFence {
  sql: string;
  args: InValue[];
}

/** The fence of `job` under its lease. */
export function jobFence(job: LeasedJob): JobFence {
  return { sql: "EXISTS (SELECT 1 FROM jobs WHERE id = ? AND lease_id = ? AND status = 'running')", args: [job.id, job.leaseId] };
}

function jobOf(r: Row): Job {
  const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    id: String(r.id),
    kind: String(r.kind) as JobKind,
    status: String(r.status) as JobStatus,
    params: JSON.parse(String(r.params)) as JobParams,
    total: Number(r.total),
    done: Number(r.done),
    affected: Number(r.affected),
    cursor: r.cursor === null ? null : String(r.cursor),
    oldestFirst: Number(r.oldest_first) === 1,
    error: r.error === null ? null : String(r.error),
    createdAt: Number(r.created_at),
    finishedAt: n(r.finished_at),
  };
}

/** Stores a new job, running (or already done when nothing matched); durable before it resolves. */
export async function createJob(writer: SqlWriter, opts: { kind: JobKind; params: JobParams; total: number; nowMs: number }): Promise<Job> {
  const id = makeId("job", opts.nowMs, crypto.getRandomValues(new Uint8Array(10)));
  const status: JobStatus = opts.total === 0 ? "done" : "running";
  const [rs] = await writer.write([
    {
      // Every job made now walks oldest first (Job.oldestFirst).
      sql: `INSERT INTO jobs (id, kind, status, params, total, oldest_first, created_at, updated_at, finished_at)
        VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?) RETURNING *`,
      args: [id, opts.kind, status, JSON.stringify(opts.params), opts.total, opts.nowMs, opts.nowMs, status === "done" ? opts.nowMs : null],
    },
  ]);
  return jobOf(rs!.rows[0]!);
}

/** One job; null when unknown. */
export async function getJob(reads: SqlReader, id: string): Promise<Job | null> {
  const rs = await reads.execute({ sql: "SELECT * FROM jobs WHERE id = ?", args: [id] });
  return rs.rows[0] ? jobOf(rs.rows[0]) : null;
}

/** The newest jobs first (ids begin with their creation time), at most `limit`. */
export async function listJobs(reads: SqlReader, limit = 50): Promise<Job[]> {
  const rs = await reads.execute({ sql: "SELECT * FROM jobs ORDER BY id DESC LIMIT ?", args: [limit] });
  return rs.rows.map(jobOf);
}

/**
 * Stops a running job (DELETE /api/jobs/<id>): it becomes `cancelled` and no
 * further batch commits (the fence). Batches already committed stay done.
 * Returns the job as it now is; null when unknown.
 */
export async function stopJob(db: SqlDoors, id: string, nowMs: number): Promise<Job | null> {
  await db.writer.write([
    {
      sql: `UPDATE jobs SET status = 'cancelled', lease_id = NULL, lease_until = NULL, finished_at = ?, updated_at = ?
        WHERE id = ? AND status = 'running'`,
      args: [nowMs, nowMs, id],
    },
  ]);
  return getJob(db.reads, id);
}

/**
 * Takes the lease of the oldest running job that nobody holds (never leased,
 * released, or its holder's lease ran out on the database clock), or one this
 * runner already holds. A cheap read first, so an idle poll takes no write lock.
 */
export async function claimJob(db: SqlDoors, opts: { leaseId: string; leaseMs: number; nowMs: number }): Promise<LeasedJob | null> {
  const free = `status = 'running' AND (lease_until IS NULL OR lease_until <= ${db.writer.dialect.nowMs} OR lease_id = ?)`;
  const found = await db.reads.execute({ sql: `SELECT id FROM jobs WHERE ${free} ORDER BY created_at LIMIT 1`, args: [opts.leaseId] });
  if (found.rows.length === 0) return null;
  const [rs] = await db.writer.write(
    [
      {
        // Re-checked in the write: another process may have claimed it meanwhile.
        sql: `UPDATE jobs SET lease_id = ?, lease_until = ${db.writer.dialect.nowMs} + ?, updated_at = ? WHERE id = ? AND ${free} RETURNING *`,
        args: [opts.leaseId, opts.leaseMs, opts.nowMs, String(found.rows[0]!.id), opts.leaseId],
      },
    ],
    "redoable",
  );
  const row = rs!.rows[0];
  return row ? { ...jobOf(row), leaseId: opts.leaseId } : null;
}

/** One batch of a job: at most one statement, guarded by the job's fence, and how far it got. */
export interface JobBatch {
  /** The batch's one write (INSERT or UPDATE), or null when this batch has nothing to change. */
  stmt: InStatement | null;
  /** Events worked through in this batch. */
  examined: number;
  /** The last event id worked through (null: unchanged). */
  cursor: string | null;
}

/**
 * Commits a batch's statement together with the job's progress and a renewed
 * lease, in one savepoint. Returns how many rows the statement changed, or
 * null when the job was stopped or its lease lost (then nothing changed).
 */
export async function commitBatch(writer: SqlWriter, job: LeasedJob, batch: JobBatch, opts: { leaseMs: number; nowMs: number }): Promise<number | null> {
  const { stmts, changed } = (writer.dialect.engine === "postgres" ? pgBatchStatements : sqliteBatchStatements)(batch.stmt, (rows) => ({
    sql: `UPDATE jobs SET cursor = coalesce(?, cursor), done = done + ?, affected = affected + ${rows},
        lease_until = ${writer.dialect.nowMs} + ?, updated_at = ?
      WHERE id = ? AND lease_id = ? AND status = 'running' RETURNING id`,
    args: [batch.cursor, batch.examined, opts.leaseMs, opts.nowMs, job.id, job.leaseId],
  }));
  // Lost with a power failure, the batch and its cursor go together: it is done again.
  const results = await writer.write(stmts, "redoable");
  if (results.at(-1)!.rows.length === 0) return null;
  return changed(results);
}

/** Marks a job done (every matched event worked through): done and total meet. */
export async function finishJob(writer: SqlWriter, job: LeasedJob, nowMs: number): Promise<void> {
  await writer.write([
    {
      sql: `UPDATE jobs SET status = 'done', total = ${writer.dialect.greatest("total", "done")}, done = ${writer.dialect.greatest("total", "done")}, lease_id = NULL, lease_until = NULL,
          finished_at = ?, updated_at = ?
        WHERE id = ? AND lease_id = ? AND status = 'running'`,
      args: [nowMs, nowMs, job.id, job.leaseId],
    },
  ]);
}

/** Marks a job failed with the reason (it kept failing); what it did so far stays done. */
export async function failJob(writer: SqlWriter, job: LeasedJob, error: string, nowMs: number): Promise<void> {
  await writer.write([
    {
      sql: `UPDATE jobs SET status = 'failed', error = ?, lease_id = NULL, lease_until = NULL, finished_at = ?, updated_at = ?
        WHERE id = ? AND lease_id = ? AND status = 'running'`,
      args: [error, nowMs, nowMs, job.id, job.leaseId],
    },
  ]);
}

/** Gives a job's lease back (shutdown): the next process to look, or this one after a restart, resumes it at once. */
export async function releaseJob(writer: SqlWriter, job: LeasedJob, nowMs: number): Promise<void> {
  await writer.write(
    [{ sql: "UPDATE jobs SET lease_id = NULL, lease_until = NULL, updated_at = ? WHERE id = ? AND lease_id = ?", args: [nowMs, job.id, job.leaseId] }],
    "redoable",
  );
}
