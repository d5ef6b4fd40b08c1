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

  test("refuses IPv6 link-local, IPv4-mapped metadata and AWS IMDS over IPv6", () => {
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
    ]) {
      expect([host, isForbiddenAddress(host)]).toEqual([host, true]);
    }
  });

  test("refuses metadata hostnames in any case", () => {
    expect(isForbiddenAddress("metadata.google.internal")).toBe(true);
    expect(isForbiddenAddress("METADATA.google.internal.")).toBe(true);
    expect(isForbiddenAddress("metadata")).toBe(true);
    expect(isForbiddenAddress("Metadata.")).toBe(true);
    expect(isForbiddenAddress("100.100.100.200")).toBe(true);
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
      "fd00:ec2::253",
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
