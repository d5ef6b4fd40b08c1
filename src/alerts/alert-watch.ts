/**
 * Watches for the conditions that alert (SPEC.md "Alerts") and hands each
 * alert to the sender (alert-sender.ts), which stores it as an event for the
 * alert targets. Two inputs:
 *
 * - a check every few seconds reads what the store says, so it sees what
 *   every relay on the store did: each target's state (disabled by a 410 or
 *   disable_after, circuit open), the oldest delivery waiting per push target
 *   (queue.stale), recent signature mismatches per source (source.rejections),
 *   and whether the store can commit (store.unwritable). A condition found
 *   raises its alert, raises it again every repeat_after while it persists,
 *   and sends a resolved notice when it clears;
 * - the delivery engine's attempt reports: a delivery that reached `failed`
 *   (delivery.failed), and a 410 (a check at once, not at the next tick).
 *
 * A delivery of an alert event that fails is only logged and counted: an
 * alert about alerts not arriving would go the same way (no alert loops).
 * The settings come from the runtime config and can be replaced (reload);
 * what this process has seen of each condition is kept across the swap.
 */
import type { AlertsConfig, Config } from "../config/types.ts";
import {
  ALERT_SOURCE,
  deliveryFailedAlert,
  queueStaleAlert,
  rejectionsAlert,
  storeUnwritableAlert,
  targetAlerts,
  targetCondition,
  type Alert,
  type TargetCondition,
} from "../core/alert.ts";
import { SOURCE_STATS_WINDOW_MS } from "../core/types.ts";
import type { AttemptReport } from "../delivery/attempt.ts";
import type { Logger } from "../log/logger.ts";
import { mismatchCountSince, mismatchSpikes } from "../store/admin-stats.ts";
import { openAlertConditions } from "../store/alert-history.ts";
import type { Store, StoreErrorCode } from "../store/index.ts";
import { oldestWaitingAt } from "../store/queue-stats.ts";
import { readTargetStates } from "../store/target-state.ts";
import { AlertSender, type AlertCounts } from "./alert-sender.ts";
import { isStoreUnreachable } from "../store/errors.ts";

export interface AlertWatchOptions {
  store: Pick<Store, "reads" | "writer" | "unwritableReason" | "lastOutage">;
  config: Config;
  clock: () => number;
  log: Logger;
  /** The delivery engine, bound late (it reports attempts here): paused targets, and a wake after storing. */
  engine: () => { isPaused(target: string): boolean; wake(): void } | null;
  counts?: AlertCounts;
  /** How often the store is looked at. Default 5 s. */
  checkEveryMs?: number;
  /** The window of source.rejections, as the sources page's. Default 15 min. */
  rejectionWindowMs?: number;
}

/** How long a wave of signature mismatches must be quiet before its alert is resolved. */
const WAVE_QUIET_MS = 60_000;

/** The alert watcher of one process. */
export class AlertWatch {
  #config: Config;
  readonly #sender: AlertSender;
  /** What each target's condition was at the last check (absent: not looked at yet). */
  #targets = new Map<string, TargetCondition>();
  #stale = new Set<string>();
  #waves = new Set<string>();
  #sweptAtStart = false;
  #unwritable: { reason: StoreErrorCode; sinceMs: number } | null = null;
  /** Resolved notices of conditions whose target or source a reload removed, sent by the next check. */
  #closing: Alert[] = [];
  #timer: ReturnType<typeof setInterval> | null = null;
  #soon: ReturnType<typeof setTimeout> | null = null;
  #running: Promise<void> | null = null;
  /** Alerts from attempt reports being stored. */
  #sending = new Set<Promise<void>>();

