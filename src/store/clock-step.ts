/**
 * Undoing a backward step of the wall clock. Due times (a delivery's
 * next_attempt_at, a target's circuit_open_until) are absolute times on the
 * caller's clock, written together with `updated_at`. When the clock steps
 * back (NTP, a VM restored), every such time lies further ahead than it was
 * scheduled to, by the size of the step: an hour's correction would be an
 * hour of silence. A row whose `updated_at` is ahead of now was written before
 * the step, and `due − updated_at` is the delay it was given; such a row is
 * moved back by the step, and never left further ahead than that delay.
 *
 * Rebased rows get `updated_at = now`, so the statement is idempotent: several
 * processes that all notice the same step move each row once. A forward step
 * needs nothing here: what was due is overdue and goes once.
 */
import type { SqlWriter } from "./sql-client.ts";

/** `updated_at` must be this far ahead of now to count as written before a step (processes' clocks differ a little). */
export const CLOCK_STEP_TOLERANCE_MS = 1000;

/**
 * Moves due times written before a backward clock step back by `stepMs` (0
 * when the size is unknown, e.g. at start), capped at `now + the delay each
 * was scheduled with`. One transaction; returns how many deliveries and
 * circuits moved.
 *
 * @example rebaseAfterClockStep(client, { nowMs: Date.now(), stepMs: 3_600_000 })
 */
export async function rebaseAfterClockStep(writer: SqlWriter, opts: { nowMs: number; stepMs: number }): Promise<{ deliveries: number; circuits: number }> {
  const args = { now: opts.nowMs, step: Math.max(0, Math.floor(opts.stepMs)), tolerance: CLOCK_STEP_TOLERANCE_MS };
  const { greatest, least } = writer.dialect;
  const rebased = (column: string) => `:now + ${greatest("0", least(`${column} - updated_at`, `${column} - :step - :now`))}`;
  const [deliveries, circuits] = await writer.write(
    [
      {
        sql: `UPDATE deliveries SET next_attempt_at = ${rebased("next_attempt_at")}, updated_at = :now
          WHERE status = 'pending' AND updated_at > :now + :tolerance`,
        args,
      },
      {
        // A circuit already past its time stays half-open (due now), as it was.
        sql: `UPDATE target_state SET circuit_open_until = ${rebased("circuit_open_until")}, updated_at = :now
          WHERE circuit_open_until IS NOT NULL AND updated_at > :now + :tolerance`,
        args,
      },
    ],
  );
  return { deliveries: deliveries!.rowsAffected, circuits: circuits!.rowsAffected };
}
