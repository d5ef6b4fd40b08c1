/**
 * Read queries for the admin side: the events list with filters and id
 * cursors, one event with its deliveries and attempts, rejections, and the
 * per-source / per-target figures. Every list is a walk down an index in id
 * order that stops at the page size, so a page costs the same at 1 M rows as
 * at 1 k (see bench/admin-queries.ts and the indexes named in schema.ts).
 */
import { unpackAttemptRequest } from "./attempt-request.ts";
import type { AttemptRecord, AttemptRequest } from "./deliveries.ts";
import { latestOfPair, type DeliveryOrigin } from "./redeliver.ts";
import type { RejectionItem } from "./writer/group-commit.ts";
import type { InValue, Row } from "@libsql/client";
import { idFloor } from "../core/ids.ts";
import type { StoreReads } from "./sql-client.ts";
import { DELIVERY_STATUSES, type DeliveryStatus } from "../core/types.ts";
import type { Dialect } from "./dialect.ts";
import { tsqueryOf } from "./postgres/words.ts";

type Client = StoreReads;

export { DELIVERY_STATUSES, type DeliveryStatus };
/** An event's overall status: the most actionable of its current deliveries; "unrouted" without any (no route took it). */
export type EventStatus = DeliveryStatus | "unrouted";
/** Every status the events list filters on. */
export const EVENT_STATUSES = [...DELIVERY_STATUSES, "unrouted"] as const;

/** Filters of the events list; all optional, combined with AND. */
export interface EventFilter {
  source?: string;
  target?: string;
  /** Matches events whose CURRENT delivery (latest per target) has this status; "unrouted": events without deliveries. */
  status?: EventStatus;
  type?: string;
  /** Exact event id, or a prefix of the dedupe key (an exact key is a prefix of itself). */
  q?: string;
  /** Words of the body and header values, as an FTS5 query (core/search-text.ts); listed by store/event-search.ts. */
  text?: string;
  /** With `text`: also the events whose id or dedupe key is exactly this (the UI's one search box). */
  orKey?: string;
  sinceMs?: number;
  /** Exclusive upper bound. */
  untilMs?: number;
  /** The last id of the previous page: the next page holds older events (newer ones, oldestFirst). */
  cursor?: string;
  limit: number;
  /**
   * Walks the list oldest first (a bulk job: its deliveries made in receive
   * order, the order an ordered or listen target takes them in). The events
   * list and the search (store/event-search.ts) are newest first.
   */
  oldestFirst?: boolean;
}

/** An event as the list shows it (no body, no headers). */
export interface EventSummary {
  id: string;
  source: string;
  eventType: string | null;
  dedupeKey: string;
  receivedAt: number;
  duplicates: number;
  status: EventStatus;
  /** Each target's latest delivery status, by target name; `status` is the one that needs a human most. */
  targets: TargetStatus[];
  erasedAt: number | null;
}

/** An event's list fields without its delivery statuses (what the events table alone says). */
export type EventRef = Omit<EventSummary, "status" | "targets">;

/** One target's latest delivery status for an event. */
export interface TargetStatus {
  target: string;
  status: DeliveryStatus;
}

/** One attempt of a delivery: the attempts row as the delivery engine records it. */
export type AttemptRow = Omit<AttemptRecord, "request"> & { request: AttemptRequest | null };

/** One delivery with its attempts, oldest first. */
export interface DeliveryRow {
  id: string;
  target: string;
  status: DeliveryStatus;
  attemptCount: number;
  nextAttemptAt: number;
  lastError: string | null;
  /** Who made it: ingest (and a test event), an operator's redeliver, or `hookrelay replay`. */
  origin: DeliveryOrigin;
  createdAt: number;
  attempts: AttemptRow[];
}

/** One event with its raw request and deliveries. */
export interface EventDetail extends EventSummary {
  method: string;
  path: string;
  query: string;
  /** null once erased. */
  headers: [string, string][] | null;
  body: Uint8Array | null;
  contentType: string | null;
  remoteAddr: string | null;
  lastDuplicateAt: number | null;
  deliveries: DeliveryRow[];
}

const s = (v: unknown) => (v === null || v === undefined ? null : String(v));
const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));
const bytes = (v: unknown) => (v === null || v === undefined ? null : new Uint8Array(v as ArrayBuffer));

