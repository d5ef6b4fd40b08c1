/**
 * Runtime state of each target that must survive restarts and be shared by
 * every process on the store: disabled (and by whom, why), the last error,
 * the failure streak and the circuit. Disabling pauses the target's pending
 * deliveries in the same transaction; enabling resumes them, due now.
 */
import type { Row } from "@libsql/client";
import type { SqlReader, SqlWriter } from "./sql-client.ts";

/** Who disabled a target. Config start-up re-enables only what config disabled. */
export type DisabledBy = "config" | "api" | "gone" | "auto";

/** One target_state row. */
export interface TargetState {
  name: string;
  disabled: boolean;
  disabledReason: string | null;
  disabledBy: DisabledBy | null;
  lastError: string | null;
  consecutiveFailures: number;
  /** First failure since the last success (caller's clock), null when healthy. */
  failingSince: number | null;
  /** While now < this, the target gets no attempts at all (caller's clock). */
  circuitOpenUntil: number | null;
  /** How long the circuit was last opened for: a failed probe opens it for twice that. Null: never opened, or not since this was stored. */
  circuitWaitMs: number | null;
  updatedAt: number;
}

/** Maps a raw target_state row (RETURNING * or SELECT *) to a TargetState. */
export function targetStateFromRow(r: Row): TargetState {
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    name: String(r.name),
    disabled: Number(r.disabled) !== 0,
    disabledReason: r.disabled_reason === null ? null : String(r.disabled_reason),
    disabledBy: r.disabled_by === null || r.disabled_by === undefined ? null : (String(r.disabled_by) as DisabledBy),
    lastError: r.last_error === null ? null : String(r.last_error),
    consecutiveFailures: Number(r.consecutive_failures),
    failingSince: num(r.failing_since),
    circuitOpenUntil: num(r.circuit_open_until),
    circuitWaitMs: num(r.circuit_wait_ms),
    updatedAt: Number(r.updated_at),
  };
}

/** Every stored target state (targets never touched have no row: healthy, enabled). */
export async function readTargetStates(client: SqlReader): Promise<Map<string, TargetState>> {
  const rs = await client.execute("SELECT * FROM target_state");
  return new Map(rs.rows.map((r) => [String(r.name), targetStateFromRow(r)]));
}

/** Disables a target and pauses its pending deliveries in one transaction; returns how many were paused. */
export async function disableTarget(
  writer: SqlWriter,
  opts: { name: string; reason: string; by: DisabledBy; nowMs: number },
): Promise<number> {
  const [, paused] = await writer.write(
    [
      {
        sql: `INSERT INTO target_state (name, disabled, disabled_reason, disabled_by, updated_at) VALUES (?, 1, ?, ?, ?)
          ON CONFLICT (name) DO UPDATE SET disabled = 1, disabled_reason = excluded.disabled_reason,
            disabled_by = excluded.disabled_by, updated_at = excluded.updated_at`,
        args: [opts.name, opts.reason, opts.by, opts.nowMs],
      },
      {
        sql: "UPDATE deliveries SET status = 'paused', updated_at = ? WHERE target = ? AND status = 'pending'",
        args: [opts.nowMs, opts.name],
      },
    ],
  );
  return paused!.rowsAffected;
}

/**
 * Enables a target and makes its paused deliveries pending and due now.
 * Returns how many resumed. A target that was failing when it was disabled
 * comes back half-open (target-health.ts): one attempt probes it, and only a
 * success lets the rest go, so an enable does not fire its whole queue at a
 * target still down. Its failure streak is kept for the circuit's back-off;
 * its failure clock starts again, so that `disable_after` is counted anew.
 */
export async function enableTarget(writer: SqlWriter, opts: { name: string; nowMs: number }): Promise<number> {
  const [, resumed] = await writer.write(
    [
      {
        sql: `INSERT INTO target_state (name, disabled, updated_at) VALUES (?, 0, ?)
          ON CONFLICT (name) DO UPDATE SET disabled = 0, disabled_reason = NULL, disabled_by = NULL,
            failing_since = CASE WHEN target_state.consecutive_failures > 0 THEN excluded.updated_at END,
            circuit_open_until = CASE WHEN target_state.consecutive_failures > 0 THEN excluded.updated_at END,
            circuit_wait_ms = CASE WHEN target_state.consecutive_failures > 0 THEN 0 END,
            updated_at = excluded.updated_at`,
        args: [opts.name, opts.nowMs],
      },
      {
        sql: "UPDATE deliveries SET status = 'pending', next_attempt_at = ?, updated_at = ? WHERE target = ? AND status = 'paused'",
        args: [opts.nowMs, opts.nowMs, opts.name],
      },
    ],
  );
  return resumed!.rowsAffected;
}

/**
 * Settles deliveries ingest stored on a stale view of target state (it
 * decides `paused` or `pending` from its cache): pending ones of `disabled`
 * targets are paused, a delivery inserted `pending` by a process that had
 * not yet seen the disable; paused ones of `enabled` targets are resumed, due
 * now, one inserted `paused` after an enable's own resume ran. Each only for
 * targets the store still says are so when it runs: the caller's lists may
 * have been read just before an enable or a disable committed, and acting on
 * them would undo it (a bulk redeliver onto a disabled target makes that
 * enable a long write, and the window wide). One write; nothing when both
 * lists are empty. Returns how many were paused and resumed.
 */
export async function settleStragglers(writer: SqlWriter, targets: { disabled: string[]; enabled: string[] }, nowMs: number): Promise<{ paused: number; resumed: number }> {
  const marks = (names: string[]) => names.map(() => "?").join(", ");
  const statements = [];
  if (targets.disabled.length > 0) {
    statements.push({
      sql: `UPDATE deliveries SET status = 'paused', updated_at = ?
        WHERE status = 'pending' AND target IN (${marks(targets.disabled)})
          AND EXISTS (SELECT 1 FROM target_state t WHERE t.name = deliveries.target AND t.disabled = 1)`,
      args: [nowMs, ...targets.disabled],
    });
  }
  if (targets.enabled.length > 0) {
    statements.push({
      sql: `UPDATE deliveries SET status = 'pending', next_attempt_at = ?, updated_at = ?
        WHERE status = 'paused' AND target IN (${marks(targets.enabled)})
          AND NOT EXISTS (SELECT 1 FROM target_state t WHERE t.name = deliveries.target AND t.disabled = 1)`,
      args: [nowMs, nowMs, ...targets.enabled],
    });
  }
  if (statements.length === 0) return { paused: 0, resumed: 0 };
  const results = await writer.write(statements, "redoable"); // the next check settles them again
  const paused = targets.disabled.length > 0 ? results[0]!.rowsAffected : 0;
  const resumed = targets.enabled.length > 0 ? results.at(-1)!.rowsAffected : 0;
  return { paused, resumed };
}

/** Opens a target's circuit until `untilMs` (caller's clock): no attempts to it until then. */
export async function openCircuit(writer: SqlWriter, opts: { name: string; untilMs: number; nowMs: number }): Promise<void> {
  await writer.write([{
    sql: `INSERT INTO target_state (name, circuit_open_until, circuit_wait_ms, updated_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (name) DO UPDATE SET circuit_open_until = excluded.circuit_open_until,
        circuit_wait_ms = excluded.circuit_wait_ms, updated_at = excluded.updated_at`,
    args: [opts.name, opts.untilMs, opts.untilMs - opts.nowMs, opts.nowMs],
  }], "redoable"); // a circuit lost to a power failure opens again at the next failures
}
