/**
 * A log line that a flood would repeat, at most once a second per key: a
 * flood of bad signatures once wrote 68,941 "rejected" lines in 5 s, and a
 * full disk one "store write failed" per refused request. The first of a
 * key is logged at once; the rest of its second are counted and written as
 * one line (`count`, the last one's fields, `firstAt` and `lastAt`: when
 * the first and the last it stands for happened) when the second ends, and the
 * next second's likewise while the flood lasts. The counts of all lines add
 * up to every occurrence. flush() writes what is pending (at stop).
 */
import type { Logger } from "./logger.ts";

/** The line: its level and message, and which of its fields tell floods apart. */
export interface FoldedLine<F> {
  level: "info" | "warn" | "error";
  msg: string;
  key: (fields: F) => string;
}

/** Clock and timer, injectable for tests; setTimer returns a cancel function. */
export interface FoldedLogOptions {
  nowMs: () => number;
  setTimer?: (fn: () => void, ms: number) => () => void;
  windowMs?: number;
}

interface Window<F> {
  endMs: number;
  folded: number;
  firstAt: number;
  lastAt: number;
  last: F | null;
  cancel: (() => void) | null;
}

// Unref'd: a pending summary must not keep the process alive (stop flushes it).
const realTimer = (fn: () => void, ms: number) => {
  const t = setTimeout(fn, ms);
  t.unref?.();
  return () => clearTimeout(t);
};

/** One line's occurrences, folded per key. */
export class FoldedLog<F extends Record<string, unknown>> {
  // Keys come from config and fixed sets (a source and a reason or error code), so the map stays small.
  #windows = new Map<string, Window<F>>();
  readonly #setTimer: (fn: () => void, ms: number) => () => void;
  readonly #windowMs: number;

  constructor(
    private readonly log: Logger,
    private readonly line: FoldedLine<F>,
    private readonly opts: FoldedLogOptions,
  ) {
    this.#setTimer = opts.setTimer ?? realTimer;
    this.#windowMs = opts.windowMs ?? 1000;
  }

  /** Logs it now, or counts it into the line its second will end with. */
  record(entry: F): void {
    const key = this.line.key(entry);
    const now = this.opts.nowMs();
    const w = this.#windows.get(key);
    if (w === undefined || (now >= w.endMs && w.cancel === null)) {
      this.log[this.line.level](this.line.msg, { ...entry, count: 1 });
      this.#windows.set(key, { endMs: now + this.#windowMs, folded: 0, firstAt: 0, lastAt: 0, last: null, cancel: null });
      return;
    }
    if (w.folded++ === 0) w.firstAt = now;
    w.lastAt = now;
    w.last = entry;
    if (w.cancel === null) {
      const delay = Math.min(Math.max(w.endMs - now, 0), this.#windowMs);
      w.cancel = this.#setTimer(() => this.#summarise(key), delay);
    }
  }

  /** Writes every pending summary now and cancels its timer. */
  flush(): void {
    for (const [key, w] of this.#windows) {
      if (w.cancel === null) continue;
      w.cancel();
      this.#summarise(key);
    }
  }

  #summarise(key: string): void {
    const w = this.#windows.get(key);
    if (!w || w.last === null) return;
    // The line is written when its window ends, a minute after the first it stands for in the longer ones.
    const at = (ms: number) => new Date(ms).toISOString();
    this.log[this.line.level](this.line.msg, { ...w.last, count: w.folded, firstAt: at(w.firstAt), lastAt: at(w.lastAt) });
    // The next second starts now: what arrives in it is folded into its own summary.
    this.#windows.set(key, { endMs: this.opts.nowMs() + this.#windowMs, folded: 0, firstAt: 0, lastAt: 0, last: null, cancel: null });
  }
}
