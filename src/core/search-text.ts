/**
 * What full-text search sees of a stored request, and how a user's words
 * become a search. The text of an event is its header values, its query
 * string's parameter names and decoded values, and its body's words: a JSON body's keys, string values and numbers (parsed, so escapes
 * are undone and `true`/`null`/punctuation are not words); a form body's
 * field names and decoded values (the same reader as dedupe keys); any other
 * UTF-8 body as it is. A body that is not UTF-8 adds nothing.
 */
import { makeFieldReader } from "./extract.ts";
import { headerValueText } from "./header-text.ts";

/** The parts of a stored request that are searched (the body with its Content-Encoding undone). */
export interface SearchableRequest {
  headers: [string, string][] | null;
  /** The query string as received, without "?" ("" when none). */
  query?: string;
  body: Uint8Array | null;
  contentType: string | null;
}

/** Text indexed per event at most: bounds the index work a single 1 MB body can cost. */
export const MAX_SEARCH_CHARS = 256 * 1024;

const utf8 = new TextDecoder("utf-8", { fatal: true });
// The field reader looks at the body and its type only.
const NO_HEADERS = new Headers();
const NO_QUERY = new URLSearchParams();

/**
 * The searchable text of one request, at most `maxChars` long.
 *
 * @example searchTextOf({ headers: [], body: enc('{"currency":"EUR"}'), contentType: "application/json" }) // "currency EUR"
 */
export function searchTextOf(req: SearchableRequest, maxChars = MAX_SEARCH_CHARS): string {
  const parts: string[] = [];
  let size = 0;
  const add = (s: string) => {
    if (size >= maxChars || s === "") return;
    parts.push(s);
    size += s.length + 1;
  };
  for (const [, value] of req.headers ?? []) add(headerValueText(value));
  // Decoded, as a form body's fields are: "email=alice%40example.com" is found by "alice@example.com".
  if (req.query) for (const [name, value] of new URLSearchParams(req.query)) add(`${name} ${value}`.trim());
  if (req.body !== null && req.body.length > 0) {
    const parsed = makeFieldReader({ headers: NO_HEADERS, query: NO_QUERY, body: req.body, contentType: req.contentType })();
    if (parsed !== undefined) walkJson(parsed, add, () => size >= maxChars);
    else {
      try {
        add(utf8.decode(req.body));
      } catch {
        // not UTF-8: nothing to index in it
      }
    }
  }
  return parts.join(" ").slice(0, maxChars);
}

// Iterative: a body nested thousands deep must not overflow the stack.
function walkJson(root: unknown, add: (s: string) => void, full: () => boolean): void {
  const stack: unknown[] = [root];
  while (stack.length > 0 && !full()) {
    const v = stack.pop();
    if (typeof v === "string") add(v);
    else if (typeof v === "number") add(String(v));
    else if (Array.isArray(v)) for (let i = v.length - 1; i >= 0; i--) stack.push(v[i]);
    else if (v !== null && typeof v === "object") {
      const entries = Object.entries(v);
      for (let i = entries.length - 1; i >= 0; i--) stack.push(entries[i]![1], entries[i]![0]);
    }
  }
}

/** Terms of one search at most: each is a lookup in the index. */
export const MAX_SEARCH_TERMS = 16;

/**
 * A user's words as an FTS5 query: every whitespace-separated term a quoted
 * phrase (so FTS5 syntax in it is plain text; `ord_123` is the phrase
 * "ord 123"), all required, a trailing `*` a prefix search. Null when no term
 * has a letter or digit (nothing the tokenizer would index).
 *
 * @example searchQueryOf("refund EUR*") // '"refund" "EUR"*'
 */
export function searchQueryOf(text: string): string | null {
  const terms = text
    .split(/\s+/)
    .map((t) => ({ word: t.replace(/\*+$/, ""), prefix: t.endsWith("*") }))
    .filter((t) => /[\p{L}\p{N}]/u.test(t.word))
    .slice(0, MAX_SEARCH_TERMS);
  if (terms.length === 0) return null;
  return terms.map((t) => `"${t.word.replaceAll('"', '""')}"${t.prefix ? "*" : ""}`).join(" ");
}

/**
 * The words a query of searchQueryOf was made from, as a user would type
 * them (what a job shows of the search it was started with).
 *
 * @example typedSearchOf('"refund" "EUR"*') // "refund EUR*"
 */
export function typedSearchOf(query: string): string {
  return [...query.matchAll(/"((?:[^"]|"")*)"(\*?)/g)].map(([, word, star]) => `${word!.replaceAll('""', '"')}${star}`).join(" ");
}

// A Latin letter's diacritics, once decomposed: FTS5's remove_diacritics folds those of Latin letters only.
const LATIN_MARKS = /(\p{Script=Latin})\p{Mn}+/gu;
// What FTS5's unicode61 tokenizer keeps in a word (its default categories L*, N*, Co); anything else separates words.
const WORD = /[\p{L}\p{N}\p{Co}]+/gu;

/**
 * The words the full-text index sees in `text`, as the embedded store's
 * tokenizer (FTS5 unicode61, remove_diacritics 2) cuts them: case folded,
 * Latin diacritics removed, split at anything but a letter, digit or
 * private-use character. A store whose index does not do this itself
 * (PostgreSQL) cuts the texts and the queries with it, so both engines find
 * the same events.
 *
 * @example searchWordsOf("Café ord_123") // ["cafe", "ord", "123"]
 */
export function searchWordsOf(text: string): string[] {
  const folded = text.toLowerCase().replaceAll("ς", "σ").normalize("NFD").replace(LATIN_MARKS, "$1").normalize("NFC");
  return folded.match(WORD) ?? [];
}
