import { describe, expect, test } from "bun:test";
import { clientAddress } from "./client-address.ts";
import { compileRanges, parseRange, type IpRange } from "./ip-ranges.ts";

const trusted = compileRanges(["127.0.0.1/32", "10.0.0.0/8", "::1/128"].map((t) => (parseRange(t) as { ok: true; value: IpRange }).value));
const h = (init: Record<string, string>) => new Headers(init);

describe("clientAddress", () => {
  test("without trusted proxies the peer is the client, whatever the headers say", () => {
    expect(clientAddress("127.0.0.1", h({ "x-forwarded-for": "203.0.113.7" }), null)).toBe("127.0.0.1");
  });

  test("a peer outside the trusted ranges is the client: its X-Forwarded-For is ignored", () => {
    expect(clientAddress("198.51.100.4", h({ "x-forwarded-for": "203.0.113.7" }), trusted)).toBe("198.51.100.4");
  });

  test("from a trusted peer, the rightmost X-Forwarded-For address not in the list", () => {
    // The client spoofed 1.1.1.1; its real address was appended by the first proxy (10.0.0.5 is the second).
    expect(clientAddress("127.0.0.1", h({ "x-forwarded-for": "1.1.1.1, 203.0.113.7, 10.0.0.5" }), trusted)).toBe("203.0.113.7");
  });

  test("several X-Forwarded-For lines read as one list, in order", () => {
    const headers = new Headers();
    headers.append("x-forwarded-for", "1.1.1.1");
    headers.append("x-forwarded-for", "203.0.113.8");
    expect(clientAddress("::ffff:127.0.0.1", headers, trusted)).toBe("203.0.113.8");
  });

  test("Forwarded: for= with quotes, brackets and ports", () => {
    expect(clientAddress("127.0.0.1", h({ forwarded: 'for=192.0.2.60;proto=https, for="[2001:db8::17]:4711"' }), trusted)).toBe("2001:db8::17");
    expect(clientAddress("127.0.0.1", h({ forwarded: "for=198.51.100.17:8080;by=10.0.0.1" }), trusted)).toBe("198.51.100.17");
  });

  test("X-Forwarded-For wins over Forwarded when both are present", () => {
    expect(clientAddress("127.0.0.1", h({ "x-forwarded-for": "203.0.113.9", forwarded: "for=192.0.2.1" }), trusted)).toBe("203.0.113.9");
  });

  test("every hop trusted: the leftmost one is the client", () => {
    expect(clientAddress("127.0.0.1", h({ "x-forwarded-for": "10.1.1.1, 10.2.2.2" }), trusted)).toBe("10.1.1.1");
  });

  test("a hop that is not an address stops the walk: the peer stays the client", () => {
    expect(clientAddress("127.0.0.1", h({ "x-forwarded-for": "203.0.113.7, unknown" }), trusted)).toBe("127.0.0.1");
    expect(clientAddress("127.0.0.1", h({ forwarded: "for=_hidden" }), trusted)).toBe("127.0.0.1");
  });

  test("a trusted peer that sent no forwarding header is the client", () => {
    expect(clientAddress("10.0.0.1", h({}), trusted)).toBe("10.0.0.1");
  });

  test("no peer address (in-memory request) stays null", () => {
    expect(clientAddress(null, h({ "x-forwarded-for": "203.0.113.7" }), trusted)).toBe(null);
  });
});