/** The smallest event id made at `ms`: time bounds become id bounds on the primary key. */
export function eventIdFloor(ms: number): string {
  return idFloor("evt", ms);
}

// failed first: the list should surface what needs a human.
// A cancelled delivery says more than a delivered one beside it: an operator stopped it.
const PRIORITY: DeliveryStatus[] = ["failed", "paused", "delivering", "pending", "cancelled", "delivered"];

/** Overall status from an event's deliveries: only the latest one per target counts (a redelivery supersedes). */
export function eventStatusOf(deliveries: DeliveryBrief[]): EventStatus {
  return overallOf(latestByTarget(deliveries));
}

/** An event's overall status and each target's, from its deliveries (see eventStatusOf). */
export function statusesFrom(deliveries: DeliveryBrief[]): { status: EventStatus; targets: TargetStatus[] } {
  const latest = latestByTarget(deliveries);
  const targets = [...latest].map(([target, status]) => ({ target, status })).sort((a, b) => (a.target < b.target ? -1 : 1));
  return { status: overallOf(latest), targets };
}

// The status among the targets' latest that needs a human most; unrouted with none.
function overallOf(latest: Map<string, DeliveryStatus>): EventStatus {
  const present = new Set(latest.values());
  return PRIORITY.find((p) => present.has(p)) ?? "unrouted";
}

/** The list columns of events aliased `e`. */
export const SUMMARY_COLS = "e.id, e.source, e.event_type, e.dedupe_key, e.received_at, e.duplicates, e.erased_at";

/**
 * Search tuning. A key prefix matching more than `broadPrefix` events is
 * searched in windows of `scanWindow` events instead of sorting every match;
 * such a page may hold fewer than `limit` events while nextCursor continues.
 */
export interface SearchTuning {
  broadPrefix: number;
  scanWindow: number;
}
const TUNING: SearchTuning = { broadPrefix: 2000, scanWindow: 20_000 };

type Page = { events: EventSummary[]; nextCursor: string | null };
const keyRange = (q: string) => [q, `${q}\u{10FFFF}`]; // U+10FFFF sorts after any continuation of q

/** One page of events, newest first, and the cursor of the next page (null on the last). */
export async function listEvents(client: Client, f: EventFilter, tuning: SearchTuning = TUNING): Promise<Page> {
  const page = await rowPage(client, f, tuning);
  return { events: await withStatuses(client, page.rows), nextCursor: page.nextCursor };
}

/** listEvents without the events' statuses (one query fewer): what a bulk job walks, in either direction (`oldestFirst`). */
export async function listEventRefs(client: Client, f: EventFilter, tuning: SearchTuning = TUNING): Promise<{ events: EventRef[]; nextCursor: string | null }> {
  const page = await rowPage(client, f, tuning);
  return { events: page.rows.map(summaryOf), nextCursor: page.nextCursor };
}

type RowPage = { rows: Row[]; nextCursor: string | null };

async function rowPage(client: Client, f: EventFilter, tuning: SearchTuning): Promise<RowPage> {
  if (f.status === "unrouted" && f.target !== undefined) return { rows: [], nextCursor: null }; // an unrouted event has no target
  if (f.q !== undefined) {
    const rs = await client.execute({
      sql: `SELECT count(*) AS n FROM (SELECT 1 FROM events WHERE dedupe_key >= ? AND dedupe_key < ? LIMIT ${tuning.broadPrefix + 1}) AS m`,
      args: keyRange(f.q),
    });
    if (Number(rs.rows[0]!.n) > tuning.broadPrefix) return listWindowed(client, f, tuning.scanWindow);
  }
  return listIndexed(client, f);
}

