/**
 * The export format: one stored event per line of NDJSON, with its raw
 * request and its deliveries with their attempts. `hookrelay export` writes
 * it, `hookrelay import` reads it, and retention's archive files are gzipped
 * runs of the same lines. Every line carries `"format": "hookrelay-export/1"`
 * instead of a header line, so that files can be concatenated, split, grepped
 * or filtered with jq and every line still says what it is (the archive
 * appends members to a day's file over many purges; a header would repeat).
 * docs/OPERATIONS.md "Export format" describes every field.
 */

import { DELIVERY_ORIGINS, DELIVERY_STATUSES, type DeliveryOrigin, type DeliveryStatus } from "./types.ts";

/** The value of every line's `format` field; a new major number means a reader must not guess. */
export const EXPORT_FORMAT = "hookrelay-export/1";

/** One attempt as exported: the attempts row. */
export interface ExportedAttempt {
  id: string;
  at: number;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  responseExcerpt: string | null;
  /** The request sent (secrets masked as stored); null when none was made or none was recorded. */
  request: { method: string; url: string; headers: [string, string][] } | null;
}

/** One delivery as exported, with its attempts oldest first. */
export interface ExportedDelivery {
  id: string;
  target: string;
  status: DeliveryStatus;
  origin: DeliveryOrigin;
  attemptCount: number;
  nextAttemptAt: number;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
  attempts: ExportedAttempt[];
}

/** One stored event, whole: what a store needs to hold it again. */
export interface ExportedEvent {
  id: string;
  source: string;
  eventType: string | null;
  dedupeKey: string;
  receivedAt: number;
  duplicates: number;
  lastDuplicateAt: number | null;
  /** Set once erased: headers and body are then null. */
  erasedAt: number | null;
  /** No route took the event as it arrived. */
  unrouted: boolean;
  /** The overall status when exported (informational; import derives it from the deliveries). */
  status: string;
  request: {
    method: string;
    path: string;
    query: string;
    /** [name, value] pairs in received order, as stored (credentials already redacted at ingest); null once erased. */
    headers: [string, string][] | null;
    /** Exact body bytes; null once erased. */
    body: Uint8Array | null;
    contentType: string | null;
    remoteAddr: string | null;
  };
  deliveries: ExportedDelivery[];
}


const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The event as one line of the export format (no trailing newline). */
export function exportLine(e: ExportedEvent): string {
  return JSON.stringify({
    format: EXPORT_FORMAT,
    id: e.id,
    source: e.source,
    eventType: e.eventType,
    dedupeKey: e.dedupeKey,
    receivedAt: iso(e.receivedAt),
    duplicates: e.duplicates,
    lastDuplicateAt: iso(e.lastDuplicateAt),
    erased: e.erasedAt !== null,
    erasedAt: iso(e.erasedAt),
    unrouted: e.unrouted,
    status: e.status,
    request: {
      method: e.request.method,
      path: e.request.path,
      query: e.request.query,
      headers: e.request.headers,
      bodyBase64: e.request.body === null ? null : Buffer.from(e.request.body).toString("base64"),
      contentType: e.request.contentType,
      remoteAddr: e.request.remoteAddr,
    },
    deliveries: e.deliveries.map((d) => ({
      id: d.id,
      target: d.target,
      status: d.status,
      origin: d.origin,
      attemptCount: d.attemptCount,
      nextAttemptAt: iso(d.nextAttemptAt),
      lastError: d.lastError,
      createdAt: iso(d.createdAt),
      updatedAt: iso(d.updatedAt),
      attempts: d.attempts.map((a) => ({
        id: a.id,
        at: iso(a.at),
        status: a.statusCode,
        durationMs: a.durationMs,
        error: a.error,
        responseExcerpt: a.responseExcerpt,
        request: a.request,
      })),
    })),
  });
}

/** A parsed line, or why it is not one. */
export type ParsedLine = { ok: true; event: ExportedEvent } | { ok: false; reason: string };

/** Raised inside the parser only: the first problem found, with the field's path. */
class Bad extends Error {}

/**
 * Reads one line of the export format, checking every field a store needs
 * (types, id prefixes, times, strict base64), so that a line is either
 * imported whole or reported, never half-stored.
 */
export function parseExportLine(line: string): ParsedLine {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (err) {
    return { ok: false, reason: `not JSON (${(err as Error).message})` };
  }
  try {
    return { ok: true, event: readEvent(raw) };
  } catch (err) {
    if (err instanceof Bad) return { ok: false, reason: err.message };
    throw err;
  }
}

function readEvent(raw: unknown): ExportedEvent {
  const o = obj(raw, "line");
  if (o.format !== EXPORT_FORMAT) throw new Bad(`format: expected "${EXPORT_FORMAT}", got ${JSON.stringify(o.format) ?? "nothing"}`);
  const r = obj(o.request, "request");
  const erased = bool(o.erased, "erased");
  const headers = r.headers === null ? null : headerList(r.headers);
  const body = r.bodyBase64 === null ? null : base64(r.bodyBase64, "request.bodyBase64");
  const erasedAt = optTime(o.erasedAt, "erasedAt");
  if (erased !== (erasedAt !== null)) throw new Bad("erased: must be true exactly when erasedAt is set");
  if (!erased && (headers === null || body === null)) throw new Bad("request: headers and bodyBase64 may be null only for an erased event");
  return {
    id: id(o.id, "evt", "id"),
    source: str(o.source, "source"),
    eventType: optStr(o.eventType, "eventType"),
    dedupeKey: str(o.dedupeKey, "dedupeKey"),
    receivedAt: time(o.receivedAt, "receivedAt"),
    duplicates: count(o.duplicates, "duplicates"),
    lastDuplicateAt: optTime(o.lastDuplicateAt, "lastDuplicateAt"),
    erasedAt,
    unrouted: bool(o.unrouted, "unrouted"),
    status: str(o.status, "status"),
    request: {
      method: str(r.method, "request.method"),
      path: str(r.path, "request.path"),
      query: str(r.query, "request.query"),
      headers,
      body,
      contentType: optStr(r.contentType, "request.contentType"),
      remoteAddr: optStr(r.remoteAddr, "request.remoteAddr"),
    },
    deliveries: list(o.deliveries, "deliveries").map((d, i) => readDelivery(d, `deliveries[${i}]`)),
  };
}

