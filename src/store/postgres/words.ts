/**
 * Words on PostgreSQL, cut as the embedded file's FTS5 index cuts them
 * (core/search-text.ts searchWordsOf) rather than by PostgreSQL's text-search
 * parser, which keeps e-mail addresses, hosts and paths whole and knows no
 * diacritics: so a word finds the same events on both engines. The texts and
 * the queries go in as tsvector and tsquery literals, cut already: no parser
 * or dictionary touches them.
 */
import { searchWordsOf } from "../../core/search-text.ts";

/** The index keeps positions up to this (PostgreSQL's own limit: later words share it). */
const MAX_POSITION = 16383;
/** PostgreSQL refuses a longer lexeme; FTS5 would keep it, but nobody searches 2 KB words. */
const MAX_WORD_BYTES = 2046;
/** A tsvector is at most 1 MB: the words of a text past this are left out (FTS5's text is capped too, core MAX_SEARCH_CHARS). */
const MAX_TEXT_BYTES = 200_000;
/** Matches no event: a lexeme with a space is never cut from a text. */
const NOTHING = "' '";

const quoted = (word: string) => `'${word.replaceAll("\\", "\\\\").replaceAll("'", "''")}'`;
const bytesOf = (word: string) => Buffer.byteLength(word, "utf8");

/**
 * An event's searchable text as a tsvector literal (words with positions, so
 * that a phrase matches words next to each other); "" for no words.
 *
 * @example tsvectorOf("Refund ord_1") // "'refund':1 'ord':2 '1':3"
 */
export function tsvectorOf(text: string): string {
  const parts: string[] = [];
  let bytes = 0;
  let position = 0;
  for (const word of searchWordsOf(text)) {
    position++;
    const n = bytesOf(word);
    if (n > MAX_WORD_BYTES) continue;
    bytes += n + 8;
    if (bytes > MAX_TEXT_BYTES) break;
    parts.push(`${quoted(word)}:${Math.min(position, MAX_POSITION)}`);
  }
  return parts.join(" ");
}

/**
 * A search in the FTS5 form the admin side builds (core/search-text.ts
 * searchQueryOf: quoted phrases, all required, a trailing `*` a prefix of the
 * phrase's last word) as a tsquery literal with the same meaning.
 *
 * @example tsqueryOf('"refund" "ord_1"*') // "'refund' & 'ord' <-> '1':*"
 */
export function tsqueryOf(ftsQuery: string): string {
  const phrases: string[] = [];
  for (const m of ftsQuery.matchAll(/"((?:[^"]|"")*)"(\*?)/g)) {
    const words = searchWordsOf(m[1]!.replaceAll('""', '"')).filter((w) => bytesOf(w) <= MAX_WORD_BYTES);
    // A phrase with no word in it: FTS5 finds nothing for the whole query.
    if (words.length === 0) return NOTHING;
    phrases.push(words.map((w, i) => `${quoted(w)}${m[2] === "*" && i === words.length - 1 ? ":*" : ""}`).join(" <-> "));
  }
  return phrases.length === 0 ? NOTHING : phrases.join(" & ");
}
