/**
 * The store's tables on PostgreSQL: the same tables, columns and indexes as
 * the embedded file's (../schema.ts), so that the store functions' SQL reads
 * the same on both. Times are integer milliseconds in `bigint` columns, flags
 * are integers (0/1) as in SQLite. Two additions that only several relays on
 * one database need:
 * - `dedupe_keys`: one row per (source, dedupe key), so that two relays
 *   receiving the same provider retry store it once (a primary key, not a
 *   lookup race);
 * - `events.search`: the words of an event (tsvector, GIN-indexed), where the
 *   file keeps an FTS5 table.
 */
import { sql } from "drizzle-orm";
import { bigint, bigserial, customType, index, integer, pgTable, primaryKey, text } from "drizzle-orm/pg-core";

const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => "bytea" });
const tsvector = customType<{ data: string }>({ dataType: () => "tsvector" });
const ms = (name: string) => bigint(name, { mode: "number" });

export const events = pgTable(
  "events",
  {
    id: text("id").primaryKey(),
    source: text("source").notNull(),
    eventType: text("event_type"),
    dedupeKey: text("dedupe_key").notNull(),
    receivedAt: ms("received_at").notNull(),
    method: text("method").notNull(),
    path: text("path").notNull(),
    query: text("query").notNull(),
    headers: text("headers"),
    body: bytea("body"),
    contentType: text("content_type"),
    remoteAddr: text("remote_addr"),
    duplicates: integer("duplicates").notNull().default(0),
    lastDuplicateAt: ms("last_duplicate_at"),
    erasedAt: ms("erased_at"),
    unrouted: integer("unrouted"),
    /** The event's words (store/postgres/search-index.ts); null until the indexer wrote them. */
    search: tsvector("search"),
  },
  (t) => [
    index("events_dedupe").on(t.dedupeKey, t.source, t.receivedAt),
    index("events_source_id").on(t.source, t.id),
    index("events_type_id").on(t.eventType, t.id),
    index("events_unrouted").on(t.id).where(sql`unrouted = 1`),
    index("events_search").using("gin", t.search),
    // What the search indexer takes next: events not indexed yet, oldest id first.
    index("events_unindexed").on(t.id).where(sql`search IS NULL`),
  ],
);

export const deliveries = pgTable(
  "deliveries",
  {
    id: text("id").primaryKey(),
    eventId: text("event_id").notNull(),
    target: text("target").notNull(),
    status: text("status").notNull(),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: ms("next_attempt_at").notNull(),
    leaseId: text("lease_id"),
    leaseUntil: ms("lease_until"),
    lastError: text("last_error"),
    origin: text("origin"),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
    /**
     * Receive order within a millisecond, where the file has its rowid: an
     * ordered target's line is (created_at, seq). Filled by the database.
     */
    seq: bigserial("seq", { mode: "number" }).notNull(),
  },
  (t) => [
    index("deliveries_due").on(t.target, t.nextAttemptAt).where(sql`status = 'pending'`),
    index("deliveries_open")
      .on(t.status, t.target, t.createdAt, t.seq)
      .where(sql`status = 'pending' OR status = 'delivering' OR status = 'paused'`),
    index("deliveries_event").on(t.eventId),
    index("deliveries_target_event").on(t.target, t.eventId),
    index("deliveries_attention")
      .on(t.status, t.eventId)
      .where(sql`status = 'pending' OR status = 'failed' OR status = 'paused' OR status = 'cancelled'`),
    index("deliveries_target_attention")
      .on(t.target, t.status, t.eventId)
      .where(sql`status = 'pending' OR status = 'failed' OR status = 'paused' OR status = 'cancelled'`),
  ],
);

export const attempts = pgTable(
  "attempts",
  {
    id: text("id").primaryKey(),
    deliveryId: text("delivery_id").notNull(),
    eventId: text("event_id").notNull(),
    target: text("target").notNull(),
    at: ms("at").notNull(),
    statusCode: integer("status_code"),
    durationMs: integer("duration_ms").notNull(),
    error: text("error"),
    responseExcerpt: text("response_excerpt"),
    request: text("request"),
  },
  (t) => [index("attempts_delivery").on(t.deliveryId), index("attempts_at").on(t.at), index("attempts_target_at").on(t.target, t.at)],
);

