/**
 * The delivery engine as `serve` runs it: the scheduler over the configured
 * targets with the wall clock, real randomness and each source's forward
 * headers, and the hub of connected `hookrelay listen` clients that carries
 * the listen targets' attempts.
 * app.ts / start-relay wire it:
 *
 *   const delivery = createDeliveryEngine({ config, store, log });
 *   createApp({ config, store, log, delivery });
 */
import type { Config } from "../config/types.ts";
import type { Logger } from "../log/logger.ts";
import type { Store } from "../store/index.ts";
import type { IngestFirstOptions } from "./ingest-first.ts";
import { retryTargetNow } from "../store/retry-delivery.ts";
import { createListenHub, type ListenHub } from "./listen-hub.ts";
import { createScheduler, type AttemptReport, type Scheduler } from "./scheduler.ts";

/** The scheduler and the listen hub it sends listen targets' attempts through. */
export type DeliveryEngine = Scheduler & {
  listen: ListenHub;
  /** A reloaded config's targets and forward headers, taken by this same engine (see Scheduler.setTargets). */
  reconfigure(config: Config): void;
};

/** Builds the production engine for `config`; call `start()` once the listeners are up. */
export function createDeliveryEngine(opts: {
  config: Config;
  store: Store;
  log: Logger;
  onAttempt?: (report: AttemptReport) => void;
  /** Lease margin over a target's timeouts; shorter means a crashed process's work is retried sooner. */
  leaseMs?: number;
  pollMs?: number;
}): DeliveryEngine {
  const forwardOf = (config: Config) => new Map(config.sources.map((s) => [s.name, s.forwardHeaders]));
  let forward = forwardOf(opts.config);
  let wake = () => {};
  // A client that connects retries its target's failed deliveries at once (retry-delivery.ts retryTargetNow).
  const retryNow = (target: string) =>
    void retryTargetNow(opts.store, target, Date.now())
      .then((n) => {
        if (n > 0) {
          opts.log.info("listen client connected: its deliveries waiting for a retry are due now", { target, deliveries: n });
          wake();
        }
      })
      .catch((err) => opts.log.warn("could not make a listen target's retries due", { target, error: String(err) }));
  const listen = createListenHub({ targets: opts.config.targets, log: opts.log, onIdle: () => wake(), onConnected: retryNow });
  const scheduler = createScheduler({
    store: opts.store,
    listen,
    targets: opts.config.targets,
    clock: Date.now,
    random: Math.random,
    log: opts.log,
    leaseMs: opts.leaseMs,
    pollMs: opts.pollMs,
    onAttempt: opts.onAttempt,
    forwardHeadersFor: (source) => forward.get(source) ?? [],
    ingestFirst: ingestFirstFromEnv(() => opts.store.writer.ackWaitMs(), opts.log, process.env),
  });
  wake = scheduler.wake;
  return {
    ...scheduler,
    listen,
    reconfigure(config) {
      forward = forwardOf(config);
      listen.setTargets(config.targets);
      scheduler.setTargets(config.targets);
    },
  };
}

/**
 * Ingest first (ingest-first.ts) on the store's ack wait. The environment
 * variable HOOKRELAY_INGEST_FIRST_WAIT_MS tunes the wait (ms) at which
 * deliveries yield (default 50); 0 turns it off (OPERATIONS.md).
 */
export function ingestFirstFromEnv(
  ackWaitMs: () => number,
  log: Logger,
  env: Record<string, string | undefined>,
): IngestFirstOptions | undefined {
  // The count it took before: an operator who set it must hear that it no longer does anything.
  if (env.HOOKRELAY_INGEST_FIRST_BUSY_AT !== undefined)
    log.warn("HOOKRELAY_INGEST_FIRST_BUSY_AT is no longer read; HOOKRELAY_INGEST_FIRST_WAIT_MS (a wait in ms) replaced it", { value: env.HOOKRELAY_INGEST_FIRST_BUSY_AT });
  const value = env.HOOKRELAY_INGEST_FIRST_WAIT_MS;
  if (value === undefined || value === "") return { ackWaitMs };
  const busyAtMs = Number(value);
  if (!Number.isFinite(busyAtMs) || busyAtMs < 0) {
    log.warn("HOOKRELAY_INGEST_FIRST_WAIT_MS: expected a number of ms ≥ 0; using the default", { value });
    return { ackWaitMs };
  }
  return busyAtMs === 0 ? undefined : { ackWaitMs, busyAtMs };
}
