/**
 * Per-target `rate` ("50/s") as a token bucket on the injected clock. It is
 * per process: several processes on one store each apply the full rate.
 */
export class RateLimiter {
  #buckets = new Map<string, { tokens: number; atMs: number }>();

  /** Whole attempts `target` may start now (Infinity when it has no rate). */
  available(target: string, ratePerSec: number | null, nowMs: number): number {
    if (ratePerSec === null || ratePerSec <= 0) return Number.POSITIVE_INFINITY;
    // A tenth of a second's worth banked at most: in any second a target gets its rate and that
    // little more (a bucket of a whole second's let twice the rate through one second after a pause),
    // and the engine still needs no more than ~10 rounds a second to keep it.
    const capacity = Math.max(1, ratePerSec / 10);
    let b = this.#buckets.get(target);
    if (!b) this.#buckets.set(target, (b = { tokens: capacity, atMs: nowMs }));
    b.tokens = Math.min(capacity, b.tokens + (Math.max(0, nowMs - b.atMs) * ratePerSec) / 1000);
    b.atMs = nowMs;
    return Math.floor(b.tokens);
  }

  /** Spends `n` tokens of `target` (no-op without a rate). */
  take(target: string, nowMs: number, n = 1): void {
    const b = this.#buckets.get(target);
    if (b && b.atMs <= nowMs) b.tokens -= n;
  }

  /** How long until `target` has a whole token again (0 when it has one, or no rate). */
  msUntilToken(target: string, ratePerSec: number | null, nowMs: number): number {
    const b = this.#buckets.get(target);
    if (ratePerSec === null || ratePerSec <= 0 || !b) return 0;
    const tokens = b.tokens + (Math.max(0, nowMs - b.atMs) * ratePerSec) / 1000;
    return tokens >= 1 ? 0 : ((1 - tokens) * 1000) / ratePerSec;
  }

  /** Gives back `n` tokens taken for attempts that did not start (a lease that found less than it asked for). */
  refund(target: string, n: number): void {
    const b = this.#buckets.get(target);
    if (b) b.tokens += n;
  }
}
