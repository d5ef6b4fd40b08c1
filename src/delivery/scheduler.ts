/**
 * The delivery loop. A round records the outcomes of every attempt finished
 * since the last round and leases new work for the slots that frees, in one
 * store write (one commit):
 *
 *   round:   housekeeping (now and then) → plan (lease-planner.ts) → write: record + lease
 *            → the next round's write leaves → settle: outcomes go on, the leased join their
 *            target's line for a slot (start → startWaiting)
 *   attempt: prepare → send → decide → (slot freed: the next in line starts) → record
 *            (joins the next round) → after   (attempt.ts)
 *
 * One round is in flight at a time, two while ingest runs (round-pacer.ts);
 * attempts that finish while one is being written join the next, so under
 * load a commit carries many outcomes. A round is asked for by a recorded
 * outcome, by ingest (wake), by a retry's wake-up and by the poll timer.
 * Fresh events skip the lease: ingest claims a free slot (claim), the
 * delivery row is written already leased in the event's own transaction, and
 * the attempt starts from the bytes in memory right after the commit
 * (launchClaimed).
 * Slots need not wait for a round's write: a healthy target's round leases
 * ahead (beyond its concurrency, while no other process holds any of its
 * leases), and a delivery leased ahead waits in this process for the next
 * slot of its target to free (slots.ts), or goes back to the queue uncounted
 * when the target's health gate closes meanwhile. All retry state is in the store;
 * this object holds only slots, rate tokens and target-health.ts's cache of
 * target state.
 */
import type { TargetConfig } from "../config/types.ts";
import { makeId } from "../core/ids.ts";
import { decodeSigningSecret } from "../core/outbound-signing.ts";
import { silentLogger, type Logger } from "../log/logger.ts";
import { recordOutcomes, releaseLeases, type LeaseClaim, type LeasedDelivery, type LeaseRequest, type OutcomeRecord } from "../store/deliveries.ts";
import type { Store } from "../store/index.ts";
import { handBack, runAttempt, type AttemptContext, type AttemptReport, type DeliveryTarget, type Recorded } from "./attempt.ts";
import { Housekeeping } from "./housekeeping.ts";
import { IngestFirst, type IngestFirstOptions } from "./ingest-first.ts";
import { freeSlots, FULL_HEALTH, planLeases, sendingLimit, type TargetView } from "./lease-planner.ts";
import type { ListenHub } from "./listen-hub.ts";
import { RateLimiter } from "./rate-limiter.ts";
import { RoundPacer } from "./round-pacer.ts";
import { createSender, type Sender } from "./sender.ts";
import { Slots } from "./slots.ts";
import { TargetHealth, type CircuitPolicy } from "./target-health.ts";
import { httpTransport } from "./transport.ts";
import { WakeUps } from "./wake-ups.ts";
import { DueHints } from "./due-hints.ts";
import { classifyStoreError, isStoreUnreachable } from "../store/errors.ts";
import { FoldedLog } from "../log/folded-log.ts";

export type { AttemptReport } from "./attempt.ts";

