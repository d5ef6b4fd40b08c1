/**
 * What the delivery loop checks now and then rather than on every round:
 * the clock stepping back, target state changed by other processes or the
 * API, deliveries inserted `pending` for a target another process had just
 * disabled, and leases that ran out on the database clock (a crashed
 * process's attempts). Wake-ups after an ingest commit skip it, which keeps
 * provider → target latency to one round; poll ticks always run it.
 *
 * Clock steps: due times are absolute on the injected clock. When a check
 * reads the clock more than a second behind the previous reading, the clock
 * stepped back: due times written before the step are moved back by it
 * (store/clock-step.ts), so no retry waits longer than its scheduled delay.
 * The same is done at start without knowing the step's size (a step while
 * nothing ran): each such retry is then due at most its delay from now.
 */
import type { Logger } from "../log/logger.ts";
import { CLOCK_STEP_TOLERANCE_MS, rebaseAfterClockStep } from "../store/clock-step.ts";
import { RECLAIM_BATCH, reclaimExpiredLeases } from "../store/deliveries.ts";
import type { SqlDoors } from "../store/sql-client.ts";
import type { TargetHealth } from "./target-health.ts";

/** The loop's periodic checks; `run` is cheap to call on every round. */
export class Housekeeping {
  #lastClockMs = -Infinity;
  #lastRunAt = -Infinity;
  #started = false;

  constructor(
    private readonly db: SqlDoors,
    private readonly health: TargetHealth,
    private readonly clock: () => number,
    private readonly everyMs: number,
    private readonly log: Logger,
  ) {}

  /** At start: config enablement, then due times written before a clock step made while nothing ran. */
  async start(): Promise<void> {
    if (this.#started) return;
    const now = this.clock();
    this.#lastClockMs = now;
    await this.#undoClockStep(now, 0);
    await this.health.applyConfig(now);
    this.#started = true;
  }

  #running: Promise<void> | null = null;

  /** True when `run(force)` would do anything now: a round that gets false need not wait for it. */
  due(force: boolean): boolean {
    if (force || !this.#started || this.#running !== null) return true;
    return this.#stepBackMs(this.clock()) > CLOCK_STEP_TOLERANCE_MS || this.#periodPassed();
  }

  // How far the clock went back since the previous reading (negative: forward, as usual).
  #stepBackMs = (now: number) => this.#lastClockMs - now;
  #periodPassed = () => performance.now() - this.#lastRunAt >= this.everyMs;

  /**
   * Runs the checks when `force`d, when the clock stepped back, or once
   * `everyMs` has passed since the last run. Two rounds may ask at once: the
   * second waits for the run in progress instead of starting its own.
   */
  async run(force: boolean): Promise<void> {
    if (this.#running) return this.#running;
    this.#running = this.#run(force).finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #run(force: boolean): Promise<void> {
    await this.start();
    const now = this.clock();
    const stepBackMs = this.#stepBackMs(now);
    this.#lastClockMs = now;
    if (stepBackMs > CLOCK_STEP_TOLERANCE_MS) {
      await this.#undoClockStep(now, stepBackMs);
      force = true; // circuits may have moved: re-read the target state
    }
    if (!force && !this.#periodPassed()) return;
    this.#lastRunAt = performance.now();
    await this.health.refresh();
    await this.health.settleStragglers(now);
    // A dead process may leave several batches (its attempts and what it leased ahead, per target):
    // all of them now, within a bound, rather than one batch per poll period.
    let reclaimed = 0;
    for (let batch = 0; batch < MAX_RECLAIM_BATCHES; batch++) {
      const n = await reclaimExpiredLeases(this.db, now);
      reclaimed += n;
      if (n < RECLAIM_BATCH) break;
    }
    if (reclaimed > 0) this.log.warn("reclaimed deliveries whose lease expired", { reclaimed });
  }

  async #undoClockStep(now: number, stepMs: number): Promise<void> {
    const moved = await rebaseAfterClockStep(this.db.writer, { nowMs: now, stepMs });
    if (moved.deliveries + moved.circuits > 0) this.log.warn("the clock stepped back: due times moved back with it", { stepMs, ...moved });
  }
}

/** Reclaim writes one housekeeping run may make (RECLAIM_BATCH each): a crash's leases at once, a flood of them over several runs. */
const MAX_RECLAIM_BATCHES = 20;
