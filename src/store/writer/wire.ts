/**
 * What crosses between the event loop and the writer thread. A tick's ingest
 * items and rejections: the fields as one JSON string and every body in one
 * transferred buffer (structured cloning the item objects cost ~5 µs per item
 * on each side; this costs under 1). Statements and their results the same
 * way: one JSON string, with the byte values (blobs) beside it — a delivery
 * round's statements cost several times more to structured-clone than to
 * stringify. Result rows travel as plain value arrays, rebuilt into the
 * driver's row shape on arrival.
 */
import type { InArgs, InStatement, ResultSet } from "@libsql/client";
import { CachedResultSet } from "../client.ts";
import { rowBuilder } from "../result-rows.ts";
import type { IngestItem, RejectionItem } from "./group-commit.ts";

export interface WireBatch {
  /** JSON: [items as field tuples, rejections as field tuples]. */
  meta: string;
  /** Every item body, then every rejection excerpt, back to back. */
  bodies: ArrayBuffer;
}

type ItemTuple = [
  string, string, string | null, string, number, number, string, string, string,
  [string, string][], number, string | null, string | null, IngestItem["deliveries"],
];
type RejectionTuple = [string, string, number, string, string, string, string, [string, string][], number, string | null, boolean];

export function encodeBatch(items: IngestItem[], rejections: RejectionItem[]): WireBatch {
  let total = 0;
  for (const it of items) total += it.body.byteLength;
  for (const r of rejections) total += r.bodyExcerpt.byteLength;
  const bytes = new Uint8Array(total);
  let at = 0;
  const put = (b: Uint8Array) => {
    bytes.set(b, at);
    at += b.byteLength;
    return b.byteLength;
  };
  const itemTuples: ItemTuple[] = items.map((it) => [
    it.id, it.source, it.eventType, it.dedupeKey, it.dedupeWindowMs, it.receivedAt, it.method, it.path, it.query,
    it.headers, put(it.body), it.contentType, it.remoteAddr, it.deliveries,
  ]);
  const rejectionTuples: RejectionTuple[] = rejections.map((r) => [
    r.id, r.source, r.receivedAt, r.reason, r.message, r.method, r.path, r.headers, put(r.bodyExcerpt), r.remoteAddr, r.keep,
  ]);
  return { meta: JSON.stringify([itemTuples, rejectionTuples]), bodies: bytes.buffer };
}

export function decodeBatch(batch: WireBatch): { items: IngestItem[]; rejections: RejectionItem[] } {
  const [itemTuples, rejectionTuples] = JSON.parse(batch.meta) as [ItemTuple[], RejectionTuple[]];
  let at = 0;
  const take = (n: number) => new Uint8Array(batch.bodies, (at += n) - n, n);
  const items = itemTuples.map(
    ([id, source, eventType, dedupeKey, dedupeWindowMs, receivedAt, method, path, query, headers, bodyLength, contentType, remoteAddr, deliveries]): IngestItem => ({
      id, source, eventType, dedupeKey, dedupeWindowMs, receivedAt, method, path, query, headers,
      body: take(bodyLength), contentType, remoteAddr, deliveries,
    }),
  );
  const rejections = rejectionTuples.map(
    ([id, source, receivedAt, reason, message, method, path, headers, excerptLength, remoteAddr, keep]): RejectionItem => ({
      id, source, receivedAt, reason, message, method, path, headers, bodyExcerpt: take(excerptLength), remoteAddr, keep,
    }),
  );
  return { items, rejections };
}

/**
 * Values as JSON with what JSON cannot hold set aside: a blob becomes
 * {"b": i} (its index in `blobs`), a bigint {"n": "digits"}. Nothing else in
 * a statement's arguments or a result's values is an object.
 */
export interface WireValues {
  json: string;
  blobs: Uint8Array[];
}

type Tagged = { b: number } | { n: string };

function setAside(value: unknown, blobs: Uint8Array[]): unknown {
  if (value === null || typeof value !== "object") return typeof value === "bigint" ? ({ n: value.toString() } satisfies Tagged) : value;
  blobs.push(value instanceof Uint8Array ? value : new Uint8Array(value as ArrayBuffer));
  return { b: blobs.length - 1 } satisfies Tagged;
}