export interface SchedulerOptions {
  store: Store;
  targets: TargetConfig[];
  /** Injected clock (ms): due times, retry schedule, webhook-timestamp, circuit. */
  clock: () => number;
  /** Injected randomness in [0, 1): retry jitter. */
  random: () => number;
  sender?: Sender;
  /** The connected `hookrelay listen` clients: the transport of listen targets. Without it listen targets get nothing. */
  listen?: ListenHub;
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
  /** One round: record finished outcomes, lease what is due and launch it. Resolves with how many were leased. */
  tick(): Promise<number>;
  /** Ticks until nothing is due or in flight (tests, by the injected clock). */
  drain(): Promise<void>;
  /** New work was committed: look now instead of at the next poll, at the targets ingest `stored` pending deliveries for (else at every target). */
  wake(stored?: readonly string[]): void;
  /**
   * Ingest asks for a fresh event's delivery to start at once: a free slot of
   * `target` is reserved and the claim says how to write the row leased, or
   * null (write it pending; a round leases it).
   */
  claim(target: string): LeaseClaim | null;
  /** A claimed delivery was committed leased to us: send it from memory now. */
  launchClaimed(d: LeasedDelivery): void;
  /** A claim was not used (duplicate, store error, over the target's concurrency across processes). */
  unclaim(target: string): void;
  /** Enables a target and resumes its paused deliveries; returns how many resumed. */
  enableTarget(name: string): Promise<number>;
  /** Disables a target and pauses its pending deliveries; returns how many were paused. */
  disableTarget(name: string, reason: string): Promise<number>;
  /** True when new deliveries to this target should be inserted as `paused`. */
  isPaused(name: string): boolean;
  /**
   * Takes a new target list (a config reload), replacing the one it was
   * created with: attempts in flight finish on the target they started with
   * and keep their slots; the next attempt of each delivery uses the new
   * config; a target no longer listed is neither leased nor claimed, so its
   * deliveries wait in the store (pending) until it is listed again.
   */
  setTargets(targets: TargetConfig[]): void;
  /** Attempts in flight in this process (sent, their target not answered yet). */
  inFlight(): number;
  /** True while ingest first holds attempts below the targets' concurrency. */
  yielding(): boolean;
}

interface Finished {
  record: OutcomeRecord;
  resolve(r: Recorded): void;
  reject(e: unknown): void;
}

/** A round as written: the outcomes it recorded, the lease it asked for (and when, as due-hints.ts counts), and what the store answered. */
interface WrittenRound {
  outcomes: Finished[];
  lease: LeaseRequest | null;
  hintStamp: number;
  result: Awaited<ReturnType<typeof recordOutcomes>>;
}

