/**
 * One attempt of one leased delivery, for every kind of target:
 *
 *   prepare → send → decide → (free the slot) → record → after
 *
 * prepare signs the stored request for this attempt; the target's transport
 * sends it (an HTTP POST, or a `listen` client's ack); core's decideOutcome
 * turns the result into the delivery's next state; the outcome joins the
 * scheduler's next round (one commit for every outcome finished meanwhile,
 * fenced by the lease); then the target's health, the metrics and the log
 * line. Nothing here throws for an expected outcome: a store that cannot
 * write leaves the lease to expire, and the attempt is made again
 * (at-least-once).
 */
import type { TargetConfig } from "../config/types.ts";
import { decideOutcome, type Decision, type SendResult } from "../core/delivery-outcome.ts";
import { makeId } from "../core/ids.ts";
import { slackBody } from "../core/slack-format.ts";
import type { Logger } from "../log/logger.ts";
import { packAttemptRequest } from "../store/attempt-request.ts";
import type { LeasedDelivery, OutcomeRecord } from "../store/deliveries.ts";
import type { TargetState } from "../store/target-state.ts";
import { buildOutboundHeaders } from "./outbound-request.ts";
import type { SendReport } from "./sender.ts";
import type { TargetHealth } from "./target-health.ts";
import type { PreparedAttempt, Transport, TransportReport } from "./transport.ts";
import { isStoreUnreachable } from "../store/errors.ts";

/** A configured target as the engine runs it: its config, decoded signing keys and transport. */
export interface DeliveryTarget {
  config: TargetConfig;
  keys: Uint8Array[];
  transport: Transport;
  /** Lease length: how long a crashed process's attempt keeps another from retrying it. */
  leaseMs: number;
}

/** What the store said of a recorded outcome. */
export interface Recorded {
  /** false: the lease was lost (another process owns the delivery now); nothing was changed. */
  updated: boolean;
  /** The target's state after the commit (failure streak, circuit), when this outcome touched it. */
  target: TargetState | null;
}

/** Reported after every attempt that was made (metrics). */
export interface AttemptReport {
  target: string;
  deliveryId: string;
  eventId: string;
  source: string;
  eventType: string | null;
  attempt: number;
  status: OutcomeRecord["status"];
  statusCode: number | null;
  durationMs: number;
  error: string | null;
}

/** What an attempt needs from the engine around it. */
export interface AttemptContext {
  clock: () => number;
  random: () => number;
  /** The provider headers a source forwards (resolved in config). */
  forwardHeaders: (source: string) => readonly string[];
  /** The target answered (or the attempt ended without a request): its slot may take the next delivery. */
  freeSlot(d: LeasedDelivery): void;
  /** Queues the outcome for the next round's commit; resolves once it is durable. */
  record(r: OutcomeRecord): Promise<Recorded>;
  health: TargetHealth;
  onAttempt?: (r: AttemptReport) => void;
  /**
   * An attempt whose outcome could not be recorded because the store is
   * unreachable (its lease runs out and it is made again): `status` is what
   * it came to, "delivered" when the target took it (a duplicate follows).
   */
  unrecorded?: (d: LeasedDelivery, status: Decision["status"] | null) => void;
  log: Logger;
}

const ERASED: TransportReport = { result: { kind: "erased" }, durationMs: 0, excerpt: null, request: null };

/** Runs one attempt of `d` to `target` from preparation to recorded outcome. */
export async function runAttempt(ctx: AttemptContext, target: DeliveryTarget, d: LeasedDelivery): Promise<void> {
  const attempt = d.attempts + 1;
  const at = ctx.clock();
  let decided: Decision | null = null;
  try {
    const prepared = prepare(ctx, target, d, attempt, at);
    const sent = prepared ? await target.transport.send(prepared) : ERASED;
    const decision = (decided = decideOutcome(sent.result, target.config.retry, attempt, ctx.clock(), ctx.random()));
    // Before the slot is freed: a delivery waiting for it must see a failure that may trip the circuit.
    ctx.health.outcomeDecided(d.target, decision);
    ctx.freeSlot(d);
    let recorded: Recorded;
    try {
      recorded = await ctx.record(outcomeRecord(d, at, sent, decision));
    } finally {
      ctx.health.outcomeSettled(d.target, decision);
    }
    await ctx.health.afterOutcome(target.config, decision, recorded, ctx.clock());
    report(ctx, d, attempt, sent, decision, recorded);
  } catch (err) {
    ctx.freeSlot(d);
    // The lease expires and another attempt follows: at-least-once, never lost. An unreachable
    // database is logged once by the store; what it cost here (folded, counted) by the engine.
    if (isStoreUnreachable(err)) ctx.unrecorded?.(d, decided?.status ?? null);
    // What it came to, as the unrecorded summary says it: "delivered" means a duplicate will follow.
    else ctx.log.error("could not record an attempt", { target: d.target, delivery: d.id, outcome: decided?.status ?? null, error: String(err) });
  }
}

