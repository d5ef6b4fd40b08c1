/**
 * The delivery engine as `serve` runs it: the scheduler over the configured
 * targets with the wall clock, real randomness and each source's forward
 * headers (config, else its preset's default). app.ts / start-relay wire it:
 *
 *   const delivery = createDeliveryEngine({ config, store, log });
 *   createApp({ config, store, log, delivery });
 */
import type { Config } from "../config/types.ts";
import { presetDefaults } from "../core/verify/index.ts";
import type { Logger } from "../log/logger.ts";
import type { Store } from "../store/index.ts";
import { createScheduler, type AttemptReport, type Scheduler } from "./scheduler.ts";

/** Builds the production scheduler for `config`; call `start()` once the listeners are up. */
export function createDeliveryEngine(opts: {
  config: Config;
  store: Store;
  log: Logger;
  onAttempt?: (report: AttemptReport) => void;
  /** Lease margin over a target's timeouts; shorter means a crashed process's work is retried sooner. */
  leaseMs?: number;
  pollMs?: number;
}): Scheduler {
  const forward = new Map(
    opts.config.sources.map((s) => [
      s.name,
      s.forwardHeaders ?? (s.verify.kind === "preset" ? presetDefaults(s.verify.preset).forwardHeaders : []),
    ]),
  );
  return createScheduler({
    store: opts.store,
    targets: opts.config.targets,
    clock: Date.now,
    random: Math.random,
    log: opts.log,
    leaseMs: opts.leaseMs,
    pollMs: opts.pollMs,
    onAttempt: opts.onAttempt,
    forwardHeadersFor: (source) => forward.get(source) ?? [],
    ingestFirst: { backlog: () => opts.store.writer.ackBacklog() },
  });
}