/** Creates the delivery scheduler for the configured targets. */
export function createScheduler(opts: SchedulerOptions): Scheduler {
  // Leases and outcomes go through the store's one writer; its few reads (target state, expired leases) through reads.
  const { store } = opts;
  const { clock } = opts;
  const log = opts.log ?? silentLogger;
  // A store that cannot commit fails every round until it can: one line a minute per cause, counted.
  const roundFailures = new FoldedLog<{ code: string; error: string }>(log, { level: "error", msg: "delivery round failed", key: (e) => e.code }, { nowMs: () => Date.now(), windowMs: 60_000 });
  // Attempts made while the database went away: each is made again once its lease runs out, so a
  // target may get it twice. Said per target and minute, with the last one's delivery and outcome.
  const unrecorded = new FoldedLog<{ target: string; delivery: string; outcome: string }>(
    log,
    { level: "warn", msg: "attempt outcome not recorded (database unreachable): it is made again once its lease runs out", key: (e) => e.target },
    { nowMs: () => Date.now(), windowMs: 60_000 },
  );
  const pollMs = opts.pollMs ?? 1000;
  const sender = opts.sender ?? createSender();
  let configs = opts.targets;
  let targets = deliveryTargets(opts, sender, configs, new Map());
  const engineDoors = { reads: store.engineReads, writer: store.writer };
  const health = new TargetHealth(engineDoors, configMap(configs), opts.circuit ?? { threshold: 10, baseMs: 5_000, maxMs: 300_000 }, log);
  const housekeeping = new Housekeeping(engineDoors, health, clock, pollMs, log);
  const ingestFirst = opts.ingestFirst ? new IngestFirst({ log, ...opts.ingestFirst }) : null;
  let ceiling = concurrencyCeiling(configs);
  const rate = new RateLimiter();
  const slots = new Slots();
  // The targets a round leases for: those that may have due work, every one at the poll (due-hints.ts).
  const hints = new DueHints();
  const leaseIds = leaseIdMaker(clock);
  // When rounds run: one at a time, two while ingest runs (round-pacer.ts).
  const rounds = new RoundPacer<WrittenRound>(
    {
      write: writeRound,
      settle: settleRound,
      // An unreachable database is logged once by the store (lost / back), not at every round.
      failed: (err) => isStoreUnreachable(err) || roundFailures.record({ code: classifyStoreError(err).code, error: String(err) }),
    },
    clock,
  );
  let finished: Finished[] = [];
  // First target asked in each round: a budget shared by several targets rotates among them.
  let turn = 0;
  let started = false;
  let stopped = false;

  const attemptContext: AttemptContext = {
    clock,
    random: opts.random,
    forwardHeaders: opts.forwardHeadersFor ?? (() => []),
    freeSlot: (d) => {
      if (slots.free(d)) startWaiting(d.target);
    },
    record: (record) =>
      new Promise((resolve, reject) => {
        finished.push({ record, resolve, reject });
        rounds.request();
      }),
    health,
    onAttempt: opts.onAttempt,
    unrecorded: (d, status) => unrecorded.record({ target: d.target, delivery: d.id, outcome: status ?? "not sent" }),
    log,
  };

  /**
   * A round's write: record what finished, lease for the free slots, in one
   * store write. The slots and rate tokens a round asks for are taken when it
   * is planned and what the store could not fill is given back, so that a
   * fresh event claiming a slot while the round is being written never takes
   * one the lease may fill. Null when there was nothing to write.
   */
  async function writeRound(full: boolean): Promise<WrittenRound | null> {
    // Not awaited when there is nothing to do: the round's write then leaves at once (see round-pacer.ts).
    const housekept = !stopped && housekeeping.due(full);
    if (housekept) await housekeeping.run(full);
    // A poll or a reload asks for every target, and so does a round after the housekeeping
    // (leases it reclaimed, targets it found enabled elsewhere are due again).
    if (full || housekept) hints.everyTarget();
    const outcomes = finished;
    finished = [];
    const now = clock();
    const lease = stopped ? null : plan(now);
    const hintStamp = hints.stamp;
    if (outcomes.length === 0 && lease === null) return null;
    try {
      return { outcomes, lease, hintStamp, result: await recordOutcomes(store.writer, outcomes.map((f) => f.record), now, lease) };
    } catch (err) {
      for (const f of outcomes) f.reject(err);
      if (lease) unreserve(lease, new Map());
      throw err;
    }
  }

  /**
   * A written round's aftermath: each outcome's attempt goes on, a retry
   * wakes the engine at its time, the unfilled part of the lease is given
   * back, the leased are launched.
   */
  function settleRound({ outcomes, lease, hintStamp, result }: WrittenRound): void {
    const states = new Map(result.targets.map((t) => [t.name, t]));
    const now = clock();
    for (const f of outcomes) {
      const { record } = f;
      const updated = result.updated.has(record.deliveryId);
      f.resolve({ updated, target: states.get(record.target) ?? null });
      if (!updated || record.status !== "pending") continue;
      // A retry falls due at its time (a round then asks for its target); a delivery handed back untried is due now.
      if (record.nextAttemptAt === null) hints.now(record.target);
      else wakeAt(record.nextAttemptAt - now + 1, record.target);
    }
    if (lease) {
      const filled = leasedPerTarget(result.leased);
      for (const w of lease.wants) hints.leased(w.target, w.slots, filled.get(w.target) ?? 0, hintStamp);
      unreserve(lease, filled);
    }
    for (const d of result.leased) start(d);
  }

  /** What each target may lease now (free slots, rate tokens, health, the ingest-first budget), taken for the request. */
  function plan(now: number): LeaseRequest | null {
    let budget = Number.POSITIVE_INFINITY;
    if (ingestFirst) {
      const b = ingestFirst.budget(slots.total(), ceiling);
      if (b.againInMs > 0) wakeIn(Math.ceil(b.againInMs));
      if (b.slots <= 0) return null;
      budget = b.slots;
    }
    const asked = hints.take();
    const views = [...targets.values()].filter((t) => asked === "every" || asked.has(t.config.name)).map((t) => targetView(t, now));
    const wants = planLeases(views, budget, budget === Number.POSITIVE_INFINITY ? 0 : turn++);
    if (wants.length === 0) return null;
    for (const w of wants) {
      slots.take(w.target, w.slots);
      rate.take(w.target, now, w.slots);
      wakeForToken(w.target, now);
    }
    return { leaseId: leaseIds.next(), holder: leaseIds.holder, nowMs: now, wants };
  }

  /** Gives back the slots and tokens of a lease request that the store did not fill (`filled`: leased per target). */
  function unreserve(lease: LeaseRequest, filled: ReadonlyMap<string, number>): void {
    for (const w of lease.wants) {
      const unfilled = w.slots - (filled.get(w.target) ?? 0);
      if (unfilled <= 0) continue;
      slots.release(w.target, unfilled);
      rate.refund(w.target, unfilled);
    }
  }

  // A rated target that spent its tokens gets a round when its next one is due: otherwise it waits
  // for a round something else asks for (another target's, the poll).
  function wakeForToken(target: string, now: number): void {
    const wait = rate.msUntilToken(target, targets.get(target)?.config.ratePerSec ?? null, now);
    if (wait > 0) wakeIn(Math.ceil(wait));
  }

  function targetView(t: DeliveryTarget, now: number): TargetView {
    const c = t.config;
    const tokens = rate.available(c.name, c.ratePerSec, now);
    // Out of tokens: look again when the next one is due (the part of a token left to fill, not a
    // whole token's time: that paced a 100/m target at another target's 1/s rounds).
    if (tokens <= 0) wakeForToken(c.name, now);
    const listen = c.kind === "listen";
    return {
      name: c.name,
      ...slotRules(c),
      leaseMs: t.leaseMs,
      aheadWaitMs: aheadWaitMs(c),
      inFlight: slots.of(c.name),
      ahead: Math.min(AHEAD_ATTEMPTS * c.concurrency, LEASE_AHEAD_MAX),
      tokens,
      gate: health.gate(c.name, now),
      reachable: !listen || (opts.listen?.idle(c.name) ?? false),
    };
  }

  /** A delivery leased (or claimed) joins its target's line for a slot, and starts if one is free. */
  function start(d: LeasedDelivery): void {
    if (!targets.has(d.target)) return slots.release(d.target); // not ours (another process's config): its lease expires
    slots.wait(d);
    startWaiting(d.target);
  }

  /**
   * Starts what waits for a slot of `name` (in lease order) as far as its
   * concurrency and health gate allow. Past a closed gate (circuit open,
   * disabled, a failure being written that may open it) or a half-open one's
   * single probe nothing more is sent: what was leased ahead goes back to the
   * queue, uncounted. Called when a delivery is leased and when a slot frees.
   */
  function startWaiting(name: string): void {
    if (stopped || slots.waiting(name) === 0) return; // stop() hands their leases back
    const target = targets.get(name);
    if (!target) return; // gone from config: setTargets handed them back
    const rules = slotRules(target.config);
    const full = sendingLimit(rules, FULL_HEALTH);
    const limit = sendingLimit(rules, health.gate(name, clock()));
    while (slots.sending(name) < limit) {
      const next = slots.nextWaiting(name);
      if (!next) return;
      // Its lease covers the wait (the planner's want); one that waited longer (a reload lowered
      // the concurrency) goes back rather than be sent on a lease that may run out meanwhile.
      if (next.waitedMs > aheadWaitMs(target.config)) slots.track(next.delivery, handBack(attemptContext, target, next.delivery, "it waited for a slot longer than its lease allows"), false);
      else slots.track(next.delivery, runAttempt(attemptContext, target, next.delivery));
    }
    if (limit < full) for (const d of slots.allWaiting(name)) slots.track(d, handBack(attemptContext, target, d, "its target is not at full health"), false);
  }

  // tick() and drain() run a round alone, after those in flight (tests).
  async function tick(): Promise<number> {
    const written = await rounds.tick();
    return written?.result.leased.length ?? 0;
  }

  let poll: ReturnType<typeof setInterval> | null = null;
  const wakeUps = new WakeUps((due) => {
    for (const target of due) hints.now(target);
    rounds.request();
  });
  /** A round `ms` from now, asking for `target` (a retry of it falling due). */
  function wakeAt(ms: number, target: string): void {
    if (started && !stopped) wakeUps.at(ms, target);
  }
  /** Some round within `ms` (tokens or budget back by then); see WakeUps. */
  function wakeIn(ms: number): void {
    if (started && !stopped) wakeUps.within(ms);
  }

  return {
    async start() {
      if (started) return;
      // Not fatal: a database away at this moment would leave the engine unstarted (an unhandled
      // rejection ends the process). Each round runs these checks first until they succeed.
      await housekeeping.start().catch((err) => isStoreUnreachable(err) || log.error("delivery start-up checks failed; retried each round", { error: String(err) }));
      started = true;
      poll = setInterval(() => rounds.request(true), pollMs);
      rounds.request(true);
    },
    async stop(timeoutMs) {
      stopped = true;
      if (poll) clearInterval(poll);
      wakeUps.stop();
      const bound = timeoutMs ?? Math.min(STOP_WAIT_MS, Math.max(1000, ...configs.map((t) => t.timeoutMs + t.connectTimeoutMs)) + 1000);
      if (slots.running() > 0) log.info("waiting for attempts in flight", { attempts: slots.running(), upToMs: bound });
      // Every attempt that ends meanwhile is recorded: rounds keep recording outcomes (and lease nothing).
      await slots.settled(performance.now() + bound);
      // A slower target's attempt is left to run out: its lease is handed back below, and its delivery
      // is due again at once (the target may get it twice: at-least-once, as after a crash).
      if (slots.running() > 0) log.warn("attempts still in flight at shutdown are due again", { attempts: slots.running() });
      try {
        while (rounds.running > 0 || finished.length > 0) await tick();
        const released = await releaseLeases(store.writer, slots.leaseIds(), clock());
        if (released > 0) log.info("released leases at shutdown", { released });
      } finally {
        // What the last minute folded, written before the process ends.
        roundFailures.flush();
        unrecorded.flush();
      }
    },
    tick,
    async drain() {
      for (;;) {
        const leased = await tick();
        if (leased === 0 && slots.running() === 0 && finished.length === 0) return;
        if (slots.running() > 0) await slots.any();
      }
    },
    wake: (stored) => {
      if (!started || stopped) return;
      // Ingest names the targets it stored pending deliveries for; anyone else (an operator's action,
      // a job, a listen client) may have made any target's deliveries due.
      if (stored) for (const t of stored) hints.now(t);
      else hints.everyTarget();
      rounds.request();
    },
    claim(name) {
      const now = clock();
      rounds.ingestSeen(now);
      const t = targets.get(name);
      if (!t || stopped || t.config.kind !== "push" || t.config.ordered || ingestFirst?.yielding()) return null;
      const view = targetView(t, now);
      // A half-open circuit's one probe is its oldest due delivery, leased from the store: a fresh
      // event taking it would leave the backlog's retries behind every new arrival while ingest runs.
      if (view.gate.open && view.gate.probeOnly) return null;
      if (freeSlots(view) <= 0) return null;
      rate.take(name, now);
      wakeForToken(name, now);
      slots.take(name);
      return { leaseId: leaseIds.next(), leaseMs: t.leaseMs, concurrency: t.config.concurrency };
    },
    launchClaimed: (d) => start(d),
    unclaim(name) {
      slots.release(name);
      rate.refund(name, 1);
    },
    async enableTarget(name) {
      const resumed = await health.enable(name, clock());
      hints.now(name);
      rounds.request();
      return resumed;
    },
    disableTarget: (name, reason) => health.disable(name, reason, "api", clock()),
    isPaused: (name) => health.isPaused(name),
    setTargets(next) {
      // One synchronous swap: no round or claim sees half of it. Slots and rate
      // buckets are kept by name, so what is in flight still counts.
      const before = targets;
      configs = next;
      targets = deliveryTargets(opts, sender, next, targets);
      health.setTargets(configMap(next));
      ceiling = concurrencyCeiling(next);
      // What a target no longer listed had leased ahead would never start: back to the queue, uncounted.
      for (const [name, t] of before)
        if (!targets.has(name)) for (const d of slots.allWaiting(name)) slots.track(d, handBack(attemptContext, t, d, "its target is no longer configured"), false);
      // A target that config now enables or disables (or a new one that starts disabled).
      if (started && !stopped)
        void health
          .applyConfig(clock(), new Map([...before].map(([name, t]) => [name, t.config])))
          .catch((err) => log.error("could not apply target enablement after a reload", { error: String(err) }))
          .finally(() => rounds.request(true));
    },
    inFlight: () => slots.sendingTotal(),
    yielding: () => ingestFirst?.yielding() ?? false,
  };
}

