/**
 * How long the listen client waits before reconnecting: exponential in the
 * failures since the last good connection, capped, with "equal jitter" (half
 * fixed, half random) so many laptops behind one restarted relay spread out
 * but none retries at once in a tight loop.
 */

/** Backoff bounds. */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/**
 * Delay before reconnect number `failures` (1 = first retry); `random` in [0, 1).
 *
 * @example reconnectDelayMs(3, 0.5, { baseMs: 500, maxMs: 30_000 }) // 1500: cap(500·2²)=2000, ×0.75
 */
export function reconnectDelayMs(failures: number, random: number, policy: BackoffPolicy): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
  return Math.round(exp / 2 + (exp / 2) * random);
}