function putBack(value: unknown, blobs: Uint8Array[], asBuffer: boolean): unknown {
  if (value === null || typeof value !== "object") return value;
  const tagged = value as Tagged;
  if ("n" in tagged) return BigInt(tagged.n);
  const blob = blobs[tagged.b]!;
  // Result values are ArrayBuffers, as the driver gives them (a whole transferred buffer is
  // handed over as it is, not copied); arguments stay views.
  if (!asBuffer) return blob;
  const whole = blob.byteOffset === 0 && blob.byteLength === blob.buffer.byteLength;
  return whole ? blob.buffer : blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength);
}

type StatementTuple = [sql: string, args: unknown[] | Record<string, unknown> | null];

/** Statements on their way to the writer thread. */
export function encodeStatements(stmts: InStatement[]): WireValues {
  const blobs: Uint8Array[] = [];
  const tuples = stmts.map((st): StatementTuple => {
    if (typeof st === "string") return [st, null];
    const args = st.args;
    if (args === undefined) return [st.sql, null];
    if (Array.isArray(args)) return [st.sql, args.map((a) => setAside(a, blobs))];
    return [st.sql, Object.fromEntries(Object.entries(args).map(([k, a]) => [k, setAside(a, blobs)]))];
  });
  return { json: JSON.stringify(tuples), blobs };
}

export function decodeStatements(w: WireValues): InStatement[] {
  return (JSON.parse(w.json) as StatementTuple[]).map(([sql, args]) => {
    if (args === null) return sql;
    const restored = Array.isArray(args)
      ? args.map((a) => putBack(a, w.blobs, false))
      : Object.fromEntries(Object.entries(args).map(([k, a]) => [k, putBack(a, w.blobs, false)]));
    return { sql, args: restored as InArgs };
  });
}

/** A result set reduced to plain values. */
export interface WireResult {
  columns: string[];
  columnTypes: string[];
  rows: unknown[][];
  rowsAffected: number;
  lastInsertRowid: bigint | undefined;
}

type ResultTuple = [columns: string[], columnTypes: string[], rows: unknown[][], rowsAffected: number, lastInsertRowid: unknown];

/** Result sets as they leave the writer thread; the cached client's carry plain value arrays, so no row objects are built there. */
export function encodeResults(results: ResultSet[]): WireValues {
  const blobs: Uint8Array[] = [];
  const tuples = results.map((rs): ResultTuple => {
    const rows = rs instanceof CachedResultSet ? rs.values : rs.rows.map((r) => Array.from(r as ArrayLike<unknown>));
    const anyObject = rows.some((row) => row.some((v) => (v !== null && typeof v === "object") || typeof v === "bigint"));
    return [rs.columns, rs.columnTypes, anyObject ? rows.map((row) => row.map((v) => setAside(v, blobs))) : rows, rs.rowsAffected, setAside(rs.lastInsertRowid ?? null, blobs)];
  });
  return { json: JSON.stringify(tuples), blobs };
}

export function decodeResults(w: WireValues): WireResult[] {
  return (JSON.parse(w.json) as ResultTuple[]).map(([columns, columnTypes, rows, rowsAffected, lastInsertRowid]) => ({
    columns,
    columnTypes,
    rows: w.blobs.length === 0 ? rows : rows.map((row) => row.map((v) => putBack(v, w.blobs, true))),
    rowsAffected,
    lastInsertRowid: (putBack(lastInsertRowid, w.blobs, true) as bigint | null) ?? undefined,
  }));
}

/** Rebuilds a ResultSet whose rows answer by column name and by index, as the driver's do. */
export function fromWire(w: WireResult): ResultSet {
  const rows = w.rows.length === 0 ? [] : w.rows.map(rowBuilder(w.columns));
  return {
    columns: w.columns,
    columnTypes: w.columnTypes,
    rows,
    rowsAffected: w.rowsAffected,
    lastInsertRowid: w.lastInsertRowid,
    toJSON: () => ({ columns: w.columns, rows: w.rows }),
  };
}