function readDelivery(raw: unknown, at: string): ExportedDelivery {
  const d = obj(raw, at);
  const status = oneOf(d.status, DELIVERY_STATUSES, `${at}.status`);
  return {
    id: id(d.id, "dlv", `${at}.id`),
    target: str(d.target, `${at}.target`),
    status,
    // Added to version 1 later: absent in older files (made by ingest, as far as they tell).
    origin: d.origin === undefined ? "ingest" : oneOf(d.origin, DELIVERY_ORIGINS, `${at}.origin`),
    attemptCount: count(d.attemptCount, `${at}.attemptCount`),
    nextAttemptAt: time(d.nextAttemptAt, `${at}.nextAttemptAt`),
    lastError: optStr(d.lastError, `${at}.lastError`),
    createdAt: time(d.createdAt, `${at}.createdAt`),
    updatedAt: time(d.updatedAt, `${at}.updatedAt`),
    attempts: list(d.attempts, `${at}.attempts`).map((a, j) => {
      const p = `${at}.attempts[${j}]`;
      const x = obj(a, p);
      return {
        id: id(x.id, "att", `${p}.id`),
        at: time(x.at, `${p}.at`),
        statusCode: x.status === null ? null : count(x.status, `${p}.status`),
        durationMs: count(x.durationMs, `${p}.durationMs`),
        error: optStr(x.error, `${p}.error`),
        responseExcerpt: optStr(x.responseExcerpt, `${p}.responseExcerpt`),
        request: x.request === undefined || x.request === null ? null : attemptRequest(x.request, `${p}.request`),
      };
    }),
  };
}

function attemptRequest(raw: unknown, at: string): ExportedAttempt["request"] {
  const r = obj(raw, at);
  return { method: str(r.method, `${at}.method`), url: str(r.url, `${at}.url`), headers: headerList(r.headers, `${at}.headers`) };
}

function oneOf<T extends string>(v: unknown, values: readonly T[], at: string): T {
  if (!values.includes(v as T)) throw new Bad(`${at}: expected one of ${values.join(", ")}`);
  return v as T;
}

function obj(v: unknown, at: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Bad(`${at}: expected an object`);
  return v as Record<string, unknown>;
}
function list(v: unknown, at: string): unknown[] {
  if (!Array.isArray(v)) throw new Bad(`${at}: expected an array`);
  return v;
}
function str(v: unknown, at: string): string {
  if (typeof v !== "string") throw new Bad(`${at}: expected a string`);
  return v;
}
function optStr(v: unknown, at: string): string | null {
  return v === null ? null : str(v, at);
}
function bool(v: unknown, at: string): boolean {
  if (typeof v !== "boolean") throw new Bad(`${at}: expected true or false`);
  return v;
}
function count(v: unknown, at: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw new Bad(`${at}: expected a whole number ≥ 0`);
  return v;
}
// ISO 8601 as exportLine writes it (milliseconds, UTC): lossless for the store's integer milliseconds.
function time(v: unknown, at: string): number {
  const ms = typeof v === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(v) ? Date.parse(v) : Number.NaN;
  if (!Number.isFinite(ms)) throw new Bad(`${at}: expected an ISO 8601 UTC time like 2026-01-02T03:04:05.678Z`);
  // Date.parse rolls an impossible date over (2026-02-30 is March 2nd): the date must be the one written.
  if (new Date(ms).toISOString().slice(0, 19) !== (v as string).slice(0, 19)) throw new Bad(`${at}: ${v as string} is not a date of the calendar`);
  if (ms < 0) throw new Bad(`${at}: ${v as string} is before 1970`);
  return ms;
}
function optTime(v: unknown, at: string): number | null {
  return v === null ? null : time(v, at);
}
function id(v: unknown, prefix: string, at: string): string {
  if (typeof v !== "string" || !new RegExp(`^${prefix}_[0-9A-Z]{26}$`).test(v)) throw new Bad(`${at}: expected an id like ${prefix}_01J…`);
  return v;
}
function headerList(v: unknown, at = "request.headers"): [string, string][] {
  return list(v, at).map((h, i) => {
    if (!Array.isArray(h) || h.length !== 2 || typeof h[0] !== "string" || typeof h[1] !== "string")
      throw new Bad(`${at}[${i}]: expected a [name, value] pair of strings`);
    return [h[0], h[1]];
  });
}
// Buffer.from(…, "base64") skips what it cannot read: check first, so a damaged body is reported, not stored short.
function base64(v: unknown, at: string): Uint8Array {
  if (typeof v !== "string" || v.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw new Bad(`${at}: expected standard base64`);
  return new Uint8Array(Buffer.from(v, "base64"));
}
