/**
 * Which stored provider headers go on to a target. The source names them
 * (`forward_headers`, or its preset's default); some are never forwarded
 * whatever the config says: hop-by-hop headers belong to one connection,
 * Host/Content-Length describe the inbound request, Cookie/Authorization are
 * credentials for the relay, and the headers hookrelay sets itself would
 * collide with (or spoof) its own signature.
 */

/** RFC 9110 §7.6.1 hop-by-hop headers, plus the legacy ones proxies still send: they belong to one connection. */
export const HOP_BY_HOP_HEADERS: readonly string[] = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];
/**
 * Sent with every delivery from the stored request whatever forward_headers says, exactly once:
 * the stored content type, and the Content-Encoding (contentEncodingHeader).
 */
export const ALWAYS_SENT_HEADERS: readonly string[] = ["content-type", "content-encoding"];
const NEVER = new Set([
  ...HOP_BY_HOP_HEADERS,
  "host",
  "content-length",
  ...ALWAYS_SENT_HEADERS, // never as forwarded headers: sent once, from the stored request
  "cookie",
  "authorization",
  "expect",
]);
// Headers hookrelay sets on every delivery.
const OWN_PREFIXES = ["webhook-", "hookrelay-"];
// Svix's names for the Standard Webhooks headers: its library reads each before its webhook-*
// twin, so a provider's svix-signature (or -id, -timestamp) would shadow the relay's signature.
const SIGNATURE_ALIASES = new Set(["svix-id", "svix-timestamp", "svix-signature"]);

/**
 * True for a header hookrelay sets on every delivery (`webhook-*`, `hookrelay-*`) or that a
 * consumer reads in their place (`svix-id`, `svix-timestamp`, `svix-signature`): another value
 * would collide with (or spoof) its own.
 */
export function isRelayHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return OWN_PREFIXES.some((p) => lower.startsWith(p)) || SIGNATURE_ALIASES.has(lower);
}

/** True when a header name may be forwarded to a target at all. */
export function isForwardableHeader(name: string): boolean {
  return !NEVER.has(name.toLowerCase()) && !isRelayHeader(name);
}

/**
 * The stored headers (in received order) whose names are in `allowed`
 * (lower-cased) and forwardable.
 *
 * @example selectForwardHeaders([["X-GitHub-Event", "push"], ["Host", "a"]], ["x-github-event", "host"])
 * // [["X-GitHub-Event", "push"]]
 */
export function selectForwardHeaders(stored: readonly [string, string][], allowed: readonly string[]): [string, string][] {
  if (allowed.length === 0) return [];
  const wanted = new Set(allowed.map((n) => n.toLowerCase()));
  return stored.filter(([name]) => wanted.has(name.toLowerCase()) && isForwardableHeader(name));
}

/**
 * The stored Content-Encoding, sent with every delivery: the body goes out as
 * received (still compressed), so the target needs it to read the body.
 *
 * @example contentEncodingHeader([["content-encoding", "gzip"]]) // ["content-encoding", "gzip"]
 */
export function contentEncodingHeader(stored: readonly [string, string][]): [string, string] | null {
  const found = stored.find(([name]) => name.toLowerCase() === "content-encoding");
  return found ? ["content-encoding", found[1]] : null;
}
