/**
 * The tests' one way to wait for something a relay, a target or a store does
 * in its own time: poll, bounded, and fail saying what never happened.
 */

/**
 * Polls `check` until it returns a truthy value. A check that throws (a port
 * not listening yet, a row not written yet) is tried again; past `timeoutMs`
 * the wait fails naming `what` and the last error.
 */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 20_000, everyMs = 25): Promise<NonNullable<T>> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await Bun.sleep(everyMs);
  }
}
