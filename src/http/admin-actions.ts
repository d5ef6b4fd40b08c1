/**
 * The state changes the admin API and UI make, behind one interface so the
 * controllers stay free of store and engine details. `createAdminActions`
 * builds them from the store functions, preferring the delivery engine's own
 * enable/disable (which also update its in-memory view) when it has them.
 */
import { randomBytes } from "node:crypto";
import type { Config } from "../config/types.ts";
import { makeId, nextEventId } from "../core/ids.ts";
import { routeStoredEvent } from "../ingest/request-view.ts";
import type { CompiledSource } from "../ingest/sources.ts";
import { startBulkAction, type BulkAnswer, type BulkRequest } from "../jobs/bulk-actions.ts";
import { eraseEvent } from "../store/erase-event.ts";
import { eraseRejection } from "../store/erase-rejection.ts";
import { TEST_SOURCE } from "../core/types.ts";
import { silentLogger, type Logger } from "../log/logger.ts";
import { stopJob, type Job } from "../store/jobs.ts";
import { retryDelivery, type RetryResult } from "../store/retry-delivery.ts";
import type { Store } from "../store/index.ts";
import { redeliverEvent } from "../store/redeliver.ts";
import { disableTarget, enableTarget, readTargetStates } from "../store/target-state.ts";

/** What a bulk action answered: the events matched, and its job unless a dry run. */
export type BulkResult = BulkAnswer;

/**
 * What a redeliver did: how many deliveries it created and the targets it left
 * alone because their delivery is still on its way, or why none.
 */
export type RedeliverResult =
  | { ok: true; created: number; onItsWay: string[] }
  | { ok: false; reason: "not_found" | "erased" | "no_targets" | "unknown_target" }
  | { ok: false; reason: "on_its_way"; onItsWay: string[] };

/** What an erase did: found or not, when it was first erased, and whether the write-ahead log could be emptied after it. */
export interface EraseResult {
  found: boolean;
  erasedAt: number | null;
  /** False when a reader held the log: the erased bytes' older copies stay in it until it starts over. */
  walEmptied: boolean;
}

/** An erase of something unknown (or already purged): nothing done, nothing left in the log. */
const NOT_ERASED: EraseResult = { found: false, erasedAt: null, walEmptied: true };

/** What the admin side can do to events and targets. */
export interface AdminActions {
  /** New deliveries for one event: to `target`, else to every target it had (or is now routed to). */
  redeliver(eventId: string, target?: string): Promise<RedeliverResult>;
  /** Re-enables a target; its paused deliveries become due now. */
  enableTarget(name: string): Promise<void>;
  /** Disables a target; its pending deliveries are kept, paused. */
  disableTarget(name: string): Promise<void>;
  /** Stores a synthetic event (source `_test`) with one delivery to the target; `paused` when the target is disabled (it waits). */
  sendTestEvent(targetName: string): Promise<{ eventId: string; paused: boolean; circuitOpenUntil: number | null }>;
  /** Removes an event's raw body, headers, query string and address, keeping a metadata row marked erased. */
  eraseEvent(id: string): Promise<EraseResult>;
  /** Removes a rejected request's headers, body excerpt, query string and address, keeping a row marked erased. */
  eraseRejection(id: string): Promise<EraseResult>;
  /** Counts the events a filter matches and, unless a dry run, starts the job that redelivers or cancels. */
  startBulk(req: BulkRequest): Promise<BulkResult>;
  /** Stops a running job; the job as it now is, or null when unknown. */
  stopJob(id: string): Promise<Job | null>;
  /** Makes one delivery due now (same delivery, next attempt number). */
  retryDelivery(id: string): Promise<RetryResult>;
}

/** The parts of the delivery engine the actions use; every one optional. */
export interface EngineHooks {
  wake?(): void;
  enableTarget?(name: string): unknown;
  disableTarget?(name: string, reason: string): unknown;
  isPaused?(name: string): boolean;
}

/** What createAdminActions needs. */
export interface AdminActionsDeps {
  store: Store;
  /** The config in force (read on each action: a reload changes it). */
  readonly config: Config;
  readonly sources: ReadonlyMap<string, CompiledSource>;
  nowMs: () => number;
  engine?: EngineHooks | null;
  /** The job runner: told when a job was created. */
  jobs?: { wake(): void } | null;
  /** Where what an operator did is logged (an erase above all: the privacy audit trail). */
  log?: Logger;
}

const DISABLED_REASON = "disabled by an operator";

