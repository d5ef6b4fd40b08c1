/**
 * What a lease round asks of the store, shared by deliveries.ts and each
 * engine's lease statement (sqlite/leases.ts, postgres/leases.ts).
 */

import { OPEN_STATUSES } from "../core/types.ts";

/** The statuses of a delivery not yet finished (core/types.ts; the deliveries_open index holds these). */
export { OPEN_STATUSES };

/** What the scheduler may lease for one target in this round. */
export interface LeaseWant {
  target: string;
  /** How many this process may start now (its own free slots, rate tokens). */
  slots: number;
  /** The target's concurrency across every process: live leases in the store count against it. */
  concurrency: number;
  /** Lease length; must outlast one attempt (the target's timeout plus a margin). */
  leaseMs: number;
  /** Ordered targets: only the oldest open delivery, and only when none is in flight. */
  ordered: boolean;
  /**
   * Leases beyond `concurrency` this process may hold while no other process
   * holds a live lease of the target (lease ahead; 0 or absent: none). The
   * process sends at most `concurrency` at once and keeps the rest ready for
   * the next free slot, so a slot need not wait for a round's write. Safe
   * across processes: another process leases nothing while the live leases are
   * at or above `concurrency`, and this one leases ahead only while it holds
   * every live lease, so sends across processes stay within `concurrency`.
   */
  ahead?: number;
}

/** One round of leasing: a lease id for the round, the caller's clock, what each target may take. */
export interface LeaseRequest {
  leaseId: string;
  /**
   * The prefix every lease id of this process starts with (`<holder>.<n>`):
   * how the store tells this process's live leases from other processes'
   * (wants' `ahead`). Without it nothing is leased ahead.
   */
  holder?: string;
  nowMs: number;
  wants: LeaseWant[];
}

/** A count bound into a lease statement: our own integer, never text from a request. */
export function leaseInt(n: number): number {
  if (!Number.isFinite(n)) throw new Error(`not a finite number: ${n}`);
  return Math.max(0, Math.floor(n));
}

/**
 * How a lease statement tells this process's leases apart: the holder's own
 * prefix (with its dot, so that "a.1" is not taken for holder "a.") and its
 * length, bound as :holder and :holderLen; null when the request leases
 * nothing ahead.
 */
export function holderArgs(opts: LeaseRequest, wants: LeaseWant[]): { holder: string; holderLen: number } | null {
  if (!opts.holder || !wants.some((w) => !w.ordered && (w.ahead ?? 0) > 0)) return null;
  const holder = `${opts.holder}.`;
  return { holder, holderLen: holder.length };
}
