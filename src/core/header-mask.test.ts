import { expect, test } from "bun:test";
import { isSensitiveHeader, maskUrl } from "./header-mask.ts";

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
