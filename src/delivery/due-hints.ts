/**
 * Which targets a round asks the store to lease for. Every target costs a
 * round its arm of the lease statement (a count of live leases, a look for
 * due work), even when nothing of it is due: with 200 targets, a relay
 * delivering one event at a time spent 3.7 times the CPU of one with a
 * single target. A round asks for the targets this process knows may have
 * due work, and every target now and then (the poll, a reload, an operator's
 * action: what other processes and tools store is known only from the store).
 *
 * A target may have due work when: ingest stored a delivery of it pending
 * (no slot to claim); a retry of it falls due (its wake-up fires: the round
 * that recorded the failure asked for one at its time, wake-ups.ts); a lease
 * for it was filled (there may be more). It has none once a lease for it
 * comes back short of what was asked.
 */
export class DueHints {
  /** Targets that may have due work now. */
  #now = new Set<string>();
  /** When each target was last said to have due work (a count of such sayings): see leased(). */
  #marked = new Map<string, number>();
  #stamp = 0;
  #everyTarget = true;

  /** `target` may have due work now. */
  now(target: string): void {
    this.#now.add(target);
    this.#marked.set(target, ++this.#stamp);
  }

  /** The moment, as leased() takes it: read when a round is planned. */
  get stamp(): number {
    return this.#stamp;
  }

  /** The next round asks for every target (the poll, a reload, work stored elsewhere). */
  everyTarget(): void {
    this.#everyTarget = true;
  }

  /** The targets a round asks for: every one, or those that may have due work. */
  take(): "every" | ReadonlySet<string> {
    if (!this.#everyTarget) return this.#now;
    this.#everyTarget = false;
    return "every";
  }

  /**
   * What a lease for `target` brought back, the round planned at `stamp`:
   * short of what was asked, nothing more of it is due now — unless it was
   * said to have some since (ingest stored a pending delivery while the
   * round was being written: that one the lease did not see).
   */
  leased(target: string, asked: number, got: number, stamp: number): void {
    if (got >= asked) this.#now.add(target);
    else if ((this.#marked.get(target) ?? 0) <= stamp) {
      this.#now.delete(target);
      this.#marked.delete(target);
    }
  }
}
