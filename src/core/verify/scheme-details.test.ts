/** Scheme details beyond the shared preset table: duplicates, rotation lists, legacy headers. */
import { describe, expect, test } from "bun:test";
import { createHmac, randomBytes } from "node:crypto";
import { Webhook as StandardWebhook } from "standardwebhooks";
import type { InboundRequest, VerifySpec } from "../types.ts";
import { buildVerifier } from "./index.ts";

const NOW_MS = 1_700_000_000_000;
const NOW_S = NOW_MS / 1000;
const BODY = '{"id":"evt_1"}';
const hex = (key: string, data: string, alg = "sha256") => createHmac(alg, key).update(data).digest("hex");

function req(headers: Record<string, string> | Headers, body: string | Uint8Array = BODY, url = "https://hooks.example.com/in/x"): InboundRequest {
  return { method: "POST", url, headers: new Headers(headers), body: typeof body === "string" ? new TextEncoder().encode(body) : body };
}
const preset = (p: Extract<VerifySpec, { kind: "preset" }>["preset"], secrets: string[], toleranceSec = 300) =>
  buildVerifier({ kind: "preset", preset: p, secrets, toleranceSec });

describe("Standard Webhooks header parsing", () => {
  const key = `whsec_${randomBytes(24).toString("base64")}`;
  const sig = new StandardWebhook(key).sign("msg_1", new Date(NOW_MS), BODY);
  const base = { "webhook-id": "msg_1", "webhook-timestamp": String(NOW_S) };

  test("a signature header sent twice (joined with a comma) still verifies", () => {
    const headers = new Headers(base);
    headers.append("webhook-signature", "v1,AAAA");
    headers.append("webhook-signature", sig);
    expect(headers.get("webhook-signature")).toBe(`v1,AAAA, ${sig}`);
    expect(preset("standard-webhooks", [key])(req(headers), NOW_MS)).toEqual({ ok: true });
  });

  test("a header with only unknown versions is malformed", () => {
    const verify = preset("standard-webhooks", [key]);
    expect(verify(req({ ...base, "webhook-signature": "v1a,AAAA v2,BBBB" }), NOW_MS)).toMatchObject({ ok: false, reason: "malformed_signature" });
  });

  test("a missing id is rejected before any HMAC is computed", () => {
    expect(preset("standard-webhooks", [key])(req({ "webhook-timestamp": String(NOW_S), "webhook-signature": sig }), NOW_MS)).toMatchObject({
      ok: false,
      reason: "missing_id",
    });
  });

  test("the whsec_ string used as a raw key (the Stripe mistake) does not verify", () => {
    const wrong = createHmac("sha256", key).update(`msg_1.${NOW_S}.${BODY}`).digest("base64");
    expect(preset("standard-webhooks", [key])(req({ ...base, "webhook-signature": `v1,${wrong}` }), NOW_MS).ok).toBe(false);
  });

  test("a float or negative timestamp is rejected as bad_timestamp", () => {
    for (const ts of ["1700000000.5", "-1700000000"]) {
      expect(preset("standard-webhooks", [key])(req({ ...base, "webhook-timestamp": ts, "webhook-signature": sig }), NOW_MS)).toMatchObject({
        ok: false,
        reason: "bad_timestamp",
      });
    }
  });
});

describe("GitLab", () => {
  test("the classic X-Gitlab-Token is compared as a plain secret", () => {
    const verify = preset("gitlab", ["glpat-token", "old-token"]);
    expect(verify(req({ "X-Gitlab-Token": "old-token" }), NOW_MS)).toEqual({ ok: true });
    expect(verify(req({ "X-Gitlab-Token": "old-token " }), NOW_MS)).toEqual({ ok: true }); // Headers trims
    expect(verify(req({ "X-Gitlab-Token": "old-tokeN" }), NOW_MS)).toMatchObject({ ok: false, reason: "bad_signature" });
    expect(verify(req({}), NOW_MS)).toMatchObject({ ok: false, reason: "missing_signature" });
  });
});

