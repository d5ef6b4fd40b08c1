/**
 * Who sent a request when it came through reverse proxies. The peer (the
 * socket's address) is the client unless it is one of `server.trusted_proxies`;
 * then the client is the rightmost address of X-Forwarded-For (or of the
 * `for=` parameters of Forwarded, RFC 7239) that is not itself a trusted
 * proxy. Rightmost, because each proxy appends the address it saw: whatever a
 * client writes into the header itself sits to the left of what our own
 * proxies added, so it can never be taken for the client's address.
 */
import type { IpRanges } from "./ip-ranges.ts";
import { addressGroups } from "./ip-ranges.ts";

/**
 * The client's address: `peer` unless it is a trusted proxy (then the
 * forwarded chain is walked right to left); null when there is no peer.
 *
 * @example clientAddress("127.0.0.1", new Headers({ "x-forwarded-for": "203.0.113.7" }), trusted) // "203.0.113.7"
 */
export function clientAddress(peer: string | null, headers: Headers, trusted: IpRanges | null): string | null {
  if (peer === null || trusted === null || !trusted.has(peer)) return peer;
  const hops = forwardedChain(headers);
  let client = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    // "unknown", an obfuscated name, a typo: nothing further left can be believed.
    if (hop === null) return client;
    client = hop;
    if (!trusted.has(hop)) return hop;
  }
  return client;
}

/** The forwarded hops, left to right; a hop that is not an IP address is null. */
function forwardedChain(headers: Headers): (string | null)[] {
  // Headers joins repeated lines with ", " in order: one list either way.
  const xff = headers.get("x-forwarded-for");
  if (xff !== null) return xff.split(",").map((s) => address(s.trim()));
  const forwarded = headers.get("forwarded");
  if (forwarded === null) return [];
  return forwarded.split(",").flatMap((element) => {
    const pair = element.split(";").find((p) => /^\s*for\s*=/i.test(p));
    return pair === undefined ? [] : [address(pair.slice(pair.indexOf("=") + 1).trim().replace(/^"(.*)"$/, "$1"))];
  });
}

/** An address out of a hop (`203.0.113.7`, `203.0.113.7:8080`, `[2001:db8::1]:4711`, `2001:db8::1`), else null. */
function address(hop: string): string | null {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(hop);
  const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(hop);
  const text = bracketed?.[1] ?? v4WithPort?.[1] ?? hop;
  return addressGroups(text) === null ? null : text;
}
