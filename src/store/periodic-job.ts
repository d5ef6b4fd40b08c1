/**
 * A store job run now and then, off the request path (retention, the
 * overview's buckets): first after `firstAfterMs`, then every `everyMs`, one
 * run at a time — runNow() joins the run in progress. stop() ends the
 * timers, tells the run in progress to stop at its next batch and waits for
 * it. Its timers are never the reason the process stays alive.
 */

/** A started periodic job. */
export interface PeriodicJob<T> {
  /** Runs once now, or joins the run in progress. */
  runNow(): Promise<T>;
  stop(): Promise<void>;
}

/** Starts `run` on its schedule; `run` reads `stopping()` between batches and logs its own failures. */
export function startPeriodicJob<T>(run: (stopping: () => boolean) => Promise<T>, timing: { firstAfterMs: number; everyMs: number }): PeriodicJob<T> {
  let stopping = false;
  let running: Promise<T> | null = null;
  const runNow = () => (running ??= run(() => stopping).finally(() => (running = null)));
  // A failure is run's to report; the schedule goes on.
  const scheduled = () => void runNow().catch(() => {});
  const first = setTimeout(scheduled, timing.firstAfterMs);
  const timer = setInterval(scheduled, timing.everyMs);
  first.unref?.();
  timer.unref?.();
  return {
    runNow,
    async stop() {
      stopping = true;
      clearTimeout(first);
      clearInterval(timer);
      await running;
    },
  };
}
