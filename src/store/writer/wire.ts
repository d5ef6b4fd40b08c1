/**
 * What crosses between the event loop and the writer thread, and how.
 *
 * Every message is a flat record of strings, numbers, booleans and nulls:
 * Bun hands such a record to the other thread without serializing it, its
 * strings shared rather than copied, while a message with a nested object
 * or array goes through the structured clone, which copies every string in
 * it (PERFORMANCE.md, "Flat messages"). So what a message carries is
 * encoded into one string of JSON: a tick's ingest items and rejections as
 * field tuples, statements and result sets as value tuples. Bytes (bodies,
 * blobs) cannot ride in JSON cheaply; they are packed back to back into one
 * buffer, moved (not copied) in a message of its own posted just before the
 * record it belongs to, and `receiving` pairs the two again. Result rows
 * travel as plain value arrays, rebuilt into the driver's row shape on
 * arrival.
 */
import type { InArgs, InStatement, ResultSet } from "@libsql/client";
import { CachedResultSet } from "../client.ts";
import { rowBuilder } from "../result-rows.ts";
import type { IngestItem, RejectionItem } from "./group-commit.ts";

/** A message's own fields: nothing that would make Bun clone it. */
export type Flat = Record<string, string | number | boolean | null>;

interface Port {
  postMessage(message: unknown, transfer?: Transferable[]): void;
}

/** Posts `message`, with `bytes` (when there are any) moved in a message of their own just before it. */
export function post(port: Port, message: Flat, bytes: Uint8Array | null = null): void {
  if (bytes !== null) {
    // A view into a larger buffer would move (and detach) all of it: only a buffer of its own moves.
    const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
    port.postMessage(own.buffer, [own.buffer as ArrayBuffer]);
  }
  port.postMessage(message);
}

/** A message handler for what `post` sent: each record with the bytes posted just before it, or null. */
export function receiving<M>(handle: (message: M, bytes: Uint8Array | null) => void): (e: MessageEvent) => void {
  let bytes: Uint8Array | null = null;
  return (e) => {
    if (e.data instanceof ArrayBuffer) {
      bytes = new Uint8Array(e.data);
      return;
    }
    const own = bytes;
    bytes = null;
    handle(e.data as M, own);
  };
}

export interface WireBatch {
  /** JSON: [items as field tuples, rejections as field tuples]. */
  meta: string;
  /** Every item body, then every rejection excerpt, back to back; null when all are empty. */
  bytes: Uint8Array | null;
}

// A body or excerpt rides as its place among the batch's bytes (BlobPacker's tag).
type ItemTuple = [
  string, string, string | null, string, number, number, string, string, string,
  [string, string][], Tagged, string | null, string | null, IngestItem["deliveries"],
];
type RejectionTuple = [string, string, number, string, string, string, string, [string, string][], Tagged, string | null, boolean];

export function encodeBatch(items: IngestItem[], rejections: RejectionItem[]): WireBatch {
  const blobs = new BlobPacker();
  const itemTuples = items.map((it) => [
    it.id, it.source, it.eventType, it.dedupeKey, it.dedupeWindowMs, it.receivedAt, it.method, it.path, it.query,
    it.headers, blobs.setAside(it.body), it.contentType, it.remoteAddr, it.deliveries,
  ]);
  const rejectionTuples = rejections.map((r) => [
    r.id, r.source, r.receivedAt, r.reason, r.message, r.method, r.path, r.headers, blobs.setAside(r.bodyExcerpt), r.remoteAddr, r.keep,
  ]);
  const { json, bytes } = blobs.pack(JSON.stringify([itemTuples, rejectionTuples]));
  // Nothing to move when every body is empty: the batch goes as one message.
  return { meta: json, bytes: bytes !== null && bytes.byteLength > 0 ? bytes : null };
}