// Walks one index in id order and stops at the page size: a delivery index
// (d.event_id) with a target/status filter, else an events index.
async function listIndexed(client: Client, f: EventFilter): Promise<RowPage> {
  const w = filterWhere(client.dialect, f);
  const args = [...w.args];
  const cond = w.where.length > 0 ? `WHERE ${w.where.join(" AND ")}` : "";
  // PostgreSQL lists the events' columns of a group only when grouped by their key (SQLite: one walk of d.event_id's index).
  const groupBy = client.dialect.engine === "postgres" ? "d.event_id, e.id" : "d.event_id";
  const dir = f.oldestFirst ? "ASC" : "DESC";
  const sql = w.byDelivery
    ? `SELECT ${SUMMARY_COLS} FROM deliveries d ${w.hint}JOIN events e ON e.id = d.event_id ${cond} GROUP BY ${groupBy} ORDER BY d.event_id ${dir} LIMIT ?`
    : `SELECT ${SUMMARY_COLS} FROM events e ${w.hint}${cond} ORDER BY e.id ${dir} LIMIT ?`;
  args.push(f.limit + 1);
  const rs = await client.execute({ sql, args });
  const rows = rs.rows.slice(0, f.limit);
  return { rows, nextCursor: rs.rows.length > f.limit ? String(rows.at(-1)!.id) : null };
}

/**
 * How many events match `f` (its cursor and limit ignored): the conditions of
 * the list's own walk, counted. Drives the bulk actions' dry runs and the
 * events page's "N matching".
 */
export async function countEvents(client: Client, f: Omit<EventFilter, "cursor" | "limit">): Promise<number> {
  if (f.status === "unrouted" && f.target !== undefined) return 0;
  if (wordsAlone(f)) return countWords(client, f);
  if (f.status === "delivered") return countDelivered(client, { ...f, status: undefined });
  const w = filterWhere(client.dialect, f, { keyOr: true });
  const rs = await client.execute({ sql: `SELECT count(*) AS n FROM (${matchingIds(w)}) AS m`, args: w.args });
  return Number(rs.rows[0]!.n);
}

/** A filter without its page: what a count (and a bulk action) covers. */
export function withoutPaging({ cursor: _cursor, limit: _limit, ...filter }: EventFilter): Omit<EventFilter, "cursor" | "limit"> {
  return filter;
}

/**
 * countEvents, but stops counting past `atMost`: returns at most atMost + 1
 * (read "more than atMost"). Cheap whatever the filter, for a page that shows
 * the count on every render; the exact count waits for the confirmation step.
 */
export async function countEventsUpTo(client: Client, f: Omit<EventFilter, "cursor" | "limit">, atMost: number): Promise<number> {
  if (f.status === "unrouted" && f.target !== undefined) return 0;
  if (wordsAlone(f)) return Math.min(await countWords(client, f), Math.floor(atMost) + 1);
  const w = filterWhere(client.dialect, f, { keyOr: true });
  const rs = await client.execute({ sql: `SELECT count(*) AS n FROM (${matchingIds(w)} LIMIT ${Math.floor(atMost) + 1}) AS m`, args: w.args });
  return Number(rs.rows[0]!.n);
}

// Words and nothing else (but the box's exact key): the full-text index counts its own
// matches without reading an event (28 ms for a word of every event at 1 M, against 0.4 s
// testing each event against them). Erased and deleted events have left the index.
const wordsAlone = (f: Omit<EventFilter, "cursor" | "limit">) =>
  f.text !== undefined &&
  [f.source, f.target, f.status, f.type, f.q, f.sinceMs, f.untilMs, (f as EventFilter).cursor].every((v) => v === undefined);

async function countWords(client: Client, f: Omit<EventFilter, "cursor" | "limit">): Promise<number> {
  if (client.dialect.engine === "postgres") {
    // The GIN index answers the words; the box's exact key is two index lookups beside it.
    const rs = await client.execute({
      sql: `SELECT count(*) AS n FROM events WHERE search @@ ?::tsquery${f.orKey === undefined ? "" : " OR id = ? OR dedupe_key = ?"}`,
      args: [tsqueryOf(f.text!), ...(f.orKey === undefined ? [] : [f.orKey, f.orKey])],
    });
    return Number(rs.rows[0]!.n);
  }
  const words = "SELECT rowid FROM events_fts WHERE events_fts MATCH ?";
  const rs =
    f.orKey === undefined
      ? await client.execute({ sql: `SELECT count(*) AS n FROM events_fts WHERE events_fts MATCH ?`, args: [f.text!] })
      : await client.execute({
          sql: `SELECT count(*) AS n FROM (${words} UNION SELECT rowid FROM events WHERE id = ? UNION SELECT rowid FROM events WHERE dedupe_key = ?)`,
          args: [f.text!, f.orKey, f.orKey],
        });
  return Number(rs.rows[0]!.n);
}

