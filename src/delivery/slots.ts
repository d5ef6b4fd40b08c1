/**
 * The scheduler's book of attempts in flight: how many per target (the
 * slots a round may not lease again), and each running attempt with its
 * lease, so that stop() can wait for them and hand back what never finished.
 * A slot is taken when a delivery is leased or claimed and freed as soon as
 * its target answered, before the outcome is written, so that the round
 * writing the outcome can already lease the next delivery into it.
 */
import type { LeasedDelivery } from "../store/deliveries.ts";

interface Running {
  leaseId: string;
  target: string;
  slotHeld: boolean;
  done: Promise<void>;
}

/** Slots per target and the attempts running in them. */
export class Slots {
  #perTarget = new Map<string, number>();
  #total = 0;
  #running = new Map<string, Running>();

  /** Attempts holding a slot of `target`. */
  of(target: string): number {
    return this.#perTarget.get(target) ?? 0;
  }

  /** Attempts holding a slot, all targets. */
  total(): number {
    return this.#total;
  }

  /** Takes `n` slots of `target`: a claim, or a lease request on its way (its unfilled slots are released). */
  take(target: string, n = 1): void {
    this.#perTarget.set(target, this.of(target) + n);
    this.#total += n;
  }

  /** Gives back `n` slots taken for attempts that never started (an unused claim, a lease that found less). */
  release(target: string, n = 1): void {
    this.#perTarget.set(target, this.of(target) - n);
    this.#total -= n;
  }

  /** The attempt of `d`, running in the slot taken for it, until `done` settles. */
  track(d: LeasedDelivery, done: Promise<void>): void {
    const entry: Running = { leaseId: d.leaseId, target: d.target, slotHeld: true, done };
    this.#running.set(d.id, entry);
    void done.finally(() => {
      this.free(d.id);
      this.#running.delete(d.id);
    });
  }

  /** The attempt of delivery `id` no longer needs its slot (its target answered); once only. */
  free(id: string): void {
    const r = this.#running.get(id);
    if (!r?.slotHeld) return;
    r.slotHeld = false;
    this.release(r.target);
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

  /** Leases of the attempts still running (to hand back at shutdown). */
  leaseIds(): string[] {
    return [...new Set([...this.#running.values()].map((r) => r.leaseId))];
  }
}
