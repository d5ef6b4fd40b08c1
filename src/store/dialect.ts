/**
 * Where the two engines' SQL differs in an expression, the store functions
 * write it through the store's dialect (`doors.reads.dialect`,
 * `doors.writer.dialect`); statements that differ as a whole live in
 * sqlite/ and postgres/ behind one function each. Everything else is one
 * statement text for both (postgres/client.ts translates the placeholders).
 */
export interface Dialect {
  readonly engine: "sqlite" | "postgres";
  /**
   * The database's own clock in integer ms. Lease expiry is judged on it, not
   * on a process clock, so that several processes on one store (each with its
   * own, possibly skewed or fake, clock) agree on when a lease has run out.
   */
  readonly nowMs: string;
  /** The larger of scalar expressions (SQLite's two-argument max()). */
  greatest(...xs: string[]): string;
  /** The smaller of scalar expressions (SQLite's two-argument min()). */
  least(...xs: string[]): string;
  /** A planner hint naming the index a FROM item walks, with a trailing space ("" where the planner takes none). */
  indexedBy(index: string): string;
  /** The text values of `expr` over a group, comma-separated, in the order of `orderBy` (SQLite: the rows' own order). */
  listAgg(expr: string, orderBy: string): string;
  /** Where `needle` first occurs in `text`, from 1; 0 when it does not. */
  position(text: string, needle: string): string;
  /** A blob column read as text for a substring search (bytes that are not UTF-8 never fail it). */
  blobText(column: string): string;
}

export const sqliteDialect: Dialect = {
  engine: "sqlite",
  nowMs: "CAST(unixepoch('subsec') * 1000 AS INTEGER)",
  greatest: (...xs) => `max(${xs.join(", ")})`,
  least: (...xs) => `min(${xs.join(", ")})`,
  indexedBy: (index) => `INDEXED BY ${index} `,
  listAgg: (expr) => `group_concat(${expr})`,
  position: (text, needle) => `instr(${text}, ${needle})`,
  blobText: (column) => `CAST(${column} AS TEXT)`,
};

export const postgresDialect: Dialect = {
  engine: "postgres",
  // clock_timestamp(), not now(): now() is the transaction's start, and a group transaction can last a while.
  nowMs: "(extract(epoch from clock_timestamp()) * 1000)::bigint",
  greatest: (...xs) => `greatest(${xs.join(", ")})`,
  least: (...xs) => `least(${xs.join(", ")})`,
  // PostgreSQL has no index hints: its planner has statistics to choose with.
  indexedBy: () => "",
  listAgg: (expr, orderBy) => `string_agg(${expr}, ',' ORDER BY ${orderBy})`,
  position: (text, needle) => `strpos(${text}, ${needle})`,
  // convert_from() fails a whole query on one invalid byte; 'escape' writes non-ASCII bytes as \nnn (ASCII text still matches).
  blobText: (column) => `encode(${column}, 'escape')`,
};