/**
 * How far a target leases ahead of its free slots, in attempts of each slot:
 * the round in flight asks for about one concurrency's worth (what finished
 * while the last was written), and a line of one more must wait in the
 * process meanwhile, or the slots run dry while that round is written.
 * A delivery leased ahead waits for at most this many attempts of its target.
 */
const AHEAD_ATTEMPTS = 2;

/** The most deliveries a target leases ahead, whatever its concurrency: each holds its request body in memory. */
const LEASE_AHEAD_MAX = 128;

/** The longest a delivery leased ahead may wait for a slot; its lease lasts that much longer. */
const aheadWaitMs = (c: TargetConfig) => AHEAD_ATTEMPTS * c.timeoutMs;

/**
 * The longest a stop waits for attempts in flight (less when every target's
 * timeouts are shorter): with the public listener's grace, well inside a
 * service manager's stop timeout (the unit's TimeoutStopSec=30), however
 * long a target may take.
 */
export const STOP_WAIT_MS = 10_000;

/** A target's concurrency and ordering as rounds and sends apply them: a listen target takes one at a time, in order, and so is never leased ahead (the planner's rule). */
const slotRules = (c: TargetConfig) => (c.kind === "listen" ? { concurrency: 1, ordered: true } : { concurrency: c.concurrency, ordered: c.ordered });

