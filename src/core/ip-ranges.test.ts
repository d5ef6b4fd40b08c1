import { describe, expect, test } from "bun:test";
import { compileRanges, parseRange } from "./ip-ranges.ts";

const ranges = (...texts: string[]) => {
  const parsed = texts.map(parseRange);
  for (const p of parsed) if (!p.ok) throw new Error(p.error);
  return compileRanges(parsed.map((p) => (p as { ok: true; value: import("./ip-ranges.ts").IpRange }).value));
};

describe("parseRange", () => {
  test("accepts IPv4 and IPv6 ranges and single addresses", () => {
    expect(parseRange("192.30.252.0/22")).toMatchObject({ ok: true, value: { text: "192.30.252.0/22" } });
    expect(parseRange("2a0a:a440::/29")).toMatchObject({ ok: true, value: { text: "2a0a:a440::/29" } });
    expect(parseRange("10.1.2.3")).toMatchObject({ ok: true, value: { text: "10.1.2.3/32" } });
    expect(parseRange("::1")).toMatchObject({ ok: true, value: { text: "::1/128" } });
  });

  test("refuses what is not a range, saying why", () => {
    for (const bad of ["10.0.0.0/33", "::/129", "10.0.0/8", "300.1.1.1/8", "10.0.0.0/-1", "10.0.0.0/", "example.com", "", "10.0.0.0/8/8", "1.2.3.4 /32", "0x7f.0.0.1/8"]) {
      const r = parseRange(bad);
      expect(r.ok, bad).toBe(false);
      if (!r.ok) expect(r.error).toContain("CIDR");
    }
  });

  test("refuses a range with host bits set, naming the network it probably meant", () => {
    const r = parseRange("192.30.253.1/22");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain("192.30.252.0/22");
  });
});

describe("compileRanges().has", () => {
  test("matches IPv4 addresses inside the range and not outside", () => {
    const r = ranges("192.30.252.0/22");
    expect(r.has("192.30.252.0")).toBe(true);
    expect(r.has("192.30.255.255")).toBe(true);
    expect(r.has("192.30.251.255")).toBe(false);
    expect(r.has("192.31.0.1")).toBe(false);
  });

  test("an IPv4-mapped IPv6 peer matches an IPv4 range", () => {
    const r = ranges("10.0.0.0/8");
    expect(r.has("::ffff:10.9.8.7")).toBe(true);
    expect(r.has("::ffff:a09:807")).toBe(true);
    expect(r.has("::ffff:11.0.0.1")).toBe(false);
  });

  test("matches IPv6 ranges on a prefix that is not a multiple of 16", () => {
    const r = ranges("2a0a:a440::/29");
    expect(r.has("2a0a:a440::1")).toBe(true);
    expect(r.has("2a0a:a447:ffff:ffff:ffff:ffff:ffff:ffff")).toBe(true);
    expect(r.has("2a0a:a448::")).toBe(false);
    expect(r.has("2a0a:a43f:ffff::")).toBe(false);
    // An IPv4 peer is never inside an IPv6 range that is not ::ffff:0:0/96 or wider.
    expect(r.has("10.0.0.1")).toBe(false);
  });

  test("IPv6 addresses with a zone id or brackets match; garbage never does", () => {
    const r = ranges("fe80::/10", "127.0.0.1/32");
    expect(r.has("fe80::1%eth0")).toBe(true);
    expect(r.has("[fe80::1]")).toBe(true);
    expect(r.has("127.0.0.1")).toBe(true);
    expect(r.has("127.0.0.2")).toBe(false);
    expect(r.has("not-an-address")).toBe(false);
    expect(r.has("")).toBe(false);
  });

  test("/0 matches every address of its family", () => {
    expect(ranges("0.0.0.0/0").has("203.0.113.9")).toBe(true);
    expect(ranges("0.0.0.0/0").has("2001:db8::1")).toBe(false);
    expect(ranges("::/0").has("2001:db8::1")).toBe(true);
  });
});
