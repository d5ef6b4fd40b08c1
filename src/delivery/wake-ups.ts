/**
 * The times the delivery engine asked to run a round of its own accord,
 * besides its poll: a retry falling due, rate tokens coming back, the
 * ingest-first budget easing. One timer serves them all, set for the
 * earliest; when it fires, every time passed by then is done with and the
 * timer moves on to the next. Bounded: with `max` times waiting, the latest
 * is let go, and the poll finds what it was for (at most a poll period
 * late, as before there were wake-ups).
 */
export class WakeUps {
  /** Ascending, distinct whole milliseconds of performance.now(). */
  #times: number[] = [];
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly wake: () => void,
    private readonly max = 1024,
  ) {}

  /** Asks for a wake-up `ms` from now. */
  in(ms: number): void {
    const at = Math.ceil(performance.now() + Math.max(0, ms));
    const times = this.#times;
    const i = firstNotBefore(times, at);
    if (times[i] === at) return;
    if (times.length >= this.max) {
      if (i === times.length) return;
      times.pop();
    }
    times.splice(i, 0, at);
    if (i === 0) this.#arm();
  }

  /** How many times are waiting (tests). */
  get waiting(): number {
    return this.#times.length;
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#times = [];
  }

  #arm(): void {
    if (this.#timer) clearTimeout(this.#timer);
    const first = this.#times[0];
    this.#timer = first === undefined ? null : setTimeout(() => this.#fire(), Math.max(0, first - performance.now()));
  }

  #fire(): void {
    this.#timer = null;
    // A timer may fire a fraction of a millisecond before its whole millisecond.
    const passed = firstNotBefore(this.#times, performance.now() + 1);
    this.#times.splice(0, Math.max(1, passed));
    this.#arm();
    this.wake();
  }
}

/** The index of the first time ≥ `at` in an ascending list (its length when none is). */
function firstNotBefore(times: readonly number[], at: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! < at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