/** AdminActions over the store (and the engine when present). */
export function createAdminActions(deps: AdminActionsDeps): AdminActions {
  const { store, nowMs } = deps;
  const log = deps.log ?? silentLogger;
  const client = store.reads;
  const known = { has: (name: string) => deps.config.targets.some((t) => t.name === name) };
  const wake = () => deps.engine?.wake?.();

  const isDisabled = async (name: string) => {
    if (deps.engine?.isPaused) return deps.engine.isPaused(name);
    const state = (await readTargetStates(client)).get(name);
    return state?.disabled ?? !(deps.config.targets.find((t) => t.name === name)?.enabled ?? true);
  };

  /**
   * What follows an erase, whatever was erased: the audit trail's line (a repeat said so), then the
   * erased bytes' older page images out of the write-ahead log now, not when traffic overwrites them
   * — unless a reader (a backup or export running) holds it: said, then.
   */
  const afterErase = async (msg: string, subject: Record<string, string>, erasedAt: number, now: number, detail: Record<string, unknown> = {}): Promise<EraseResult> => {
    log.info(msg, { ...subject, ...detail, ...(erasedAt !== now && { again: true }) });
    const walEmptied = await store.flushWal();
    if (!walEmptied) log.warn("erased bytes stay in the write-ahead log until it starts over: a reader holds it (a backup or export running?)", subject);
    return { found: true, erasedAt, walEmptied };
  };

  return {
    async redeliver(eventId, target) {
      if (target !== undefined && !known.has(target)) return { ok: false, reason: "unknown_target" };
      const made = (created: number, onItsWay: string[]): RedeliverResult => {
        if (created === 0) return { ok: false, reason: "on_its_way", onItsWay };
        wake();
        return { ok: true, created, onItsWay };
      };
      const first = await redeliverEvent(store, { eventId, target, nowMs: nowMs() });
      if (first.ok) {
        // None made (each still on its way) is refused (on_its_way): nothing to put on record.
        if (first.deliveryIds.length > 0) log.info("event redelivered", { event: eventId, target: target ?? null, deliveries: first.deliveryIds.length });
        return made(first.deliveryIds.length, first.onItsWay);
      }
      if (first.reason !== "no_targets") return first;
      // Never delivered (unrouted when it arrived): route it again with today's routes and filters.
      let created = 0;
      const onItsWay: string[] = [];
      for (const t of (await routeStoredEvent(client, deps.sources, eventId, deps.config.server.maxBodyBytes)).filter((t) => known.has(t))) {
        const r = await redeliverEvent(store, { eventId, target: t, nowMs: nowMs() });
        if (r.ok) created += r.deliveryIds.length, onItsWay.push(...r.onItsWay);
      }
      if (created > 0) log.info("event redelivered", { event: eventId, target: null, deliveries: created, routedAgain: true });
      return created === 0 && onItsWay.length === 0 ? first : made(created, onItsWay);
    },
    async enableTarget(name) {
      if (deps.engine?.enableTarget) await deps.engine.enableTarget(name);
      else await enableTarget(store.writer, { name, nowMs: nowMs() });
      wake();
    },
    async disableTarget(name) {
      if (deps.engine?.disableTarget) await deps.engine.disableTarget(name, DISABLED_REASON);
      else await disableTarget(store.writer, { name, reason: DISABLED_REASON, by: "api", nowMs: nowMs() });
    },
    async sendTestEvent(targetName) {
      const now = nowMs();
      const id = nextEventId(now);
      const body = JSON.stringify({ type: "hookrelay.test", id, target: targetName, sentAt: new Date(now).toISOString() });
      const paused = await isDisabled(targetName);
      await store.writer.submit({
        id,
        source: TEST_SOURCE,
        eventType: "hookrelay.test",
        dedupeKey: id,
        dedupeWindowMs: 0,
        receivedAt: now,
        method: "POST",
        path: `/in/${TEST_SOURCE}`,
        query: "",
        headers: [["content-type", "application/json"], ["user-agent", "hookrelay-admin"]],
        body: new TextEncoder().encode(body),
        contentType: "application/json",
        remoteAddr: null,
        deliveries: [{ id: makeId("dlv", now, randomBytes(10)), target: targetName, status: paused ? "paused" : "pending" }],
      });
      wake();
      // It waits for an open circuit like any delivery: say until when, or it looks lost.
      const until = (await readTargetStates(client)).get(targetName)?.circuitOpenUntil ?? null;
      const circuitOpenUntil = !paused && until !== null && until > now ? until : null;
      log.info("test event sent", { target: targetName, event: id, paused });
      return { eventId: id, paused, circuitOpenUntil };
    },
    async eraseEvent(id) {
      const now = nowMs();
      const erased = await eraseEvent(store.writer, id, now);
      if (!erased.found) return NOT_ERASED;
      // Attempts on their way still reach their targets; what they record of the reply is left out (store/deliveries.ts).
      return afterErase("event erased", { event: id }, erased.erasedAt!, now, { inFlightTo: erased.inFlightTo });
    },
    async eraseRejection(id) {
      const now = nowMs();
      const erased = await eraseRejection(store.writer, id, now);
      if (!erased.found) return NOT_ERASED;
      return afterErase("rejection erased", { rejection: id }, erased.erasedAt!, now);
    },
    async startBulk(req) {
      const answer = await startBulkAction(store, req, nowMs());
      if (answer.job) log.info("bulk action started", { kind: req.kind, job: answer.job.id, events: answer.matched, filter: req.filter, target: req.target ?? null });
      if (answer.job?.status === "running") deps.jobs?.wake();
      return answer;
    },
    async stopJob(id) {
      const job = await stopJob(store, id, nowMs());
      if (job) log.info("bulk action stopped", { job: id, status: job.status });
      return job;
    },
    async retryDelivery(id) {
      const r = await retryDelivery(store, id, nowMs(), deps.config.targets.map((t) => t.name));
      if (r.ok) {
        log.info("delivery retried", { delivery: id });
        wake();
      }
      return r;
    },
  };
}