// The ids (deliveries: event ids, one per event) the walk of `w` visits, unordered.
function matchingIds(w: ReturnType<typeof filterWhere>): string {
  const cond = w.where.length > 0 ? `WHERE ${w.where.join(" AND ")}` : "";
  // With only delivery conditions the events table is not read at all.
  const join = w.where.some((c) => /\be\./.test(c)) ? "JOIN events e ON e.id = d.event_id " : "";
  return w.byDelivery ? `SELECT d.event_id FROM deliveries d ${w.hint}${join}${cond} GROUP BY d.event_id` : `SELECT e.id FROM events e ${w.hint}${cond}`;
}

// Delivered is the one status no partial index holds (nearly every delivery ends there), and
// walking all of them costs seconds at 1 M. Counted the other way round instead: the routed
// events (to the target, if one is named) less those without a current delivered delivery (to
// it) — all found among the events with a delivery in a status the partial indexes hold: few,
// in any store that delivers.
async function countDelivered(client: Client, f: Omit<EventFilter, "cursor" | "limit">): Promise<number> {
  const routed = f.target !== undefined ? await countEvents(client, f) : (await countEvents(client, f)) - (await countEvents(client, { ...f, status: "unrouted" }));
  // Any delivery (to the target) in those statuses, superseded or not: one whose current delivery
  // is delivered is taken out by the test below all the same, and the walk stays in the index.
  const open = filterWhere(client.dialect, { ...f, status: "pending" }, { keyOr: true, statusTerm: ATTENTION, anyDelivery: true });
  // Named, or SQLite walks all of the target's deliveries in event order to save a sort (0.8 s at 1 M).
  open.hint = client.dialect.indexedBy(f.target !== undefined ? "deliveries_target_attention" : "deliveries_attention");
  const flying = filterWhere(client.dialect, { ...f, status: "delivering" }, { keyOr: true, anyDelivery: true });
  // An event counts as delivered when any current delivery (to the target) is.
  const delivered = `EXISTS (SELECT 1 FROM deliveries x WHERE x.event_id = u.event_id ${f.target !== undefined ? "AND x.target = ?" : ""}
    AND x.status = 'delivered' AND ${latestOfPair("x")})`;
  const rs = await client.execute({
    sql: `SELECT count(*) AS n FROM (${matchingIds(open)} UNION ${matchingIds(flying)}) u WHERE NOT ${delivered}`,
    args: [...open.args, ...flying.args, ...(f.target !== undefined ? [f.target] : [])],
  });
  return routed - Number(rs.rows[0]!.n);
}

// Spelt as the deliveries_attention index's own condition, so that SQLite walks that index.
const ATTENTION = "(d.status = 'pending' OR d.status = 'failed' OR d.status = 'paused' OR d.status = 'cancelled')";

/**
 * The WHERE of the list's indexed walk: over deliveries d (joined to events e) or over events e.
 * `statusTerm` replaces the status literal (countDelivered's several statuses at once), and
 * `anyDelivery` drops "current" from it; `keyOr` tests the text search on each row (a count:
 * nothing to sort) instead of collecting its matches.
 */
/**
 * The event-type filter: the type itself, or a glob as routes write them
 * (`charge.*`; `*` any run of characters, `?` one), case as given. SQLite's
 * GLOB is case-sensitive (its LIKE is not); PostgreSQL's LIKE is.
 */
function eventTypeCondition(dialect: Dialect, type: string): { sql: string; arg: string } {
  if (!/[*?]/.test(type)) return { sql: "e.event_type = ?", arg: type };
  if (dialect.engine === "sqlite") return { sql: "e.event_type GLOB ?", arg: type.replace(/[[\]]/g, (c) => `[${c}]`) };
  return { sql: "e.event_type LIKE ? ESCAPE '\\'", arg: type.replace(/[\\%_]/g, "\\$&").replace(/\*/g, "%").replace(/\?/g, "_") };
}

/** Adds the event-type condition to a where list. */
export function typeWhere(dialect: Dialect, type: string, where: string[], args: InValue[]): void {
  const c = eventTypeCondition(dialect, type);
  where.push(c.sql);
  args.push(c.arg);
}

