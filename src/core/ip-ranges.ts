/**
 * Address ranges in CIDR notation (`192.30.252.0/22`, `2a0a:a440::/29`) and
 * the one test over them: is this address inside any of these ranges? Used
 * for `server.trusted_proxies` and a source's `allow_ips`. Every address is
 * held as eight 16-bit groups, IPv4 as its IPv4-mapped IPv6 form
 * (`::ffff:a.b.c.d`), so that a peer Bun reports as `::ffff:10.1.2.3` (a
 * dual-stack listener) matches `10.0.0.0/8` exactly as `10.1.2.3` does.
 *
 * @example compileRanges([parseRange("10.0.0.0/8").value]).has("::ffff:10.1.2.3") // true
 */
import { parseIPv6 } from "./address-guard.ts";

/** One parsed range: its network as eight groups, the prefix length over those 128 bits, and its canonical text. */
export interface IpRange {
  groups: number[];
  prefixBits: number;
  text: string;
}

/** Ranges compiled for lookups. */
export interface IpRanges {
  /** True when `address` (IPv4, IPv6, IPv4-mapped, with or without brackets or a zone id) is in one of the ranges. */
  has(address: string): boolean;
  /** The ranges as written canonically (logs, diffs). */
  readonly texts: readonly string[];
}

const V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Dotted-decimal IPv4 only (no hex, octal or short forms: a range in config must read as what it is). */
function v4Groups(text: string): number[] | null {
  const m = V4.exec(text);
  if (!m) return null;
  const b = m.slice(1).map(Number);
  if (b.some((x) => x > 255)) return null;
  return [0, 0, 0, 0, 0, 0xffff, (b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!];
}

/** An address as eight groups (IPv4 mapped), or null when it is not an IP address. */
export function addressGroups(address: string): number[] | null {
  const text = address.startsWith("[") && address.endsWith("]") ? address.slice(1, -1) : address;
  return v4Groups(text) ?? parseIPv6(text);
}

/** The address with every bit past `prefixBits` cleared. */
function network(groups: number[], prefixBits: number): number[] {
  return groups.map((g, i) => {
    const keep = Math.max(0, Math.min(16, prefixBits - i * 16));
    return keep === 0 ? 0 : g & (0xffff << (16 - keep)) & 0xffff;
  });
}

function show(groups: number[], v4: boolean): string {
  if (v4) return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join(".");
  // The longest run of zero groups becomes "::" (RFC 5952).
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.len && j - i > 1) best = { at: i, len: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.at < 0) return hex.join(":");
  return `${hex.slice(0, best.at).join(":")}::${hex.slice(best.at + best.len).join(":")}`;
}

/**
 * Parses `a.b.c.d/n`, `x:y::/n`, or a single address (a /32 or /128). A
 * range with bits set past its prefix is refused: `192.30.253.1/22` is most
 * likely a typo, and which network was meant is worth a second look.
 */
export function parseRange(text: string): { ok: true; value: IpRange } | { ok: false; error: string } {
  const fail = (why: string) => ({ ok: false as const, error: `expected an address range in CIDR notation like "10.0.0.0/8" or "2001:db8::/32", got ${JSON.stringify(text)}${why}` });
  const m = /^([^/\s]+)(?:\/(\d{1,3}))?$/.exec(text);
  if (!m) return fail("");
  const v4 = v4Groups(m[1]!);
  const groups = v4 ?? parseIPv6(m[1]!);
  if (groups === null || m[1]!.includes("%")) return fail("");
  const max = v4 ? 32 : 128;
  const bits = m[2] === undefined ? max : Number(m[2]);
  if (bits > max) return fail(` (the prefix of an ${v4 ? "IPv4" : "IPv6"} range is at most /${max})`);
  const prefixBits = v4 ? 96 + bits : bits;
  const net = network(groups, prefixBits);
  const canonical = `${show(net, v4 !== null)}/${bits}`;
  if (net.some((g, i) => g !== groups[i])) return fail(` (bits are set past the /${bits} prefix; did you mean "${canonical}"?)`);
  return { ok: true, value: { groups: net, prefixBits, text: canonical } };
}

/** Compiles parsed ranges for `has`. */
export function compileRanges(ranges: readonly IpRange[]): IpRanges {
  const texts = ranges.map((r) => r.text);
  return {
    texts,
    has(address) {
      const g = addressGroups(address);
      if (g === null) return false;
      return ranges.some((r) => network(g, r.prefixBits).every((x, i) => x === r.groups[i]));
    },
  };
}
