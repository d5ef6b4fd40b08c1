import { REJECTIONS_KEPT_PER_SECOND } from "../core/types.ts";

/**
 * Caps how many rejected requests per source are kept as rows: a flood of
 * bad signatures is counted in full but stored only a few per second.
 */
export class RejectionLimiter {
  #windows = new Map<string, { startMs: number; kept: number }>();
  constructor(private readonly perSecond = REJECTIONS_KEPT_PER_SECOND) {}

  /** True when this rejection should be stored, false when only counted. */
  shouldKeep(source: string, nowMs: number): boolean {
    let w = this.#windows.get(source);
    if (!w || nowMs - w.startMs >= 1000) {
      w = { startMs: nowMs, kept: 0 };
      this.#windows.set(source, w);
    }
    if (w.kept >= this.perSecond) return false;
    w.kept++;
    return true;
  }
}