function filterWhere(
  dialect: Dialect,
  f: Omit<EventFilter, "limit">,
  opts: { statusTerm?: string; keyOr?: boolean; anyDelivery?: boolean } = {},
): { where: string[]; args: InValue[]; byDelivery: boolean; hint: string } {
  const where: string[] = [];
  const args: InValue[] = [];
  const byDelivery = (f.status !== undefined && f.status !== "unrouted") || f.target !== undefined;
  const idCol = byDelivery ? "d.event_id" : "e.id";
  if (f.cursor !== undefined) where.push(`${idCol} ${f.oldestFirst ? ">" : "<"} ?`), args.push(f.cursor);
  if (f.sinceMs !== undefined) where.push(`${idCol} >= ?`), args.push(eventIdFloor(f.sinceMs));
  if (f.untilMs !== undefined) where.push(`${idCol} < ?`), args.push(eventIdFloor(f.untilMs));
  if (f.source !== undefined) where.push("e.source = ?"), args.push(f.source);
  if (f.type !== undefined) typeWhere(dialect, f.type, where, args);
  if (f.q !== undefined && opts.keyOr) where.push("(e.id = ? OR (e.dedupe_key >= ? AND e.dedupe_key < ?))"), args.push(f.q, ...keyRange(f.q));
  else if (f.q !== undefined) {
    // Few matches (checked by the caller): collect them from the id and dedupe-key indexes, then sort.
    where.push("e.id IN (SELECT id FROM events WHERE id = ? UNION ALL SELECT id FROM events WHERE dedupe_key >= ? AND dedupe_key < ?)");
    args.push(f.q, ...keyRange(f.q));
  }
  if (f.text !== undefined) {
    // Words: each row tested against the full-text index's matches. Counts and bulk walks take
    // this; the events list walks the index itself (store/event-search.ts), which is faster.
    const [words, query] =
      dialect.engine === "postgres"
        ? ["e.search @@ ?::tsquery", tsqueryOf(f.text)]
        : ["e.rowid IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?)", f.text];
    if (f.orKey !== undefined) where.push(`(${words} OR e.id = ? OR e.dedupe_key = ?)`), args.push(query, f.orKey, f.orKey);
    else where.push(words), args.push(query);
  }
  if (f.target !== undefined) where.push("d.target = ?"), args.push(f.target);
  if (f.status === "unrouted") where.push(UNROUTED);
  else if (f.status !== undefined) where.push(opts.statusTerm ?? statusIs(f.status), ...(opts.anyDelivery ? [] : [CURRENT]));
  const hint = f.status === "delivering" ? dialect.indexedBy(DELIVERING_INDEX) : f.status === "unrouted" ? dialect.indexedBy(UNROUTED_INDEX) : "";
  return { where, args, byDelivery, hint };
}

// Deliveries in flight are few: collect them from the open-deliveries index and sort, rather
// than walk a target's whole history in event order looking for them (the planner's guess
// without statistics; 275 ms against 1 M deliveries).
const DELIVERING_INDEX = "deliveries_open";

// Unrouted events are few: walk their partial index newest first rather than let a source or
// type index lead (the planner's guess without statistics) and test every event of it.
const UNROUTED_INDEX = "events_unrouted";
// Flagged at ingest (no route took it) and still without a delivery: a redelivery to a named
// target makes it an event like any other.
/** Events aliased `e` that no route took. */
export const UNROUTED = "e.unrouted = 1 AND NOT EXISTS (SELECT 1 FROM deliveries u WHERE u.event_id = e.id)";

// The status as a literal (one of DELIVERY_STATUSES, never request text): a bound parameter
// would keep SQLite from the partial indexes that hold the statuses a human looks for.
export function statusIs(status: DeliveryStatus): string {
  if (!DELIVERY_STATUSES.includes(status)) throw new Error(`not a delivery status: ${status}`);
  return `d.status = '${status}'`;
}

// "d is the latest delivery of its (event, target)": a redelivery supersedes older ones.
/** Deliveries aliased `d` that are their (event, target)'s latest. */
export const CURRENT = latestOfPair("d");

