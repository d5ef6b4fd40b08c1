import type { ValueRef } from "./types.ts";

// RFC 9110 token characters: what a header name may contain.
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Parse a value reference from config: `"$.order.id"` → a JSON path,
 * `"header:X-Webhook-Event"` → a lower-cased header name, `"query:id"` → a
 * query parameter. Returns null for anything else (empty path segments included).
 *
 * @example parseValueRef("$.a.b") // { kind: "json", path: ["a", "b"] }
 */
export function parseValueRef(s: string): ValueRef | null {
  const text = s.trim();
  if (text.startsWith("$.")) {
    const path = text.slice(2).split(".");
    return path.every((p) => p !== "") ? { kind: "json", path } : null;
  }
  if (text.startsWith("header:")) {
    const name = text.slice("header:".length).trim();
    return HEADER_NAME.test(name) ? { kind: "header", name: name.toLowerCase() } : null;
  }
  if (text.startsWith("query:")) {
    const name = text.slice("query:".length).trim();
    return name !== "" ? { kind: "query", name } : null;
  }
  return null;
}