/**
 * Hands a leased delivery back to the queue without sending anything (one
 * leased ahead whose target lost its full health while it waited for a
 * slot): the attempt path with a transport that sends nothing, so it is
 * recorded as any attempt not made is — due now, uncounted.
 */
export function handBack(ctx: AttemptContext, target: DeliveryTarget, d: LeasedDelivery, reason: string): Promise<void> {
  const nothingSent: TransportReport = { result: { kind: "not-sent", reason }, durationMs: 0, excerpt: null, request: null };
  return runAttempt(ctx, { ...target, transport: { send: async () => nothingSent } }, d);
}

/**
 * The request of attempt number `attempt`, signed now; null when the event was erased (nothing to send).
 * A slack-format target gets a `{"text": …}` summary instead of the stored request (no provider headers,
 * no Content-Encoding), signed like any body.
 */
function prepare(ctx: AttemptContext, target: DeliveryTarget, d: LeasedDelivery, attempt: number, nowMs: number): PreparedAttempt | null {
  if (d.body === null) return null;
  const slack = target.config.format === "slack";
  const sent = slack ? { ...d, body: slackBody({ ...d, body: d.body }), contentType: "application/json", headers: [] } : { ...d, body: d.body };
  const headers = buildOutboundHeaders(sent, { attempt, nowMs, keys: target.keys, forwardHeaders: slack ? [] : ctx.forwardHeaders(d.source) });
  return { delivery: d, attempt, headers, body: sent.body };
}

/** The outcome row: the attempt made (if any) and the delivery's next state, fenced by the lease. */
function outcomeRecord(d: LeasedDelivery, at: number, sent: TransportReport, decision: Decision): OutcomeRecord {
  const statusCode = statusCodeOf(sent.result);
  return {
    deliveryId: d.id,
    leaseId: d.leaseId,
    eventId: d.eventId,
    target: d.target,
    attempt: decision.counted
      ? {
          id: makeId("att", at, crypto.getRandomValues(new Uint8Array(10))),
          at,
          statusCode,
          durationMs: sent.durationMs,
          error: decision.error,
          responseExcerpt: sent.excerpt,
          request: sent.request && packAttemptRequest(sent.request, { id: d.eventId, deliveryId: d.id, source: d.source, eventType: d.eventType, contentType: d.contentType, headers: d.headers }),
        }
      : null,
    status: decision.status,
    nextAttemptAt: decision.nextAttemptAt,
    // An attempt not made (nothing sent) leaves the last real error in place.
    error: decision.counted || decision.status === "cancelled" ? decision.error : null,
    healthy: decision.health === null ? null : decision.health === "success",
  };
}

function statusCodeOf(result: SendResult): number | null {
  if (result.kind === "response") return result.status;
  if (result.kind === "client-failed") return result.status;
  return null;
}

// One line per attempt: delivered at info; a failure at warn, with when the next attempt is due.
function report(ctx: AttemptContext, d: LeasedDelivery, attempt: number, sent: SendReport, decision: Decision, recorded: Recorded): void {
  const fields = {
    target: d.target,
    delivery: d.id,
    event: d.eventId,
    attempt,
    statusCode: statusCodeOf(sent.result),
    durationMs: sent.durationMs,
    error: decision.error,
  };
  if (!decision.counted) {
    const what = decision.status === "cancelled" ? "attempt not made; the delivery is cancelled" : "attempt not made; the delivery goes back to the queue";
    ctx.log.debug(what, { ...fields, status: decision.status });
    return;
  }
  // A failure that disabled its target (disable_after) left the delivery paused, not retrying.
  const disabledNow = decision.status === "pending" && ctx.health.isPaused(d.target);
  ctx.onAttempt?.({
    target: d.target,
    deliveryId: d.id,
    eventId: d.eventId,
    source: d.source,
    eventType: d.eventType,
    attempt,
    status: disabledNow ? "paused" : decision.status,
    statusCode: fields.statusCode,
    durationMs: sent.durationMs,
    error: decision.error,
  });
  if (!recorded.updated) ctx.log.warn("attempt finished after its lease was lost", fields);
  else if (decision.status === "delivered") ctx.log.info("delivered", fields);
  else if (decision.status === "failed") ctx.log.warn("delivery failed", fields);
  else if (decision.status === "paused") ctx.log.warn("target gone (410): delivery paused", fields);
  // This failure disabled the target (disable_after): its pending deliveries, this one too, were paused.
  else if (disabledNow) ctx.log.warn("attempt failed; the target is disabled, delivery paused", fields);
  else ctx.log.warn("attempt failed; will retry", { ...fields, nextAttemptAt: new Date(decision.nextAttemptAt!).toISOString() });
}
