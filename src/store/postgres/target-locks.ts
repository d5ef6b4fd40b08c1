/**
 * Per-target advisory locks on PostgreSQL, held to the end of the
 * transaction, around counting a target's live leases and taking new ones
 * (ingest's fresh claims, a round's leases: leases.ts), so that two relays
 * never both see the same free slot. Locks are only ever tried, never waited
 * for: a target another relay holds is skipped this round, and no two
 * transactions can deadlock on them.
 */
import type { Tx } from "../writer/batch-rows.ts";

/** The advisory-lock namespace of targets (the first key of pg_try_advisory_xact_lock). */
const TARGET_LOCKS = 0x686b72; // "hkr"

/** A statement's condition that takes (or already holds) the lock of the target named by `param`. */
export function targetLocked(param: string): string {
  return `pg_try_advisory_xact_lock(${TARGET_LOCKS}, hashtext(${param}))`;
}

/**
 * Takes the locks of `targets` it can get now, until the transaction ends;
 * returns those. In a statement of its own: a statement that counts leases
 * must start after the lock is held, to see the commit of the relay that held it before.
 */
export async function lockTargets(tx: Tx, targets: string[]): Promise<string[]> {
  if (targets.length === 0) return [];
  const res = await tx.execute({ sql: `SELECT ${targets.map((_, i) => `${targetLocked(`?${i + 1}`)} AS l${i}`).join(", ")}`, args: targets });
  const row = res.rows[0]!;
  return targets.filter((_, i) => Number(row[`l${i}`]) === 1);
}
