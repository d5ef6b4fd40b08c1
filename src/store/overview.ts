/**
 * The overview page's figures: the last 24 h in 5-minute buckets — events
 * received, requests rejected, attempts delivered and failed per target,
 * attempt latency p50/p95, queue depth per target.
 *
 * Queue depth cannot be derived afterwards (a delivery's row does not keep
 * when it was in the queue), so it is sampled: once a minute, one grouped
 * count over the open-deliveries index, written through the writer; a
 * bucket keeps its highest sample. Samples are a store row, not memory, so
 * every relay on one store sees the same history and a restart loses none;
 * relays sampling the same minute write the same row.
 *
 * The other figures come from the raw rows. Counted live, 24 h of attempts
 * on the 1 M-event bench store took 0.9 s (a quarter million rows looked up
 * and sorted), so a closed bucket is summed once — by the same minute job,
 * 5 minutes after it ends (an attempt's row is written after the attempt) —
 * and stored as a few rows; the page reads those and counts live only the
 * buckets not summed yet (the last two or three, or all of them before the
 * job's first run). Rows older than 25 h are deleted by the job itself.
 */
import type { InStatement } from "@libsql/client";
import { eventIdFloor } from "./admin-queries.ts";
import { startPeriodicJob, type PeriodicJob } from "./periodic-job.ts";
import { queueStats } from "./queue-stats.ts";
import type { Store } from "./index.ts";
import type { Logger } from "../log/logger.ts";
import { isStoreUnreachable } from "./errors.ts";

/** One bucket's width. */
export const OVERVIEW_STEP_MS = 5 * 60_000;
/** Buckets on the page (24 h). */
export const OVERVIEW_BUCKETS = 288;
// A bucket is summed this long after its end: attempts are recorded after they end (timeouts included).
const SETTLE_MS = 5 * 60_000;
const KEEP_MS = 25 * 3_600_000;

/** What one bucket holds. */
export interface BucketFigures {
  received: number;
  rejected: number;
  delivered: Record<string, number>;
  failed: Record<string, number>;
  latencyP50: number | null;
  latencyP95: number | null;
}

/** The page's series: one value per bucket, oldest first. */
export interface Overview {
  startMs: number;
  stepMs: number;
  received: number[];
  rejected: number[];
  delivered: Record<string, number[]>;
  failed: Record<string, number[]>;
  latencyP50: (number | null)[];
  latencyP95: (number | null)[];
  /** Highest sampled depth per bucket; null where no sample was taken. */
  queue: Record<string, (number | null)[]>;
}

/** Start of the bucket holding `ms`. */
export const bucketOf = (ms: number) => Math.floor(ms / OVERVIEW_STEP_MS) * OVERVIEW_STEP_MS;

// Nearest-rank percentile of the bucket's attempt durations: sorts that bucket's attempts only.
const PERCENTILE_SQL = "SELECT duration_ms AS d FROM attempts WHERE at >= ? AND at < ? ORDER BY duration_ms LIMIT 1 OFFSET ?";

/** Counts one bucket from the raw rows (index ranges on events.id, rejections_at, attempts_at). */
export async function countBucket(reads: OverviewDoors["reads"], startMs: number): Promise<BucketFigures> {
  const endMs = startMs + OVERVIEW_STEP_MS;
  const events = await reads.execute({ sql: "SELECT count(*) AS n FROM events WHERE id >= ? AND id < ?", args: [eventIdFloor(startMs), eventIdFloor(endMs)] });
  // What the rows stand for (rejections.represents): a flood past the storing cap counts in full.
  const rejected = await reads.execute({ sql: "SELECT coalesce(sum(represents), 0) AS n FROM rejections WHERE received_at >= ? AND received_at < ?", args: [startMs, endMs] });
  const outcomes = await reads.execute({
    // CASE, not a sum of the comparison: PostgreSQL has no sum of booleans.
    sql: "SELECT target, count(*) AS n, coalesce(sum(CASE WHEN status_code BETWEEN 200 AND 299 THEN 1 ELSE 0 END), 0) AS ok FROM attempts WHERE at >= ? AND at < ? GROUP BY target",
    args: [startMs, endMs],
  });
  const f: BucketFigures = { received: Number(events.rows[0]!.n), rejected: Number(rejected.rows[0]!.n), delivered: {}, failed: {}, latencyP50: null, latencyP95: null };
  let attempts = 0;
  for (const r of outcomes.rows) {
    const n = Number(r.n);
    const ok = Number(r.ok);
    attempts += n;
    if (ok > 0) f.delivered[String(r.target)] = ok;
    if (n > ok) f.failed[String(r.target)] = n - ok;
  }
  if (attempts > 0) {
    const rank = (p: number) => Math.max(1, Math.ceil((p * attempts) / 100)) - 1;
    f.latencyP50 = Number((await reads.execute({ sql: PERCENTILE_SQL, args: [startMs, endMs, rank(50)] })).rows[0]!.d);
    f.latencyP95 = Number((await reads.execute({ sql: PERCENTILE_SQL, args: [startMs, endMs, rank(95)] })).rows[0]!.d);
  }
  return f;
}

