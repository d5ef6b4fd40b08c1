/**
 * Which target hosts hookrelay refuses: link-local and cloud-metadata
 * addresses, in every spelling a URL parser or resolver may accept, also when
 * embedded in an IPv6 address (mapped, NAT64, 6to4, Teredo). Checked at
 * config time on the URL's host and at send time on the resolved address,
 * so a DNS name pointing at 169.254.169.254 is caught too. Other private
 * addresses (10/8, 192.168/16, loopback) are allowed: they are the point.
 */

// Hostnames that cloud providers resolve to their metadata service.
const METADATA_HOSTNAMES = new Set([
  // GCE's documented short name (found through the VM's google.internal search domain).
  "metadata",
  "metadata.google.internal",
  "metadata.goog",
  "instance-data",
  "instance-data.ec2.internal",
]);

// Alibaba Cloud's metadata service sits outside link-local.
const ALIBABA_METADATA_V4 = (100 << 24) | (100 << 16) | (100 << 8) | 200;
// Azure's platform endpoint (WireServer: the guest agent's goal state and extension settings), outside link-local too.
const AZURE_WIRESERVER_V4 = ((168 << 24) | (63 << 16) | (129 << 8) | 16) >>> 0;

/**
 * True when `host` (a hostname, an IPv4 address in any inet_aton spelling, or
 * an IPv6 address, bracketed or not) is link-local or a cloud metadata service.
 *
 * @example isForbiddenAddress("2852039166") // true: 169.254.169.254
 */
export function isForbiddenAddress(host: string): boolean {
  let h = host.trim().toLowerCase();
  if (h.startsWith("[") && h.endsWith("]")) h = h.slice(1, -1);
  h = h.replace(/\.+$/, "");
  if (METADATA_HOSTNAMES.has(h)) return true;
  const v4 = parseIPv4(h);
  if (v4 !== null) return isForbiddenIPv4(v4);
  const v6 = parseIPv6(h);
  if (v6 !== null) return isForbiddenIPv6(v6);
  return false;
}

function isForbiddenIPv4(addr: number): boolean {
  return addr >>> 16 === 0xa9fe || addr === ALIBABA_METADATA_V4 || addr >>> 0 === AZURE_WIRESERVER_V4;
}

function isForbiddenIPv6(g: number[]): boolean {
  const [g0, g1, g2, g3, g4, g5, g6, g7] = g as [number, number, number, number, number, number, number, number];
  if ((g0 & 0xffc0) === 0xfe80) return true; // fe80::/10 link-local
  // AWS's instance services over IPv6, fd00:ec2::/32: the metadata service (::254), the EKS Pod
  // Identity Agent's credentials (::23), the resolver and time servers. No webhook target lives there.
  if (g0 === 0xfd00 && g1 === 0x0ec2) return true;
  const low32 = ((g6 << 16) | g7) >>> 0;
  const zeroPrefix = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0;
  // ::ffff:a.b.c.d (mapped), ::ffff:0:a.b.c.d (translated), ::a.b.c.d (compatible).
  if (zeroPrefix && ((g4 === 0 && (g5 === 0xffff || g5 === 0)) || (g4 === 0xffff && g5 === 0))) {
    return isForbiddenIPv4(low32);
  }
  // 64:ff9b::/96 NAT64 embeds the IPv4 address in the last 32 bits.
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return isForbiddenIPv4(low32);
  // 64:ff9b:1::/48 is NAT64 for local use (RFC 8215): the operator picks a prefix of 48 bits or
  // longer, which we cannot see, so every RFC 6052 layout that fits is decoded and any refused one refuses.
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 1) return LOCAL_NAT64_PREFIX_BITS.some((bits) => isForbiddenIPv4(nat64Embedded(g, bits)));
  // 2002::/16 6to4 embeds it in bits 16..48.
  if (g0 === 0x2002) return isForbiddenIPv4(((g1 << 16) | g2) >>> 0);
  // 2001:0::/32 Teredo ends with the client's IPv4 address, every bit inverted.
  if (g0 === 0x2001 && g1 === 0) return isForbiddenIPv4(~low32 >>> 0);
  return false;
}

const LOCAL_NAT64_PREFIX_BITS = [48, 56, 64, 96];

// RFC 6052 §2.2: the IPv4 address follows a prefix of `prefixBits`; below /96 it skips bits 64..71 (the "u" octet).
function nat64Embedded(g: number[], prefixBits: number): number {
  const bytes = g.flatMap((x) => [x >> 8, x & 0xff]);
  const v4Bytes = prefixBits === 96 ? bytes.slice(12) : bytes.filter((_, i) => i !== 8).slice(prefixBits / 8, prefixBits / 8 + 4);
  return ((v4Bytes[0]! << 24) | (v4Bytes[1]! << 16) | (v4Bytes[2]! << 8) | v4Bytes[3]!) >>> 0;
}

/**
 * Parses IPv4 the way inet_aton and the WHATWG URL parser do: 1 to 4 parts,
 * each decimal, 0x-hex or 0-octal, the last part filling the remaining bytes
 * (so "2852039166", "0xa9fea9fe" and "0251.0376.0251.0376" are all 169.254.169.254).
 */
export function parseIPv4(host: string): number | null {
  const parts = host.split(".");
  if (parts.length < 1 || parts.length > 4) return null;
  const values: number[] = [];
  for (const part of parts) {
    let value: number;
    if (/^0x[0-9a-f]*$/i.test(part)) value = part.length === 2 ? 0 : parseInt(part.slice(2), 16);
    else if (/^0[0-7]+$/.test(part)) value = parseInt(part.slice(1), 8);
    else if (/^(0|[1-9][0-9]*)$/.test(part)) value = parseInt(part, 10);
    else return null;
    values.push(value);
  }
  const last = values.pop()!;
  if (values.some((v) => v > 255)) return null;
  if (last >= 256 ** (4 - values.length)) return null;
  let addr = 0;
  values.forEach((v, i) => {
    addr += v * 256 ** (3 - i);
  });
  return addr + last;
}

/** Parses an IPv6 address (zone id allowed, dotted IPv4 tail allowed) into 8 groups. */
export function parseIPv6(host: string): number[] | null {
  const text = host.replace(/%.*$/, "");
  if (!text.includes(":")) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const toGroups = (s: string): number[] | null => {
    if (s === "") return [];
    const groups: number[] = [];
    const pieces = s.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!;
      if (i === pieces.length - 1 && piece.includes(".")) {
        if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(piece)) return null;
        const v4 = parseIPv4(piece);
        if (v4 === null) return null;
        groups.push(v4 >>> 16, v4 & 0xffff);
      } else if (/^[0-9a-f]{1,4}$/i.test(piece)) {
        groups.push(parseInt(piece, 16));
      } else {
        return null;
      }
    }
    return groups;
  };
  const head = toGroups(halves[0]!);
  const tail = halves.length === 2 ? toGroups(halves[1]!) : [];
  if (head === null || tail === null) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const missing = 8 - head.length - tail.length;
  if (missing < 1) return null;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

/** True for localhost (and *.localhost) and any loopback address: 127/8, ::1, ::ffff:127.x.x.x. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  const v4 = parseIPv4(h);
  if (v4 !== null) return v4 >>> 24 === 127;
  const v6 = parseIPv6(h);
  if (v6 === null) return false;
  if (v6.slice(0, 7).every((g) => g === 0) && v6[7] === 1) return true;
  // ::ffff:127.x.x.x
  return v6.slice(0, 5).every((g) => g === 0) && v6[5] === 0xffff && v6[6]! >>> 8 === 127;
}
