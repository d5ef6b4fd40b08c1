/**
 * What a lease round asks of the store, shared by deliveries.ts and each
 * engine's lease statement (sqlite/leases.ts, postgres/leases.ts).
 */

/** The statuses of a delivery not yet finished (the deliveries_open index holds these). */
export const OPEN_STATUSES = ["pending", "delivering", "paused"] as const;

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
}

/** One round of leasing: a lease id for the round, the caller's clock, what each target may take. */
export interface LeaseRequest {
  leaseId: string;
  nowMs: number;
  wants: LeaseWant[];
}

/** A count bound into a lease statement: our own integer, never text from a request. */
export function leaseInt(n: number): number {
  if (!Number.isFinite(n)) throw new Error(`not a finite number: ${n}`);
  return Math.max(0, Math.floor(n));
}
