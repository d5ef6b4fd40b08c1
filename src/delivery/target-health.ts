/**
 * What the delivery loop knows of each target's health, and the decisions it
 * takes from outcomes: the cache of target_state (disabled, failure streak,
 * circuit), config enablement at start, the circuit opening after a streak of
 * failures, auto-disable after `disable_after` of continuous failure, and
 * disabling on 410. The store's target_state is the truth; this cache lets a
 * leasing round decide without a read, and every decision is written to the
 * cache first so that no round hands a target work in between.
 *
 * Target enablement (documented choice): at start, config `enabled = false`
 * disables a target (disabled_by = "config"); config `enabled = true`
 * re-enables only a target that config had disabled. A target disabled at run
 * time (API, 410, disable_after) stays disabled across restarts until enabled
 * via the API/UI, or until config toggles it off and on again. A reload applies
 * only the `enabled` values it changes; a restart applies them all.
 */
import type { TargetConfig } from "../config/types.ts";
import type { Decision } from "../core/delivery-outcome.ts";
import { utcTimeText } from "../core/quantity-text.ts";
import type { Logger } from "../log/logger.ts";
import type { SqlDoors } from "../store/sql-client.ts";
import * as targetState from "../store/target-state.ts";
import type { LeaseGate } from "./lease-planner.ts";

/** Failures in a row that open a target's circuit, and its first and longest open time. */
export interface CircuitPolicy {
  threshold: number;
  baseMs: number;
  maxMs: number;
}

/** Whether a reload changed how a target is reached: its URL, TLS material, credentials or headers. */
function reachedDifferently(a: TargetConfig, b: TargetConfig): boolean {
  const how = (t: TargetConfig) => JSON.stringify([t.url, t.tls ?? null, t.auth ?? null, t.headers]);
  return how(a) !== how(b);
}

/** The disabled reason a config's `enabled = false` records. */
const CONFIG_REASON = "disabled in config";

export class TargetHealth {
  #states = new Map<string, targetState.TargetState>();
  // Bumped by every local change to the cache. A re-read that started before a
  // change is stale when it lands (the store runs on another thread) and must
  // not overwrite what the change put there.
  #version = 0;
  // Changes set in the cache first whose store write has not returned yet: a
  // re-read meanwhile may not have them either.
  #unwritten = 0;
  // Failures whose outcome is being written: the slot is already free, but the
  // target state that counts them is not back yet. Until it is, a target they
  // may push over the circuit threshold gets no new work, and neither does a
  // target whose 410 is being written (it is about to be disabled).
  #unrecordedFailures = new Map<string, number>();
  #goneWriting = new Map<string, number>();
  // Targets being disabled right now (a 410, disable_after): the other failures of the same burst
  // (attempts that were in flight together) find it disabled already, rather than disable and log
  // it once each, and an outcome batch written before the disable does not undo it in the cache.
  #disabling = new Set<string>();

  constructor(
    private readonly db: SqlDoors,
    private targets: ReadonlyMap<string, TargetConfig>,
    private readonly circuit: CircuitPolicy,
    private readonly log: Logger,
  ) {}

  /** The configured targets after a reload; applyConfig then applies their enablement. */
  setTargets(targets: ReadonlyMap<string, TargetConfig>): void {
    this.targets = targets;
  }

