/**
 * What a leasing round asks the store for: per target, how many deliveries
 * this process may start now. Pure: it reads a snapshot of each target (its
 * free local slots, rate tokens, health gate, whether something can take a
 * delivery at all) and the ingest-first budget shared by every target, and
 * needs no store, clock or timer. The store then bounds each want again by
 * the target's concurrency across every process (live leases count).
 */
import type { LeaseWant } from "../store/deliveries.ts";

/** How a round may use a target now (target-health.ts decides). */
export type LeaseGate = { open: false } | { open: true; /** Half-open circuit: one probe attempt at a time. */ probeOnly: boolean };

/** One target as a round sees it. */
export interface TargetView {
  name: string;
  concurrency: number;
  ordered: boolean;
  /** Lease length: the target's timeout plus a margin (how long a crashed process's attempt blocks a retry). */
  leaseMs: number;
  /** Attempts this process has in flight to it. */
  inFlight: number;
  /** Whole rate tokens left (Infinity without a `rate`). */
  tokens: number;
  gate: LeaseGate;
  /** False while nothing can take a delivery (a `listen` target with no client connected). */
  reachable: boolean;
}

/**
 * How many attempts `t` may start now: its concurrency (1 when ordered or
 * probing a half-open circuit) less what is in flight, within its rate
 * tokens and `budget`.
 *
 * @example freeSlots({ ...view, concurrency: 8, inFlight: 3, tokens: Infinity }, 2) // 2
 */
export function freeSlots(t: TargetView, budget = Number.POSITIVE_INFINITY): number {
  if (!t.gate.open || !t.reachable) return 0;
  return Math.max(0, Math.min(concurrencyOf(t) - t.inFlight, t.tokens, budget));
}

/** The target's concurrency as a round applies it: 1 while ordered or probing a half-open circuit. */
export function concurrencyOf(t: TargetView): number {
  return t.ordered || (t.gate.open && t.gate.probeOnly) ? 1 : t.concurrency;
}

/**
 * The wants of one round, in `targets` order starting at `first` (a budget
 * shared by several targets rotates among them from round to round), each
 * taking from `budget` (Infinity: no ingest-first cap).
 *
 * @example planLeases([orders, billing], 10, 0) // [{ target: "orders", slots: 8, … }, { target: "billing", slots: 2, … }]
 */
export function planLeases(targets: readonly TargetView[], budget: number, first = 0): LeaseWant[] {
  const wants: LeaseWant[] = [];
  for (let i = 0; i < targets.length && budget > 0; i++) {
    const t = targets[(first + i) % targets.length]!;
    const slots = freeSlots(t, budget);
    if (slots <= 0) continue;
    budget -= slots;
    wants.push({ target: t.name, slots, concurrency: concurrencyOf(t), ordered: t.ordered, leaseMs: t.leaseMs });
  }
  return wants;
}
