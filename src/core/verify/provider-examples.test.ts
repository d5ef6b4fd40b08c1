/** Providers' own documented examples, pinned byte for byte. */
import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { verify as octokitVerify } from "@octokit/webhooks-methods";
import twilio from "twilio";
import type { InboundRequest } from "../types.ts";
import { buildVerifier } from "./index.ts";

const NOW_MS = 1_700_000_000_000;

function req(headers: Record<string, string>, body: string, url = "https://hooks.example.com/in/x"): InboundRequest {
  return { method: "POST", url, headers: new Headers(headers), body: new TextEncoder().encode(body) };
}

describe("GitHub's documented example", () => {
  const secret = "It's a Secret to Everybody";
  const expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

  test("verifies, and octokit agrees", async () => {
    const verify = buildVerifier({ kind: "preset", preset: "github", secrets: [secret], toleranceSec: 300 });
    expect(verify(req({ "X-Hub-Signature-256": expected }, "Hello, World!"), NOW_MS)).toEqual({ ok: true });
    expect(await octokitVerify(secret, "Hello, World!", expected)).toBe(true);
  });

  test("uppercase hex of the same digest is rejected, as octokit rejects it", async () => {
    const upper = `sha256=${expected.slice(7).toUpperCase()}`;
    const verify = buildVerifier({ kind: "preset", preset: "github", secrets: [secret], toleranceSec: 300 });
    expect(verify(req({ "X-Hub-Signature-256": upper }, "Hello, World!"), NOW_MS).ok).toBe(false);
    expect(await octokitVerify(secret, "Hello, World!", upper)).toBe(false);
  });
});

describe("Twilio's documented example", () => {
  const url = "https://mycompany.com/myapp.php?foo=1&bar=2";
  const params = { CallSid: "CA1234567890ABCDE", Caller: "+12349013030", Digits: "1234", From: "+12349013030", To: "+18005551212" };
  const body = new URLSearchParams(params).toString();
  const expected = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";

  test("verifies with the public URL configured on the source", () => {
    expect(twilio.validateRequest("12345", expected, url, params)).toBe(true);
    const verify = buildVerifier({ kind: "preset", preset: "twilio", secrets: ["12345"], toleranceSec: 300, url });
    const behindProxy = req({ "X-Twilio-Signature": expected, "content-type": "application/x-www-form-urlencoded" }, body, "http://10.0.0.2:8080/in/t?foo=1&bar=2");
    expect(verify(behindProxy, NOW_MS)).toEqual({ ok: true });
  });

  test("does not verify with a different query order", () => {
    const verify = buildVerifier({ kind: "preset", preset: "twilio", secrets: ["12345"], toleranceSec: 300 });
    const reordered = req({ "X-Twilio-Signature": expected }, body, "https://mycompany.com/myapp.php?bar=2&foo=1");
    expect(verify(reordered, NOW_MS)).toMatchObject({ ok: false, reason: "bad_signature" });
  });
});

describe("Poynt's documented sample", () => {
  const secret = "not-the-secret-you-know";
  const docSignature = "PkaykJxe3c5rHtZjcfBKWLk2khA=";
  // The doc's sample body, minified: 660 bytes, matching its Content-Length.
  const minified =
    '{"applicationId":"urn:aid:6bdee3b0-ced0-4263-ac4e-f783acc9857e","businessId":"469e957c-57a7-4d54-a72a-9e8f3296adad",' +
    '"createdAt":"2015-09-15T20:00:44Z","deviceId":"urn:tid:7e113874-9c3e-3d45-9c37-bde91ebe60e8","eventType":"ORDER_COMPLETED",' +
    '"hookId":"3574d16a-671c-47e3-ac0b-06dc5878abdc","id":"77c6d7f7-2eeb-4ed0-9cb7-d1a846473cfc","links":[{"href":' +
    '"https://services.poynt.net/businesses/469e957c-57a7-4d54-a72a-9e8f3296adad/orders/d297262c-014f-1000-01e4-3c85d2679731",' +
    '"method":"GET","rel":"resource"}],"resource":"/orders","resourceId":"d297262c-014f-1000-01e4-3c85d2679731",' +
    '"storeId":"c2855b41-1dd5-4ecc-8258-f0c89ae40338","updatedAt":"2015-09-15T20:00:44Z"}';
  const verify = buildVerifier({ kind: "preset", preset: "poynt", secrets: [secret], toleranceSec: 300 });

  test("the sample body is the 660 bytes the doc's Content-Length announces", () => {
    expect(new TextEncoder().encode(minified).length).toBe(660);
  });

  test("the doc's sample signature does NOT verify in any plausible serialisation", () => {
    for (const body of [minified, JSON.stringify(JSON.parse(minified), null, 2), JSON.stringify(JSON.parse(minified), null, 4)]) {
      expect(verify(req({ "Poynt-Webhook-Signature": docSignature }, body), NOW_MS)).toMatchObject({ ok: false, reason: "bad_signature" });
    }
  });

  test("the same body signed with HMAC-SHA1 base64 as the recipe describes verifies", () => {
    const sig = createHmac("sha1", secret).update(minified).digest("base64");
    expect(verify(req({ "Poynt-Webhook-Signature": sig }, minified), NOW_MS)).toEqual({ ok: true });
  });
});
