import { describe, expect, test } from "bun:test";
import { isForbiddenAddress, parseIPv4, parseIPv6 } from "./address-guard.ts";

describe("isForbiddenAddress", () => {
  test("refuses 169.254.0.0/16 in every IPv4 spelling", () => {
    for (const host of [
      "169.254.169.254",
      "169.254.0.1",
      "2852039166", // decimal integer
      "0xa9fea9fe", // hex integer
      "0xA9.0xFE.0xA9.0xFE",
      "0251.0376.0251.0376", // octal
      "169.254.43518", // a.b.c form
      "169.16689662", // a.b form
      "169.254.169.254.", // trailing dot
    ]) {
      expect([host, isForbiddenAddress(host)]).toEqual([host, true]);
    }
  });

  test("refuses IPv6 link-local, IPv4-mapped metadata and AWS's instance services over IPv6 (fd00:ec2::/32)", () => {
    for (const host of [
      "fe80::1",
      "[fe80::1%eth0]",
      "febf::1",
      "::ffff:169.254.169.254",
      "[::ffff:a9fe:a9fe]",
      "::ffff:0:169.254.169.254",
      "64:ff9b::169.254.169.254",
      "fd00:ec2::254",
      "[FD00:EC2:0:0:0:0:0:254]",
      "fd00:ec2::23", // EKS Pod Identity Agent (its IPv4 twin 169.254.170.23 is link-local)
      "fd00:ec2::253",
    ]) {
      expect([host, isForbiddenAddress(host)]).toEqual([host, true]);
    }
  });

  test("refuses IPv6 that embeds a refused IPv4: NAT64 (well-known and local-use, every RFC 6052 length), 6to4 and Teredo", () => {
    for (const host of [
      "64:ff9b::a9fe:a9fe", // well-known NAT64 prefix, 64:ff9b::/96
      "[64:ff9b:1::a9fe:a9fe]", // local-use 64:ff9b:1::/48 used as a /96
      "64:ff9b:1::169.254.169.254",
      "64:ff9b:1:a9fe:a9:fe00::", // a /48 prefix: bits 48-63 and 72-87
      "64:ff9b:1:a9:fe:a9fe::", // a /56 prefix: bits 56-63 and 72-95
      "64:ff9b:1:0:a9:fea9:fe00:0", // a /64 prefix: bits 72-103
      "64:ff9b:1::6464:64c8", // Alibaba's 100.100.100.200
      "2002:a9fe:a9fe::1", // 6to4: bits 16-48
      "[2002:a9fe:1::]",
      "2001:0:4136:e378:8000:63bf:5601:5601", // Teredo: client 169.254.169.254, obfuscated (XOR 0xffffffff)
      "2001::5601:fffe", // Teredo client 169.254.0.1
    ]) {
      expect([host, isForbiddenAddress(host)]).toEqual([host, true]);
    }
  });

  test("allows NAT64, 6to4 and Teredo addresses whose embedded IPv4 is allowed", () => {
    for (const host of [
      "64:ff9b::a00:1", // 10.0.0.1
      "64:ff9b:1::c0a8:10a", // 192.168.1.10
      "64:ff9b:1:c0a8:1:a00::", // /48 form of 192.168.1.10
      "2002:a00:1::1", // 6to4 of 10.0.0.1
      "2001:0:4136:e378:8000:63bf:f5ff:fffe", // Teredo client 10.0.0.1
      "2001:db8::a9fe:a9fe", // documentation prefix, not Teredo (2001:0::/32)
      "64:ff9c::a9fe:a9fe", // outside both NAT64 prefixes
    ]) {
      expect([host, isForbiddenAddress(host)]).toEqual([host, false]);
    }
  });

  test("refuses metadata hostnames in any case", () => {
    expect(isForbiddenAddress("metadata.google.internal")).toBe(true);
    expect(isForbiddenAddress("METADATA.google.internal.")).toBe(true);
    expect(isForbiddenAddress("metadata")).toBe(true);
    expect(isForbiddenAddress("Metadata.")).toBe(true);
    expect(isForbiddenAddress("100.100.100.200")).toBe(true);
    // Azure's WireServer, in two spellings; its neighbours are ordinary addresses.
    expect(isForbiddenAddress("168.63.129.16")).toBe(true);
    expect(isForbiddenAddress("::ffff:168.63.129.16")).toBe(true);
    expect(isForbiddenAddress("168.63.129.17")).toBe(false);
  });

  test("allows private, loopback and public addresses and ordinary names", () => {
    for (const host of [
      "10.0.0.5",
      "127.0.0.1",
      "192.168.1.10",
      "169.253.255.255",
      "169.255.0.1",
      "::1",
      "[::1]",
      "fec0::1",
      "fd00:ec3::254", // beside AWS's fd00:ec2::/32, a private network's own
      "fd01:ec2::254",
      "::ffff:10.0.0.1",
      "localhost",
      "example.com",
      "169.254.example.com",
      "2852039166.example.com",
    ]) {
      expect([host, isForbiddenAddress(host)]).toEqual([host, false]);
    }
  });
});

describe("parsers", () => {
  test("parseIPv4 refuses out-of-range and non-numeric parts", () => {
    expect(parseIPv4("256.1.1.1")).toBeNull();
    expect(parseIPv4("1.2.3.4.5")).toBeNull();
    expect(parseIPv4("09.1.1.1")).toBeNull();
    expect(parseIPv4("4294967296")).toBeNull();
    expect(parseIPv4("1.2.3.4")).toBe(0x01020304);
  });

  test("parseIPv6 expands :: and dotted tails", () => {
    expect(parseIPv6("::1")).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
    expect(parseIPv6("::ffff:1.2.3.4")).toEqual([0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304]);
    expect(parseIPv6("1:2:3:4:5:6:7:8:9")).toBeNull();
    expect(parseIPv6("1::2::3")).toBeNull();
  });
});
