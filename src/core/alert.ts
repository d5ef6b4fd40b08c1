/**
 * Alerts as data (SPEC.md "Alerts"): the kinds, the body an alert target
 * receives, the key that debounces an alert, and the rules that turn a
 * target's stored state into alerts. Pure: times come in as numbers.
 *
 * An alert is an event of the built-in source `hookrelay`. Its dedupe key is
 * its kind and subject (plus "resolved" for a resolved notice), and its dedupe
 * window is `repeat_after`: the store's dedupe is what makes "the same alert
 * at most once per repeat_after" exact across every relay on one store.
 */
import { formatAge } from "./quantity-text.ts";

/** Every alert kind, in the order SPEC.md lists them (the default of `alerts.on`). */
export const ALERT_KINDS = [
  "target.disabled",
  "target.circuit_open",
  "target.recovered",
  "delivery.failed",
  "queue.stale",
  "source.rejections",
  "store.unwritable",
] as const;

export type AlertKind = (typeof ALERT_KINDS)[number];

/** The built-in source alerts are stored under (no config source may take the name). */
export const ALERT_SOURCE = "hookrelay";

/** One alert, before it is stored. */
export interface Alert {
  type: AlertKind;
  /** What it is about: a target, a source, or "store". */
  subject: string;
  message: string;
  atMs: number;
  /** true: the notice that a condition cleared. */
  resolved: boolean;
  details: Record<string, unknown>;
  /**
   * The condition this alert belongs to: its own type, except a target.recovered,
   * which belongs to the condition it clears (target.disabled or target.circuit_open).
   */
  condition: AlertKind;
}

/** The body an alert target receives: `{"type", "subject", "message", "at", "resolved", "details"}`. */
export function alertBody(a: Alert): string {
  return JSON.stringify({ type: a.type, subject: a.subject, message: a.message, at: new Date(a.atMs).toISOString(), resolved: a.resolved, details: a.details });
}

/** The dedupe key of an alert: the same key inside repeat_after is the same alert. */
export function alertKey(a: Pick<Alert, "condition" | "subject" | "resolved">): string {
  return `${a.condition}/${a.subject}${a.resolved ? "/resolved" : ""}`;
}

/** How close two store outages must be to be told as one (see repeatWindowMs). */
export const OUTAGE_FOLD_MS = 60_000;

/**
 * How long an alert of `a`'s key is not sent again: repeat_after, but for
 * store.unwritable at most OUTAGE_FOLD_MS. Every outage is told once it is
 * over, with its own times; relays on one database telling the same outage
 * (within a minute) fold into one alert, and one a minute is the most a
 * database that keeps failing sends. Under repeat_after, the second outage
 * of the hour and all after it went untold.
 */
export function repeatWindowMs(a: Pick<Alert, "condition">, repeatAfterMs: number): number {
  return a.condition === "store.unwritable" ? Math.min(repeatAfterMs, OUTAGE_FOLD_MS) : repeatAfterMs;
}

/**
 * Conditions raised and then resolved: one episode at a time (alert-sender.ts).
 * A delivery that failed has no end, and the store's unwritable spell is
 * told only once it is over.
 */
export function hasEpisodes(a: Pick<Alert, "condition">): boolean {
  return a.condition !== "delivery.failed" && a.condition !== "store.unwritable";
}

/** Whether `on` lets this alert out: a resolved notice needs its condition's kind too. */
export function alertEnabled(a: Pick<Alert, "type" | "condition">, on: readonly AlertKind[]): boolean {
  return on.includes(a.type) && on.includes(a.condition);
}


/** What a target's stored state says, for alerts. */
export type TargetCondition = "ok" | "circuit_open" | "disabled" | "off";

/** The parts of a target's stored state the rules read. */
export interface TargetFacts {
  disabled: boolean;
  disabledBy: string | null;
  disabledReason: string | null;
  lastError: string | null;
  consecutiveFailures: number;
  failingSince: number | null;
  circuitOpenUntil: number | null;
}