  /**
   * Applies config enablement (see the file comment), then loads the cache. After a
   * reload, `before` is the config it replaced: only a target whose `enabled` changed
   * (or a new one) is applied, so that an unrelated reload does not undo an operator's
   * enable or disable of a target the config still names as it did.
   */
  async applyConfig(nowMs: number, before?: ReadonlyMap<string, TargetConfig>): Promise<void> {
    const stored = await targetState.readTargetStates(this.db.reads);
    for (const t of this.targets.values()) {
      // A reload that changes where or how a target is reached (its URL, TLS, auth, headers) may be
      // the fix for what opened its circuit: its probe goes now, not at the circuit's old time. So
      // may a start, or a reload that names a removed target again: how it was reached when its
      // circuit opened is not known here, and one early probe is all it costs.
      const was = before?.get(t.name);
      const until = stored.get(t.name)?.circuitOpenUntil ?? null;
      if ((was === undefined || reachedDifferently(was, t)) && until !== null && until > nowMs) {
        await targetState.openCircuit(this.db.writer, { name: t.name, untilMs: nowMs, nowMs });
        const why = was !== undefined ? "a reload changed how it is reached" : before !== undefined ? "a reload named it again" : "the relay started";
        this.log.info(`target circuit probes now: ${why}`, { target: t.name, wasUntil: new Date(until).toISOString() });
      }
      if (was?.enabled === t.enabled) continue;
      const s = stored.get(t.name);
      // A target disabled at run time that config now disables becomes config's: so that config's
      // `enabled = true` later enables it again ("off and on again", as the file comment says).
      if (!t.enabled && s?.disabledBy !== "config") {
        const paused = await targetState.disableTarget(this.db.writer, { name: t.name, reason: CONFIG_REASON, by: "config", nowMs });
        // Said as an API disable is (OPERATIONS "Logs": by config), unless the config only names a target already off.
        if (!s?.disabled || paused > 0) this.log.warn("target disabled", { target: t.name, reason: CONFIG_REASON, by: "config", paused });
      } else if (t.enabled && s?.disabled && s.disabledBy === "config") {
        const resumed = await targetState.enableTarget(this.db.writer, { name: t.name, nowMs });
        this.log.info("target enabled", { target: t.name, by: "config", resumed });
      }
    }
    await this.refresh(true);
  }