/** The last 24 h up to `nowMs`: summed buckets from overview_buckets, the rest counted now. */
export async function readOverview(reads: OverviewDoors["reads"], nowMs: number, targets: string[]): Promise<Overview> {
  const startMs = bucketOf(nowMs) - (OVERVIEW_BUCKETS - 1) * OVERVIEW_STEP_MS;
  const zeros = () => new Array<number>(OVERVIEW_BUCKETS).fill(0);
  const o: Overview = {
    startMs,
    stepMs: OVERVIEW_STEP_MS,
    received: zeros(),
    rejected: zeros(),
    delivered: Object.fromEntries(targets.map((t) => [t, zeros()])),
    failed: Object.fromEntries(targets.map((t) => [t, zeros()])),
    latencyP50: new Array(OVERVIEW_BUCKETS).fill(null),
    latencyP95: new Array(OVERVIEW_BUCKETS).fill(null),
    queue: Object.fromEntries(targets.map((t) => [t, new Array(OVERVIEW_BUCKETS).fill(null)])),
  };
  const put = (i: number, f: BucketFigures) => {
    o.received[i] = f.received;
    o.rejected[i] = f.rejected;
    for (const [t, n] of Object.entries(f.delivered)) if (o.delivered[t]) o.delivered[t]![i] = n;
    for (const [t, n] of Object.entries(f.failed)) if (o.failed[t]) o.failed[t]![i] = n;
    o.latencyP50[i] = f.latencyP50;
    o.latencyP95[i] = f.latencyP95;
  };
  const rows = await reads.execute({ sql: "SELECT start_ms, series, key, value FROM overview_buckets WHERE start_ms >= ?", args: [startMs] });
  const summed = new Map<number, BucketFigures>();
  for (const r of rows.rows) {
    const i = (Number(r.start_ms) - startMs) / OVERVIEW_STEP_MS;
    if (!Number.isInteger(i) || i >= OVERVIEW_BUCKETS) continue;
    const series = String(r.series);
    const value = Number(r.value);
    if (series === "queue") {
      if (o.queue[String(r.key)]) o.queue[String(r.key)]![i] = value;
      continue;
    }
    const f = summed.get(i) ?? { received: 0, rejected: 0, delivered: {}, failed: {}, latencyP50: null, latencyP95: null };
    summed.set(i, f);
    if (series === "received" || series === "rejected") f[series] = value;
    else if (series === "delivered" || series === "failed") f[series][String(r.key)] = value;
    else if (series === "latency_p50") f.latencyP50 = value;
    else if (series === "latency_p95") f.latencyP95 = value;
  }
  // Only buckets marked "summed" are complete; any other (recent, or never summed) is counted now.
  const complete = new Set(rows.rows.filter((r) => r.series === "summed").map((r) => (Number(r.start_ms) - startMs) / OVERVIEW_STEP_MS));
  for (let i = 0; i < OVERVIEW_BUCKETS; i++) put(i, complete.has(i) ? summed.get(i)! : await countBucket(reads, startMs + i * OVERVIEW_STEP_MS));
  // The current bucket also counts the depth right now: the page is never a minute behind.
  for (const q of await queueStats(reads)) {
    const series = o.queue[q.target];
    if (series) series[OVERVIEW_BUCKETS - 1] = Math.max(series[OVERVIEW_BUCKETS - 1] ?? 0, q.depth);
  }
  return o;
}

/** The store doors the minute job uses. */
type OverviewDoors = Pick<Store, "reads" | "writer">;

