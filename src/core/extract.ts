/**
 * Reads dedupe keys and event types out of a raw request. JSON paths look into
 * the body (a form body, url-encoded or multipart, counts as a flat object of
 * its text fields),
 * `header:` and `query:` refs into the request line and headers.
 */
import { createHash } from "node:crypto";
import { formFields, formKindOf, looksLikeJson } from "./form-fields.ts";
import type { ValueRef } from "./types.ts";
import { headerValueText } from "./header-text.ts";

/** What the extractors may look at; `fields` is parsed lazily once. */
export interface ExtractContext {
  headers: Headers;
  query: URLSearchParams;
  body: Uint8Array;
  contentType: string | null;
}

const NOT_PARSED = Symbol("not parsed");
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * The body's fields, parsed once; `exact()` parses it again with every
 * integer too large for a double (past 2^53: a 64-bit id) as the digits
 * sent, which a key must keep (12345678901234567891 and …892 are one double).
 */
export type FieldReader = (() => unknown) & { exact?: () => unknown };

/** Parses the body once into an object for JSON-path refs, or undefined when it is not JSON/form. */
export function makeFieldReader(ctx: ExtractContext): FieldReader {
  let cached: unknown = NOT_PARSED;
  let text = "";
  const read: FieldReader = () => {
    if (cached !== NOT_PARSED) return cached;
    cached = undefined;
    try {
      const form = formKindOf(ctx.contentType);
      // A multipart body's attachments need not be UTF-8: its fields are cut out of the bytes.
      const multipart = form === "multipart" ? formFields(ctx.body, ctx.contentType) : null;
      if (multipart !== null) return (cached = fieldsObject(multipart));
      text = decoder.decode(ctx.body);
      cached = !looksLikeJson(ctx.body) && form === "urlencoded" ? fieldsObject(formFields(ctx.body, ctx.contentType)!) : JSON.parse(text);
    } catch {
      cached = undefined; // malformed: callers fall back to the body hash
    }
    return cached;
  };
  // Asked only for a key part that came out an unsafe integer: a JSON body, parsed already.
  read.exact = () => JSON.parse(text, (_key, value, context?: { source?: string }) =>
    typeof value === "number" && Number.isInteger(value) && !Number.isSafeInteger(value) && context?.source !== undefined ? context.source : value,
  );
  return read;
}

/**
 * A form's fields as an object, the first value of a repeated name winning:
 * what URLSearchParams.get and a signature check read (Mailgun's token), so a
 * key cannot be taken from another copy of a field than the one verified.
 * No prototype: a field named `__proto__` or `constructor` is a field.
 */
function fieldsObject(fields: [string, string][]): Record<string, string> {
  const object: Record<string, string> = Object.create(null);
  for (const [name, value] of fields) if (!Object.hasOwn(object, name)) object[name] = value;
  return object;
}

function scalar(v: unknown): string | null {
  if (typeof v === "string") return v.length > 0 ? v : null;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return null;
}

/** The value a ref points at, as a non-empty string, or null. */
export function readRef(ref: ValueRef, ctx: ExtractContext, fields: () => unknown): string | null {
  switch (ref.kind) {
    case "header": {
      const v = ctx.headers.get(ref.name) ?? (ref.alias === undefined ? null : ctx.headers.get(ref.alias));
      return scalar(v === null ? null : headerValueText(v));
    }
    case "query":
      return scalar(ctx.query.get(ref.name));
    case "first":
      for (const r of ref.refs) {
        const v = readRef(r, ctx, fields);
        if (v !== null) return v;
      }
      return null;
    case "json": {
      const value = atPath(fields(), ref.path);
      // Past 2^53 two ids can be one double: read the digits as sent instead.
      if (typeof value === "number" && Number.isInteger(value) && !Number.isSafeInteger(value)) {
        const exact = (fields as FieldReader).exact;
        if (exact) return scalar(atPath(exact(), ref.path));
      }
      return scalar(value);
    }
  }
}