const configMap = (configs: TargetConfig[]) => new Map(configs.map((t) => [t.name, t]));

/** The most push attempts the targets' concurrency allows at once (ingest first's ceiling). */
const concurrencyCeiling = (configs: TargetConfig[]) => configs.reduce((n, t) => n + (t.kind === "push" ? t.concurrency : 0), 0);

/**
 * Each configured target with its decoded signing keys and transport, decoded
 * once. A target whose config is unchanged from `previous` keeps its object,
 * and with it its transport's state (a cached OAuth2 token).
 */
function deliveryTargets(opts: SchedulerOptions, sender: Sender, configs: TargetConfig[], previous: Map<string, DeliveryTarget>): Map<string, DeliveryTarget> {
  const margin = opts.leaseMs ?? 5_000;
  const out = new Map<string, DeliveryTarget>();
  for (const config of configs) {
    const kept = previous.get(config.name);
    if (kept && JSON.stringify(kept.config) === JSON.stringify(config)) {
      out.set(config.name, kept);
      continue;
    }
    const keys = config.signingSecrets.map(decodeSigningSecret).filter((k) => k !== null);
    if (config.kind === "listen") {
      if (!opts.listen) continue;
      // The lease outlasts the wait for the client's ack, and a while to reconnect.
      out.set(config.name, { config, keys, transport: opts.listen.transport(config.name), leaseMs: opts.listen.ackTimeoutMs(config) + 30_000 });
    } else {
      out.set(config.name, { config, keys, transport: httpTransport(config, sender, opts.clock), leaseMs: config.timeoutMs + margin });
    }
  }
  return out;
}

/**
 * Lease ids: `<holder>.<n>`, a random holder per scheduler and a counter.
 * Unique across processes and restarts (the holder, by which the store also
 * tells this process's leases from others'), and far cheaper than a random
 * id per claim, which fresh events take one each of.
 */
function leaseIdMaker(clock: () => number): { holder: string; next(): string } {
  const holder = makeId("lease", clock(), crypto.getRandomValues(new Uint8Array(10)));
  let n = 0;
  return { holder, next: () => `${holder}.${(++n).toString(36)}` };
}

/** How many deliveries a round leased for each target. */
function leasedPerTarget(leased: readonly LeasedDelivery[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const d of leased) counts.set(d.target, (counts.get(d.target) ?? 0) + 1);
  return counts;
}
