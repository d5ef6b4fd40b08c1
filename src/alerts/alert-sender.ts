/**
 * Sends one alert: stores it as an event of the built-in source `hookrelay`
 * through the store's writer (the same submit as ingest), with one delivery
 * per alert target, so the delivery engine signs, leases and retries it like
 * any event. Decides, in this order, who gets it and whether it goes at all:
 *
 * - never to the target it is about (no alert loops): when that leaves no
 *   recipient, it is only logged and counted;
 * - a condition that is raised and later resolved (a target disabled or its
 *   circuit open, a stale queue, a wave of rejections) is one episode at a
 *   time: its raise goes out when the last word on it is none or a resolved
 *   notice, again only as a reminder once repeat_after has passed; its
 *   resolved notice goes out when the last word is a raise. The last word is
 *   read from the store, so a problem that comes back after its resolved
 *   notice is sent at once, however soon;
 * - other alerts (a delivery that failed, the store's unwritable spell) at
 *   most once per repeat_after for the same kind and subject: a memory of
 *   what this process sent answers first;
 * - either way the store decides for good: the alert's dedupe key (for an
 *   episode, with the id of the alert it follows), repeat_after as its
 *   window, checked inside the writer's transaction: two relays on one
 *   store never both send it;
 * - a store that cannot commit keeps it in a small outbox, sent by the next
 *   check that finds the store writable.
 */
import { randomBytes } from "node:crypto";
import type { AlertsConfig } from "../config/types.ts";
import { ALERT_SOURCE, alertBody, alertEnabled, alertKey, hasEpisodes, repeatWindowMs, type Alert, type AlertKind } from "../core/alert.ts";
import { makeId } from "../core/ids.ts";
import type { Logger } from "../log/logger.ts";
import type { IngestItem, SqlReader, Writer } from "../store/index.ts";
import { lastAlertOf } from "../store/alert-history.ts";

/** Why an alert was not sent (the `reason` label of hookrelay_alerts_suppressed_total). */
export type SuppressedReason = "repeat_after" | "about_alert_target" | "store_unwritable" | "outbox_full";

/** Where alert counts go (metrics/relay-metrics.ts). */
export interface AlertCounts {
  alert(kind: AlertKind, outcome: "raised" | "sent" | "suppressed", reason?: SuppressedReason): void;
}

/** What the sender needs around it. */
export interface AlertSenderDeps {
  writer: Writer;
  /** Where the last word on a condition is read (lastAlertOf). */
  reads: SqlReader;
  log: Logger;
  /** Whether new deliveries to a target start paused (it is disabled). */
  isPaused(target: string): boolean;
  /** Alert deliveries were written: look for due work now. */
  wake(): void;
  counts?: AlertCounts;
}

/** Alerts kept while the store cannot commit; past this the oldest go (counted). */
const OUTBOX_MAX = 100;

/** Stores alerts for the alert targets, debounced and loop-free (see the file comment). */
export class AlertSender {
  /** When this process last stored (or found stored) each alert key. */
  #lastSent = new Map<string, number>();
  /** Alerts of a key held back by repeat_after since it was last sent: how many, the first one's time. */
  #heldBack = new Map<string, { count: number; sinceMs: number }>();
  #outbox: { alert: Alert; to: string[]; dedupeKey: string }[] = [];

  constructor(private readonly deps: AlertSenderDeps) {}

  /**
   * Raises `a` under `config`: counted, then sent, debounced or suppressed.
   * `about` is the target the alert concerns, never a recipient. `repeat`: a
   * condition that persists, raised again by every check; it is let through
   * (and counted) only once repeat_after has passed.
   */
  async send(a: Alert, config: AlertsConfig, about: string | null, repeat = false): Promise<void> {
    if (!alertEnabled(a, config.on)) return;
    const counts = this.deps.counts;
    const key = alertKey(a);
    const last = this.#lastSent.get(key);
    // <= as in the store's dedupe window (group-commit.ts): the same instant is still inside it.
    const inWindow = last !== undefined && a.atMs - last <= repeatWindowMs(a, config.repeatAfterMs);
    if (repeat && inWindow) return;
    counts?.alert(a.type, "raised");
    const episode = hasEpisodes(a) ? await this.#episode(a, config) : { dedupeKey: key, go: !inWindow, lastRaisedAt: null };
    if (!episode.go) {
      // The store's last word on the condition is a raise inside repeat_after (this process before a
      // restart, or another relay): remembered, so that the checks while it persists are not each
      // counted as found and suppressed until the window ends.
      if (episode.lastRaisedAt !== null) this.#lastSent.set(key, episode.lastRaisedAt);
      counts?.alert(a.type, "suppressed", "repeat_after");
      // An occurrence held back (another delivery failed) is said with the next one sent; a persisting
      // condition checked again is the same occurrence, not another.
      if (!repeat && !hasEpisodes(a)) {
        const held = this.#heldBack.get(key);
        this.#heldBack.set(key, { count: (held?.count ?? 0) + 1, sinceMs: held?.sinceMs ?? a.atMs });
      }
      return;
    }
    const to = config.to.filter((t) => t !== about);
    if (to.length === 0) {
      // Its only recipient is the target it is about: an alert loop. Logged, counted, never sent.
      this.#lastSent.set(key, a.atMs);
      this.deps.log.warn("alert not sent: it is about the alert target itself", { type: a.type, subject: a.subject, message: a.message });
      counts?.alert(a.type, "suppressed", "about_alert_target");
      return;
    }
    // A raise while the last word is an earlier raise is a reminder of the same episode: said, so that
    // whoever is paged tells it from a new problem.
    const reminded = !a.resolved && episode.lastRaisedAt !== null ? reminder(a, episode.lastRaisedAt) : a;
    const held = this.#heldBack.get(key);
    this.#heldBack.delete(key);
    const told = held ? withHeldBack(reminded, held) : reminded;
    await this.#store(told, to, config, episode.dedupeKey);
  }