  /** Re-reads target_state (other processes, the API); `force` wins over local changes made meanwhile. */
  async refresh(force = false): Promise<void> {
    const before = this.#version;
    const fresh = await targetState.readTargetStates(this.db.reads);
    // A change made here meanwhile, or set in the cache and still being written, is newer than the read.
    if (force || (before === this.#version && this.#unwritten === 0)) {
      this.#version++;
      this.#states = fresh;
    }
  }

  /**
   * Settles deliveries inserted by an ingest that had not yet seen a disable or an enable (its
   * cache read a moment before): pending ones of a disabled target are paused, paused ones of an
   * enabled target resumed (they would wait for an enable that already happened).
   */
  async settleStragglers(nowMs: number): Promise<void> {
    const configured = [...this.targets.keys()];
    const disabled = configured.filter((name) => this.#states.get(name)?.disabled);
    const enabled = configured.filter((name) => !this.isPaused(name));
    const { resumed } = await targetState.settleStragglers(this.db.writer, { disabled, enabled }, nowMs);
    if (resumed > 0) this.log.info("paused deliveries of an enabled target resumed", { resumed });
  }

  /** True when new deliveries to this target should be inserted as `paused`. */
  isPaused(name: string): boolean {
    const s = this.#states.get(name);
    return s ? s.disabled : !(this.targets.get(name)?.enabled ?? true);
  }

  /** Whether a round may lease for this target now: not disabled, circuit not open, no pending failure about to open it. */
  gate(name: string, nowMs: number): LeaseGate {
    if (this.mayTripCircuit(name) || (this.#goneWriting.get(name) ?? 0) > 0) return { open: false };
    const s = this.#states.get(name);
    if (s?.disabled) return { open: false };
    if (s?.circuitOpenUntil != null && nowMs < s.circuitOpenUntil) return { open: false };
    // Half-open: after the circuit's time is up, one probe attempt until a success closes it.
    return { open: true, probeOnly: s?.circuitOpenUntil != null };
  }

  /** An attempt's outcome is decided and about to be written (see #unrecordedFailures). */
  outcomeDecided(name: string, d: Decision): void {
    if (d.health === "failure" || d.health === "gone") bump(this.#unrecordedFailures, name, 1);
    if (d.health === "gone") bump(this.#goneWriting, name, 1);
  }

  /** That outcome is written (or its write failed). */
  outcomeSettled(name: string, d: Decision): void {
    if (d.health === "failure" || d.health === "gone") bump(this.#unrecordedFailures, name, -1);
    if (d.health === "gone") bump(this.#goneWriting, name, -1);
  }

  /** After an outcome is recorded: take the target state it wrote, then disable (410, disable_after) or open the circuit. */
  async afterOutcome(t: TargetConfig, d: Decision, recorded: { target: targetState.TargetState | null }, nowMs: number): Promise<void> {
    const before = this.#states.get(t.name);
    if (recorded.target) this.recorded(recorded.target);
    // No row back for a success: the stored state was healthy already (deliveries.ts healthStatement).
    else if (d.health === "success") this.#healthyAsStored(t.name);
    // The line that answers "target circuit open": the probe got through.
    if (d.health === "success" && before?.circuitOpenUntil != null && this.#states.get(t.name)?.circuitOpenUntil == null) {
      const failingForMs = before.failingSince === null ? null : Math.max(0, nowMs - before.failingSince);
      this.log.info("target circuit closed", { target: t.name, failingForMs });
    }
    if (d.health === "gone") await this.#disableGone(t.name, d.error ?? "HTTP 410 Gone", nowMs);
    else if (d.health === "failure") await this.afterFailure(t, recorded.target, nowMs, before);
  }

  /** A 410: disables the target once, however many of its attempts answered 410 at once. */
  async #disableGone(name: string, reason: string, nowMs: number): Promise<void> {
    if (this.#disabling.has(name) || this.#states.get(name)?.disabled) return;
    await this.disable(name, reason, "gone", nowMs);
  }

  /** True when failures not yet written may push the target over the circuit threshold, or are a half-open circuit's failed probe. */
  mayTripCircuit(name: string): boolean {
    const pending = this.#unrecordedFailures.get(name) ?? 0;
    if (pending === 0) return false;
    const s = this.#states.get(name);
    return (s?.consecutiveFailures ?? 0) + pending >= this.circuit.threshold || s?.circuitOpenUntil != null;
  }

  /**
   * The target's state as an outcome batch wrote it. A circuit this process
   * opened meanwhile is kept: the batch may have been written before the
   * circuit was, and a failure streak that goes on leaves it open.
   */
  recorded(state: targetState.TargetState): void {
    const known = this.#states.get(state.name);
    const openUntil = known?.circuitOpenUntil ?? null;
    const keepOpen = state.consecutiveFailures > 0 && openUntil !== null && openUntil > (state.circuitOpenUntil ?? -Infinity);
    // Likewise a disable being written (a 410, disable_after): the batch was written before it.
    const keepDisabled = this.#disabling.has(state.name) && !state.disabled;
    if (!keepOpen && !keepDisabled) return this.#set(state.name, state);
    const circuit = keepOpen ? { circuitOpenUntil: openUntil, circuitWaitMs: known!.circuitWaitMs } : {};
    this.#set(state.name, { ...state, ...circuit, disabled: state.disabled || keepDisabled });
  }

  /** A success found the stored state healthy: so is ours (another relay may have closed the circuit). */
  #healthyAsStored(name: string): void {
    const s = this.#states.get(name);
    if (s && (s.consecutiveFailures !== 0 || s.failingSince !== null || s.circuitOpenUntil !== null)) {
      this.#set(name, { ...s, consecutiveFailures: 0, failingSince: null, circuitOpenUntil: null });
    }
  }

  /**
   * After a failed attempt is recorded: disable after `disable_after` of continuous failure, or open
   * the circuit. `before`: the target's state as known before this outcome (the circuit's last wait).
   */
  async afterFailure(t: TargetConfig, s: targetState.TargetState | null, nowMs: number, before?: targetState.TargetState): Promise<void> {
    if (!s || s.disabled || s.consecutiveFailures === 0) return;
    if (s.failingSince !== null && nowMs - s.failingSince >= t.disableAfterMs) {
      // Another failure of the same round got here first: disabled once, logged once.
      if (this.#disabling.has(t.name) || this.#states.get(t.name)?.disabled) return;
      const since = utcTimeText(new Date(s.failingSince).toISOString());
      const reason = `failing continuously since ${since} UTC; last error: ${s.lastError ?? "unknown"}`;
      await this.disable(t.name, reason, "auto", nowMs);
      return;
    }
    // The cache, not `s`: another failure of the same batch may have opened it a moment ago.
    const openUntil = this.#states.get(t.name)?.circuitOpenUntil ?? s.circuitOpenUntil;
    const open = openUntil !== null && nowMs < openUntil;
    // Half-open (its time up, no success since): the probe failed, so it opens again whatever the
    // streak — as after an enable of a failing target, which comes back half-open (target-state.ts).
    const halfOpen = openUntil !== null && !open;
    if ((s.consecutiveFailures >= this.circuit.threshold || halfOpen) && !open) {
      const c = this.circuit;
      // Closed → open waits the base time. A failed probe doubles the last wait (5, 10, 20 s …),
      // as stored when the circuit was opened. Not the time the target has been failing: a target
      // that gets a delivery now and then was "failing" through its idle hours and went straight to
      // the maximum. Not counted in failures either: the attempts in flight when it opened all fail
      // together, and a burst of 16 would otherwise start at 2^6 times the base.
      const lastWaitMs = lastCircuitWait(before);
      const untilMs = nowMs + Math.min(c.maxMs, halfOpen ? Math.max(c.baseMs, 2 * lastWaitMs) : c.baseMs);
      // Cache first: leasing reads the cache, and the store write is a round trip away.
      this.#set(t.name, { ...s, circuitOpenUntil: untilMs, circuitWaitMs: untilMs - nowMs });
      await this.#writing(() => targetState.openCircuit(this.db.writer, { name: t.name, untilMs, nowMs }));
      this.log.warn("target circuit open", { target: t.name, until: new Date(untilMs).toISOString(), consecutiveFailures: s.consecutiveFailures });
    }
  }

  /** Disables a target and pauses its pending deliveries; returns how many were paused. */
  async disable(name: string, reason: string, by: targetState.DisabledBy, nowMs: number): Promise<number> {
    // Cache first, so no round of leasing hands the target more work meanwhile.
    const known = this.#states.get(name);
    if (known) this.#set(name, { ...known, disabled: true });
    this.#disabling.add(name);
    let paused: number;
    try {
      paused = await this.#writing(() => targetState.disableTarget(this.db.writer, { name, reason, by, nowMs }));
      await this.refresh(true);
    } finally {
      this.#disabling.delete(name);
    }
    this.log.warn("target disabled", { target: name, reason, by, paused });
    return paused;
  }

  /** Enables a target and resumes its paused deliveries; returns how many resumed. */
  async enable(name: string, nowMs: number): Promise<number> {
    const resumed = await targetState.enableTarget(this.db.writer, { name, nowMs });
    await this.refresh(true);
    this.log.info("target enabled", { target: name, resumed });
    return resumed;
  }

  /** A store write of a change already set in the cache: refreshes meanwhile keep the cache (see refresh). */
  async #writing<T>(write: () => Promise<T>): Promise<T> {
    this.#unwritten++;
    try {
      return await write();
    } finally {
      this.#unwritten--;
    }
  }

  #set(name: string, s: targetState.TargetState): void {
    this.#version++;
    this.#states.set(name, s);
  }
}

function bump(counts: Map<string, number>, name: string, by: number): void {
  const n = (counts.get(name) ?? 0) + by;
  if (n <= 0) counts.delete(name);
  else counts.set(name, n);
}

/**
 * How long a target's circuit was last opened for. A state stored before the
 * wait had a column of its own: its open-until less the time the state was
 * written, short when attempts in flight failed after it opened.
 */
function lastCircuitWait(s: targetState.TargetState | undefined): number {
  if (s?.circuitWaitMs != null) return s.circuitWaitMs;
  return s?.circuitOpenUntil != null ? Math.max(0, s.circuitOpenUntil - s.updatedAt) : 0;
}
