/**
 * The job runner: takes a running job's lease (store/jobs.ts) and works it
 * through in batches until it is done, stopped, or this process stops:
 *
 *   claim → step (read a batch, build its one statement) → commit (with the cursor) → pause → …  → finish
 *
 * Paced so that a bulk action of a million events never stalls acks: a batch
 * is 50 events (its one statement shares the writer's transaction with the
 * acks of that moment, so its size is what an ack may wait for), and after
 * each one the runner pauses twice as long as the batch took, so it holds at
 * most a third of the writer's and this thread's time. The deliveries it creates are ordinary due rows: the
 * delivery engine sends them at each target's concurrency and rate.
 *
 * One job at a time per process; several processes on one store share the
 * jobs through their leases (one holder each), and a job whose holder died is
 * taken over once its lease runs out on the database clock.
 */
import { makeId } from "../core/ids.ts";
import type { Logger } from "../log/logger.ts";
import { claimJob, commitBatch, failJob, finishJob, releaseJob, type Job, type JobBatch, type LeasedJob } from "../store/jobs.ts";
import type { SqlDoors } from "../store/sql-client.ts";
import { isStoreUnreachable } from "../store/errors.ts";

/** Builds a job's next batch of at most `limit` events; `end` when none are left after it. */
export type JobStep = (job: LeasedJob, limit: number, nowMs: number) => Promise<JobBatch & { end: boolean }>;

/** Pacing of the runner; the defaults suit production, tests slow it down or speed it up. */
export interface JobPacing {
  /** Events per batch (one transaction). Default 50. */
  batchEvents?: number;
  /** Least pause between batches; each pause is at least twice as long as the batch before it. Default 10 ms. */
  pauseMs?: number;
  /** How often to look for a job to run (another process's, or one left by a restart). Default 2 s. */
  pollMs?: number;
  /** Lease length, renewed by each batch; how long a dead process's job waits for another. Default 15 s. */
  leaseMs?: number;
}

/** What createJobRunner needs. */
export interface JobRunnerOptions extends JobPacing {
  db: SqlDoors;
  step: JobStep;
  nowMs: () => number;
  log: Logger;
  /** A batch committed and changed `affected` deliveries (the delivery engine looks for due work now). */
  onBatch?: (job: Job, affected: number) => void;
}

/** The runner's face; see the file comment. */
export interface JobRunner {
  /** Looks for work now and then every poll period. */
  start(): void;
  /** A job was created: look now instead of at the next poll. */
  wake(): void;
  /** Runs jobs until none is left to claim (tests). */
  drain(): Promise<void>;
  /** Stops at the next batch boundary and gives the job's lease back (it resumes on the next start). */
  stop(): Promise<void>;
}

/** Thrown by a step whose job can never go on (not a store that is away): the job fails at once, with this message. */
export class JobCannotGoOn extends Error {}

// A batch that keeps failing (the store refusing writes) fails the job rather than spin for ever.
const FAILURES_BEFORE_GIVING_UP = 3;

/** Creates the runner; nothing runs until start(), wake() or drain(). */
export function createJobRunner(opts: JobRunnerOptions): JobRunner {
  const { db, log, nowMs } = opts;
  const batchEvents = opts.batchEvents ?? 50;
  const pauseMs = opts.pauseMs ?? 10;
  const leaseMs = opts.leaseMs ?? 15_000;
  const leaseId = makeId("lease", nowMs(), crypto.getRandomValues(new Uint8Array(10)));
  let stopping = false;
  let running: Promise<void> | null = null;
  let again = false;
  let timer: ReturnType<typeof setInterval> | null = null;

  async function runJobs(): Promise<void> {
    while (!stopping) {
      const job = await claimJob(db, { leaseId, leaseMs, nowMs: nowMs() });
      if (!job) return;
      log.info("job running", { job: job.id, kind: job.kind, total: job.total, done: job.done });
      await work(job);
    }
  }

  async function work(job: LeasedJob): Promise<void> {
    let failures = 0;
    let busySince = performance.now();
    for (;;) {
      if (stopping) return releaseJob(db.writer, job, nowMs());
      try {
        const batch = await opts.step(job, batchEvents, nowMs());
        const affected = await commitBatch(db.writer, job, batch, { leaseMs, nowMs: nowMs() });
        if (affected === null) return log.info("job stopped", { job: job.id }); // stopped by an operator, or taken over
        failures = 0;
        job = { ...job, cursor: batch.cursor ?? job.cursor, done: job.done + batch.examined, affected: job.affected + affected };
        if (affected > 0) opts.onBatch?.(job, affected);
        if (batch.end) {
          await finishJob(db.writer, job, nowMs());
          // As the job now reads (finishJob): events that stopped matching meanwhile count as worked through.
          return log.info("job done", { job: job.id, kind: job.kind, events: Math.max(job.total, job.done), deliveries: job.affected });
        }
      } catch (err) {
        const error = String((err as Error).message ?? err);
        if (err instanceof JobCannotGoOn) {
          log.warn("job failed", { job: job.id, kind: job.kind, error });
          return failJob(db.writer, job, error, nowMs());
        }
        // A database away for a while is not the job's failure: it waits (the store logs the loss once).
        if (!isStoreUnreachable(err)) {
          log.warn("job batch failed", { job: job.id, error });
          if (++failures >= FAILURES_BEFORE_GIVING_UP) return failJob(db.writer, job, error, nowMs());
        }
      }
      await new Promise((r) => setTimeout(r, Math.max(pauseMs, 2 * (performance.now() - busySince))));
      busySince = performance.now();
    }
  }

  function wake(): void {
    if (stopping) return;
    if (running) {
      again = true;
      return;
    }
    running = runJobs()
      .catch((err) => void (isStoreUnreachable(err) || log.warn("job runner failed", { error: String((err as Error).message ?? err) })))
      .finally(() => {
        running = null;
        if (again) {
          again = false;
          wake();
        }
      });
  }

  return {
    start() {
      if (timer || stopping) return;
      timer = setInterval(wake, opts.pollMs ?? 2000);
      timer.unref?.();
      wake();
    },
    wake,
    async drain() {
      do {
        wake();
        await running;
      } while (running);
    },
    async stop() {
      stopping = true;
      if (timer) clearInterval(timer);
      await running;
    },
  };
}
