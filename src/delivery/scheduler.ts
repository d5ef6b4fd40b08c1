/**
 * The delivery loop. Each round leases due deliveries from the store (one
 * statement, bounded per target), launches one attempt per lease without
 * awaiting it (a hanging target holds only its own slots), and records each
 * outcome fenced by its lease. Outcomes are group-committed, and each such
 * transaction also leases the work for the slots it frees (one commit per
 * round). Poll ticks also hand back leases that expired on the database clock
 * (a crashed process's). All retry state is in the store; this object holds
 * only slots and rate tokens, and target-health.ts its cache of target state
 * (enablement, circuit, auto-disable).
 *
 * Clock steps: due times are absolute on the injected clock. When a round
 * reads the clock more than a second behind the previous round's reading, the
 * clock stepped back: due times written before the step are moved back by it
 * (store/clock-step.ts), so no retry waits longer than its scheduled delay.
 * The same is done at start without knowing the step's size (a step while
 * nothing ran): each such retry is then due at most its delay from now.
 */
import type { TargetConfig } from "../config/types.ts";
import { classifyDelivery } from "../core/delivery-outcome.ts";
import { makeId } from "../core/ids.ts";
import { decodeSigningSecret } from "../core/outbound-signing.ts";
import { nextAttemptAt } from "../core/retry-schedule.ts";
import {
  leaseDueDeliveries,
  reclaimExpiredLeases,
  releaseLeases,
  type LeasedDelivery,
  type LeaseRequest,
  type LeaseWant,
  type OutcomeRecord,
} from "../store/deliveries.ts";
import { CLOCK_STEP_TOLERANCE_MS, rebaseAfterClockStep } from "../store/clock-step.ts";
import { silentLogger, type Logger } from "../log/logger.ts";
import type { Store } from "../store/index.ts";
import { buildOutboundHeaders } from "./outbound-request.ts";
import { OutcomeWriter, type Recorded } from "./outcome-writer.ts";
import { createSender, type Sender } from "./sender.ts";
import { RateLimiter } from "./rate-limiter.ts";
import { TargetHealth, type CircuitPolicy } from "./target-health.ts";
import { IngestFirst, type IngestFirstOptions } from "./ingest-first.ts";

/** Reported after every attempt (metrics). */
export interface AttemptReport {
  target: string;
  deliveryId: string;
  eventId: string;
  attempt: number;
  status: OutcomeRecord["status"];
  statusCode: number | null;
  durationMs: number;
}

export interface SchedulerOptions {
  store: Store;
  targets: TargetConfig[];
  /** Injected clock (ms): due times, retry schedule, webhook-timestamp, circuit. */
  clock: () => number;
  /** Injected randomness in [0, 1): retry jitter. */
  random: () => number;
  sender?: Sender;
  /**
   * Margin added to a target's total timeout (which bounds a whole attempt, connect
   * included) to make its lease. It is how long a crashed process's attempts wait
   * before another process retries them. Default 5 s.
   */
  leaseMs?: number;
  /** How often the loop looks for due work when nothing wakes it. Default 1 s. */
  pollMs?: number;
  log?: Logger;
  /** The lower-cased provider headers a source forwards (config or its preset's default). */
  forwardHeadersFor?: (source: string) => readonly string[];
  onAttempt?: (report: AttemptReport) => void;
  /** Failures in a row that open a target's circuit, and its first and longest open time. */
  circuit?: CircuitPolicy;
  /** Ingest first (ingest-first.ts): yield to a queue of providers waiting for their ack. */
  ingestFirst?: IngestFirstOptions;
}

/** What `createScheduler` returns; see the file comment for the loop. */
export interface Scheduler {
  /** Applies config enablement, then runs the loop (poll timer + wake-ups). */
  start(): Promise<void>;
  /** Stops leasing, waits (bounded) for in-flight attempts, releases what is left. */
  stop(timeoutMs?: number): Promise<void>;
  /** One round: lease what is due and launch it. Resolves with how many were leased. */
  tick(): Promise<number>;
  /** Ticks until nothing is due or in flight (tests, by the injected clock). */
  drain(): Promise<void>;
  /** New work was committed (ingest): look now instead of at the next poll. */
  wake(): void;
  /** Enables a target and resumes its paused deliveries; returns how many resumed. */
  enableTarget(name: string): Promise<number>;
  /** Disables a target and pauses its pending deliveries; returns how many were paused. */
  disableTarget(name: string, reason: string): Promise<number>;
  /** True when new deliveries to this target should be inserted as `paused`. */
  isPaused(name: string): boolean;
  /** Attempts in flight in this process. */
  inFlight(): number;
  /** True while ingest first holds attempts below the targets' concurrency. */
  yielding(): boolean;
}

