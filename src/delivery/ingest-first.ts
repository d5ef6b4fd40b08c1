/**
 * Ingest first. A provider waits for our ack, and retries or gives up on us
 * when it is slow; a target waits for nothing: its deliveries are safe in
 * the store. Both share the process's CPU and its one write connection, so
 * when providers' requests queue up for their commit the delivery engine
 * yields.
 *
 * A queue shows as time: requests waiting long for their commit. A count of
 * waiting requests would not do: at the same wait it grows with the rate, so
 * at a high rate the relay keeps up with it reads as a queue, and yielding
 * there only moves deliveries to the slower path of rounds that lease them
 * back from the store.
 *
 * Every period the wait is long it halves the attempts it keeps in flight
 * (from the second long period in a row), down to a floor that keeps
 * deliveries moving; every period it is short it doubles them back, until no
 * cap is left; and while capped it starts attempts in rounds, at most one a
 * period (roundWait). A burst is absorbed by the queue and delivered once it
 * is over; below saturation nothing changes. It is a burst absorber, not a
 * state: after `maxYieldMs` of yielding in a row deliveries get their full
 * concurrency back for `restMs`, whatever the wait, so a queue that is not a
 * burst (a load past the machine's capacity, or a slow disk whose commits
 * keep acks waiting) never starves them.
 */

import { silentLogger, type Logger } from "../log/logger.ts";

export interface IngestFirstOptions {
  /** How long ingest requests waited for their commit since the previous call, in ms (store Writer.ackWaitMs). */
  ackWaitMs: () => number;
  /**
   * A wait at or above this (ms) for two periods in a row means providers are
   * queueing. Default 50: a relay that keeps up with its load answers within
   * a few commits (5–15 ms on a small machine even at saturation), while a
   * burst past what it can commit adds its excess to every next wait.
   */
  busyAtMs?: number;
  /** Attempts kept in flight however busy ingest is. Default 2. */
  floor?: number;
  /** The longest stretch of yielding. Default 30 s. */
  maxYieldMs?: number;
  /** After it, how long deliveries keep full concurrency whatever the wait. Default 30 s. */
  restMs?: number;
  /** How often the cap may move. Default 100 ms. */
  periodMs?: number;
  /** Monotonic ms. Default performance.now. */
  now?: () => number;
  /** Where a burst's summary goes (one info line per episode, at most one a minute). */
  log?: Logger;
}

/** The cap on attempts in flight across all targets (see the file comment). */
export class IngestFirst {
  #cap = Infinity;
  #at = -Infinity;
  /** The previous period was busy too: a single slow commit is not a queue. */
  #wasBusy = false;
  /** When the current stretch of yielding began, and until when deliveries rest from it. */
  #yieldingSince = 0;
  #restUntil = -Infinity;
  /** When the last lease round ran while capped (roundWait). */
  #lastRoundAt = -Infinity;
  readonly #busyAtMs: number;
  readonly #floor: number;
  readonly #periodMs: number;
  readonly #maxYieldMs: number;
  readonly #restMs: number;
  readonly #now: () => number;
  readonly #log: Logger;
  /** While capped: since when, and the lowest cap; what the next log line sums up. */
  #episode: { since: number; lowest: number } | null = null;
  #summary = { at: -Infinity, episodes: 0, ms: 0, lowest: Infinity };

  constructor(private readonly opts: IngestFirstOptions) {
    this.#log = opts.log ?? silentLogger;
    this.#busyAtMs = opts.busyAtMs ?? 50;
    this.#floor = Math.max(1, opts.floor ?? 2);
    this.#periodMs = opts.periodMs ?? 100;
    this.#maxYieldMs = opts.maxYieldMs ?? 30_000;
    this.#restMs = opts.restMs ?? 30_000;
    this.#now = opts.now ?? (() => performance.now());
  }