/**
 * A target's condition. Disabled by a 410 or by disable_after is an alert;
 * disabled by an operator (API, UI, config) is "off": someone chose it, and
 * nobody is told. The circuit counts as open until a success closes it (its
 * half-open probes included), so a probe in flight is not a recovery.
 */
export function targetCondition(s: TargetFacts | undefined): TargetCondition {
  if (!s) return "ok";
  if (s.disabled) return s.disabledBy === "gone" || s.disabledBy === "auto" ? "disabled" : "off";
  return s.circuitOpenUntil !== null ? "circuit_open" : "ok";
}

/**
 * The alerts a target's change of condition raises: a new circuit_open or
 * disabled raises it; leaving one for "ok" is a target.recovered. Going from
 * circuit_open to disabled closes the circuit's alert (saying why) and raises disabled. A
 * target an operator turns off raises nothing, but an alert it had is
 * resolved then (the operator took it over): otherwise it would stay open
 * for whoever is paged, as enabling it later is no change to report.
 * `before` undefined: first look (at start); a bad condition found then is raised.
 */
export function targetAlerts(name: string, before: TargetCondition | undefined, now: TargetCondition, s: TargetFacts | undefined, atMs: number): Alert[] {
  if (before === now) return [];
  const details = {
    target: name,
    lastError: s?.lastError ?? null,
    consecutiveFailures: s?.consecutiveFailures ?? 0,
    failingSince: iso(s?.failingSince ?? null),
  };
  if (now === "disabled") {
    const reason = s?.disabledReason ?? "unknown";
    const message = `target ${name} was disabled: ${reason}; its deliveries wait, paused, until it is enabled`;
    const disabled: Alert = { type: "target.disabled", subject: name, message, atMs, resolved: false, condition: "target.disabled", details: { ...details, disabledBy: s?.disabledBy ?? null, reason } };
    if (before !== "circuit_open") return [disabled];
    // Its circuit alert ends here, closed in words that point to the disabled one: left open, a circuit
    // opening after the target's enable would read as a reminder of this old episode, and wait.
    const closed = `target ${name}: its circuit open alert is closed, the target being disabled (target.disabled)`;
    return [{ type: "target.recovered", subject: name, message: closed, atMs, resolved: true, condition: "target.circuit_open", details: { target: name, cleared: "target.circuit_open", disabledBy: s?.disabledBy ?? null } }, disabled];
  }
  // An enable brings a target that was failing back half-open (target-state.ts): one probe decides,
  // and a circuit still open after it is raised as a condition that persists.
  if (now === "circuit_open" && before !== "off") {
    const until = s?.circuitOpenUntil ?? atMs;
    const message = `target ${name}: circuit open after ${s?.consecutiveFailures ?? 0} failures in a row (last error: ${s?.lastError ?? "unknown"}); attempts resume with one probe at ${iso(until)}`;
    const open: Alert = { type: "target.circuit_open", subject: name, message, atMs, resolved: false, condition: "target.circuit_open", details: { ...details, openUntil: iso(until) } };
    if (before !== "disabled") return [open];
    // Enabled, and its first probe failed before this check saw it enabled: the disabled episode ends
    // here all the same (left open, the next disabling would read as a reminder of this one).
    const enabled = `target ${name} was enabled again; its first attempts failed and its circuit is open (target.circuit_open)`;
    return [{ type: "target.recovered", subject: name, message: enabled, atMs, resolved: true, condition: "target.disabled", details: { target: name, cleared: "target.disabled" } }, open];
  }
  if (now === "off" && (before === "disabled" || before === "circuit_open")) {
    const message = `target ${name} was disabled by an operator (${s?.disabledBy ?? "unknown"}): its ${before === "disabled" ? "disabled" : "circuit open"} alert is closed; its deliveries wait, paused, until it is enabled`;
    return [{ type: "target.recovered", subject: name, message, atMs, resolved: true, condition: `target.${before}`, details: { target: name, cleared: `target.${before}`, disabledBy: s?.disabledBy ?? null } }];
  }
  if (now === "ok" && (before === "disabled" || before === "circuit_open")) {
    const message = before === "disabled" ? `target ${name} was enabled again; its paused deliveries are being sent` : `target ${name} recovered: its circuit is closed, deliveries flow again`;
    return [{ type: "target.recovered", subject: name, message, atMs, resolved: true, condition: `target.${before}`, details: { target: name, cleared: `target.${before}` } }];
  }
  return [];
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** What the engine reports of a delivery that reached `failed` after its last attempt. */
export interface FailedDelivery {
  target: string;
  deliveryId: string;
  eventId: string;
  source: string;
  eventType: string | null;
  attempts: number;
  statusCode: number | null;
  error: string | null;
}

/** delivery.failed: one delivery gave up (its subject is the target, so a burst of them is one alert). */
export function deliveryFailedAlert(f: FailedDelivery, atMs: number): Alert {
  const message = `delivery ${f.deliveryId} of event ${f.eventId} (source ${f.source}) to ${f.target} failed after ${f.attempts} attempt${f.attempts === 1 ? "" : "s"}: ${f.error ?? "unknown error"}; it stays replayable`;
  return { type: "delivery.failed", subject: f.target, message, atMs, resolved: false, condition: "delivery.failed", details: { ...f } };
}

/** queue.stale: a target's oldest pending delivery is older than stale_after; `oldestMs` null once none is. */
export function queueStaleAlert(target: string, oldestMs: number | null, staleAfterMs: number, atMs: number, disabled = false): Alert {
  const resolved = oldestMs === null;
  const message = !resolved
    ? `oldest pending delivery to ${target} is ${formatAge(atMs - oldestMs)} old (stale_after ${formatAge(staleAfterMs)})`
    : disabled
      ? `queue of ${target}: its target is disabled, so its deliveries wait paused (told by the target's own state) and are no longer counted as a stale queue`
      : // Said as measured: the old ones may have been delivered, or may have failed out of the queue.
        `queue of ${target}: no pending delivery is older than ${formatAge(staleAfterMs)} now (the old ones were delivered, cancelled, or gave up)`;
  const details = { target, staleAfterMs, ...(resolved ? {} : { oldestPendingAt: iso(oldestMs), ageMs: atMs - oldestMs }) };
  return { type: "queue.stale", subject: target, message, atMs, resolved, condition: "queue.stale", details };
}

/** Recent signature mismatches of one source against its accepted requests. */
export interface MismatchWave {
  mismatches: number;
  accepted: number;
  windowMs: number;
}

/** The warning the sources page shows and source.rejections sends: a one-sided secret rotation, most likely. */
export function mismatchWarning(w: MismatchWave): string {
  return `${w.mismatches} signature mismatches in the last ${Math.round(w.windowMs / 60_000)} min against ${w.accepted} accepted: ` +
    "the secret was probably rotated on one side only (provider or config).";
}

/** source.rejections: a wave of signature mismatches on a source; `wave` null once it stopped. */
export function rejectionsAlert(source: string, wave: MismatchWave | null, windowMs: number, atMs: number): Alert {
  const message = wave ? `source ${source}: ${mismatchWarning(wave)}` : `source ${source}: the wave of signature mismatches has stopped (none for a minute)`;
  return { type: "source.rejections", subject: source, message, atMs, resolved: wave === null, condition: "source.rejections", details: { source, windowMs, ...wave } };
}

/**
 * store.unwritable: the store could not commit from `sinceMs` until `untilMs`.
 * Sent once the store takes writes again (while it cannot, no alert can be
 * stored, leased or retried), so it comes resolved, saying how long it lasted.
 */
export function storeUnwritableAlert(reason: string, sinceMs: number, untilMs: number): Alert {
  const message = `the store could not commit (${reason}) for ${formatAge(untilMs - sinceMs)}, from ${iso(sinceMs)} to ${iso(untilMs)}; ingest answered 503 meanwhile`;
  return { type: "store.unwritable", subject: "store", message, atMs: untilMs, resolved: true, condition: "store.unwritable", details: { reason, since: iso(sinceMs), until: iso(untilMs) } };
}
