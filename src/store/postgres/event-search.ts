/**
 * The events list searched by words on PostgreSQL (../event-search.ts has the
 * file's): the GIN index on events.search finds the matches, the primary key
 * gives their order. Pages go by id (receive order) and the cursor is an id,
 * so time bounds are id bounds, exact.
 */
import type { InValue, Row } from "@libsql/client";
import type { SqlReader } from "../sql-client.ts";
import { SUMMARY_COLS, type EventFilter } from "../admin-queries.ts";
import { tsqueryOf } from "./words.ts";

/** Up to limit + 1 events matching f's words (or its box's exact id or key) and `cond`, newest first. */
export async function wordMatchRows(reads: SqlReader, f: EventFilter, cond: { where: string[]; args: InValue[] }): Promise<Row[]> {
  const where = [f.orKey === undefined ? "e.search @@ ?::tsquery" : "(e.search @@ ?::tsquery OR e.id = ? OR e.dedupe_key = ?)"];
  const args: InValue[] = [tsqueryOf(f.text!), ...(f.orKey === undefined ? [] : [f.orKey, f.orKey])];
  if (f.cursor !== undefined) where.push("e.id < ?"), args.push(f.cursor);
  const rs = await reads.execute({
    sql: `SELECT ${SUMMARY_COLS} FROM events e WHERE ${[...where, ...cond.where].join(" AND ")} ORDER BY e.id DESC LIMIT ?`,
    args: [...args, ...cond.args, f.limit + 1],
  });
  return rs.rows;
}