// A broad key prefix: examine the next `scanWindow` events in id order and keep
// the matches, so a page costs a bounded scan however the matches are spread.
async function listWindowed(client: Client, f: EventFilter, scanWindow: number): Promise<RowPage> {
  const bounds: string[] = [];
  const bargs: InValue[] = [];
  const dir = f.oldestFirst ? "ASC" : "DESC";
  if (f.cursor !== undefined) bounds.push(f.oldestFirst ? "id > ?" : "id < ?"), bargs.push(f.cursor);
  if (f.sinceMs !== undefined) bounds.push("id >= ?"), bargs.push(eventIdFloor(f.sinceMs));
  if (f.untilMs !== undefined) bounds.push("id < ?"), bargs.push(eventIdFloor(f.untilMs));
  const within = bounds.length > 0 ? `WHERE ${bounds.join(" AND ")}` : "";
  const where = ["(e.id = ? OR (e.dedupe_key >= ? AND e.dedupe_key < ?))"];
  const args: InValue[] = [f.q!, ...keyRange(f.q!)];
  if (f.source !== undefined) where.push("e.source = ?"), args.push(f.source);
  if (f.type !== undefined) typeWhere(client.dialect, f.type, where, args);
  if (f.status === "unrouted") where.push(UNROUTED);
  if (f.target !== undefined || (f.status !== undefined && f.status !== "unrouted")) {
    const d: string[] = ["d.event_id = e.id"];
    if (f.target !== undefined) d.push("d.target = ?"), args.push(f.target);
    if (f.status !== undefined && f.status !== "unrouted") d.push(statusIs(f.status), CURRENT);
    where.push(`EXISTS (SELECT 1 FROM deliveries d WHERE ${d.join(" AND ")})`);
  }
  const window = `SELECT id, source, event_type, dedupe_key, received_at, duplicates, erased_at, unrouted FROM events ${within} ORDER BY id ${dir} LIMIT ${scanWindow}`;
  const rs = await client.execute({
    sql: `SELECT ${SUMMARY_COLS} FROM (${window}) e WHERE ${where.join(" AND ")} ORDER BY e.id ${dir} LIMIT ?`,
    args: [...bargs, ...args, f.limit + 1],
  });
  const rows = rs.rows.slice(0, f.limit);
  if (rs.rows.length > f.limit) return { rows, nextCursor: String(rows.at(-1)!.id) };
  // Fewer than a page in this window: continue past it, if the window was full.
  const last = await client.execute({ sql: `SELECT id FROM events ${within} ORDER BY id ${dir} LIMIT 1 OFFSET ${scanWindow - 1}`, args: bargs });
  return { rows, nextCursor: last.rows[0] ? String(last.rows[0].id) : null };
}

/** List rows with each event's overall status and its targets'. */
export async function withStatuses(client: Client, rows: Row[]): Promise<EventSummary[]> {
  const byEvent = await deliveriesOf(client, rows.map((r) => String(r.id)));
  return rows.map((r) => ({ ...summaryOf(r), ...statusesFrom(byEvent.get(String(r.id)) ?? []) }));
}

/** An events row's list fields. */
export function summaryOf(r: Row): EventRef {
  return {
    id: String(r.id),
    source: String(r.source),
    eventType: s(r.event_type),
    dedupeKey: String(r.dedupe_key),
    receivedAt: Number(r.received_at),
    duplicates: Number(r.duplicates),
    erasedAt: n(r.erased_at),
  };
}

/** A delivery as a list of events needs it: which target, which status. */
export interface DeliveryBrief {
  id: string;
  target: string;
  status: DeliveryStatus;
}

/** The deliveries of each of `ids` (events without any are absent), in one query. */
export async function deliveriesOf(client: Client, ids: string[]): Promise<Map<string, DeliveryBrief[]>> {
  const byEvent = new Map<string, DeliveryBrief[]>();
  if (ids.length === 0) return byEvent;
  const rs = await client.execute({
    sql: `SELECT id, event_id, target, status FROM deliveries WHERE event_id IN (${ids.map(() => "?").join(",")})`,
    args: ids,
  });
  for (const r of rs.rows) {
    const list = byEvent.get(String(r.event_id)) ?? [];
    list.push({ id: String(r.id), target: String(r.target), status: String(r.status) as DeliveryStatus });
    byEvent.set(String(r.event_id), list);
  }
  return byEvent;
}