/** Creates the delivery scheduler for the configured targets. */
export function createScheduler(opts: SchedulerOptions): Scheduler {
  // Its own connection (a worker thread for embedded files): no SQL on the event loop.
  const client = opts.store.deliveryClient;
  const clock = opts.clock;
  const log = opts.log ?? silentLogger;
  const send = opts.sender ?? createSender();
  const leaseMargin = opts.leaseMs ?? 5_000;
  const pollMs = opts.pollMs ?? 1000;
  const circuit = opts.circuit ?? { threshold: 10, baseMs: 5_000, maxMs: 300_000 };
  const targets = new Map(opts.targets.map((t) => [t.name, t]));
  const keys = new Map(opts.targets.map((t) => [t.name, t.signingSecrets.map(decodeSigningSecret).filter((k) => k !== null)]));
  const rate = new RateLimiter();
  // Each outcome write also leases the work for the slots it frees: one transaction per round.
  const writer = new OutcomeWriter(
    client,
    clock,
    (batch) => (stopped ? null : leaseRequest(clock(), held(batch))),
    (leased) => launch(leased, clock()),
  );
  const rnd = () => crypto.getRandomValues(new Uint8Array(10));
  const health = new TargetHealth(client, targets, circuit, log);
  const ingestFirst = opts.ingestFirst ? new IngestFirst(opts.ingestFirst) : null;
  const ceiling = opts.targets.reduce((n, t) => n + (t.kind === "push" ? t.concurrency : 0), 0);
  // While ingest comes first: since when, and the lowest cap; what the next log line sums up.
  let yielded: { since: number; lowest: number } | null = null;
  let yieldLog = { at: -Infinity, episodes: 0, ms: 0, lowest: Infinity };
  // First target asked in each round: a cap shared by several targets rotates among them.
  let turn = 0;
  let loaded = false;
  let started = false;
  let stopped = false;
  let poll: ReturnType<typeof setInterval> | null = null;
  let chain: Promise<unknown> = Promise.resolve();
  let tickQueued = false;
  const inflight = new Map<string, Promise<void>>();
  const perTarget = new Map<string, number>();
  // lease id → deliveries of that lease not yet finished, for release on stop.
  const openLeases = new Map<string, number>();

  // The clock at the previous round: a later reading behind it is a backward step.
  let lastClockMs = -Infinity;
  async function undoClockStep(now: number, stepMs: number): Promise<void> {
    const moved = await rebaseAfterClockStep(client, { nowMs: now, stepMs });
    if (moved.deliveries + moved.circuits > 0) log.warn("the clock stepped back: due times moved back with it", { stepMs, ...moved });
  }

  async function applyConfig(): Promise<void> {
    const now = clock();
    lastClockMs = now;
    await undoClockStep(now, 0);
    await health.applyConfig(now);
    loaded = true;
  }

  // Wake-ups after an ingest commit skip the housekeeping reads (target state,
  // expired leases): that keeps provider → target latency to one lease round.
  // Poll ticks and tick()/drain() always do it.
  let queuedFull = false;
  function requestTick(full = false): void {
    queuedFull ||= full;
    if (!started || stopped || tickQueued) return;
    tickQueued = true;
    setImmediate(() => {
      tickQueued = false;
      const wasFull = queuedFull;
      queuedFull = false;
      tick(wasFull).catch((err) => log.error("delivery round failed", { error: String(err) }));
    });
  }

  let wakeTimer: ReturnType<typeof setTimeout> | null = null;
  function wakeIn(ms: number): void {
    if (!started || stopped || wakeTimer) return;
    wakeTimer = setTimeout(() => {
      wakeTimer = null;
      requestTick();
    }, ms);
  }

  function tick(full = true): Promise<number> {
    const run = chain.then(() => tickOnce(full));
    chain = run.catch(() => {});
    return run;
  }

  let lastHousekeepingAt = -Infinity;
  async function tickOnce(full: boolean): Promise<number> {
    if (stopped) return 0;
    if (!loaded) await applyConfig();
    const now = clock();
    const stepBackMs = lastClockMs - now;
    lastClockMs = now;
    if (stepBackMs > CLOCK_STEP_TOLERANCE_MS) {
      await undoClockStep(now, stepBackMs);
      full = true; // re-read the target state: circuits may have moved
    }
    if (full || performance.now() - lastHousekeepingAt >= pollMs) {
      lastHousekeepingAt = performance.now();
      await health.refresh();
      await health.pauseStragglers(now);
      const reclaimed = await reclaimExpiredLeases(client, now);
      if (reclaimed > 0) log.warn("reclaimed deliveries whose lease expired", { reclaimed });
    }
    const request = leaseRequest(now);
    if (request === null) return 0;
    const leased = await leaseDueDeliveries(client, request);
    launch(leased, now);
    return leased.length;
  }

  // Targets this batch of outcomes is about to disable (410) or trip the circuit of: the
  // lease in the same transaction must not hand them more work before that is decided.
  function held(batch: OutcomeRecord[]): Set<string> {
    const out = new Set<string>();
    for (const r of batch) if (r.status === "paused" || health.mayTripCircuit(r.target)) out.add(r.target);
    return out;
  }

  // What each push target may take now: its free local slots, rate tokens, circuit and disable
  // state, and the ingest-first cap shared by all targets.
  function leaseRequest(now: number, hold: ReadonlySet<string> = new Set()): LeaseRequest | null {
    let budget = Infinity;
    if (ingestFirst) {
      let busy = 0;
      for (const n of perTarget.values()) busy += n;
      budget = ingestFirst.cap(busy, ceiling) - busy;
      noteYield(budget + busy);
      if (budget <= 0) return null;
      const wait = ingestFirst.roundWait();
      if (wait > 0) {
        wakeIn(Math.ceil(wait));
        return null;
      }
    }
    const wants: LeaseWant[] = [];
    // Rotated only while capped; otherwise config order, with no copy (this runs per outcome batch).
    let list: Iterable<TargetConfig> = targets.values();
    if (budget !== Infinity && targets.size > 1) {
      const all = [...targets.values()];
      const first = turn++ % all.length;
      list = [...all.slice(first), ...all.slice(0, first)];
    }
    for (const t of list) {
      if (t.kind !== "push" || hold.has(t.name)) continue;
      const gate = health.gate(t.name, now);
      if (!gate.open) continue;
      const concurrency = t.ordered || gate.probeOnly ? 1 : t.concurrency;
      const tokens = rate.available(t.name, t.ratePerSec, now);
      // Out of tokens: look again when the next one is due rather than at the next poll.
      if (tokens <= 0 && t.ratePerSec !== null) wakeIn(Math.ceil(1000 / t.ratePerSec));
      const slots = Math.min(concurrency - (perTarget.get(t.name) ?? 0), tokens, budget);
      if (slots <= 0) continue;
      budget -= slots;
      wants.push({ target: t.name, slots, concurrency, ordered: t.ordered, leaseMs: t.timeoutMs + leaseMargin });
    }
    return wants.length === 0 ? null : { leaseId: makeId("lease", now, rnd()), nowMs: now, wants };
  }

  // One info line per episode, at most one a minute: a load that keeps tipping over the
  // threshold sums its episodes into the next line instead of logging each.
  function noteYield(cap: number): void {
    const now = performance.now();
    if (cap !== Infinity) {
      if (!yielded) log.debug("ingest is queueing: deliveries yield", { cap });
      yielded = { since: yielded?.since ?? now, lowest: Math.min(cap, yielded?.lowest ?? cap) };
      return;
    }
    if (!yielded) return;
    yieldLog.episodes++;
    yieldLog.ms += now - yielded.since;
    yieldLog.lowest = Math.min(yieldLog.lowest, yielded.lowest);
    yielded = null;
    if (now - yieldLog.at < 60_000) return;
    log.info("deliveries yielded to queueing ingest requests", {
      forMs: Math.round(yieldLog.ms),
      lowestInFlight: yieldLog.lowest,
      ...(yieldLog.episodes > 1 ? { episodes: yieldLog.episodes } : {}),
    });
    yieldLog = { at: now, episodes: 0, ms: 0, lowest: Infinity };
  }

  function launch(leased: LeasedDelivery[], now: number): void {
    if (leased.length > 0) openLeases.set(leased[0]!.leaseId, leased.length);
    for (const d of leased) {
      rate.take(d.target, now);
      perTarget.set(d.target, (perTarget.get(d.target) ?? 0) + 1);
      let slotFreed = false;
      const freeSlot = () => {
        if (slotFreed) return;
        slotFreed = true;
        perTarget.set(d.target, (perTarget.get(d.target) ?? 1) - 1);
      };
      const p = attempt(d, freeSlot).finally(() => {
        freeSlot();
        inflight.delete(d.id);
        const left = (openLeases.get(d.leaseId) ?? 1) - 1;
        if (left <= 0) openLeases.delete(d.leaseId);
        else openLeases.set(d.leaseId, left);
      });
      inflight.set(d.id, p);
    }
  }

  // `freeSlot` is called once the request is over, before its outcome is written, so that
  // the outcome's transaction can already lease the next delivery into the slot.
  async function attempt(d: LeasedDelivery, freeSlot: () => void): Promise<void> {
    const t = targets.get(d.target)!;
    const number = d.attempts + 1;
    const base = { deliveryId: d.id, leaseId: d.leaseId, eventId: d.eventId, target: d.target };
    try {
      if (d.body === null) {
        // Erased for privacy: there is nothing left to send.
        freeSlot();
        await writer.write({ ...base, attempt: null, status: "failed", nextAttemptAt: null, error: "event erased", healthy: null });
        return;
      }
      const at = clock();
      const headers = buildOutboundHeaders({ ...d, body: d.body }, {
        attempt: number,
        nowMs: at,
        keys: keys.get(t.name) ?? [],
        forwardHeaders: opts.forwardHeadersFor?.(d.source) ?? [],
      });
      const report = await send({ url: t.url, body: d.body, headers, timeoutMs: t.timeoutMs, connectTimeoutMs: t.connectTimeoutMs });
      freeSlot();
      const done = clock();
      const outcome = classifyDelivery(report.result, done);
      let record: OutcomeRecord;
      const statusCode = report.result.kind === "response" ? report.result.status : null;
      const attemptRow = { id: makeId("att", at, rnd()), at, statusCode, durationMs: report.durationMs, responseExcerpt: report.excerpt };
      if (outcome.kind === "delivered") {
        record = { ...base, attempt: { ...attemptRow, error: null }, status: "delivered", nextAttemptAt: null, error: null, healthy: true };
      } else if (outcome.kind === "gone") {
        // Kept, paused: it flows again when the target is re-enabled.
        record = { ...base, attempt: { ...attemptRow, error: outcome.error }, status: "paused", nextAttemptAt: done, error: outcome.error, healthy: false };
      } else {
        const next = nextAttemptAt(t.retry, number, done, opts.random(), outcome.retryAfterMs);
        const status = next === null ? "failed" : "pending";
        record = { ...base, attempt: { ...attemptRow, error: outcome.error }, status, nextAttemptAt: next, error: outcome.error, healthy: false };
      }
      const failed = record.healthy === false;
      if (failed) health.failureWriting(t.name);
      let recorded: Recorded;
      try {
        recorded = await writer.write(record);
        if (recorded.target) health.recorded(recorded.target);
      } finally {
        if (failed) health.failureWritten(t.name);
      }
      opts.onAttempt?.({ target: t.name, deliveryId: d.id, eventId: d.eventId, attempt: number, status: record.status, statusCode, durationMs: report.durationMs });
      const fields = { target: t.name, delivery: d.id, event: d.eventId, attempt: number, statusCode, durationMs: report.durationMs, error: record.error };
      if (!recorded.updated) log.warn("attempt finished after its lease was lost", fields);
      else if (record.status === "delivered") log.info("delivered", fields);
      else if (record.status === "failed") log.warn("delivery failed", fields);
      else log.debug("attempt failed", { ...fields, nextAttemptAt: record.nextAttemptAt });
      if (outcome.kind === "gone") await health.disable(t.name, outcome.error, "gone", clock());
      else await health.afterFailure(t, recorded.target, clock());
    } catch (err) {
      // The lease expires and another attempt follows: at-least-once, never lost.
      log.error("could not record an attempt", { target: t.name, delivery: d.id, error: String(err) });
    }
  }

  return {
    async start() {
      if (started) return;
      await applyConfig();
      started = true;
      poll = setInterval(() => requestTick(true), pollMs);
      requestTick(true);
    },
    async stop(timeoutMs) {
      stopped = true;
      if (poll) clearInterval(poll);
      if (wakeTimer) clearTimeout(wakeTimer);
      await chain;
      const bound = timeoutMs ?? Math.max(1000, ...opts.targets.map((t) => t.timeoutMs + t.connectTimeoutMs)) + 1000;
      const deadline = performance.now() + bound;
      // An outcome write already under way when we stopped may still lease and
      // launch one more attempt: wait until nothing is in flight AND nothing is
      // being written, so every attempt that reached a target is recorded.
      while (performance.now() < deadline) {
        if (inflight.size > 0) {
          let timer: ReturnType<typeof setTimeout> | undefined;
          const left = Math.max(0, deadline - performance.now());
          await Promise.race([Promise.allSettled(inflight.values()), new Promise((r) => (timer = setTimeout(r, left)))]);
          clearTimeout(timer);
        }
        await writer.flushed();
        if (inflight.size === 0) break;
      }
      const released = await releaseLeases(client, [...openLeases.keys()], clock());
      if (released > 0) log.info("released leases at shutdown", { released });
    },
    tick,
    async drain() {
      for (;;) {
        const leased = await tick();
        if (leased === 0 && inflight.size === 0) return;
        if (inflight.size > 0) await Promise.race(inflight.values());
      }
    },
    wake: () => requestTick(),
    async enableTarget(name) {
      const resumed = await health.enable(name, clock());
      requestTick();
      return resumed;
    },
    disableTarget: (name, reason) => health.disable(name, reason, "api", clock()),
    isPaused: (name) => health.isPaused(name),
    inFlight: () => inflight.size,
    yielding: () => ingestFirst?.yielding() ?? false,
  };
}
