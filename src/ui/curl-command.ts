/**
 * "Copy as curl" for a stored request: a command that sends the same method,
 * headers and body bytes to the relay's public URL of the source again.
 *
 * Everything in it comes from a provider, so every word is quoted for a
 * POSIX shell: printable ASCII — and a text body's UTF-8 text, line breaks
 * included — in single quotes (where nothing expands), any other header byte
 * (and a bidirectional-text control, which would reorder what the terminal
 * shows) as `$'\xNN'` (bash, zsh), and a body that is not plain
 * UTF-8 text — or holds a control character a terminal would act on when
 * pasted (an escape sequence, a tab, a carriage return) — as base64 piped
 * through `base64 -d` into `--data-binary @-`. A text body goes as
 * `--data-raw`, which, unlike `--data-binary`, never reads a file for a body
 * starting with "@".
 *
 * Hop-by-hop headers, Host and Content-Length (curl sets them for the new
 * connection) and credentials shown redacted (headers, query parameters) are
 * left out, the last named in a comment line, since a request that needs
 * them will be refused.
 */
import { HOP_BY_HOP_HEADERS } from "../core/forward-headers.ts";
import { isRedacted } from "../core/header-mask.ts";
import { utf8HeaderText } from "../core/header-text.ts";
import { BIDI_CONTROL_CHARS } from "./html.ts";

/** The request to reproduce: masked headers as received, the exact body bytes. */
export interface CurlRequest {
  method: string;
  url: string;
  headers: readonly (readonly [string, string])[];
  body: Uint8Array;
  /** Where a body too large to paste is read from: the name it downloads under (core/body-file.ts); body.bin when not given. */
  bodyFile?: string;
}

const LEFT_OUT = new Set([...HOP_BY_HOP_HEADERS, "host", "content-length", "expect"]);
// Headers curl adds on its own unless told not to (an empty `name:` removes one).
const CURL_DEFAULTS = ["content-type", "accept", "user-agent"];
const PRINTABLE = /^[\x20-\x7e]*$/;
// Text a terminal shows as it is: no control char but the line break, no bidirectional-text control.
const PLAIN_TEXT = new RegExp(`^[^\\x00-\\x09\\x0b-\\x1f\\x7f-\\x9f${BIDI_CONTROL_CHARS}]*$`);
// C0 controls but newline, DEL, and C1 controls: a terminal may act on them when pasted.
const UNSAFE_IN_TEXT = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/**
 * A shell word: single-quoted when printable ASCII (or, in `utf8`, plain
 * text: PLAIN_TEXT), else ANSI-C quoted with
 * each other char as the bytes it stands for. In `latin1` (header values,
 * which Bun decodes one byte per char) a char up to U+00FF is that one byte,
 * and one beyond it its UTF-8 bytes; in `utf8` (a body decoded as UTF-8
 * text) every char is its UTF-8 bytes, so that "è" is sent as the two bytes
 * it was received as.
 *
 * @example shellWord("it's $(x)") // `'it'\''s $(x)'`
 */
export function shellWord(s: string, charset: "latin1" | "utf8" = "latin1"): string {
  if (PRINTABLE.test(s) || (charset === "utf8" && PLAIN_TEXT.test(s))) return `'${s.replaceAll("'", `'\\''`)}'`;
  let out = "";
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === "'" || ch === "\\") out += `\\${ch}`;
    else if (code >= 0x20 && code <= 0x7e) out += ch;
    else {
      const bytes = charset === "latin1" && code <= 0xff ? [code] : [...utf8Encoder.encode(ch)];
      out += bytes.map((b) => `\\x${b.toString(16).padStart(2, "0")}`).join("");
    }
  }
  return `$'${out}'`;
}

// A header as a shell word: a value whose bytes are UTF-8 text ("café", as the page shows it) in plain
// quotes like a text body, the same bytes sent; any other bytes one by one (shellWord's latin-1).
function headerWord(name: string, value: string): string {
  const text = utf8HeaderText(value);
  if (text !== null && !UNSAFE_IN_TEXT.test(text)) return shellWord(`${name}: ${text}`, "utf8");
  return shellWord(`${name}: ${value}`);
}

// The body as pasteable text, or null when it must travel as base64.
function pasteableText(body: Uint8Array): string | null {
  try {
    const text = utf8.decode(body);
    return UNSAFE_IN_TEXT.test(text) ? null : text;
  } catch {
    return null;
  }
}

/**
 * Bodies past this are sent from a file, not pasted: one argument of a command
 * may be 128 KB at most on Linux (MAX_ARG_STRLEN; curl then never starts,
 * "Argument list too long"), base64 makes a body a third larger, and a page
 * that holds a body twice, raw and in the command, doubles its weight.
 */
export const INLINE_BODY_MAX_BYTES = 64 * 1024;

/**
 * The curl command for `r`, one option per line.
 *
 * @example curlCommand({ method: "POST", url: "https://hooks.example.com/in/shop", headers: [["content-type", "application/json"]], body })
 */
export function curlCommand(r: CurlRequest): string {
  const kept = r.headers.filter(([name, value]) => !LEFT_OUT.has(name.toLowerCase()) && !isRedacted(value));
  const url = withoutRedactedParams(r.url);
  const redacted = [...r.headers.filter(([, value]) => isRedacted(value)).map(([name]) => name), ...url.left.map((name) => `?${name}`)];
  const names = new Set(kept.map(([name]) => name.toLowerCase()));
  // An empty value is sent as `name;` (curl drops a header given as `name:`).
  const headers = kept.map(([name, value]) => (value === "" ? shellWord(`${name};`) : headerWord(name, value)));
  for (const name of CURL_DEFAULTS) if (!names.has(name)) headers.push(shellWord(`${name}:`));
  const fromFile = r.body.length > INLINE_BODY_MAX_BYTES;
  const text = r.body.length === 0 || fromFile ? null : pasteableText(r.body);
  const binary = r.body.length > 0 && !fromFile && text === null;
  const args = ["--globoff", `--request ${shellWord(r.method)}`, shellWord(url.url), ...headers.map((h) => `--header ${h}`)];
  if (text !== null) args.push(`--data-raw ${shellWord(text, "utf8")}`);
  if (binary) args.push("--data-binary @-");
  const file = r.bodyFile ?? "body.bin";
  if (fromFile) args.push(`--data-binary @${shellWord(file)}`);
  const lines: string[] = [];
  if (redacted.length > 0) lines.push(`# left out, stored redacted: ${redacted.join(", ")}`);
  if (fromFile) lines.push(`# the body (${r.body.length} bytes) is read from the file ${file}: save it with "Download exact bytes" first`);
  const curl = `curl ${args.join(" \\\n  ")}`;
  lines.push(binary ? `printf %s ${shellWord(Buffer.from(r.body).toString("base64"))} | base64 -d | ${curl}` : curl);
  return lines.join("\n");
}

/** The URL with every query parameter shown redacted (header-mask.ts maskQuery) taken out, and their names. */
function withoutRedactedParams(raw: string): { url: string; left: string[] } {
  const q = raw.indexOf("?");
  if (q < 0) return { url: raw, left: [] };
  const left: string[] = [];
  const kept = raw.slice(q + 1).split("&").filter((pair) => {
    const eq = pair.indexOf("=");
    if (eq < 0 || !isRedacted(pair.slice(eq + 1))) return true;
    left.push(pair.slice(0, eq));
    return false;
  });
  return { url: kept.length > 0 ? `${raw.slice(0, q)}?${kept.join("&")}` : raw.slice(0, q), left };
}
