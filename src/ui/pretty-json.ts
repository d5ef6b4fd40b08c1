/**
 * The event page's pretty JSON view, in time and memory linear in the body.
 *
 * `JSON.stringify(JSON.parse(body), null, 2)` indents every level: a 30 KB body
 * of 15,000 nested arrays became 450 MB of spaces (quadratic), and a 1 MB body of
 * 500,000 took 150 ms to parse before stringify gave up. Here one pass over
 * the text both checks the JSON grammar and indents it, and stops as soon as
 * the document is nested deeper than `maxDepth` or the output would grow past
 * `maxGrowth` times the body: the page then says why the view is left out.
 * Tokens are copied as written, so a 20-digit id is shown as sent, not rounded
 * to a double.
 */

/** Where the pretty view gives up (the raw view is always shown whole). */
export const PRETTY_LIMITS = {
  /**
   * Bodies longer than this (UTF-16 units, ~bytes for JSON) get no pretty view:
   * it would be a long scroll nobody reads, and page work is main-thread work
   * (a 900 KB body's page with it cost 40–200 ms; without, a few ms).
   */
  maxInputChars: 256 * 1024,
  /** Deeper documents get no pretty view: 64 levels is already 128 columns of indent. */
  maxDepth: 64,
  /** The pretty text may be at most this many times the body… */
  maxGrowth: 4,
  /** …plus this many characters, so that small documents always get one. */
  slackChars: 4096,
};

/** The pretty text, or why it is left out; null when the text is not a JSON object or array. */
export type PrettyJson = { ok: true; text: string } | { ok: false; reason: string } | null;

const WHITESPACE = /[ \t\n\r]*/y;
const STRING = /"(?:[^"\\\u0000-\u001f]+|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const LITERAL = /true|false|null/y;
const INDENTS = Array.from({ length: PRETTY_LIMITS.maxDepth + 1 }, (_, depth) => `\n${"  ".repeat(depth)}`);

/** Matches a sticky token pattern at `at`; the end offset, or -1. */
function matchAt(pattern: RegExp, text: string, at: number): number {
  pattern.lastIndex = at;
  return pattern.test(text) ? pattern.lastIndex : -1;
}

/**
 * Pretty-prints a JSON object or array with two-space indents (the layout of
 * `JSON.stringify(value, null, 2)`), within PRETTY_LIMITS.
 *
 * @example prettyJson('{"a":[1]}') // { ok: true, text: '{\n  "a": [\n    1\n  ]\n}' }
 */
export function prettyJson(text: string | null): PrettyJson {
  if (text === null || !/^\s*[[{]/.test(text)) return null;
  if (text.length > PRETTY_LIMITS.maxInputChars) return { ok: false, reason: `larger than ${PRETTY_LIMITS.maxInputChars / 1024} KB` };
  const budget = PRETTY_LIMITS.maxGrowth * text.length + PRETTY_LIMITS.slackChars;
  let out = "";
  const emit = (s: string) => {
    out += s;
  };
  // Open containers, innermost last: "{" or "[".
  const open: string[] = [];
  // What may come next: a value, an object key, or (after a value) "," or a closing bracket.
  let expect: "value" | "key" | "after-value" = "value";
  let i = matchAt(WHITESPACE, text, 0);
  while (i < text.length) {
    const c = text[i]!;
    if (expect === "after-value") {
      const inner = open.at(-1);
      if (c === ",") {
        if (inner === undefined) return null;
        emit(`,${INDENTS[open.length]}`);
        expect = inner === "{" ? "key" : "value";
      } else if ((c === "}" && inner === "{") || (c === "]" && inner === "[")) {
        open.pop();
        emit(`${INDENTS[open.length]}${c}`);
      } else return null;
      i = matchAt(WHITESPACE, text, i + 1);
    } else if (c === "{" || c === "[") {
      if (expect === "key") return null;
      if (open.length === PRETTY_LIMITS.maxDepth) return { ok: false, reason: `nested deeper than ${PRETTY_LIMITS.maxDepth} levels` };
      const close = c === "{" ? "}" : "]";
      const next = matchAt(WHITESPACE, text, i + 1);
      if (text[next] === close) {
        emit(`${c}${close}`);
        i = matchAt(WHITESPACE, text, next + 1);
        expect = "after-value";
      } else {
        open.push(c);
        emit(`${c}${INDENTS[open.length]}`);
        i = next;
        expect = c === "{" ? "key" : "value";
      }
    } else {
      const end = c === '"' ? matchAt(STRING, text, i) : expect === "key" ? -1 : Math.max(matchAt(NUMBER, text, i), matchAt(LITERAL, text, i));
      if (end < 0 || open.length === 0) return null;
      emit(text.slice(i, end));
      i = matchAt(WHITESPACE, text, end);
      if (expect === "key") {
        if (text[i] !== ":") return null;
        emit(": ");
        i = matchAt(WHITESPACE, text, i + 1);
        expect = "value";
      } else expect = "after-value";
    }
    if (out.length > budget) return { ok: false, reason: `more than ${PRETTY_LIMITS.maxGrowth} times the size of the body once indented` };
  }
  return open.length === 0 && expect === "after-value" ? { ok: true, text: out } : null;
}