export function decodeBatch(batch: WireBatch): { items: IngestItem[]; rejections: RejectionItem[] } {
  const [itemTuples, rejectionTuples] = JSON.parse(batch.meta) as [ItemTuple[], RejectionTuple[]];
  const bytes = batch.bytes ?? new Uint8Array(0);
  const take = (tag: Tagged) => putBack(tag, bytes, false) as Uint8Array;
  const items = itemTuples.map(
    ([id, source, eventType, dedupeKey, dedupeWindowMs, receivedAt, method, path, query, headers, body, contentType, remoteAddr, deliveries]): IngestItem => ({
      id, source, eventType, dedupeKey, dedupeWindowMs, receivedAt, method, path, query, headers,
      body: take(body), contentType, remoteAddr, deliveries,
    }),
  );
  const rejections = rejectionTuples.map(
    ([id, source, receivedAt, reason, message, method, path, headers, excerpt, remoteAddr, keep]): RejectionItem => ({
      id, source, receivedAt, reason, message, method, path, headers, bodyExcerpt: take(excerpt), remoteAddr, keep,
    }),
  );
  return { items, rejections };
}

/**
 * Values as JSON with what JSON cannot hold set aside: a blob becomes
 * {"b": [start, end]} (its place among the blobs packed back to back in
 * `bytes`), a bigint {"n": "digits"}. Nothing else in a statement's
 * arguments or a result's values is an object.
 */
export interface WireValues {
  json: string;
  /** Every blob, back to back; null when there is none. */
  bytes: Uint8Array | null;
}

type Tagged = { b: [number, number] } | { n: string };

/** Collects a message's blobs, to be packed into one buffer. */
class BlobPacker {
  readonly #blobs: Uint8Array[] = [];
  #total = 0;

  setAside(value: unknown): unknown {
    if (value === null || typeof value !== "object") return typeof value === "bigint" ? ({ n: value.toString() } satisfies Tagged) : value;
    const blob = value instanceof Uint8Array ? value : new Uint8Array(value as ArrayBuffer);
    this.#blobs.push(blob);
    const start = this.#total;
    this.#total += blob.byteLength;
    return { b: [start, this.#total] } satisfies Tagged;
  }

  pack(json: string): WireValues {
    if (this.#blobs.length === 0) return { json, bytes: null };
    const bytes = new Uint8Array(this.#total);
    let at = 0;
    for (const b of this.#blobs) {
      bytes.set(b, at);
      at += b.byteLength;
    }
    return { json, bytes };
  }
}

function putBack(value: unknown, bytes: Uint8Array | null, asBuffer: boolean): unknown {
  if (value === null || typeof value !== "object") return value;
  const tagged = value as Tagged;
  if ("n" in tagged) return BigInt(tagged.n);
  const [start, end] = tagged.b;
  // Result values are ArrayBuffers of their own, as the driver gives them; arguments stay views.
  return asBuffer ? bytes!.buffer.slice(bytes!.byteOffset + start, bytes!.byteOffset + end) : bytes!.subarray(start, end);
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
      ? args.map((a) => putBack(a, w.bytes, false))
      : Object.fromEntries(Object.entries(args).map(([k, a]) => [k, putBack(a, w.bytes, false)]));
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
  return (JSON.parse(w.json) as ResultTuple[]).map(([columns, columnTypes, rows, rowsAffected, lastInsertRowid]) => {
    if (w.bytes !== null) putBackInPlace(rows, w.bytes);
    return { columns, columnTypes, rows, rowsAffected, lastInsertRowid: (putBack(lastInsertRowid, w.bytes, true) as bigint | null) ?? undefined };
  });
}

// The rows were just parsed and are ours: only the cells that were set aside (objects) are replaced.
function putBackInPlace(rows: unknown[][], bytes: Uint8Array): void {
  for (const row of rows) {
    for (let i = 0; i < row.length; i++) {
      const v = row[i];
      if (v !== null && typeof v === "object") row[i] = putBack(v, bytes, true);
    }
  }
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
