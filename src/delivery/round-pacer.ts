/**
 * When the delivery engine's rounds run (scheduler.ts says what a round is).
 *
 * One round at a time; outcomes that finish meanwhile wait for the next, so
 * a commit carries many. While ingest runs, two: a round's write then waits
 * behind an ingest commit before sharing the next, and an outcome waited for
 * all of that before its own round began, so leases lived in the store long
 * enough to use up a busy target's concurrency (fresh events then went the
 * slower way, pending and leased back); a second round overlaps that wait.
 * With the writer to themselves (a backlog, retries) rounds already follow at
 * its pace, and a second one only halves each commit's batch, which costs the
 * writer more per delivery. Ingest shows itself by claiming (every routed
 * fresh event asks, granted or not): `ingestSeen`.
 *
 * A round asked for while as many as allowed are being written starts when
 * one of them ends: its write leaves for the writer before the ended round is
 * settled, so that it is written while that round's attempts go on and its
 * leases are sent.
 */
export interface RoundSteps<W> {
  /** Writes one round (`full`: ask every target); null when there was nothing to write. */
  write(full: boolean): Promise<W | null>;
  /** What follows a written round: its outcomes go on, its leased start. */
  settle(written: W): void;
  /** A round's write failed (it is not settled; the next round asks again). */
  failed(err: unknown): void;
}

export class RoundPacer<W> {
  #running = 0;
  #wanted = false;
  #wantedFull = false;
  #scheduled = false;
  #ingestSeenAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly steps: RoundSteps<W>,
    private readonly clock: () => number,
  ) {}

  /** Ingest is running (a fresh event asked for a slot) at `now`: two rounds may be in flight for a while. */
  ingestSeen(now: number): void {
    this.#ingestSeenAt = now;
  }

  /** Rounds being written now. */
  get running(): number {
    return this.#running;
  }

  /** Asks for a round (`full`: one that asks every target), started in the next turn unless as many as allowed are being written. */
  request(full = false): void {
    this.#wanted = true;
    this.#wantedFull ||= full;
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#start());
  }

  /** Runs one full round alone, after those in flight (tests, and stop()'s last outcomes); resolves with what it wrote. */
  async tick(): Promise<W | null> {
    while (this.#running > 0) await new Promise((r) => setImmediate(r));
    this.#running++;
    let written: W | null = null;
    try {
      written = await this.steps.write(true);
      return written;
    } finally {
      this.#running--;
      this.#start();
      if (written) this.steps.settle(written);
    }
  }

  #inFlightAllowed(): number {
    return this.clock() - this.#ingestSeenAt < INGEST_RECENT_MS ? 2 : 1;
  }

  #start(): void {
    this.#scheduled = false;
    if (!this.#wanted || this.#running >= this.#inFlightAllowed()) return; // a round ending starts the next
    const full = this.#wantedFull;
    this.#wanted = this.#wantedFull = false;
    this.#running++;
    void this.steps
      .write(full)
      .catch((err) => {
        this.steps.failed(err);
        return null;
      })
      .then((written) => {
        this.#running--;
        // The next round (the outcomes that finished while this one was written) leaves first.
        this.#start();
        if (written) this.steps.settle(written);
      });
  }
}

/** How recent an ingest claim must be for ingest to count as running (two rounds in flight). */
const INGEST_RECENT_MS = 1_000;