  /**
   * How many more attempts may start in this round, `inFlight` being in
   * flight and `ceiling` the most the targets' concurrency allows: Infinity
   * without a cap; 0 while capped and either full or waiting for the next
   * period's round. While capped, `againInMs` says when to ask again even if
   * nothing else happens: the cap moves only when asked, and a relay whose
   * backlog just drained asks nothing until its next poll, staying capped
   * (and saying so in /metrics) for seconds after the burst.
   */
  budget(inFlight: number, ceiling: number): { slots: number; againInMs: number } {
    const cap = this.cap(inFlight, ceiling);
    this.#note(cap);
    if (cap === Infinity) return { slots: Infinity, againInMs: 0 };
    if (cap - inFlight <= 0) return { slots: 0, againInMs: this.#periodMs };
    const waitMs = this.roundWait();
    return waitMs > 0 ? { slots: 0, againInMs: waitMs } : { slots: cap - inFlight, againInMs: this.#periodMs };
  }

  /**
   * How many attempts may be in flight now, `inFlight` being in flight and
   * `ceiling` the most the targets' concurrency allows. Infinity: no cap.
   */
  cap(inFlight: number, ceiling: number): number {
    const now = this.#now();
    if (now - this.#at < this.#periodMs) return this.#cap;
    this.#at = now;
    const busy = this.opts.ackWaitMs() >= this.#busyAtMs && now >= this.#restUntil;
    const wasBusy = this.#wasBusy;
    this.#wasBusy = busy;
    if (this.#cap !== Infinity && now - this.#yieldingSince >= this.#maxYieldMs) {
      this.#cap = Infinity;
      this.#wasBusy = false;
      this.#restUntil = now + this.#restMs;
    } else if (busy) {
      if (!wasBusy && this.#cap === Infinity) return this.#cap;
      if (this.#cap === Infinity) this.#yieldingSince = now;
      // From no cap, start from what is in flight: that is what competes now.
      const from = Math.min(this.#cap, Math.max(inFlight, this.#floor));
      this.#cap = Math.max(this.#floor, Math.floor(from / 2));
    } else if (this.#cap !== Infinity) {
      this.#cap *= 2;
      if (this.#cap >= ceiling) this.#cap = Infinity;
    }
    return this.#cap;
  }

  /**
   * While capped, lease rounds run at most once a period, each topping the
   * attempts in flight up to the cap: a round then carries the slots freed
   * meanwhile together instead of one delivery per freed slot. A lease, an
   * outcome batch and the messages and commits around them cost about as much
   * for one delivery as for sixteen; one at a time, the few deliveries at the
   * floor cost ingest a quarter of its throughput. Returns 0 (and counts the
   * round) if a round may run now, else the ms until one may.
   */
  roundWait(): number {
    if (this.#cap === Infinity) return 0;
    const now = this.#now();
    const wait = this.#lastRoundAt + this.#periodMs - now;
    if (wait > 0) return wait;
    this.#lastRoundAt = now;
    return 0;
  }

  /** True while deliveries are held below the targets' own concurrency. */
  yielding(): boolean {
    return this.#cap !== Infinity;
  }

  // One info line per episode, at most one a minute: a load that keeps tipping over the
  // threshold sums its episodes into the next line instead of logging each.
  #note(cap: number): void {
    const now = this.#now();
    if (cap !== Infinity) {
      if (!this.#episode) this.#log.debug("ingest is queueing: deliveries yield", { cap });
      this.#episode = { since: this.#episode?.since ?? now, lowest: Math.min(cap, this.#episode?.lowest ?? cap) };
      return;
    }
    if (!this.#episode) return;
    const s = this.#summary;
    s.episodes++;
    s.ms += now - this.#episode.since;
    s.lowest = Math.min(s.lowest, this.#episode.lowest);
    this.#episode = null;
    if (now - s.at < 60_000) return;
    this.#log.info("deliveries yielded to queueing ingest requests", {
      forMs: Math.round(s.ms),
      lowestInFlight: s.lowest,
      ...(s.episodes > 1 ? { episodes: s.episodes } : {}),
    });
    this.#summary = { at: now, episodes: 0, ms: 0, lowest: Infinity };
  }
}
