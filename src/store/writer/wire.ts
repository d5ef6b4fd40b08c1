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
 * {"b": i} (the i-th of the blobs packed back to back in `bytes`), a bigint
 * {"n": "digits"}. Nothing else in a statement's arguments or a result's
 * values is an object. The blobs travel as one buffer, moved with the
 * message: a lease round's result holds a body per delivery, and a message
 * moving one buffer costs a fraction of one moving one per row.
 */
export interface WireValues {
  json: string;
  /** Every blob, back to back; null when there is none. */
  bytes: Uint8Array | null;
  /** Where each blob ends in `bytes`. */
  ends: number[];
}

type Tagged = { b: number } | { n: string };

/** Collects a message's blobs, to be packed into one buffer. */
class BlobPacker {
  readonly #blobs: Uint8Array[] = [];

  setAside(value: unknown): unknown {
    if (value === null || typeof value !== "object") return typeof value === "bigint" ? ({ n: value.toString() } satisfies Tagged) : value;
    this.#blobs.push(value instanceof Uint8Array ? value : new Uint8Array(value as ArrayBuffer));
    return { b: this.#blobs.length - 1 } satisfies Tagged;
  }

  pack(json: string): WireValues {
    if (this.#blobs.length === 0) return { json, bytes: null, ends: [] };
    const ends: number[] = [];
    let total = 0;
    for (const b of this.#blobs) ends.push((total += b.byteLength));
    const bytes = new Uint8Array(total);
    this.#blobs.forEach((b, i) => bytes.set(b, ends[i]! - b.byteLength));
    return { json, bytes, ends };
  }
}

/** The buffers a message of these values moves instead of copying (postMessage's transfer list). */
export const transferOf = (w: WireValues): ArrayBuffer[] => (w.bytes === null ? [] : [w.bytes.buffer as ArrayBuffer]);

function putBack(value: unknown, w: WireValues, asBuffer: boolean): unknown {
  if (value === null || typeof value !== "object") return value;
  const tagged = value as Tagged;
  if ("n" in tagged) return BigInt(tagged.n);
  const start = tagged.b === 0 ? 0 : w.ends[tagged.b - 1]!;
  const end = w.ends[tagged.b]!;
  // Result values are ArrayBuffers of their own, as the driver gives them; arguments stay views.
  return asBuffer ? w.bytes!.buffer.slice(w.bytes!.byteOffset + start, w.bytes!.byteOffset + end) : w.bytes!.subarray(start, end);
}

type StatementTuple = [sql: string, args: unknown[] | Record<string, unknown> | null];

/** Statements on their way to the writer thread. */
export function encodeStatements(stmts: InStatement[]): WireValues {
  const blobs = new BlobPacker();
  const tuples = stmts.map((st): StatementTuple => {
    if (typeof st === "string") return [st, null];
    const args = st.args;
    if (args === undefined) return [st.sql, null];
    if (Array.isArray(args)) return [st.sql, args.map((a) => blobs.setAside(a))];
    return [st.sql, Object.fromEntries(Object.entries(args).map(([k, a]) => [k, blobs.setAside(a)]))];
  });
  return blobs.pack(JSON.stringify(tuples));
}

export function decodeStatements(w: WireValues): InStatement[] {
  return (JSON.parse(w.json) as StatementTuple[]).map(([sql, args]) => {
    if (args === null) return sql;
    const restored = Array.isArray(args)
      ? args.map((a) => putBack(a, w, false))
      : Object.fromEntries(Object.entries(args).map(([k, a]) => [k, putBack(a, w, false)]));
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
  const blobs = new BlobPacker();
  const tuples = results.map((rs): ResultTuple => {
    const rows = rs instanceof CachedResultSet ? rs.values : rs.rows.map((r) => Array.from(r as ArrayLike<unknown>));
    const anyObject = rows.some((row) => row.some((v) => (v !== null && typeof v === "object") || typeof v === "bigint"));
    return [rs.columns, rs.columnTypes, anyObject ? rows.map((row) => row.map((v) => blobs.setAside(v))) : rows, rs.rowsAffected, blobs.setAside(rs.lastInsertRowid ?? null)];
  });
  return blobs.pack(JSON.stringify(tuples));
}

export function decodeResults(w: WireValues): WireResult[] {
  return (JSON.parse(w.json) as ResultTuple[]).map(([columns, columnTypes, rows, rowsAffected, lastInsertRowid]) => ({
    columns,
    columnTypes,
    rows: w.bytes === null ? rows : rows.map((row) => row.map((v) => putBack(v, w, true))),
    rowsAffected,
    lastInsertRowid: (putBack(lastInsertRowid, w, true) as bigint | null) ?? undefined,
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
