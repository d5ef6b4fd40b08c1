/**
 * Events out of the store and back in, whole (core/export-line.ts is their
 * line format): `hookrelay export` pages through them, retention's archive
 * reads the ones it is about to delete, and `hookrelay import` writes them
 * again through the writer. Plain SQL that any engine of ours runs: no
 * SQLite-only tricks, so the same functions move a store to another engine.
 */
import type { InStatement, InValue, Row } from "@libsql/client";
import type { ExportedDelivery, ExportedEvent } from "../core/export-line.ts";
import { packAttemptRequest, unpackAttemptRequest, type RequestEvent } from "./attempt-request.ts";
import { attemptOf, EVENT_ROW_COLUMNS, eventIdFloor, eventStatusOf, summaryOf, type EventStatus } from "./admin-queries.ts";
import type { WriteClient } from "./client.ts";
import type { SqlWriter } from "./sql-client.ts";
import { importedDedupeKey } from "./postgres/dedupe.ts";
import { OPEN_STATUSES } from "../core/types.ts";

const OPEN: readonly string[] = OPEN_STATUSES;

/** Reads in one snapshot (batch "read"); a StoreReader's client keeps the statements below prepared. */
export type TransferReader = Pick<WriteClient, "execute" | "batch">;

/** Which events an export takes; all optional, combined with AND. */
export interface ExportFilter {
  /** Received at or after (ms). */
  sinceMs?: number;
  /** Received before (ms). */
  untilMs?: number;
  source?: string;
  /** The event's overall status, as the events list computes it. */
  status?: EventStatus;
}

/**
 * Events read per page at most, and body bytes per page at most (a page
 * holds at least one event whatever its size): memory stays bounded
 * however many events there are and however large their bodies.
 */
const PAGE_EVENTS = 200;
const PAGE_BODY_BYTES = 8 * 1024 * 1024;

/**
 * Every event matching `filter`, oldest first, a page at a time. Events
 * received after the export started are left out (it ends even while a relay
 * keeps ingesting); each page is read in one snapshot, so an event's line
 * agrees with its deliveries, but the whole is not one snapshot (backup is).
 */
export async function* exportEventPages(reads: TransferReader, filter: ExportFilter): AsyncGenerator<ExportedEvent[]> {
  const top = await reads.execute("SELECT max(id) AS id FROM events");
  const lastId = top.rows[0]?.id;
  if (lastId === null || lastId === undefined) return;
  const where = ["id > ?", "id <= ?"];
  const args: InValue[] = [String(lastId)];
  if (filter.sinceMs !== undefined) where.push("id >= ?"), args.push(eventIdFloor(filter.sinceMs));
  if (filter.untilMs !== undefined) where.push("id < ?"), args.push(eventIdFloor(filter.untilMs));
  if (filter.source !== undefined) where.push("source = ?"), args.push(filter.source);
  let cursor = "";
  for (;;) {
    const page = await reads.execute({
      sql: `SELECT id, coalesce(length(body), 0) AS n FROM events WHERE ${where.join(" AND ")} ORDER BY id LIMIT ${PAGE_EVENTS}`,
      args: [cursor, ...args],
    });
    if (page.rows.length === 0) return;
    const ids: string[] = [];
    let bytes = 0;
    for (const r of page.rows) {
      if (ids.length > 0 && bytes + Number(r.n) > PAGE_BODY_BYTES) break;
      ids.push(String(r.id));
      bytes += Number(r.n);
    }
    cursor = ids.at(-1)!;
    const events = await readExportedEvents(reads, ids);
    const kept = filter.status === undefined ? events : events.filter((e) => e.status === filter.status);
    if (kept.length > 0) yield kept;
    if (page.rows.length < PAGE_EVENTS && ids.length === page.rows.length) return;
  }
}

/** The events with these ids (those still stored), whole, oldest first; one read snapshot. */
export async function readExportedEvents(reads: TransferReader, ids: string[]): Promise<ExportedEvent[]> {
  if (ids.length === 0) return [];
  // The id list padded (with its last id) to a power of two: a handful of statement texts, each prepared once.
  let size = 1;
  while (size < ids.length) size *= 2;
  const args = [...ids, ...Array<string>(size - ids.length).fill(ids.at(-1)!)];
  const inIds = `(${args.map(() => "?").join(",")})`;
  const [ev, dl, at] = await reads.batch(
    [
      { sql: `SELECT ${EVENT_ROW_COLUMNS} FROM events WHERE id IN ${inIds} ORDER BY id`, args },
      { sql: `SELECT * FROM deliveries WHERE event_id IN ${inIds} ORDER BY id`, args },
      {
        sql: `SELECT * FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id IN ${inIds}) ORDER BY at, id`,
        args,
      },
    ],
    "read",
  );
  const attemptsOf = groupBy(at!.rows, "delivery_id");
  const deliveriesOf = groupBy(dl!.rows, "event_id");
  return ev!.rows.map((r) => {
    const event = requestEventOf(r);
    const deliveries = (deliveriesOf.get(String(r.id)) ?? []).map((d) => deliveryOf(d, attemptsOf.get(String(d.id)) ?? [], event));
    return {
      ...summaryOf(r),
      lastDuplicateAt: n(r.last_duplicate_at),
      unrouted: Number(r.unrouted) === 1,
      status: eventStatusOf(deliveries),
      request: {
        method: String(r.method),
        path: String(r.path),
        query: String(r.query),
        headers: r.headers === null ? null : (JSON.parse(String(r.headers)) as [string, string][]),
        body: r.body === null ? null : new Uint8Array(r.body as ArrayBuffer),
        contentType: s(r.content_type),
        remoteAddr: s(r.remote_addr),
      },
      deliveries,
    };
  });
}

