import { expect, test } from "bun:test";
import { closestName } from "./did-you-mean.ts";

test("suggests the nearest name within a few edits, ignoring case", () => {
  expect(closestName("stripee", ["stripe", "svix", "slack"])).toBe("stripe");
  expect(closestName("GitHub", ["gitlab", "github"])).toBe("github");
  expect(closestName("hamc", ["hmac", "basic", "none"])).toBe("hmac");
  expect(closestName("sha265", ["sha1", "sha256", "sha512"])).toBe("sha256");
  expect(closestName("verfy", ["name", "verify", "dedupe"])).toBe("verify");
});

test("suggests a name that starts the input or that the input starts", () => {
  expect(closestName("warning", ["debug", "info", "warn", "error"])).toBe("warn");
  expect(closestName("listen_addr", ["listen", "admin_listen", "public_url"])).toBe("listen");
});

test("suggests nothing when no name is close", () => {
  expect(closestName("rsa", ["hmac", "shared-secret", "basic", "none"])).toBeNull();
  expect(closestName("colour", ["listen", "admin_listen", "max_body"])).toBeNull();
  expect(closestName("x", ["y", "z"])).toBeNull();
});