function atPath(root: unknown, path: readonly string[]): unknown {
  let cur = root;
  for (const key of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/** `sha256:<hex>` of the exact body bytes: the key of last resort. */
export function bodyHashKey(body: Uint8Array): string {
  return `sha256:${createHash("sha256").update(body).digest("hex")}`;
}

/** Dedupe keys longer than this (UTF-8 bytes) are stored as `key-sha256:<hex>` of the key. */
export const MAX_DEDUPE_KEY_BYTES = 256;
/** Event types are cut to this many characters. */
export const MAX_EVENT_TYPE_CHARS = 200;
const HASHED_KEY_PREFIX = "key-sha256:";

/**
 * The shapes of the keys the relay derives: a body's hash, a long key's hash,
 * a key written as JSON (in quotes). Exact, not prefixes: a provider's key of
 * another shape stays as sent (a registry's `sha256:` digest of another
 * length, an id that merely starts with a quote).
 */
const DERIVED_KEY = /^(?:sha256:[0-9a-f]{64}|key-sha256:.*|".*")$/s;

/**
 * A key as stored: as given up to MAX_DEDUPE_KEY_BYTES, else its SHA-256, so
 * that a provider's megabyte-long id neither bloats the index and every list
 * page nor loses exactness (different keys, different hashes). A key as the
 * provider gave it (`literal`) of a derived key's shape is hashed too: else
 * `{"id": "sha256:<hex>"}` would be a duplicate of the body with that hash,
 * and a literal id spelling a JSON-escaped one of the escaped key.
 */
function storedKey(key: string, literal: boolean): string {
  const mistakable = literal ? DERIVED_KEY.test(key) : key.startsWith(HASHED_KEY_PREFIX);
  if (Buffer.byteLength(key, "utf8") <= MAX_DEDUPE_KEY_BYTES && !mistakable) return key;
  return HASHED_KEY_PREFIX + createHash("sha256").update(key, "utf8").digest("hex");
}

/**
 * The dedupe key: every ref's value joined (a composite key such as Points'
 * order id + event), or the body hash when there are no refs or any is missing.
 * A key over MAX_DEDUPE_KEY_BYTES is stored as its hash (storedKey).
 */
export function dedupeKeyOf(refs: ValueRef[], ctx: ExtractContext, fields: () => unknown): string {
  if (refs.length === 0) return bodyHashKey(ctx.body);
  const parts: string[] = [];
  for (const ref of refs) {
    const v = readRef(ref, ctx, fields);
    if (v === null) return bodyHashKey(ctx.body);
    parts.push(v);
  }
  // Well-formed before anything compares it: the store would keep a lone surrogate (JSON's "\ud800")
  // as U+FFFD, and a key looked up as sent then misses its stored copy. A NUL is kept, but its
  // text is read back only up to it (the UI, the API, an export: "a\u0000b" came back "a", and
  // an import keyed it so). Either is written as JSON writes it (escaped, in quotes), which keeps
  // it apart from a real U+FFFD, and from the key cut at the NUL.
  const key = parts.length === 1 ? parts[0]! : JSON.stringify(parts);
  const literal = key.isWellFormed() && !key.includes("\0");
  return storedKey(literal ? key : JSON.stringify(key), literal);
}

// Control characters in a type: a NUL would end the stored text early (SQLite reads text up to it),
// and a C1 control is an escape to some terminals. (Bidirectional controls are kept: the UI shows them
// as marks, and the log escapes them.)
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** The first `n` UTF-16 units of `s`, one fewer when the last would be half of a surrogate pair (an emoji). */
function cutAt(s: string, n: number): string {
  if (s.length <= n) return s;
  const last = s.charCodeAt(n - 1);
  return s.slice(0, last >= 0xd800 && last <= 0xdbff ? n - 1 : n);
}

/**
 * The event type: the first ref with a value (cut to MAX_EVENT_TYPE_CHARS), or null.
 * A type is a label: its control characters are stored, routed and shown as U+FFFD,
 * so that the type a route matched is the one stored and sent again later.
 */
export function eventTypeOf(refs: ValueRef[], ctx: ExtractContext, fields: () => unknown): string | null {
  for (const ref of refs) {
    const v = readRef(ref, ctx, fields);
    if (v !== null) return cutAt(v, MAX_EVENT_TYPE_CHARS).replace(CONTROL, "\ufffd").toWellFormed();
  }
  return null;
}
