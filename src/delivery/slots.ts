/**
 * The scheduler's book of the leases this process holds, per target:
 *
 *   held:    every lease it holds or has asked a round for — what a round
 *            counts against the target's concurrency (and its lease ahead);
 *   sending: attempts whose target has not answered yet, within the
 *            target's concurrency;
 *   waiting: deliveries leased ahead, each waiting for a slot to free.
 *
 * A slot is freed as soon as its target answered, before the outcome is
 * written: a delivery waiting for it starts at once, and the round writing
 * the outcome may lease the next. Each running attempt is kept with its
 * lease, so that stop() can wait for them and hand back what never finished.
 */
import type { LeasedDelivery } from "../store/deliveries.ts";

interface Waiting {
  delivery: LeasedDelivery;
  /** performance.now() when it joined the line. */
  since: number;
}

interface Running {
  leaseId: string;
  target: string;
  slotHeld: boolean;
  /** False for a delivery handed back unsent: it holds its lease, never a sending slot. */
  sends: boolean;
  done: Promise<void>;
}

/** Leases held, attempts sending and deliveries waiting, per target. */
export class Slots {
  #held = new Map<string, number>();
  #total = 0;
  #sending = new Map<string, number>();
  #sendingTotal = 0;
  #waiting = new Map<string, Waiting[]>();
  #running = new Map<string, Running>();

  /** Leases of `target` held or asked for: sending, waiting, or on their way in a round. */
  of(target: string): number {
    return this.#held.get(target) ?? 0;
  }

  /** Leases held or asked for, all targets. */
  total(): number {
    return this.#total;
  }

  /** Attempts of `target` whose target has not answered yet. */
  sending(target: string): number {
    return this.#sending.get(target) ?? 0;
  }

  /** Attempts whose target has not answered yet, all targets. */
  sendingTotal(): number {
    return this.#sendingTotal;
  }

  /** Takes `n` slots of `target`: a claim, or a lease request on its way (its unfilled slots are released). */
  take(target: string, n = 1): void {
    this.#held.set(target, this.of(target) + n);
    this.#total += n;
  }

  /** Gives back `n` slots taken for attempts that never started (an unused claim, a lease that found less). */
  release(target: string, n = 1): void {
    this.#held.set(target, this.of(target) - n);
    this.#total -= n;
  }

  /**
   * The attempt of `d`, sending in the slot taken for it, then running until
   * `done` settles; `sends` false for one that hands `d` back unsent (it is
   * recorded like an attempt, but takes no sending slot).
   */
  track(d: LeasedDelivery, done: Promise<void>, sends = true): void {
    const key = runKey(d);
    const entry: Running = { leaseId: d.leaseId, target: d.target, slotHeld: true, sends, done };
    this.#running.set(key, entry);
    if (sends) {
      this.#sending.set(d.target, this.sending(d.target) + 1);
      this.#sendingTotal++;
    }
    void done.finally(() => {
      this.free(d);
      this.#running.delete(key);
    });
  }

  /** The attempt of `d` (under this lease) no longer needs its slot (its target answered); true the first time only. */
  free(d: LeasedDelivery): boolean {
    const r = this.#running.get(runKey(d));
    if (!r?.slotHeld) return false;
    r.slotHeld = false;
    if (r.sends) {
      this.#sending.set(r.target, this.sending(r.target) - 1);
      this.#sendingTotal--;
    }
    this.release(r.target);
    return true;
  }

  /** A delivery leased ahead waits (in lease order) for a slot of its target; its lease stays held. */
  wait(d: LeasedDelivery): void {
    const entry = { delivery: d, since: performance.now() };
    const line = this.#waiting.get(d.target);
    if (line) line.push(entry);
    else this.#waiting.set(d.target, [entry]);
  }

  /** Deliveries waiting for a slot of `target`. */
  waiting(target: string): number {
    return this.#waiting.get(target)?.length ?? 0;
  }

  /** The next delivery waiting for a slot of `target`, taken off the line, with how long it waited (ms). */
  nextWaiting(target: string): { delivery: LeasedDelivery; waitedMs: number } | undefined {
    const next = this.#waiting.get(target)?.shift();
    return next && { delivery: next.delivery, waitedMs: performance.now() - next.since };
  }

  /** Every delivery waiting for a slot of `target`, taken off the line. */
  allWaiting(target: string): LeasedDelivery[] {
    const line = this.#waiting.get(target) ?? [];
    this.#waiting.delete(target);
    return line.map((w) => w.delivery);
  }

  /** Attempts running, whether or not they still hold their slot (an outcome being recorded). */
  running(): number {
    return this.#running.size;
  }

  /** Resolves when any running attempt ends. */
  any(): Promise<void> {
    return Promise.race([...this.#running.values()].map((r) => r.done.catch(() => {})));
  }

  /** Waits until every running attempt ended, or `deadline` (performance.now() ms) passed. */
  async settled(deadline: number): Promise<void> {
    while (this.#running.size > 0) {
      const left = deadline - performance.now();
      if (left <= 0) return;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([this.any(), new Promise((r) => (timer = setTimeout(r, left)))]);
      clearTimeout(timer);
    }
  }

  /** Leases of the attempts still running and of the deliveries still waiting (to hand back at shutdown). */
  leaseIds(): string[] {
    const waiting = [...this.#waiting.values()].flat().map((w) => w.delivery);
    return [...new Set([...this.#running.values(), ...waiting].map((r) => r.leaseId))];
  }
}

/**
 * A running attempt is one delivery under one lease: the same delivery may
 * run twice at once here, the tail of an attempt that handed it back (its
 * outcome being settled) and its next attempt under a new lease.
 */
const runKey = (d: LeasedDelivery) => `${d.leaseId} ${d.id}`;