describe("GitLab signing", () => {
  // Anyone can compute an HMAC with an empty key: a token that is no base64 key must not become one.
  const forged = (headers: Record<string, string> = {}) => {
    const sig = `v1,${createHmac("sha256", Buffer.alloc(0)).update(`msg_1.${NOW_S}.${BODY}`).digest("base64")}`;
    return req({ "webhook-id": "msg_1", "webhook-timestamp": String(NOW_S), "webhook-signature": sig, ...headers });
  };

  test("a request signed with an empty key is refused whatever the classic token (not base64, a UUID, whitespace)", () => {
    for (const secrets of [["glpat-token"], ["2f1c1f1e-9b1a-4c47-9d4e-3f2a7e0b5d11"], ["not-base64!"], ["classic-token", `whsec_${randomBytes(24).toString("base64")}`]]) {
      const verdict = preset("gitlab", secrets)(forged(), NOW_MS);
      expect([secrets[0], verdict.ok]).toEqual([secrets[0], false]);
    }
    expect(preset("gitlab", ["glpat-token"])(forged(), NOW_MS)).toMatchObject({ reason: "missing_signature", message: expect.stringContaining("no configured secret is a GitLab signing token") });
  });

  test("a signed request is let in by the classic token it also carries when no secret is a signing key", () => {
    const verify = preset("gitlab", ["glpat-token"]);
    expect(verify(forged({ "X-Gitlab-Token": "glpat-token" }), NOW_MS)).toEqual({ ok: true });
    expect(verify(forged({ "X-Gitlab-Token": "guess" }), NOW_MS)).toMatchObject({ ok: false, reason: "bad_signature" });
  });

  test("a classic token that reads as base64 (hex, from openssl rand) still lets in a request whose signature it cannot check", () => {
    const hexToken = "0123456789abcdef0123456789abcdef01234567";
    const other = `whsec_${randomBytes(24).toString("base64")}`; // GitLab's signing token, not in the config
    const sig = new StandardWebhook(other).sign("msg_1", new Date(NOW_MS), BODY);
    const verify = preset("gitlab", [hexToken]);
    const headers = { "webhook-id": "msg_1", "webhook-timestamp": String(NOW_S), "webhook-signature": sig };
    expect(verify(req({ ...headers, "X-Gitlab-Token": hexToken }), NOW_MS)).toEqual({ ok: true });
    expect(verify(req({ ...headers, "X-Gitlab-Token": "guess" }), NOW_MS)).toMatchObject({ ok: false, reason: "bad_signature" });
    expect(verify(req(headers), NOW_MS)).toMatchObject({ ok: false, reason: "bad_signature" });
  });

  test("the signing token verifies next to a classic one, as standardwebhooks signs", () => {
    const key = `whsec_${randomBytes(24).toString("base64")}`;
    const sig = new StandardWebhook(key).sign("msg_1", new Date(NOW_MS), BODY);
    const verify = preset("gitlab", ["classic-token", key]);
    expect(verify(req({ "webhook-id": "msg_1", "webhook-timestamp": String(NOW_S), "webhook-signature": sig }), NOW_MS)).toEqual({ ok: true });
  });
});

describe("Stripe-like headers", () => {
  const secret = "whsec_test";
  const v1 = hex(secret, `${NOW_S}.${BODY}`);

  test("several v1 entries verify when any matches, and v0 is ignored", () => {
    const header = `t=${NOW_S},v1=${"0".repeat(64)},v1=${v1},v0=${"1".repeat(64)}`;
    expect(preset("stripe", [secret])(req({ "stripe-signature": header }), NOW_MS)).toEqual({ ok: true });
  });

  test("a header sent twice with the same timestamp verifies; with two timestamps it is malformed", () => {
    const same = new Headers();
    same.append("stripe-signature", `t=${NOW_S},v1=${"0".repeat(64)}`);
    same.append("stripe-signature", `t=${NOW_S},v1=${v1}`);
    expect(preset("stripe", [secret])(req(same), NOW_MS)).toEqual({ ok: true });
    const mixed = new Headers();
    mixed.append("stripe-signature", `t=${NOW_S - 1},v1=${"0".repeat(64)}`);
    mixed.append("stripe-signature", `t=${NOW_S},v1=${v1}`);
    expect(preset("stripe", [secret])(req(mixed), NOW_MS)).toMatchObject({ ok: false, reason: "malformed_signature" });
  });

  test("uppercase hex is rejected like stripe-node's string compare", () => {
    expect(preset("stripe", [secret])(req({ "stripe-signature": `t=${NOW_S},v1=${v1.toUpperCase()}` }), NOW_MS).ok).toBe(false);
  });

  test("a header without t or without v1 is rejected with a precise reason", () => {
    const verify = preset("stripe", [secret]);
    expect(verify(req({ "stripe-signature": `v1=${v1}` }), NOW_MS)).toMatchObject({ ok: false, reason: "missing_timestamp" });
    expect(verify(req({ "stripe-signature": `t=${NOW_S}` }), NOW_MS)).toMatchObject({ ok: false, reason: "malformed_signature" });
    expect(verify(req({ "stripe-signature": `t=abc,v1=${v1}` }), NOW_MS)).toMatchObject({ ok: false, reason: "bad_timestamp" });
  });

  test("Paddle accepts a matching h1 that is not the last one (the SDK keeps only the last)", () => {
    const secret = "pdl_ntfset_01";
    const h1 = hex(secret, `${NOW_S}:${BODY}`);
    const header = `ts=${NOW_S};h1=${h1};h1=${"f".repeat(64)}`;
    expect(preset("paddle", [secret])(req({ "paddle-signature": header }), NOW_MS)).toEqual({ ok: true });
  });

  test("Point reads t as milliseconds, so a seconds value is stale", () => {
    const secret = "point-secret";
    const header = `t=${NOW_S},v1=${hex(secret, `${NOW_S}.${BODY}`)}`;
    expect(preset("point", [secret])(req({ "point-signature": header }), NOW_MS)).toMatchObject({ ok: false, reason: "stale_timestamp" });
  });
});