export const rejections = pgTable(
  "rejections",
  {
    id: text("id").primaryKey(),
    source: text("source").notNull(),
    receivedAt: ms("received_at").notNull(),
    reason: text("reason").notNull(),
    /** The one-line reason the sender got (null on rows stored before it was kept). */
    message: text("message"),
    method: text("method").notNull(),
    path: text("path").notNull(),
    headers: text("headers").notNull(),
    bodyExcerpt: bytea("body_excerpt"),
    remoteAddr: text("remote_addr"),
    /**
     * How many rejections this row stands for: itself, and those of the same source and reason
     * refused while its second's storing cap was reached (counted, not kept).
     */
    represents: integer("represents").notNull().default(1),
    /** Set when an operator erased its headers, body excerpt, query string and address (a privacy request); null otherwise. */
    erasedAt: ms("erased_at"),
  },
  // rejections_reason: the list filtered by reason, newest first, without reading the others.
  (t) => [index("rejections_source_at").on(t.source, t.receivedAt), index("rejections_at").on(t.receivedAt), index("rejections_reason").on(t.reason, t.id)],
);

export const targetState = pgTable("target_state", {
  name: text("name").primaryKey(),
  disabled: integer("disabled").notNull().default(0),
  disabledReason: text("disabled_reason"),
  disabledBy: text("disabled_by"),
  lastError: text("last_error"),
  lastErrorAt: ms("last_error_at"),
  consecutiveFailures: integer("consecutive_failures").notNull().default(0),
  failingSince: ms("failing_since"),
  circuitOpenUntil: ms("circuit_open_until"),
  circuitWaitMs: ms("circuit_wait_ms"),
  updatedAt: ms("updated_at").notNull().default(0),
});

export const sourceCounters = pgTable("source_counters", {
  source: text("source").primaryKey(),
  received: bigint("received", { mode: "number" }).notNull().default(0),
  duplicates: bigint("duplicates", { mode: "number" }).notNull().default(0),
  rejected: bigint("rejected", { mode: "number" }).notNull().default(0),
});

export const overviewBuckets = pgTable(
  "overview_buckets",
  {
    startMs: ms("start_ms").notNull(),
    series: text("series").notNull(),
    key: text("key").notNull(),
    value: bigint("value", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.startMs, t.series, t.key] })],
);

export const jobs = pgTable(
  "jobs",
  {
    id: text("id").primaryKey(),
    kind: text("kind").notNull(),
    status: text("status").notNull(),
    params: text("params").notNull(),
    total: integer("total").notNull(),
    done: integer("done").notNull().default(0),
    affected: integer("affected").notNull().default(0),
    cursor: text("cursor"),
    oldestFirst: integer("oldest_first").notNull().default(0),
    leaseId: text("lease_id"),
    leaseUntil: ms("lease_until"),
    error: text("error"),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
    finishedAt: ms("finished_at"),
  },
  (t) => [index("jobs_running").on(t.createdAt).where(sql`status = 'running'`)],
);

/**
 * The newest stored event of each (source, dedupe key): ingest inserts here
 * first (INSERT … ON CONFLICT), so a key another relay is storing at the same
 * moment waits for that relay's commit and then reads as a duplicate.
 * `received_at + window_ms` is when a new copy stops being a duplicate.
 */
export const dedupeKeys = pgTable(
  "dedupe_keys",
  {
    source: text("source").notNull(),
    dedupeKey: text("dedupe_key").notNull(),
    eventId: text("event_id").notNull(),
    receivedAt: ms("received_at").notNull(),
    windowMs: ms("window_ms").notNull(),
  },
  (t) => [primaryKey({ columns: [t.source, t.dedupeKey] }), index("dedupe_keys_received").on(t.receivedAt)],
);