  /**
   * Whether an alert of a raised-then-resolved condition goes out, by the
   * last word the store holds on it, and its dedupe key: its own key with
   * the id of that last word, which relays sending the same alert at once
   * agree on.
   */
  async #episode(a: Alert, config: AlertsConfig): Promise<{ dedupeKey: string; go: boolean; lastRaisedAt: number | null }> {
    const base = alertKey({ ...a, resolved: false });
    const last = await lastAlertOf(this.deps.reads, ALERT_SOURCE, base);
    const dedupeKey = `${alertKey(a)}@${last?.id ?? "none"}`;
    const lastRaisedAt = last !== null && !last.resolved ? last.receivedAt : null;
    // A resolved notice answers a raise. A raise goes out when the last word is none or a resolved
    // notice (a new episode: at once, whether the condition just started or persisted through an
    // operator's close), else as a reminder once repeat_after has passed since that raise.
    if (a.resolved) return { dedupeKey, go: last === null || !last.resolved, lastRaisedAt };
    return { dedupeKey, go: lastRaisedAt === null || a.atMs - lastRaisedAt > config.repeatAfterMs, lastRaisedAt };
  }

  /** Sends what the outbox kept (the store is writable again); each that fails again goes back. */
  async flush(config: AlertsConfig): Promise<void> {
    for (const kept of this.#outbox.splice(0)) await this.#store(kept.alert, kept.to.filter((t) => config.to.includes(t)), config, kept.dedupeKey);
  }

  async #store(a: Alert, to: string[], config: AlertsConfig, dedupeKey: string): Promise<void> {
    const counts = this.deps.counts;
    if (to.length === 0) return; // a new config took its recipients away
    try {
      const outcome = await this.deps.writer.submit(this.#item(a, to, repeatWindowMs(a, config.repeatAfterMs), dedupeKey));
      this.#lastSent.set(alertKey(a), a.atMs);
      // A resolved notice ends the episode: the next raise of its condition is a new one, not a reminder.
      if (a.resolved && hasEpisodes(a)) this.#lastSent.delete(alertKey({ ...a, resolved: false }));
      if (outcome.kind === "duplicate") {
        // Another relay on this store (or this one before a restart) sent it inside repeat_after.
        counts?.alert(a.type, "suppressed", "repeat_after");
        return;
      }
      counts?.alert(a.type, "sent");
      this.deps.log.warn("alert", { type: a.type, subject: a.subject, resolved: a.resolved, event: outcome.id, to, message: a.message });
      this.deps.wake();
    } catch (err) {
      this.#keep({ alert: a, to, dedupeKey });
      this.deps.log.error("alert not stored yet: the store cannot commit; sent once it can", { type: a.type, subject: a.subject, error: String(err) });
    }
  }

  /** Forgets what was sent: a new config may have other targets or another repeat_after. */
  forget(): void {
    this.#lastSent.clear();
    this.#heldBack.clear();
  }

  #keep(kept: { alert: Alert; to: string[]; dedupeKey: string }): void {
    this.#outbox.push(kept);
    if (this.#outbox.length <= OUTBOX_MAX) return;
    const dropped = this.#outbox.shift()!.alert;
    this.deps.counts?.alert(dropped.type, "suppressed", "outbox_full");
    this.deps.log.error("alert dropped: too many waiting for the store", { type: dropped.type, subject: dropped.subject });
  }

  #item(a: Alert, to: string[], repeatAfterMs: number, dedupeKey: string): IngestItem {
    // At the alert's own time, which may lie behind the ids ingest makes now: not from their sequence (nextEventId).
    const id = makeId("evt", a.atMs, randomBytes(10));
    return {
      id,
      source: ALERT_SOURCE,
      eventType: a.type,
      dedupeKey,
      dedupeWindowMs: repeatAfterMs,
      receivedAt: a.atMs,
      method: "POST",
      path: `/in/${ALERT_SOURCE}`,
      query: "",
      headers: [["content-type", "application/json"], ["user-agent", "hookrelay-alerts"]],
      body: new TextEncoder().encode(alertBody(a)),
      contentType: "application/json",
      remoteAddr: null,
      deliveries: to.map((target) => ({ id: makeId("dlv", a.atMs, randomBytes(10)), target, status: this.deps.isPaused(target) ? "paused" : "pending" })),
    };
  }
}

/**
 * `a` with what repeat_after held back of its kind since the last one sent: a
 * page about one failed delivery while six failed reads as one problem.
 */
function withHeldBack(a: Alert, held: { count: number; sinceMs: number }): Alert {
  const since = new Date(held.sinceMs).toISOString();
  const more = `${held.count} more like it since ${since} not alerted (repeat_after)`;
  return { ...a, message: `${a.message} (and ${more})`, details: { ...a.details, heldBack: held.count, heldBackSince: since } };
}

/** `a` as a reminder: its condition was last alerted (raised, or reminded of) at `previousAtMs` and is still open. */
function reminder(a: Alert, previousAtMs: number): Alert {
  const at = new Date(previousAtMs).toISOString();
  return { ...a, message: `still open (last alerted at ${at}): ${a.message}`, details: { ...a.details, reminder: true, previousAlertAt: at } };
}
