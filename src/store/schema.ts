/**
 * The store's tables. The durable state machines (delivery status, lease,
 * next attempt) live here, not in memory. Times are integer milliseconds
 * since the Unix epoch; ids are prefixed and time-sortable (evt_, dlv_, att_, rej_).
 */
import { sql } from "drizzle-orm";
import { blob, index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** One row per accepted raw request (duplicates only bump `duplicates`). */
export const events = sqliteTable(
  "events",
  {
    id: text("id").primaryKey(),
    source: text("source").notNull(),
    eventType: text("event_type"),
    dedupeKey: text("dedupe_key").notNull(),
    receivedAt: integer("received_at").notNull(),
    method: text("method").notNull(),
    path: text("path").notNull(),
    query: text("query").notNull(),
    /** JSON array of [name, value] pairs in received order; null once erased. */
    headers: text("headers"),
    /** Exact body bytes; null once erased. */
    body: blob("body", { mode: "buffer" }),
    contentType: text("content_type"),
    remoteAddr: text("remote_addr"),
    duplicates: integer("duplicates").notNull().default(0),
    lastDuplicateAt: integer("last_duplicate_at"),
    erasedAt: integer("erased_at"),
    /** 1 when no route took the event as it arrived (no deliveries were made), else null. */
    unrouted: integer("unrouted"),
  },
  (t) => [
    // Dedupe lookups (dedupe_key, source) and the admin's dedupe-key search share one
    // index: provider keys are random, so each row costs one random page per index.
    index("events_dedupe").on(t.dedupeKey, t.source, t.receivedAt),
    // Admin list: newest-first id cursors per filter (store/admin-queries.ts).
    index("events_source_id").on(t.source, t.id),
    index("events_type_id").on(t.eventType, t.id),
    // The admin list's status=unrouted walks this newest first; routed events (nearly all) are not in it.
    index("events_unrouted").on(t.id).where(sql`unrouted = 1`),
  ],
);

/** One row per (event, routed target). Status: pending|delivering|delivered|failed|paused|cancelled. */
export const deliveries = sqliteTable(
  "deliveries",
  {
    id: text("id").primaryKey(),
    eventId: text("event_id").notNull(),
    target: text("target").notNull(),
    status: text("status").notNull(),
    /** Attempts made so far (the next one is attempts + 1). */
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: integer("next_attempt_at").notNull(),
    /** Set while a worker holds the delivery; a stale worker cannot finish a job it lost. */
    leaseId: text("lease_id"),
    leaseUntil: integer("lease_until"),
    lastError: text("last_error"),
    /** Who made it: null for ingest (and a test event), "redeliver" for an operator's redeliver, "replay" for `hookrelay replay`. */
    origin: text("origin"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  // Partial indexes hold only the rows a query looks for, so that the common life of a
  // delivery — written leased by ingest, then delivered — touches as few B-trees as it can
  // (the primary key, deliveries_event, deliveries_target_event, and deliveries_open twice).
  // A query uses a partial index only when its WHERE names the status as a literal.
  (t) => [
    // Leasing: due pending deliveries of a target, soonest first.
    index("deliveries_due").on(t.target, t.nextAttemptAt).where(sql`status = 'pending'`),
    // Open deliveries: an ordered target's head of line (receive order), live leases per target
    // (concurrency across processes), expired leases, queue depth.
    index("deliveries_open")
      .on(t.status, t.target, t.createdAt)
      .where(sql`status = 'pending' OR status = 'delivering' OR status = 'paused'`),
    index("deliveries_event").on(t.eventId),
    // Admin list filtered by target (and by a status that needs a human) walks these in event-id order (store/admin-queries.ts).
    index("deliveries_target_event").on(t.target, t.eventId),
    // Cancelled ones too: a final status an operator looks for, and one ordinary deliveries never reach.
    index("deliveries_attention")
      .on(t.status, t.eventId)
      .where(sql`status = 'pending' OR status = 'failed' OR status = 'paused' OR status = 'cancelled'`),
    index("deliveries_target_attention")
      .on(t.target, t.status, t.eventId)
      .where(sql`status = 'pending' OR status = 'failed' OR status = 'paused' OR status = 'cancelled'`),
  ],
);

/** One row per attempt of a delivery. */
export const attempts = sqliteTable(
  "attempts",
  {
    id: text("id").primaryKey(),
    deliveryId: text("delivery_id").notNull(),
    eventId: text("event_id").notNull(),
    target: text("target").notNull(),
    at: integer("at").notNull(),
    /** HTTP status, null on timeout / network error. */
    statusCode: integer("status_code"),
    durationMs: integer("duration_ms").notNull(),
    error: text("error"),
    responseExcerpt: text("response_excerpt"),
    /** The request sent, secrets masked: JSON {method, url, headers} (delivery/transport.ts); null when none was made. */
    request: text("request"),
  },
  (t) => [
    index("attempts_delivery").on(t.deliveryId),
    index("attempts_at").on(t.at),
    // Per-target success rate over a recent window (admin targets page).
    index("attempts_target_at").on(t.target, t.at),
  ],
);

/** Requests that failed verification (capped and rate-limited by the writer). */
export const rejections = sqliteTable(
  "rejections",
  {
    id: text("id").primaryKey(),
    source: text("source").notNull(),
    receivedAt: integer("received_at").notNull(),
    reason: text("reason").notNull(),
    /** The one-line reason the sender got (null on rows stored before it was kept). */
    message: text("message"),
    method: text("method").notNull(),
    path: text("path").notNull(),
    headers: text("headers").notNull(),
    /** First 4 KB of the body. */
    bodyExcerpt: blob("body_excerpt", { mode: "buffer" }),
    remoteAddr: text("remote_addr"),
    /**
     * How many rejections this row stands for: itself, and those of the same source and reason
     * refused while its second's storing cap was reached (counted, not kept).
     */
    represents: integer("represents").notNull().default(1),
    /** Set when an operator erased its headers, body excerpt, query string and address (a privacy request); null otherwise. */
    erasedAt: integer("erased_at"),
  },
  // rejections_reason: the list filtered by reason, newest first, without reading the others.
  (t) => [index("rejections_source_at").on(t.source, t.receivedAt), index("rejections_at").on(t.receivedAt), index("rejections_reason").on(t.reason, t.id)],
);

/** Runtime state of a target that must survive restarts (disabled, circuit). */
export const targetState = sqliteTable("target_state", {
  name: text("name").primaryKey(),
  disabled: integer("disabled", { mode: "boolean" }).notNull().default(false),
  disabledReason: text("disabled_reason"),
  /** Who disabled it: config | api | gone (410) | auto (disable_after); config re-enables only its own. */
  disabledBy: text("disabled_by"),
  lastError: text("last_error"),
  /** When last_error was written: the UI shows an error from before a recovery as past. */
  lastErrorAt: integer("last_error_at"),
  consecutiveFailures: integer("consecutive_failures").notNull().default(0),
  failingSince: integer("failing_since"),
  circuitOpenUntil: integer("circuit_open_until"),
  /** How long the circuit was last opened for (a failed probe doubles it); null before this column. */
  circuitWaitMs: integer("circuit_wait_ms"),
  updatedAt: integer("updated_at").notNull().default(sql`0`),
});

/** Per-source counters that outlive the process (rejections counted even when not stored). */
export const sourceCounters = sqliteTable("source_counters", {
  source: text("source").primaryKey(),
  received: integer("received").notNull().default(0),
  duplicates: integer("duplicates").notNull().default(0),
  rejected: integer("rejected").notNull().default(0),
});

/**
 * The overview page's figures per 5-minute bucket (store/overview.ts): queue depth
 * sampled each minute (the highest sample of the bucket), and, once a bucket is
 * closed, its counts and latency percentiles summed up from the raw rows so the
 * page need not scan 24 h of attempts. Kept 25 h.
 */
export const overviewBuckets = sqliteTable(
  "overview_buckets",
  {
    startMs: integer("start_ms").notNull(),
    /** received | rejected | delivered | failed | latency_p50 | latency_p95 | queue | summed */
    series: text("series").notNull(),
    /** The target for per-target series, else "". */
    key: text("key").notNull(),
    value: integer("value").notNull(),
  },
  (t) => [primaryKey({ columns: [t.startMs, t.series, t.key] })],
);

/**
 * Bulk actions (store/jobs.ts): one row per job, its progress and its lease.
 * Status: running|done|cancelled|failed. A running job is worked on by the
 * process holding its lease (lease_id, lease_until on the database clock), in
 * batches that commit together with the job's cursor, so a restart resumes
 * after the last committed batch and two processes never run it at once.
 */
export const jobs = sqliteTable(
  "jobs",
  {
    id: text("id").primaryKey(),
    /** redeliver | cancel */
    kind: text("kind").notNull(),
    status: text("status").notNull(),
    /** JSON: the events filter (times resolved to ms, bounded by the creation time) and the target named. */
    params: text("params").notNull(),
    /** Events matched when the job was created. */
    total: integer("total").notNull(),
    /** Events worked through so far. */
    done: integer("done").notNull().default(0),
    /** Deliveries created (redeliver) or cancelled (cancel) so far. */
    affected: integer("affected").notNull().default(0),
    /** The last event id worked through; the next batch starts past it (above it when oldest_first, else below). */
    cursor: text("cursor"),
    /**
     * 1: the walk goes oldest event first (every job made since this column came, so that a
     * redeliver's deliveries are made in receive order); 0: newest first (a job an older build made).
     * A column, with its migration, so that an older build refuses the store rather than walk such a job backwards.
     */
    oldestFirst: integer("oldest_first").notNull().default(0),
    leaseId: text("lease_id"),
    leaseUntil: integer("lease_until"),
    error: text("error"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    finishedAt: integer("finished_at"),
  },
  (t) => [index("jobs_running").on(t.createdAt).where(sql`status = 'running'`)],
);
