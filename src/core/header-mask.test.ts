import { expect, test } from "bun:test";
import { isSensitiveHeader, maskPathQuery, maskQuery, maskUrl } from "./header-mask.ts";

test("credential-looking header names are sensitive, signatures and ordinary headers are not", () => {
  const sensitive = ["Authorization", "proxy-authorization", "cookie", "set-cookie", "x-webhook-secret", "X-Gitlab-Token", "x-api-key", "x-apikey", "x-password", "x-passwd", "x-credential", "x-session-id"];
  const plain = ["content-type", "webhook-signature", "x-hub-signature-256", "user-agent", "x-authorization-hint", "cookies-ok"];
  expect(sensitive.filter((n) => !isSensitiveHeader(n))).toEqual([]);
  expect(plain.filter((n) => isSensitiveHeader(n))).toEqual([]);
});

test("a URL is shown without its userinfo and query", () => {
  expect(maskUrl("https://u:p@h.example:8443/x/y?key=s")).toBe("https://h.example:8443/x/y?…");
  expect(maskUrl("http://127.0.0.1/hooks")).toBe("http://127.0.0.1/hooks");
  expect(maskUrl("not a url")).toBe("");
});

test("a query parameter whose name looks secret is shown redacted, as such a header would be", () => {
  expect(maskQuery("evt=1&token=QUERYTOKEN123&v=abc")).toBe("evt=1&token=[redacted: 13 chars]&v=abc");
  expect(maskQuery("?api_key=k1&x=y&Session%5Fid=s&flag")).toBe("?api_key=[redacted: 2 chars]&x=y&Session%5Fid=[redacted: 1 chars]&flag");
  // A value masked already is left as it is.
  expect(maskQuery("secret=[redacted: 3 chars]&id=1")).toBe("secret=[redacted: 3 chars]&id=1");
  expect(maskQuery("")).toBe("");
  expect(maskPathQuery("/in/plain?password=hunter2&a=1")).toBe("/in/plain?password=[redacted: 7 chars]&a=1");
  expect(maskPathQuery("/in/plain")).toBe("/in/plain");
  // Names a URL carries credentials under: an API key, a signed URL's signature, a function key, a token.
  expect(maskQuery("key=AIza&sig=abc%3D&code=xyz&jwt=e.y.J&auth=a&X-Amz-Signature=f00&keyword=shoes")).toBe(
    "key=[redacted: 4 chars]&sig=[redacted: 6 chars]&code=[redacted: 3 chars]&jwt=[redacted: 5 chars]&auth=[redacted: 1 chars]&X-Amz-Signature=[redacted: 3 chars]&keyword=shoes",
  );
});