/** The rows that store one closed bucket's figures (replacing any earlier ones). */
function bucketRows(startMs: number, f: BucketFigures): InStatement[] {
  const values: [string, string, number][] = [["received", "", f.received], ["rejected", "", f.rejected]];
  for (const [t, n] of Object.entries(f.delivered)) values.push(["delivered", t, n]);
  for (const [t, n] of Object.entries(f.failed)) values.push(["failed", t, n]);
  if (f.latencyP50 !== null) values.push(["latency_p50", "", f.latencyP50]);
  if (f.latencyP95 !== null) values.push(["latency_p95", "", f.latencyP95]);
  values.push(["summed", "", 1]);
  return [
    { sql: "DELETE FROM overview_buckets WHERE start_ms = ? AND series <> 'queue'", args: [startMs] },
    {
      // Two relays on one database may sum the same bucket at once: the same figures, either row stands.
      sql: `INSERT INTO overview_buckets (start_ms, series, key, value) VALUES ${values.map(() => "(?, ?, ?, ?)").join(", ")}
            ON CONFLICT (start_ms, series, key) DO UPDATE SET value = excluded.value`,
      args: values.flatMap(([series, key, value]) => [startMs, series, key, value]),
    },
  ];
}

/**
 * One run of the minute job: samples each target's queue depth into the bucket of `nowMs`,
 * sums every closed bucket of the last 24 h not summed yet, deletes rows older than 25 h.
 */
export async function updateOverview(db: OverviewDoors, nowMs: number, targets: string[], stopped = () => false): Promise<{ summed: number }> {
  const depth = new Map((await queueStats(db.reads)).map((q) => [q.target, q.depth]));
  const bucket = bucketOf(nowMs);
  await db.writer.write(
    [
      ...targets.map((t) => ({
        sql: `INSERT INTO overview_buckets (start_ms, series, key, value) VALUES (?, 'queue', ?, ?)
              ON CONFLICT (start_ms, series, key) DO UPDATE SET value = ${db.writer.dialect.greatest("overview_buckets.value", "excluded.value")}`,
        args: [bucket, t, depth.get(t) ?? 0],
      })),
      { sql: "DELETE FROM overview_buckets WHERE start_ms < ?", args: [nowMs - KEEP_MS] },
    ],
    "redoable", // a lost sample is a gap in a chart, not lost data
  );
  const first = bucket - (OVERVIEW_BUCKETS - 1) * OVERVIEW_STEP_MS;
  const done = await db.reads.execute({ sql: "SELECT start_ms FROM overview_buckets WHERE series = 'summed' AND start_ms >= ?", args: [first] });
  const have = new Set(done.rows.map((r) => Number(r.start_ms)));
  let summed = 0;
  let pending: InStatement[] = [];
  const flush = async () => {
    if (pending.length > 0) await db.writer.write(pending, "redoable");
    pending = [];
  };
  for (let start = first; start + OVERVIEW_STEP_MS + SETTLE_MS <= nowMs && !stopped(); start += OVERVIEW_STEP_MS) {
    if (have.has(start)) continue;
    pending.push(...bucketRows(start, await countBucket(db.reads, start)));
    // A first run sums up to 286 buckets: one write job per 32 of them, and requests get in between buckets.
    if (++summed % 32 === 0) await flush();
    await new Promise((r) => setTimeout(r, 1));
  }
  await flush();
  return { summed };
}

/** The minute job's handle: one run now (or the one in progress), stop. */
export type OverviewJob = PeriodicJob<void>;

/** Runs updateOverview `firstAfterMs` (10 s) after start, then every `everyMs` (1 min); failures are logged and retried next time. */
export function startOverviewJob(o: {
  db: OverviewDoors;
  /** The target names in force (a reload may change them). */
  targets: () => string[];
  nowMs: () => number;
  log: Logger;
  everyMs?: number;
  firstAfterMs?: number;
}): OverviewJob {
  // Not at once: a relay starting up has better things to do, and one stopped within seconds never needs it.
  return startPeriodicJob(
    (stopping) =>
      updateOverview(o.db, o.nowMs(), o.targets(), stopping).then(
        () => {},
        (err: unknown) => void (isStoreUnreachable(err) || o.log.warn("overview update failed", { error: String((err as Error)?.message ?? err) })),
      ),
    { firstAfterMs: o.firstAfterMs ?? 10_000, everyMs: o.everyMs ?? 60_000 },
  );
}
