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
 * (no slot to claim); a retry of it falls due (its time, as the round that
 * recorded the failure wrote it); a lease for it was filled (there may be
 * more). It has none once a lease for it comes back short of what was asked.
 */
/** Retries remembered at most (a flaky target on a long schedule records one per delivery). */
const MAX_LATER = 10_000;

export class DueHints {
  /** Targets that may have due work now. */
  #now = new Set<string>();
  /** When each target was last said to have due work (a count of such sayings): see leased(). */
  #marked = new Map<string, number>();
  #stamp = 0;
  /** Retries falling due later: a binary min-heap by time. */
  #later: { at: number; target: string }[] = [];
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

  /** A delivery of `target` falls due at `atMs` (the round's clock). */
  later(target: string, atMs: number): void {
    const heap = this.#later;
    // Bounded: past it a retry is found by the poll instead, at most a poll period late.
    if (heap.length >= MAX_LATER) return;
    heap.push({ at: atMs, target });
    for (let i = heap.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.at <= heap[i]!.at) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
  }

  /** The next round asks for every target (the poll, a reload, work stored elsewhere). */
  everyTarget(): void {
    this.#everyTarget = true;
  }

  /** The targets a round planned at `nowMs` asks for: every one, or those that may have due work. */
  take(nowMs: number): "every" | ReadonlySet<string> {
    while (this.#later.length > 0 && this.#later[0]!.at <= nowMs) this.now(this.#popEarliest().target);
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

  #popEarliest(): { at: number; target: string } {
    const heap = this.#later;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length === 0) return top;
    heap[0] = last;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let least = i;
      if (l < heap.length && heap[l]!.at < heap[least]!.at) least = l;
      if (r < heap.length && heap[r]!.at < heap[least]!.at) least = r;
      if (least === i) return top;
      [heap[least], heap[i]] = [heap[i]!, heap[least]!];
      i = least;
    }
  }
}