describe("GitHub and Shopify header variants", () => {
  test("GitHub falls back to the legacy sha1 header only when the sha256 one is absent", () => {
    const secret = "gh";
    const sha1 = `sha1=${hex(secret, BODY, "sha1")}`;
    const verify = preset("github", [secret]);
    expect(verify(req({ "x-hub-signature": sha1 }), NOW_MS)).toEqual({ ok: true });
    expect(verify(req({ "x-hub-signature": sha1, "x-hub-signature-256": "sha256=00" }), NOW_MS)).toMatchObject({ ok: false, reason: "bad_signature" });
  });

  test("GitHub rejects a signature without its sha256= prefix as malformed", () => {
    expect(preset("github", ["gh"])(req({ "x-hub-signature-256": hex("gh", BODY) }), NOW_MS)).toMatchObject({ ok: false, reason: "malformed_signature" });
  });

  test("Shopify's newer un-prefixed Shopify-Hmac-Sha256 header verifies too", () => {
    const sig = createHmac("sha256", "shpss").update(BODY).digest("base64");
    expect(preset("shopify", ["shpss"])(req({ "Shopify-Hmac-Sha256": sig }), NOW_MS)).toEqual({ ok: true });
  });

  test("Shopify rejects a hex signature (it signs base64)", () => {
    expect(preset("shopify", ["shpss"])(req({ "X-Shopify-Hmac-Sha256": hex("shpss", BODY) }), NOW_MS).ok).toBe(false);
  });
});

describe("Square", () => {
  const url = "https://hooks.example.com/in/square";
  const sig = createHmac("sha256", "sq").update(url + BODY).digest("base64");

  test("signs the configured notification URL, not the URL the relay saw", () => {
    const verify = buildVerifier({ kind: "preset", preset: "square", secrets: ["sq"], toleranceSec: 300, url });
    expect(verify(req({ "x-square-hmacsha256-signature": sig }, BODY, "http://10.0.0.2:8080/in/square"), NOW_MS)).toEqual({ ok: true });
  });

  test("a trailing slash difference in the URL breaks the signature", () => {
    const verify = buildVerifier({ kind: "preset", preset: "square", secrets: ["sq"], toleranceSec: 300, url: `${url}/` });
    expect(verify(req({ "x-square-hmacsha256-signature": sig }), NOW_MS)).toMatchObject({ ok: false, reason: "bad_signature" });
  });

  test("without a configured URL the request URL is used", () => {
    expect(preset("square", ["sq"])(req({ "x-square-hmacsha256-signature": sig }, BODY, url), NOW_MS)).toEqual({ ok: true });
  });
});

