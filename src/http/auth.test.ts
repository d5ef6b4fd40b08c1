import { expect, test } from "bun:test";
import { AdminAuth, isSameOrigin, readCookie, secretsEqual } from "./auth.ts";

const req = (headers: Record<string, string>, url = "http://127.0.0.1:8081/x") => new Request(url, { method: "POST", headers });

test("a session expires after its time to live and is known only to the process that issued it", () => {
  let now = 1_000_000;
  const a = new AdminAuth({ token: "t", nowMs: () => now, sessionTtlMs: 60_000 });
  const s = a.issueSession();
  expect(a.verifySession(s)).toBe(true);
  // A restart (a new AdminAuth, even with the same token) ends every session.
  expect(new AdminAuth({ token: "t", nowMs: () => now }).verifySession(s)).toBe(false);
  now += 60_001;
  expect(a.verifySession(s)).toBe(false);
});

test("ending a session refuses that session for good and leaves the others", () => {
  const a = new AdminAuth({ token: "t" });
  const [s1, s2] = [a.issueSession(), a.issueSession()];
  expect(s1).not.toBe(s2);
  a.endSession(s1);
  expect(a.verifySession(s1)).toBe(false);
  expect(a.verifySession(s2)).toBe(true);
});

test("the session table holds at most its cap, dropping the oldest session first", () => {
  const a = new AdminAuth({ token: "t", maxSessions: 3 });
  const sessions = [a.issueSession(), a.issueSession(), a.issueSession(), a.issueSession()];
  expect(sessions.map((s) => a.verifySession(s))).toEqual([false, true, true, true]);
});

test("same-origin is proven by Sec-Fetch-Site, else by an Origin naming this host", () => {
  expect(isSameOrigin(req({ "sec-fetch-site": "same-origin", origin: "https://evil.example" }))).toBe(true);
  expect(isSameOrigin(req({ "sec-fetch-site": "cross-site", origin: "http://127.0.0.1:8081" }))).toBe(false);
  expect(isSameOrigin(req({ "sec-fetch-site": "same-site" }))).toBe(false);
  expect(isSameOrigin(req({ origin: "http://127.0.0.1:8081" }))).toBe(true);
  expect(isSameOrigin(req({ origin: "http://127.0.0.1:9999" }))).toBe(false);
  expect(isSameOrigin(req({ origin: "null" }))).toBe(false);
  expect(isSameOrigin(req({}))).toBe(false);
});

test("an Origin with another scheme is not same-origin, even with the same host and port", () => {
  expect(isSameOrigin(req({ origin: "https://127.0.0.1:8081" }))).toBe(false);
  expect(isSameOrigin(req({ origin: "https://127.0.0.1:8081" }, "https://127.0.0.1:8081/x"))).toBe(true);
  expect(isSameOrigin(req({ origin: "http://127.0.0.1:8081" }, "https://127.0.0.1:8081/x"))).toBe(false);
  // Default ports may be written or left out on either side.
  expect(isSameOrigin(req({ origin: "http://127.0.0.1", host: "127.0.0.1:80" }))).toBe(true);
  // Behind a TLS-terminating proxy that says so, the page's origin is https.
  expect(isSameOrigin(req({ origin: "https://admin.example", host: "admin.example", "x-forwarded-proto": "https" }))).toBe(true);
  expect(isSameOrigin(req({ origin: "http://admin.example", host: "admin.example", "x-forwarded-proto": "https" }))).toBe(false);
});

test("secrets compare equal only when identical, and cookies are read by name", () => {
  expect(secretsEqual("abc", "abc")).toBe(true);
  expect(secretsEqual("abc", "abcd")).toBe(false);
  expect(readCookie("a=1; hookrelay_session=x.y; b=2", "hookrelay_session")).toBe("x.y");
  expect(readCookie("xhookrelay_session=z", "hookrelay_session")).toBeNull();
});
