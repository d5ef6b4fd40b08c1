/**
 * A form body's text fields, in order: `application/x-www-form-urlencoded`
 * and `multipart/form-data` (RFC 7578; file parts skipped). Mailgun signs
 * with fields of either kind (a route forwarding a message with attachments
 * posts multipart), and a dedupe key or event type may name a field.
 */

/**
 * Whether a body reads as JSON whatever its Content-Type says (curl -d and some providers label JSON
 * as a form): its first byte past whitespace opens an object or an array. A form body never starts
 * so. The one rule for the readers of a body's fields (extract.ts) and of Mailgun's signed fields,
 * which must agree on which copy of a form they read.
 */
export function looksLikeJson(body: Uint8Array): boolean {
  for (const byte of body) if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d) return byte === 0x7b || byte === 0x5b; // { [
  return false;
}

/** The form kinds this reads, from a Content-Type, or null for any other body. */
export function formKindOf(contentType: string | null): "urlencoded" | "multipart" | null {
  const type = contentType?.split(";", 1)[0]!.trim().toLowerCase();
  if (type === "application/x-www-form-urlencoded") return "urlencoded";
  if (type === "multipart/form-data") return "multipart";
  return null;
}

/**
 * The fields as [name, value] pairs in body order, or null when the body is
 * not a form of a kind formKindOf names, or a multipart body is malformed.
 *
 * @example formFields(new TextEncoder().encode("a=1&b=2"), "application/x-www-form-urlencoded") // [["a","1"],["b","2"]]
 */
export function formFields(body: Uint8Array, contentType: string | null): [string, string][] | null {
  switch (formKindOf(contentType)) {
    case "urlencoded":
      return [...new URLSearchParams(new TextDecoder().decode(body))];
    case "multipart":
      return multipartFields(body, contentType!);
    default:
      return null;
  }
}

const BOUNDARY = /;\s*boundary=(?:"([^"]{1,70})"|([^;\s]{1,70}))/i;
const NAME = /;\s*name="([^"]*)"/i;
const FILENAME = /;\s*filename\*?=/i;
const latin1 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
const utf8 = (text: string) => Buffer.from(text, "latin1").toString("utf8");

// Read as latin-1 (one character a byte) so that an attachment's bytes cannot break the walk;
// names and values are turned back into UTF-8 text once cut out.
function multipartFields(body: Uint8Array, contentType: string): [string, string][] | null {
  const boundary = BOUNDARY.exec(contentType);
  if (!boundary) return null;
  const delimiter = `--${boundary[1] ?? boundary[2]}`;
  const text = latin1(body);
  const fields: [string, string][] = [];
  let at = text.startsWith(delimiter) ? 0 : text.indexOf(`\r\n${delimiter}`);
  if (at === -1) return null;
  if (at > 0) at += 2; // past the preamble's line break
  for (;;) {
    const start = at + delimiter.length;
    if (text.startsWith("--", start)) return fields; // the closing delimiter
    const headEnd = text.indexOf("\r\n\r\n", start);
    const next = headEnd === -1 ? -1 : text.indexOf(`\r\n${delimiter}`, headEnd + 4);
    if (next === -1) return null; // no end to this part: cut short
    const disposition = text.slice(start, headEnd).split("\r\n").find((line) => /^content-disposition\s*:/i.test(line)) ?? "";
    const name = NAME.exec(disposition)?.[1];
    if (name !== undefined && !FILENAME.test(disposition)) fields.push([utf8(name), utf8(text.slice(headEnd + 4, next))]);
    at = next + 2;
  }
}
