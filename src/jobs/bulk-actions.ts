/**
 * The bulk actions: redeliver, or cancel the pending deliveries of, every
 * event the events list's filter matches. Starting one counts the matches
 * (a dry run stops there) and stores a job; the job runner (runner.ts) then
 * walks the matches oldest first, one batch at a time, each batch one
 * guarded statement (bulkStep). Oldest first, so that the deliveries a
 * redeliver makes are made in receive order: an ordered or listen target
 * takes its line in the order its deliveries were made.
 *
 * Which deliveries a batch touches, per matched event:
 * - the target: the one named, else the filter's target, else — redeliver —
 *   the targets whose current delivery has the filter's status (every target
 *   it has a delivery for without a status; today's routes for an event that
 *   never had one), — cancel — any target;
 * - redeliver creates a new delivery per pair unless one is still open
 *   (pending, delivering, paused): it is on its way already;
 * - cancel takes pending and paused deliveries (only the filter's status when
 *   that is one of them) to `cancelled`; a delivery in flight is left alone.
 */
import { countEvents, deliveriesOf, latestByTarget, listEventRefs, type EventFilter } from "../store/admin-queries.ts";
import { cancelStatement, CANCELLABLE } from "../store/cancel-deliveries.ts";
import type { DeliveryStatus } from "../store/deliveries.ts";
import { createJob, jobFence, type Job, type JobBatch, type JobKind, type JobParams, type LeasedJob } from "../store/jobs.ts";
import { redeliverPairsStatement } from "../store/redeliver.ts";
import type { Store } from "../store/index.ts";
import { JobCannotGoOn } from "./runner.ts";

/** The store's two doors; reads as the admin queries take them. */
type Doors = Pick<Store, "reads" | "writer">;

/** A bulk action as the API asks for it. */
export interface BulkRequest {
  kind: JobKind;
  filter: Omit<EventFilter, "cursor" | "limit">;
  target?: string;
  dryRun: boolean;
}

/** What starting a bulk action answers: the events matched, and the job when one was started. */
export type BulkAnswer = { matched: number; job?: Job };

/**
 * Counts the matching events and, unless a dry run, stores the job that acts
 * on them. Events received from now on are not part of it: the filter is
 * bounded by the creation time, so `total` stays the count the operator saw.
 */
export async function startBulkAction(db: Doors, req: BulkRequest, nowMs: number): Promise<BulkAnswer> {
  const { filter, matched } = await countBulkMatches(db, req.filter, nowMs);
  const params: JobParams = { filter, ...(req.target !== undefined && { target: req.target }) };
  if (req.dryRun) return { matched };
  return { matched, job: await createJob(db.writer, { kind: req.kind, params, total: matched, nowMs }) };
}

/**
 * What a bulk action made at `nowMs` acts on — `filter` bounded by that moment: events
 * received before it (the filter's own `until` if earlier) — and how many events that is,
 * counted once this process's writer has committed every event submitted before the call (a write
 * through it, behind them). Ingest submits an event at once under the time it reads, so none
 * received before the bound is still to come, and the job's walk finds what was counted
 * (another relay's, being written at that moment, may still be added: a few milliseconds'
 * worth). Counted with the bound, events received since left out: exact, at a price for two
 * filters at 1 M events — words alone lose the full-text index's own count, a broad key
 * prefix its index (seconds rather than a tenth) — paid once, at a confirmation.
 */
export async function countBulkMatches(db: Doors, asked: Omit<EventFilter, "cursor" | "limit">, nowMs: number): Promise<{ filter: Omit<EventFilter, "cursor" | "limit">; matched: number }> {
  const filter = { ...asked, untilMs: Math.min(asked.untilMs ?? Number.POSITIVE_INFINITY, nowMs) };
  await db.writer.write([{ sql: "SELECT 1" }], "redoable");
  return { filter, matched: await countEvents(db.reads, filter) };
}

/** What a batch needs besides the store: the targets that exist and today's routing of a stored event. */
export interface BulkStepDeps {
  db: Doors;
  knownTargets: ReadonlySet<string>;
  /** The targets today's routes give a stored event (an event no route took when it arrived). */
  routeEvent(eventId: string): Promise<string[]>;
}

/** The next batch of `job`: up to `limit` matched events after its cursor, and its one statement. */
export async function bulkStep(deps: BulkStepDeps, job: LeasedJob, limit: number, nowMs: number): Promise<JobBatch & { end: boolean }> {
  const { filter, target } = job.params;
  const page = await listEventRefs(deps.db.reads, { ...filter, cursor: job.cursor ?? undefined, limit, oldestFirst: job.oldestFirst });
  const ids = page.events.map((e) => e.id);
  // A broad text search walks windows: a page may hold no match and still continue below.
  const cursor = page.nextCursor ?? ids.at(-1) ?? null;
  const batch = { examined: ids.length, cursor, end: page.nextCursor === null };
  if (ids.length === 0) return { ...batch, stmt: null };
  const guard = jobFence(job);
  const named = target ?? filter.target;
  if (job.kind === "cancel") {
    const statuses = filter.status !== undefined && CANCELLABLE.includes(filter.status as DeliveryStatus) ? [filter.status as DeliveryStatus] : CANCELLABLE;
    return { ...batch, stmt: cancelStatement(ids, { target: named, statuses, nowMs, guard, reason: `cancelled by bulk job ${job.id}` }) };
  }
  // Named, the target is the job's whole point: its pairs would all be skipped, and the job end `done`.
  if (named !== undefined && !deps.knownTargets.has(named)) throw new JobCannotGoOn(`target "${named}" is no longer configured (a reload removed it)`);
  const deliveries = await deliveriesOf(deps.db.reads, ids);
  const pairs: { eventId: string; target: string }[] = [];
  // An erased event has nothing left to send.
  for (const eventId of page.events.filter((e) => e.erasedAt === null).map((e) => e.id)) {
    const latest = latestByTarget(deliveries.get(eventId) ?? []);
    let targets: string[];
    if (named !== undefined) targets = [named];
    else if (filter.status !== undefined && filter.status !== "unrouted") targets = [...latest].filter(([, s]) => s === filter.status).map(([t]) => t);
    else if (latest.size > 0) targets = [...latest.keys()];
    else targets = await deps.routeEvent(eventId);
    // A target no longer configured would keep its delivery pending for ever.
    for (const t of targets) if (deps.knownTargets.has(t)) pairs.push({ eventId, target: t });
  }
  return { ...batch, stmt: pairs.length > 0 ? redeliverPairsStatement(pairs, nowMs, guard) : null };
}