/** Each target's latest delivery status among `deliveries` (a redelivery supersedes older ones). */
export function latestByTarget(deliveries: DeliveryBrief[]): Map<string, DeliveryStatus> {
  const latest = new Map<string, DeliveryBrief>();
  for (const d of deliveries) {
    const cur = latest.get(d.target);
    if (!cur || d.id > cur.id) latest.set(d.target, d);
  }
  return new Map([...latest].map(([t, d]) => [t, d.status]));
}

/** An event row's own columns, named: PostgreSQL's events also hold the event's words (search), which no reader of a row wants. */
export const EVENT_ROW_COLUMNS =
  "id, source, event_type, dedupe_key, received_at, method, path, query, headers, body, content_type, remote_addr, duplicates, last_duplicate_at, erased_at, unrouted";

/** An event's list fields without its status (cheap: one primary-key lookup); null when unknown. */
export async function getEventSummary(client: Client, id: string): Promise<EventRef | null> {
  const rs = await client.execute({ sql: `SELECT ${SUMMARY_COLS} FROM events e WHERE e.id = ?`, args: [id] });
  return rs.rows[0] ? summaryOf(rs.rows[0]) : null;
}

/**
 * A short text that changes whenever the event's duplicates, erasure or any of its deliveries
 * (status, attempt count, next time) change: live views re-read the whole event only then.
 */
export async function eventVersion(client: Client, id: string): Promise<string | null> {
  const rs = await client.execute({
    sql: `SELECT e.duplicates || '/' || coalesce(CAST(e.erased_at AS TEXT), '') || '/' ||
            coalesce((SELECT ${client.dialect.listAgg("d.id || d.status || d.attempts || d.next_attempt_at || d.updated_at", "d.id")} FROM deliveries d WHERE d.event_id = e.id), '') AS v
          FROM events e WHERE e.id = ?`,
    args: [id],
  });
  return rs.rows[0] ? String(rs.rows[0].v) : null;
}

/** One event with its raw request, deliveries (oldest first) and their attempts; null when unknown. */
export async function getEvent(client: Client, id: string): Promise<EventDetail | null> {
  // One read transaction: the three reads see one snapshot, so an outcome committed in between
  // cannot show a delivery's new attempt beside its old status.
  const [ev, dl, at] = await client.batch(
    [
      { sql: `SELECT ${EVENT_ROW_COLUMNS} FROM events WHERE id = ?`, args: [id] },
      // Oldest first; those made together (ingest's, one per target) by target name, the same on every event.
      { sql: "SELECT * FROM deliveries WHERE event_id = ? ORDER BY created_at, target, id", args: [id] },
      { sql: "SELECT * FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id = ?) ORDER BY at, id", args: [id] },
    ],
    "read",
  );
  const r = ev!.rows[0];
  if (!r) return null;
  const headers = r.headers === null ? null : (JSON.parse(String(r.headers)) as [string, string][]);
  // What an attempt's stored request refers to instead of repeating it.
  const event = { id: String(r.id), source: String(r.source), eventType: s(r.event_type), contentType: s(r.content_type), headers };
  const deliveries: DeliveryRow[] = dl!.rows.map((d) => ({
    id: String(d.id),
    target: String(d.target),
    status: String(d.status) as DeliveryStatus,
    attemptCount: Number(d.attempts),
    nextAttemptAt: Number(d.next_attempt_at),
    lastError: s(d.last_error),
    origin: (s(d.origin) ?? "ingest") as DeliveryOrigin,
    createdAt: Number(d.created_at),
    attempts: at!.rows
      .filter((a) => String(a.delivery_id) === String(d.id))
      .map((a) => ({ ...attemptOf(a), request: a.request === null ? null : unpackAttemptRequest(String(a.request), { ...event, deliveryId: String(d.id) }) })),
  }));
  return {
    ...summaryOf(r),
    ...statusesFrom(deliveries),
    method: String(r.method),
    path: String(r.path),
    query: String(r.query),
    headers,
    body: bytes(r.body),
    contentType: s(r.content_type),
    remoteAddr: s(r.remote_addr),
    lastDuplicateAt: n(r.last_duplicate_at),
    deliveries,
  };
}

