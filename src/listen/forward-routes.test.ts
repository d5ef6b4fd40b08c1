import { expect, test } from "bun:test";
import { parseForwardRoutes, pickForwardUrl } from "./forward-routes.ts";

const parse = (values: string[]) => {
  const r = parseForwardRoutes(values);
  if (!r.ok) throw new Error(r.error);
  return r.value;
};

test("a plain URL is the default, even with = in its query string", () => {
  const r = parse(["http://localhost:3000/hooks?a=b"]);
  expect(r.defaultUrl).toBe("http://localhost:3000/hooks?a=b");
  expect(pickForwardUrl(r, "anything")).toBe("http://localhost:3000/hooks?a=b");
  expect(pickForwardUrl(r, null)).toBe("http://localhost:3000/hooks?a=b");
});

test("TYPE=URL entries route by glob, first match wins, then the default", () => {
  const r = parse(["order.*=http://localhost:1/orders", "order.paid=http://localhost:1/never", "http://localhost:1/rest"]);
  expect(pickForwardUrl(r, "order.paid")).toBe("http://localhost:1/orders");
  expect(pickForwardUrl(r, "customer.created")).toBe("http://localhost:1/rest");
  expect(pickForwardUrl(r, null)).toBe("http://localhost:1/rest");
});

test("without a default, an unmatched event type has no URL", () => {
  const r = parse(["order.*=http://localhost:1/orders"]);
  expect(pickForwardUrl(r, "customer.created")).toBeNull();
  expect(pickForwardUrl(r, null)).toBeNull();
});

test("bad values are refused with the value in the message", () => {
  expect(parseForwardRoutes([])).toMatchObject({ ok: false, error: "--forward-to is required" });
  expect(parseForwardRoutes(["localhost:3000"])).toMatchObject({ ok: false });
  expect(parseForwardRoutes(["=http://x/"])).toMatchObject({ ok: false });
  expect(parseForwardRoutes(["a=ftp://x/"])).toMatchObject({ ok: false });
  expect(parseForwardRoutes(["http://a/", "http://b/"])).toMatchObject({ ok: false });
});

test("a URL with credentials is refused, without echoing them: they would never reach the local app", () => {
  for (const value of ["http://u:pw-secret@localhost:3000/hooks", "order.*=http://u@localhost:3000/orders"]) {
    const r = parseForwardRoutes([value]);
    expect(r).toEqual({ ok: false, error: "--forward-to: a URL with credentials (user:password@) is not supported: the local app would never get them" });
  }
});