// What an attempt's stored request may name instead of repeating (attempt-request.ts), less the delivery.
function requestEventOf(r: Row): Omit<RequestEvent, "deliveryId"> {
  return {
    id: String(r.id),
    source: String(r.source),
    eventType: s(r.event_type),
    contentType: s(r.content_type),
    headers: r.headers === null ? null : (JSON.parse(String(r.headers)) as [string, string][]),
  };
}

function deliveryOf(d: Row, attempts: Row[], event: Omit<RequestEvent, "deliveryId">): ExportedDelivery {
  const requestEvent = { ...event, deliveryId: String(d.id) };
  return {
    id: String(d.id),
    target: String(d.target),
    status: String(d.status) as ExportedDelivery["status"],
    origin: (s(d.origin) ?? "ingest") as ExportedDelivery["origin"],
    attemptCount: Number(d.attempts),
    nextAttemptAt: Number(d.next_attempt_at),
    lastError: s(d.last_error),
    createdAt: Number(d.created_at),
    updatedAt: Number(d.updated_at),
    attempts: attempts.map((a) => ({ ...attemptOf(a), request: a.request === null ? null : unpackAttemptRequest(String(a.request), requestEvent) })),
  };
}

const s = (v: unknown) => (v === null || v === undefined ? null : String(v));
const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));

function groupBy(rows: Row[], key: string): Map<string, Row[]> {
  const out = new Map<string, Row[]>();
  for (const r of rows) {
    const k = String(r[key]);
    const list = out.get(k);
    if (list) list.push(r);
    else out.set(k, [r]);
  }
  return out;
}

/**
 * Stores exported events again, in ONE write job (all or none): same ids, same
 * bytes. An event whose id is already stored is skipped with everything of
 * it (its deliveries and attempts are written only when the event is: each
 * insert checks, inside the job, that the event was not there). Finished
 * deliveries keep their state; open ones (pending, delivering, paused) become
 * pending and due at `nowMs` — their lease belonged to another store — or
 * paused when this store has their target disabled. `dedupeWindowMs` gives
 * each source's window (0: none), so that retries of imported events stay
 * duplicates. A stored event counts in its source's counters (received, and
 * its duplicates), as it did where it was received. Returns, per event,
 * whether it was stored.
 */
export async function importEvents(writer: SqlWriter, events: ExportedEvent[], nowMs: number, dedupeWindowMs: (source: string) => number = () => 0): Promise<boolean[]> {
  const stmts: InStatement[] = [];
  const eventStmt: number[] = [];
  for (const e of events) {
    // Children first: they test "event not stored yet", which the event's own insert ends.
    const absent = "WHERE NOT EXISTS (SELECT 1 FROM events WHERE id = ?)";
    for (const d of e.deliveries) {
      const open = OPEN.includes(d.status);
      const origin = d.origin === "ingest" ? null : d.origin;
      stmts.push({
        sql: `INSERT INTO deliveries (id, event_id, target, status, attempts, next_attempt_at, lease_id, lease_until, last_error, origin, created_at, updated_at)
              SELECT ?, ?, ?, CASE WHEN ? = 1 AND EXISTS (SELECT 1 FROM target_state WHERE name = ? AND disabled = 1) THEN 'paused' ELSE ? END,
                     ?, ?, NULL, NULL, ?, ?, ?, ? ${absent}`,
        args: [d.id, e.id, d.target, open ? 1 : 0, d.target, open ? "pending" : d.status, d.attemptCount, open ? nowMs : d.nextAttemptAt, d.lastError, origin, d.createdAt, open ? nowMs : d.updatedAt, e.id],
      });
      const requestEvent: RequestEvent = { ...e, contentType: e.request.contentType, headers: e.request.headers, deliveryId: d.id };
      for (const a of d.attempts) {
        stmts.push({
          sql: `INSERT INTO attempts (id, delivery_id, event_id, target, at, status_code, duration_ms, error, response_excerpt, request)
                SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? ${absent}`,
          args: [a.id, d.id, e.id, d.target, a.at, a.statusCode, a.durationMs, a.error, a.responseExcerpt, a.request === null ? null : packAttemptRequest(a.request, requestEvent), e.id],
        });
      }
    }
    // The source's counters take the event in (received, and its duplicates) when it is stored here.
    stmts.push({
      sql: `INSERT INTO source_counters (source, received, duplicates, rejected) SELECT ?, 1, ?, 0 ${absent}
            ON CONFLICT (source) DO UPDATE SET received = source_counters.received + 1, duplicates = source_counters.duplicates + excluded.duplicates`,
      args: [e.source, e.duplicates, e.id],
    });
    eventStmt.push(stmts.length);
    const r = e.request;
    stmts.push({
      sql: `INSERT INTO events (id, source, event_type, dedupe_key, received_at, method, path, query, headers, body, content_type, remote_addr, duplicates, last_duplicate_at, erased_at, unrouted)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
      args: [
        e.id, e.source, e.eventType, e.dedupeKey, e.receivedAt, r.method, r.path, r.query,
        r.headers === null ? null : JSON.stringify(r.headers), r.body, r.contentType, r.remoteAddr,
        e.duplicates, e.lastDuplicateAt, e.erasedAt, e.unrouted ? 1 : null,
      ],
    });
    // The file finds originals among the events themselves; PostgreSQL keeps keys in a table of their own.
    const windowMs = dedupeWindowMs(e.source);
    if (writer.dialect.engine === "postgres" && windowMs > 0) stmts.push(importedDedupeKey(e, windowMs));
  }
  if (stmts.length === 0) return [];
  const results = await writer.write(stmts, "durable");
  return eventStmt.map((i) => results[i]!.rowsAffected > 0);
}
