/**
 * The events list searched by words (GET /api/events?text=…, the UI's search
 * box). On the file (here; PostgreSQL's: postgres/event-search.ts) the
 * full-text index is walked newest first, joined to events and
 * filtered by the list's other filters, stopping at the page size.
 *
 * Words pages are in rowid order (the order events were committed, which is
 * receive order but for events a few ms apart) and page by the rowid of the
 * cursor event: FTS5 gives its matches in rowid order without sorting them,
 * which keeps a one-word search over a million events a walk of one page
 * (docs/PERFORMANCE.md). Time bounds, ids made at receive, become rowid bounds
 * with a margin (SKEW_MS) and are then checked exactly.
 */
import type { InValue } from "@libsql/client";
import type { StoreReads } from "./sql-client.ts";
import { wordMatchRows } from "./postgres/event-search.ts";
import { CURRENT, eventIdFloor, listEvents, statusIs, SUMMARY_COLS, typeWhere, UNROUTED, withStatuses, type EventFilter, type EventSummary } from "./admin-queries.ts";
import type { Dialect } from "./dialect.ts";

type Client = StoreReads;
type Page = { events: EventSummary[]; nextCursor: string | null };

/** How much later than its id's time an event may be committed: the rowid bounds of since/until allow for it. */
const SKEW_MS = 60_000;
const NO_ROWID = "9223372036854775807";

/** One page of events matching `f`, newest first: by its words through the full-text index, else as listEvents lists them. */
export async function listEventsMatching(client: Client, f: EventFilter): Promise<Page> {
  if (f.text === undefined) return listEvents(client, f);
  if (f.status === "unrouted" && f.target !== undefined) return { events: [], nextCursor: null };
  if (client.dialect.engine === "postgres") {
    const rows = await wordMatchRows(client, f, eventConditions(client.dialect, f));
    const events = await withStatuses(client, rows.slice(0, f.limit));
    return { events, nextCursor: rows.length > f.limit ? events.at(-1)!.id : null };
  }
  const { where, args } = eventConditions(client.dialect, f);
  const bounds = rowidBounds(f);
  // Events drive from the index (CROSS JOIN keeps that order): FTS5 yields matches by rowid, newest first.
  const byWords = client.execute({
    sql: `SELECT e.rowid AS rid, ${SUMMARY_COLS} FROM events_fts CROSS JOIN events e ON e.rowid = events_fts.rowid
          WHERE events_fts MATCH ? AND events_fts.rowid < ${bounds.below} AND events_fts.rowid >= ${bounds.from}${where.map((w) => ` AND ${w}`).join("")}
          ORDER BY events_fts.rowid DESC LIMIT ?`,
    args: [f.text, ...bounds.args, ...args, f.limit + 1],
  });
  // The box's exact id or key: a few rows from their indexes, then the same filters.
  const byKey =
    f.orKey === undefined
      ? null
      : client.execute({
          sql: `SELECT e.rowid AS rid, ${SUMMARY_COLS} FROM events e
                WHERE e.rowid IN (SELECT rowid FROM events WHERE id = ? UNION SELECT rowid FROM events WHERE dedupe_key = ?)
                  AND e.rowid < ${bounds.below} AND e.rowid >= ${bounds.from}${where.map((w) => ` AND ${w}`).join("")}
                ORDER BY e.rowid DESC LIMIT ?`,
          args: [f.orKey, f.orKey, ...bounds.args, ...args, f.limit + 1],
        });
  // Both lists are newest first from the same cursor: their merge's first limit + 1 is the page.
  const seen = new Set<number>();
  const rows = [...(await byWords).rows, ...((await byKey)?.rows ?? [])]
    .sort((a, b) => Number(b.rid) - Number(a.rid))
    .filter((r) => !seen.has(Number(r.rid)) && seen.add(Number(r.rid)))
    .slice(0, f.limit + 1);
  const events = await withStatuses(client, rows.slice(0, f.limit));
  return { events, nextCursor: rows.length > f.limit ? events.at(-1)!.id : null };
}

// The list's filters on events aliased `e`, exactly.
function eventConditions(dialect: Dialect, f: EventFilter): { where: string[]; args: InValue[] } {
  const where: string[] = [];
  const args: InValue[] = [];
  if (f.sinceMs !== undefined) where.push("e.id >= ?"), args.push(eventIdFloor(f.sinceMs));
  if (f.untilMs !== undefined) where.push("e.id < ?"), args.push(eventIdFloor(f.untilMs));
  if (f.source !== undefined) where.push("e.source = ?"), args.push(f.source);
  if (f.type !== undefined) typeWhere(dialect, f.type, where, args);
  if (f.q !== undefined) {
    where.push("(e.id = ? OR (e.dedupe_key >= ? AND e.dedupe_key < ?))");
    args.push(f.q, f.q, `${f.q}\u{10FFFF}`);
  }
  if (f.status === "unrouted") where.push(UNROUTED);
  else if (f.status !== undefined || f.target !== undefined) {
    const d: string[] = ["d.event_id = e.id"];
    if (f.target !== undefined) d.push("d.target = ?"), args.push(f.target);
    if (f.status !== undefined) d.push(statusIs(f.status), CURRENT);
    where.push(`EXISTS (SELECT 1 FROM deliveries d WHERE ${d.join(" AND ")})`);
  }
  return { where, args };
}

// The rowid range to walk: below the cursor event, and within the time bounds widened by SKEW_MS.
function rowidBounds(f: EventFilter): { below: string; from: string; args: InValue[] } {
  const args: InValue[] = [];
  const firstAt = (ms: number) => {
    args.push(eventIdFloor(ms));
    return `(SELECT rowid FROM events WHERE id >= ? ORDER BY id LIMIT 1)`;
  };
  const below: string[] = [];
  if (f.cursor !== undefined) {
    args.push(f.cursor);
    below.push("(SELECT rowid FROM events WHERE id <= ? ORDER BY id DESC LIMIT 1)");
  }
  if (f.untilMs !== undefined) below.push(`coalesce(${firstAt(f.untilMs + SKEW_MS)}, ${NO_ROWID})`);
  const from = f.sinceMs !== undefined ? `coalesce(${firstAt(f.sinceMs - SKEW_MS)}, ${NO_ROWID})` : "0";
  return { below: below.length === 0 ? NO_ROWID : below.length === 1 ? below[0]! : `min(${below.join(", ")})`, from, args };
}
