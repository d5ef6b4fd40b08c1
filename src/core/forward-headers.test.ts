import { expect, test } from "bun:test";
import { contentEncodingHeader, isForwardableHeader, selectForwardHeaders } from "./forward-headers.ts";

const stored: [string, string][] = [
  ["Host", "hooks.example.com"],
  ["X-GitHub-Event", "push"],
  ["Connection", "keep-alive"],
  ["X-GitHub-Delivery", "abc"],
  ["Cookie", "s=1"],
  ["Authorization", "Bearer x"],
  ["Content-Length", "12"],
  ["Transfer-Encoding", "chunked"],
  ["webhook-signature", "v1,forged"],
];

test("only the named headers are forwarded, in received order", () => {
  expect(selectForwardHeaders(stored, ["x-github-delivery", "x-github-event"])).toEqual([
    ["X-GitHub-Event", "push"],
    ["X-GitHub-Delivery", "abc"],
  ]);
});

test("hop-by-hop, Host, Cookie, Authorization and Content-Length are never forwarded even when named", () => {
  const all = stored.map(([n]) => n.toLowerCase());
  const names = selectForwardHeaders(stored, all).map(([n]) => n);
  expect(names).toEqual(["X-GitHub-Event", "X-GitHub-Delivery"]);
});

test("a provider's webhook-* headers cannot override hookrelay's own signature", () => {
  expect(isForwardableHeader("Webhook-Signature")).toBe(false);
  expect(isForwardableHeader("hookrelay-attempt")).toBe(false);
  // Svix's library reads svix-* before webhook-*: a forwarded one would shadow the relay's signature.
  expect(isForwardableHeader("svix-signature")).toBe(false);
  expect(isForwardableHeader("Svix-Id")).toBe(false);
  expect(isForwardableHeader("svix-webhooks-extra")).toBe(true);
});

test("the stored Content-Encoding is always sent, once, even when forward_headers also names it", () => {
  const stored: [string, string][] = [["Content-Encoding", "gzip"], ["x-event", "a"]];
  expect(selectForwardHeaders(stored, ["content-encoding", "x-event"])).toEqual([["x-event", "a"]]);
  expect(contentEncodingHeader(stored)).toEqual(["content-encoding", "gzip"]);
  expect(contentEncodingHeader([["x-event", "a"]])).toBeNull();
});
