/**
 * Jobs that every relay on one database schedules but only one at a time
 * should run (retention: two relays purging the same minute would both
 * archive the same batches). The turn is a session advisory lock on a
 * connection reserved for the job's whole run, only ever tried: a relay that
 * finds it held skips this run, the next is a minute away. A relay that dies
 * mid-run loses its connection, and the lock with it.
 */
import type { SQL } from "bun";

/** The advisory-lock namespace of jobs (target-locks.ts has its own). */
const JOB_LOCKS = 0x686b6a; // "hkj"

/** Runs `run` holding the job's turn; null, without running it, while another relay holds the turn. */
export async function inTurn<T>(sql: SQL, job: string, run: () => Promise<T>): Promise<T | null> {
  const conn = await sql.reserve();
  try {
    const [row] = await conn.unsafe(`SELECT pg_try_advisory_lock(${JOB_LOCKS}, hashtext($1)) AS held`, [job]);
    if (row?.held !== true) return null;
    try {
      return await run();
    } finally {
      // A connection that broke meanwhile took the lock with it: nothing to give back then.
      await conn.unsafe(`SELECT pg_advisory_unlock(${JOB_LOCKS}, hashtext($1))`, [job]).catch(() => {});
    }
  } finally {
    conn.release();
  }
}
