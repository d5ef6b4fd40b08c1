/**
 * How long ingest requests wait for their commit: what ingest first reads
 * (delivery/ingest-first.ts) to tell providers queueing from providers being
 * served. A time, not a count: the number of requests waiting grows with the
 * rate at the same wait (Little's law), so a count that marks a queue at one
 * rate is ordinary traffic at a higher one.
 */
export class CommitWait {
  #sum = 0;
  #settled = 0;
  #next = 0;
  /** Start times of the requests still waiting, oldest first (a Map keeps insertion order). */
  #waiting = new Map<number, number>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** A request starts waiting; the token is for `settled`. */
  started(): number {
    const token = ++this.#next;
    this.#waiting.set(token, this.now());
    return token;
  }

  /** The request of `token` got its answer (stored, duplicate or error). */
  settled(token: number): void {
    const at = this.#waiting.get(token);
    if (at === undefined) return;
    this.#waiting.delete(token);
    this.#sum += this.now() - at;
    this.#settled++;
  }

  /**
   * The mean wait (ms) of the requests settled since the previous call, or
   * the age of the oldest one still waiting when that is longer: a commit
   * that hangs settles nothing, and must not read as no wait at all.
   */
  take(): number {
    const mean = this.#settled === 0 ? 0 : this.#sum / this.#settled;
    this.#sum = this.#settled = 0;
    const oldest = this.#waiting.values().next().value;
    return oldest === undefined ? mean : Math.max(mean, this.now() - oldest);
  }
}
