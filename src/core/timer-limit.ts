/**
 * The longest wait the runtime's timers keep (2^31 − 1 ms, 24.8 days): a
 * longer one fires at once, and a 30-day target timeout failed every attempt
 * in 2 ms, after the target had taken the request. Config refuses a longer
 * deadline; the retry schedule waits a longer one out in steps.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;
