/**
 * What a leasing round asks the store for: per target, how many deliveries
 * this process may start now, and how many more it may lease ahead of a free
 * slot. Pure: it reads a snapshot of each target (its free local slots, rate
 * tokens, health gate, whether something can take a delivery at all) and the
 * ingest-first budget shared by every target, and needs no store, clock or
 * timer. The store then bounds each want again by the target's concurrency
 * across every process (live leases count).
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
  /** How much longer a lease ahead lasts: the longest a delivery leased ahead may wait for a slot. */
  aheadWaitMs: number;
  /** Leases this process holds of it (sending, waiting for a slot, or asked for). */
  inFlight: number;
  /**
   * Deliveries it may lease beyond its concurrency, to start the moment a slot
   * frees instead of after the next round's write (0: none). Used only at full
   * health, without a rate limit or an ingest-first cap, and not when ordered.
   */
  ahead: number;
  /** Whole rate tokens left (Infinity without a `rate`). */
  tokens: number;
  gate: LeaseGate;
  /** False while nothing can take a delivery (a `listen` target with no client connected). */
  reachable: boolean;
}

/**
 * How many attempts `t` may start now: its concurrency (1 when ordered or
 * probing a half-open circuit) less the leases held, within its rate tokens
 * and `budget`; a lease `ahead` raises the concurrency for a round's want.
 *
 * @example freeSlots({ ...view, concurrency: 8, inFlight: 3, tokens: Infinity }, 2) // 2
 */
export function freeSlots(t: TargetView, budget = Number.POSITIVE_INFINITY, ahead = 0): number {
  if (!t.gate.open || !t.reachable) return 0;
  return Math.max(0, Math.min(concurrencyOf(t, t.gate) + ahead - t.inFlight, t.tokens, budget));
}

/** What bounds a target's attempts at once, besides its health gate: its concurrency and whether it is ordered. */
export type SlotRules = Pick<TargetView, "concurrency" | "ordered">;

/** The target's concurrency as a round applies it: 1 while ordered or probing a half-open circuit. */
export function concurrencyOf(t: SlotRules, gate: LeaseGate): number {
  return t.ordered || (gate.open && gate.probeOnly) ? 1 : t.concurrency;
}

/** Attempts a target may have sending at once in this process: none past a closed gate, else its concurrency as a round applies it. */
export function sendingLimit(t: SlotRules, gate: LeaseGate): number {
  return gate.open ? concurrencyOf(t, gate) : 0;
}

/** The gate of a target at full health. */
export const FULL_HEALTH: LeaseGate = { open: true, probeOnly: false };

/**
 * The wants of one round, in `targets` order starting at `first` (a budget
 * shared by several targets rotates among them from round to round), each
 * taking from `budget` (Infinity: no ingest-first cap).
 *
 * @example planLeases([orders, billing], 10, 0) // [{ target: "orders", slots: 8, … }, { target: "billing", slots: 2, … }]
 */
export function planLeases(targets: readonly TargetView[], budget: number, first = 0): LeaseWant[] {
  const wants: LeaseWant[] = [];
  const capped = budget !== Number.POSITIVE_INFINITY;
  for (let i = 0; i < targets.length && budget > 0; i++) {
    const t = targets[(first + i) % targets.length]!;
    const ahead = capped ? 0 : aheadOf(t);
    const slots = freeSlots(t, budget, ahead);
    if (slots <= 0) continue;
    budget -= slots;
    const leaseMs = ahead > 0 ? t.leaseMs + t.aheadWaitMs : t.leaseMs;
    wants.push({ target: t.name, slots, concurrency: concurrencyOf(t, t.gate), ordered: t.ordered, leaseMs, ahead });
  }
  return wants;
}

/** The lease ahead `t` may use now: none unless it is at full health, unlimited in rate and not ordered. */
export function aheadOf(t: TargetView): number {
  const fullHealth = t.gate.open && !t.gate.probeOnly && t.reachable;
  return fullHealth && !t.ordered && t.tokens === Number.POSITIVE_INFINITY ? t.ahead : 0;
}