describe("Mailgun", () => {
  const key = "mg-key";
  const token = "tok123";
  const signature = hex(key, `${NOW_S}${token}`);

  test("a subaccount's webhook verifies with the primary account's key through its parent-signature block, and only so", () => {
    const subKey = "subaccount-key";
    const body = JSON.stringify({
      signature: { timestamp: String(NOW_S), token, signature: hex(subKey, `${NOW_S}${token}`) },
      "parent-signature": { timestamp: String(NOW_S), token: "ptok9", signature: hex(key, `${NOW_S}ptok9`) },
      "event-data": { event: "delivered" },
    });
    const headers = { "content-type": "application/json" };
    expect(preset("mailgun", [key])(req(headers, body), NOW_MS)).toEqual({ ok: true });
    expect(preset("mailgun", [subKey])(req(headers, body), NOW_MS)).toEqual({ ok: true });
    // A parent block signed with another key lets nothing in.
    const forged = body.replace(hex(key, `${NOW_S}ptok9`), hex("other", `${NOW_S}ptok9`));
    expect(preset("mailgun", [key])(req(headers, forged), NOW_MS)).toMatchObject({ ok: false, reason: "bad_signature" });
    // Nor a stale one.
    const stale = JSON.stringify({ ...JSON.parse(body), "parent-signature": { timestamp: String(NOW_S - 3600), token: "ptok9", signature: hex(key, `${NOW_S - 3600}ptok9`) } });
    expect(preset("mailgun", [key])(req(headers, stale), NOW_MS)).toMatchObject({ ok: false });
  });

  test("legacy form-encoded fields verify", () => {
    const body = new URLSearchParams({ timestamp: String(NOW_S), token, signature, event: "delivered" }).toString();
    const headers = { "content-type": "application/x-www-form-urlencoded" };
    expect(preset("mailgun", [key])(req(headers, body), NOW_MS)).toEqual({ ok: true });
  });

  test("multipart fields (a route forwarding a message with attachments) verify; a file part is not a field", () => {
    const boundary = "----mg7f3a";
    const part = (name: string, value: string, file = "") =>
      `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${file}\r\n\r\n${value}\r\n`;
    const body = Buffer.concat([
      Buffer.from(part("timestamp", String(NOW_S)) + part("token", token) + part("attachment-1", "", '; filename="a.bin"').replace("\r\n\r\n\r\n", "\r\nContent-Type: application/octet-stream\r\n\r\n")),
      Buffer.from([0xff, 0x00, 0x0d, 0x0a, 0x2d, 0x2d]), // binary, with a CRLF and "--" that are not a boundary
      Buffer.from(`\r\n${part("signature", signature)}--${boundary}--\r\n`),
    ]);
    const headers = { "content-type": `multipart/form-data; boundary=${boundary}` };
    expect(preset("mailgun", [key])(req(headers, body), NOW_MS)).toEqual({ ok: true });
    const forged = Buffer.from(body.toString("latin1").replace(`name="signature"\r\n\r\n${signature}`, `name="signature"\r\n\r\n${"0".repeat(64)}`), "latin1");
    expect(preset("mailgun", [key])(req(headers, forged), NOW_MS)).toMatchObject({ ok: false, reason: "bad_signature" });
  });

  test("a form-labelled body that reads as JSON (a leading [) is not verified as a form: the dedupe key would read it as JSON", () => {
    const body = `[=&timestamp=${NOW_S}&token=${token}&signature=${signature}`;
    const verdict = preset("mailgun", [key])(req({ "content-type": "application/x-www-form-urlencoded" }, body), NOW_MS);
    expect(verdict).toMatchObject({ ok: false, reason: "missing_signature" });
  });

  test("a form that repeats a signed field is refused: which copy was signed cannot be told", () => {
    const body = `timestamp=${NOW_S}&token=${token}&signature=${signature}&token=other`;
    const verdict = preset("mailgun", [key])(req({ "content-type": "application/x-www-form-urlencoded" }, body), NOW_MS);
    expect(verdict).toMatchObject({ ok: false, reason: "malformed_signature" });
  });

  test("a numeric JSON timestamp is accepted as its decimal string", () => {
    const body = JSON.stringify({ signature: { timestamp: NOW_S, token, signature } });
    expect(preset("mailgun", [key])(req({ "content-type": "application/json" }, body), NOW_MS)).toEqual({ ok: true });
  });

  test("event-data is not covered by the signature (documented weakness; dedupe on token)", () => {
    const make = (event: string) => JSON.stringify({ signature: { timestamp: String(NOW_S), token, signature }, "event-data": { event } });
    expect(preset("mailgun", [key])(req({}, make("forged")), NOW_MS)).toEqual({ ok: true });
  });

  test("a missing token or an invalid JSON body is rejected without throwing", () => {
    const noToken = JSON.stringify({ signature: { timestamp: String(NOW_S), signature } });
    expect(preset("mailgun", [key])(req({}, noToken), NOW_MS)).toMatchObject({ ok: false, reason: "missing_token" });
    expect(preset("mailgun", [key])(req({ "content-type": "application/json" }, "{not json"), NOW_MS)).toMatchObject({
      ok: false,
      reason: "missing_signature",
    });
  });
});