  constructor(private readonly opts: AlertWatchOptions) {
    this.#config = opts.config;
    this.#sender = new AlertSender({
      writer: opts.store.writer,
      reads: opts.store.reads,
      log: opts.log,
      isPaused: (t) => opts.engine()?.isPaused(t) ?? false,
      wake: () => opts.engine()?.wake(),
      counts: opts.counts,
    });
  }

  /** Checks now and then every checkEveryMs. */
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.check(), this.opts.checkEveryMs ?? 5_000);
    void this.check();
  }

  /** Stops checking; waits for a check under way and for alerts being stored. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    if (this.#soon) clearTimeout(this.#soon);
    this.#timer = this.#soon = null;
    await this.settled();
  }

  /** Resolves once no check runs and every alert raised so far is stored (or kept for later). */
  async settled(): Promise<void> {
    await this.#running;
    await Promise.all(this.#sending);
  }

  /**
   * At the first check: the episodes the store has open for a target or source this config does
   * not name (removed while the relay was stopped) are closed, as a reload closes them.
   */
  async #closeRemoved(now: number): Promise<void> {
    const targets = new Set(this.#config.targets.map((t) => t.name));
    const sources = new Set(this.#config.sources.map((s) => s.name));
    for (const { condition, subject } of await openAlertConditions(this.opts.store.reads, ALERT_SOURCE)) {
      const names = condition === "source.rejections" ? sources : condition.startsWith("target.") || condition === "queue.stale" ? targets : null;
      if (names === null || names.has(subject)) continue;
      this.#closeFor(condition, subject, "is no longer in the config", now);
    }
  }

  /** Takes the [alerts] settings (and targets, sources) of a new config; conditions seen so far are kept. */
  reconfigure(config: Config): void {
    const before = this.#config.alerts;
    this.#config = config;
    // Another repeat_after or other recipients: what was sent under the old settings no longer debounces here (the store still does).
    if (JSON.stringify(before) !== JSON.stringify(config.alerts)) this.#sender.forget();
    const targets = new Set(config.targets.map((t) => t.name));
    const sources = new Set(config.sources.map((s) => s.name));
    // What a removed target or source had open is closed by the next check: no check looks at it
    // again, and whoever was paged would otherwise never hear the end of it.
    const now = this.opts.clock();
    const removed = "was removed from the config";
    for (const [name, condition] of this.#targets) {
      if (targets.has(name)) continue;
      this.#targets.delete(name);
      if (condition === "disabled" || condition === "circuit_open") this.#closeFor(`target.${condition}`, name, removed, now);
    }
    for (const name of this.#stale) {
      if (targets.has(name)) continue;
      this.#stale.delete(name);
      this.#closeFor("queue.stale", name, removed, now);
    }
    for (const name of this.#waves) {
      if (sources.has(name)) continue;
      this.#waves.delete(name);
      this.#closeFor("source.rejections", name, removed, now);
    }
  }

  /** Queues the resolved notice of `condition` on a target or source gone from the config, saying why (`gone`). */
  #closeFor(condition: string, subject: string, gone: string, now: number): void {
    const what = condition === "source.rejections" ? `source ${subject}` : `target ${subject}`;
    const message = `${what} ${gone}: its ${condition} alert is closed`;
    if (condition === "queue.stale") this.#closing.push({ ...queueStaleAlert(subject, null, this.#config.alerts?.staleAfterMs ?? 0, now), message });
    else if (condition === "source.rejections") this.#closing.push({ ...rejectionsAlert(subject, null, this.#rejectionWindowMs, now), message });
    else if (condition === "target.disabled" || condition === "target.circuit_open") {
      for (const a of targetAlerts(subject, condition === "target.disabled" ? "disabled" : "circuit_open", "ok", undefined, now)) this.#closing.push({ ...a, message });
    }
  }

  get #rejectionWindowMs(): number {
    return this.opts.rejectionWindowMs ?? SOURCE_STATS_WINDOW_MS;
  }

  /** One look at the store; a check already under way is waited for instead of run twice. */
  check(): Promise<void> {
    this.#running ??= this.#check()
      .catch((err) => void (isStoreUnreachable(err) || this.opts.log.error("alert check failed", { error: String(err) })))
      .finally(() => (this.#running = null));
    return this.#running;
  }

  /** The delivery engine's report of an attempt: delivery.failed, and a 410 checked at once. */
  onAttempt(r: AttemptReport): void {
    const alerts = this.#config.alerts;
    if (!alerts) return;
    if (r.status === "paused") this.#checkSoon();
    if (r.status !== "failed") return;
    const alert = deliveryFailedAlert(
      { target: r.target, deliveryId: r.deliveryId, eventId: r.eventId, source: r.source, eventType: r.eventType, attempts: r.attempt, statusCode: r.statusCode, error: r.error },
      this.opts.clock(),
    );
    if (r.source === ALERT_SOURCE) {
      // An alert that could not be delivered: telling the alert targets would loop.
      if (!alerts.on.includes("delivery.failed")) return;
      this.opts.counts?.alert("delivery.failed", "raised");
      this.opts.counts?.alert("delivery.failed", "suppressed", "about_alert_target");
      this.opts.log.warn("alert not sent: an alert's own delivery failed", { target: r.target, delivery: r.deliveryId, event: r.eventId, error: r.error });
      return;
    }
    const sending = this.#sender.send(alert, alerts, r.target).finally(() => this.#sending.delete(sending));
    this.#sending.add(sending);
  }

  async #check(): Promise<void> {
    const alerts = this.#config.alerts;
    if (!alerts) return;
    const now = this.opts.clock();
    if (!(await this.#storeWritable(alerts, now))) return; // nothing could be stored: look again at the next check
    await this.#sender.flush(alerts);
    if (!this.#sweptAtStart) {
      this.#sweptAtStart = true;
      await this.#closeRemoved(now);
    }
    for (const a of this.#closing.splice(0)) await this.#sender.send(a, alerts, null);
    await this.#checkTargets(alerts, now);
    if (alerts.on.includes("queue.stale")) await this.#checkQueues(alerts, now);
    if (alerts.on.includes("source.rejections")) await this.#checkSources(alerts, now);
  }

  /**
   * store.unwritable: while the store cannot commit no alert can be stored,
   * leased or retried, so it is logged and counted when it starts (and
   * /readyz fails meanwhile); once the store commits again, the alert is
   * stored, saying how long it lasted.
   */
  async #storeWritable(alerts: AlertsConfig, now: number): Promise<boolean> {
    const reason = await this.opts.store.unwritableReason();
    if (reason !== null) {
      if (!this.#unwritable) {
        this.#unwritable = { reason, sinceMs: now };
        // Counted as raised once, when it is sent (over): not here as well.
        this.opts.log.error("the store cannot commit: alerts wait until it can", { reason });
      }
      return false;
    }
    if (this.#unwritable) {
      const { reason: was, sinceMs } = this.#unwritable;
      this.#unwritable = null;
      // The store's own times (its first failed commit, its first good one) when it has them for this
      // outage: the checks that noticed it run seconds apart, and would shift both ends by as much.
      const outage = this.opts.store.lastOutage();
      // This outage, not an earlier one: under way when the check noticed it.
      const ours = outage !== null && outage.sinceMs <= sinceMs && (outage.untilMs === null || outage.untilMs >= sinceMs);
      const from = ours ? outage.sinceMs : sinceMs;
      const until = ours && outage.untilMs !== null && outage.untilMs <= now ? outage.untilMs : now;
      await this.#sender.send(storeUnwritableAlert(was, from, until), alerts, null);
    }
    return true;
  }

  async #checkTargets(alerts: AlertsConfig, now: number): Promise<void> {
    const states = await readTargetStates(this.opts.store.reads);
    for (const t of this.#config.targets) {
      const s = states.get(t.name);
      const before = this.#targets.get(t.name);
      const condition = targetCondition(s);
      this.#targets.set(t.name, condition);
      for (const a of targetAlerts(t.name, before, condition, s, now)) await this.#sender.send(a, alerts, t.name);
      // A persisting condition is raised again once repeat_after has passed.
      if (before === condition) for (const a of targetAlerts(t.name, undefined, condition, s, now)) await this.#sender.send(a, alerts, t.name, true);
    }
  }

  async #checkQueues(alerts: AlertsConfig, now: number): Promise<void> {
    // Listen targets wait for a laptop to connect: a queue that waits for it is their normal state.
    const push = this.#config.targets.filter((t) => t.kind === "push").map((t) => t.name);
    const oldest = await oldestWaitingAt(this.opts.store.reads, push);
    for (const name of push) {
      const at = oldest.get(name);
      const stale = at !== undefined && now - at > alerts.staleAfterMs;
      // A disabled target's deliveries wait paused, out of this count: its queue did not move.
      const disabled = this.#targets.get(name) === "disabled" || this.#targets.get(name) === "off";
      await this.#level(this.#stale, name, stale, queueStaleAlert(name, stale ? at! : null, alerts.staleAfterMs, now, disabled), alerts, name);
    }
  }

  async #checkSources(alerts: AlertsConfig, now: number): Promise<void> {
    const windowMs = this.#rejectionWindowMs;
    const names = this.#config.sources.map((s) => s.name);
    const spikes = await mismatchSpikes(this.opts.store.reads, names, now, windowMs);
    for (const name of names) {
      const spike = spikes.get(name);
      // An open wave ends when the mismatches stop for a minute, not when their share dips under
      // the spike's line for a moment (a burst of good requests): that flapped, "stopped" and back.
      const lasting = spike === undefined && this.#waves.has(name) && (await mismatchCountSince(this.opts.store.reads, name, now - WAVE_QUIET_MS)) > 0;
      if (lasting) continue;
      await this.#level(this.#waves, name, spike !== undefined, rejectionsAlert(name, spike ? { ...spike, windowMs } : null, windowMs, now), alerts, null);
    }
  }

  /** A yes/no condition kept in `active`: raised when it starts (again every repeat_after), resolved when it ends. */
  async #level(active: Set<string>, name: string, on: boolean, alert: Alert, alerts: AlertsConfig, about: string | null): Promise<void> {
    const was = active.has(name);
    if (on) active.add(name);
    else active.delete(name);
    if (on) await this.#sender.send(alert, alerts, about, was);
    else if (was) await this.#sender.send(alert, alerts, about);
  }

  /** A check shortly (coalesced): a 410 disabled a target just now. */
  #checkSoon(): void {
    if (this.#soon || !this.#timer) return;
    this.#soon = setTimeout(() => {
      this.#soon = null;
      void this.check();
    }, 50);
  }
}
