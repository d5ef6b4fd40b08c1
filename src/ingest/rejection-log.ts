/**
 * "rejected" log lines, at most one a second per (source, reason): a flood of
 * bad signatures once wrote 68,941 lines in 5 s. The first rejection is
 * logged at once; the rest of its second are counted and written as one line
 * (`count`, the last message and remote address) when the second ends, and
 * the next second's likewise while the flood lasts. The counts of all lines
 * add up to every rejection. flush() writes what is pending (at stop).
 */
import type { Logger } from "../log/logger.ts";

/** One rejection as logged. */
export interface RejectionLogEntry {
  source: string;
  reason: string;
  message: string;
  remote: string | null;
}

/** Clock and timer, injectable for tests; setTimer returns a cancel function. */
export interface RejectionLogOptions {
  nowMs: () => number;
  setTimer?: (fn: () => void, ms: number) => () => void;
  windowMs?: number;
}

interface Window {
  endMs: number;
  folded: number;
  last: RejectionLogEntry | null;
  cancel: (() => void) | null;
}

// Unref'd: a pending summary must not keep the process alive (stop flushes it).
const realTimer = (fn: () => void, ms: number) => {
  const t = setTimeout(fn, ms);
  t.unref?.();
  return () => clearTimeout(t);
};

/** Aggregates rejection log lines per (source, reason). */
export class RejectionLog {
  // Keyed by source and reason code: both come from config and a fixed set, so the map stays small.
  #windows = new Map<string, Window>();
  readonly #setTimer: (fn: () => void, ms: number) => () => void;
  readonly #windowMs: number;

  constructor(
    private readonly log: Logger,
    private readonly opts: RejectionLogOptions,
  ) {
    this.#setTimer = opts.setTimer ?? realTimer;
    this.#windowMs = opts.windowMs ?? 1000;
  }

  /** Logs a rejection now, or counts it into the line its second will end with. */
  record(entry: RejectionLogEntry): void {
    const key = `${entry.source}\0${entry.reason}`;
    const now = this.opts.nowMs();
    const w = this.#windows.get(key);
    if (w === undefined || (now >= w.endMs && w.cancel === null)) {
      this.log.info("rejected", { ...entry, count: 1 });
      this.#windows.set(key, { endMs: now + this.#windowMs, folded: 0, last: null, cancel: null });
      return;
    }
    w.folded++;
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
    this.log.info("rejected", { ...w.last, count: w.folded });
    // The next second starts now: what arrives in it is folded into its own summary.
    this.#windows.set(key, { endMs: this.opts.nowMs() + this.#windowMs, folded: 0, last: null, cancel: null });
  }
}
