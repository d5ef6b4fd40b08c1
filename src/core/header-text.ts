/**
 * Text of our own choosing sent as a header value. A header carries printable
 * ASCII; an event type is whatever the provider's JSON held (`✓`, `é`, a
 * line break). Sent as it is, such a value is refused by the sender or by the
 * target, and the delivery fails on every attempt for a reason that is not
 * the target's.
 */

// Printable ASCII without "%", not starting or ending with a space (a receiver trims those).
const PLAIN = /^(?:[!-$&-~](?:[ !-$&-~]*[!-$&-~])?)?$/;

/**
 * `text` as it is when a header can carry it, else percent-encoded as UTF-8:
 * every character outside printable ASCII, every "%", and a space at either
 * end. `decodeURIComponent` gives the text back in either case.
 *
 * @example headerText("order.created") // "order.created"
 * @example headerText("points.earned✓") // "points.earned%E2%9C%93"
 */
export function headerText(text: string): string {
  if (PLAIN.test(text)) return text;
  let out = "";
  const last = text.length - 1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const plain = c > 0x20 && c < 0x7f && c !== 0x25;
    const innerSpace = c === 0x20 && i > 0 && i < last;
    if (plain || innerSpace) {
      out += text[i];
      continue;
    }
    // A whole code point (a surrogate pair together); a lone surrogate as U+FFFD.
    const cp = text.codePointAt(i)!;
    if (cp > 0xffff) i++;
    const char = cp >= 0xd800 && cp <= 0xdfff ? "\ufffd" : String.fromCodePoint(cp);
    for (const byte of Buffer.from(char, "utf8")) out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A header value's text when its bytes are UTF-8 beyond ASCII, else null. Bun
 * reads a header value one byte per character (latin-1): a provider's UTF-8
 * ("שלום", "café") would otherwise read as "×©×•…". The UI and the API show
 * this text; what is stored, exported and forwarded stays the bytes.
 *
 * @example utf8HeaderText("caf\u00c3\u00a9") // "café"
 */
export function utf8HeaderText(v: string): string | null {
  if (!/[\x80-\xff]/.test(v) || /[^\x00-\xff]/.test(v)) return null;
  try {
    return utf8.decode(Buffer.from(v, "latin1"));
  } catch {
    return null;
  }
}

/**
 * A header value as the text a provider meant: its UTF-8 decoded, anything
 * else as read. What the relay reads a meaning from (an event type, a dedupe
 * key, a route filter, the search index) takes this; a signature is checked
 * over the bytes as received.
 *
 * @example headerValueText("caf\u00c3\u00a9") // "café"
 * @example headerValueText("m\u00fcnchen") // "münchen" (latin-1 as sent)
 */
export function headerValueText(v: string): string {
  return utf8HeaderText(v) ?? v;
}
