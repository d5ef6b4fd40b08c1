import { MAX_TIMER_MS } from "../core/timer-limit.ts";

/**
 * The times the delivery engine asked to run a round of its own accord,
 * besides its poll. Two kinds: a retry falling due needs a round at its own
 * time (`at`), however many others are waiting, and names its target, which
 * the round then asks the store for (due-hints.ts); rate tokens coming back
 * or the ingest-first budget easing need only some round by then (`within`),
 * which a wake-up already waiting at or before that time gives — each round
 * asks again, and so would otherwise start a chain of wake-ups of its own.
 * One timer serves them all, set for the earliest; when it fires, every time
 * passed by then is done with, their targets handed over together, and the
 * timer moves on to the next. Bounded: with `max` times waiting, the latest
 * is let go, and the poll finds what it was for (at most a poll period
 * late, as before there were wake-ups).
 */
export class WakeUps {
  /** Ascending, distinct whole milliseconds of the clock (performance.now()). */
  #times: number[] = [];
  /** The targets whose retries fall due at a waiting time (none for a time only `within` asked for). */
  #targets = new Map<number, string[]>();
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    /** Called with the targets of every time passed (none when only `within` times passed). */
    private readonly wake: (due: readonly string[]) => void,
    private readonly max = 1024,
    /** Monotonic ms; a test holds it still to ask for the same millisecond twice. */
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Asks for a round `ms` from now, whatever else is waiting: a retry of `target` falls due then. */
  at(ms: number, target?: string): void {
    this.#add(Math.ceil(this.now() + Math.max(0, ms)), target);
  }

  /** Asks for some round within `ms` from now: nothing to add when one is due by then. */
  within(ms: number): void {
    const at = Math.ceil(this.now() + Math.max(0, ms));
    if (this.#times[0] === undefined || this.#times[0] > at) this.#add(at);
  }

  #add(at: number, target?: string): void {
    const times = this.#times;
    const i = firstNotBefore(times, at);
    if (times[i] !== at) {
      if (times.length >= this.max) {
        if (i === times.length) return;
        this.#targets.delete(times.pop()!);
      }
      times.splice(i, 0, at);
      if (i === 0) this.#arm();
    }
    if (target === undefined) return;
    const due = this.#targets.get(at);
    if (!due) this.#targets.set(at, [target]);
    else if (!due.includes(target)) due.push(target);
  }

  /** How many times are waiting (tests). */
  get waiting(): number {
    return this.#times.length;
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#times = [];
    this.#targets.clear();
  }

  #arm(): void {
    if (this.#timer) clearTimeout(this.#timer);
    const first = this.#times[0];
    // A wait past what a timer keeps (a retry scheduled weeks ahead) is waited in steps: a longer one would fire at once.
    this.#timer = first === undefined ? null : setTimeout(() => this.#fire(), Math.min(MAX_TIMER_MS, Math.max(0, first - this.now())));
  }

  #fire(): void {
    this.#timer = null;
    // A timer may fire a fraction of a millisecond before its whole millisecond.
    const passed = this.#times.splice(0, firstNotBefore(this.#times, this.now() + 1));
    const due = new Set<string>();
    for (const at of passed) {
      for (const target of this.#targets.get(at) ?? []) due.add(target);
      this.#targets.delete(at);
    }
    this.#arm();
    if (passed.length > 0) this.wake([...due]);
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