/** An attempts row, without the request it sent (unpacked against its event: see getEvent). */
export function attemptOf(a: Row): Omit<AttemptRow, "request"> {
  return {
    id: String(a.id),
    at: Number(a.at),
    statusCode: n(a.status_code),
    durationMs: Number(a.duration_ms),
    error: s(a.error),
    responseExcerpt: s(a.response_excerpt),
  };
}

/** One stored rejected request: what ingest recorded, the excerpt possibly absent, the message absent on rows stored before it was kept. */
export type RejectionRow = Omit<RejectionItem, "keep" | "bodyExcerpt" | "message"> & {
  bodyExcerpt: Uint8Array | null;
  message: string | null;
  /** When an operator erased its request (store/erase-rejection.ts); null otherwise. */
  erasedAt: number | null;
};

/** The reason codes of the rejections stored, in order (the rejections page's reason filter offers them). */
export async function rejectionReasons(client: Client): Promise<string[]> {
  const rs = await client.execute("SELECT DISTINCT reason FROM rejections ORDER BY reason");
  return rs.rows.map((r) => String(r.reason));
}

/** The rejections list's filter (GET /api/rejections, the Rejections page). */
export interface RejectionFilter {
  source?: string;
  reason?: string;
  /** Text the request's headers, body excerpt or request line holds. */
  text?: string;
  /** Received at or after (ms). */
  sinceMs?: number;
  /** Received before (ms). */
  untilMs?: number;
  cursor?: string;
  limit: number;
}

/**
 * One page of rejected requests, newest first. `text`: those whose headers,
 * body excerpt or request line hold it, case aside (a query string's
 * percent-encoded form too) — a scan of the rows, which retention and the
 * per-source cap keep few; an erased one holds none.
 */
export async function listRejections(
  client: Client,
  f: RejectionFilter,
): Promise<{ rejections: RejectionRow[]; nextCursor: string | null }> {
  const where: string[] = [];
  const args: InValue[] = [];
  if (f.source !== undefined) where.push("source = ?"), args.push(f.source);
  // By the id, made at the time the request was received: the list's own order and index.
  if (f.sinceMs !== undefined) where.push("id >= ?"), args.push(idFloor("rej", f.sinceMs));
  if (f.untilMs !== undefined) where.push("id < ?"), args.push(idFloor("rej", f.untilMs));
  if (f.reason !== undefined) where.push("reason = ?"), args.push(f.reason);
  if (f.text !== undefined) {
    const d = client.dialect;
    const term = f.text.toLowerCase();
    // The request line keeps its query string as sent: "alice@example.com" is there as "alice%40example.com".
    const places: [string, string][] = [["headers", term], [d.blobText("body_excerpt"), term], ["path", term], ["path", encodeURIComponent(f.text).toLowerCase()]];
    where.push(`(${places.map(([expr]) => `${d.position(`lower(${expr})`, "?")} > 0`).join(" OR ")})`);
    args.push(...places.map(([, value]) => value));
  }
  if (f.cursor !== undefined) where.push("id < ?"), args.push(f.cursor);
  args.push(f.limit + 1);
  const rs = await client.execute({
    sql: `SELECT * FROM rejections ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT ?`,
    args,
  });
  const rejections = rs.rows.slice(0, f.limit).map(rejectionOf);
  return { rejections, nextCursor: rs.rows.length > f.limit ? (rejections.at(-1)?.id ?? null) : null };
}

/** One rejected request; null when unknown (or already purged). */
export async function getRejection(client: Client, id: string): Promise<RejectionRow | null> {
  const rs = await client.execute({ sql: "SELECT * FROM rejections WHERE id = ?", args: [id] });
  return rs.rows[0] ? rejectionOf(rs.rows[0]) : null;
}

function rejectionOf(r: Row): RejectionRow {
  return {
    id: String(r.id),
    source: String(r.source),
    receivedAt: Number(r.received_at),
    reason: String(r.reason),
    message: s(r.message),
    method: String(r.method),
    path: String(r.path),
    headers: JSON.parse(String(r.headers)) as [string, string][],
    bodyExcerpt: bytes(r.body_excerpt),
    remoteAddr: s(r.remote_addr),
    erasedAt: r.erased_at === null || r.erased_at === undefined ? null : Number(r.erased_at),
  };
}
