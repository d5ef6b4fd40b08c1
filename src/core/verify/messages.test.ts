/**
 * Every rejection carries a message that says in words what was wrong: the
 * header that was expected, the signature that does not match, how far a
 * timestamp is outside the tolerance. It never repeats the reason code and
 * never shows a secret or the signature the relay expected.
 */
import { expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import type { InboundRequest, VerifyResult, VerifySpec } from "../types.ts";
import { buildVerifier } from "./index.ts";

const NOW_MS = 1_700_000_000_000;
const NOW_S = NOW_MS / 1000;
const BODY = '{"id":"evt_1"}';
const SECRET = "whsec_message_test_secret";
const SW_SECRET = `whsec_${Buffer.from("message-test-key-32-bytes-long!!").toString("base64")}`;
const hex = (data: string, alg = "sha256") => createHmac(alg, SECRET).update(data).digest("hex");

function req(headers: Record<string, string>, body = BODY, url = "https://hooks.example.com/in/x"): InboundRequest {
  return { method: "POST", url, headers: new Headers(headers), body: new TextEncoder().encode(body) };
}
const preset = (p: Extract<VerifySpec, { kind: "preset" }>["preset"], secret = SECRET) =>
  buildVerifier({ kind: "preset", preset: p, secrets: [secret], toleranceSec: 300 });
const stripeHeader = (t: number, body = BODY) => `t=${t},v1=${hex(`${t}.${body}`)}`;
const basic = (userPass: string) => `Basic ${Buffer.from(userPass).toString("base64")}`;

interface Case {
  name: string;
  result: VerifyResult;
  reason: string;
  message: string;
}

const cases: Case[] = [
  {
    name: "GitHub without a signature header",
    result: preset("github")(req({}), NOW_MS),
    reason: "missing_signature",
    message: "missing X-Hub-Signature-256 or X-Hub-Signature header",
  },
  {
    name: "GitHub signature over another body",
    result: preset("github")(req({ "x-hub-signature-256": `sha256=${hex("other")}` }), NOW_MS),
    reason: "bad_signature",
    message: "X-Hub-Signature-256 does not match: the request was not signed with the configured secret",
  },
  {
    name: "GitHub signature without its prefix",
    result: preset("github")(req({ "x-hub-signature-256": hex(BODY) }), NOW_MS),
    reason: "malformed_signature",
    message: 'X-Hub-Signature-256 does not start with "sha256="',
  },
  {
    name: "Shopify signature that is not base64",
    result: preset("shopify")(req({ "x-shopify-hmac-sha256": "not base64!" }), NOW_MS),
    reason: "malformed_signature",
    message: "X-Shopify-Hmac-Sha256 is not a base64 HMAC-SHA256",
  },
  {
    name: "Stripe an hour late",
    result: preset("stripe")(req({ "stripe-signature": stripeHeader(NOW_S - 3600) }), NOW_MS),
    reason: "stale_timestamp",
    message: `timestamp ${NOW_S - 3600} is 3600 s old, outside the 300 s tolerance`,
  },
  {
    name: "Point (milliseconds) signed with a seconds timestamp",
    result: (() => {
      const t = NOW_S;
      return preset("point")(req({ "point-signature": `t=${t},v1=${hex(`${t}.${BODY}`)}` }), NOW_MS);
    })(),
    reason: "stale_timestamp",
    message: `timestamp ${NOW_S} is ${Math.round((NOW_MS - NOW_S) / 1000)} s old, outside the 300 s tolerance (it looks like seconds; milliseconds are expected)`,
  },
  {
    name: "Stripe header without t=",
    result: preset("stripe")(req({ "stripe-signature": `v1=${hex("x")}` }), NOW_MS),
    reason: "missing_timestamp",
    message: "Stripe-Signature has no t= timestamp",
  },
  {
    name: "Stripe header without v1=",
    result: preset("stripe")(req({ "stripe-signature": `t=${NOW_S}` }), NOW_MS),
    reason: "malformed_signature",
    message: "Stripe-Signature has no v1= signature",
  },
  {
    name: "Paddle timestamp that is not a number",
    result: preset("paddle")(req({ "paddle-signature": `ts=soon;h1=${hex("x")}` }), NOW_MS),
    reason: "bad_timestamp",
    message: "the ts= timestamp in Paddle-Signature is not a Unix time in seconds",
  },
  {
    name: "Standard Webhooks an hour ahead",
    result: (() => {
      const ts = NOW_S + 3600;
      const mac = createHmac("sha256", Buffer.from(SW_SECRET.slice(6), "base64")).update(`msg_1.${ts}.${BODY}`).digest("base64");
      return preset("standard-webhooks", SW_SECRET)(req({ "webhook-id": "msg_1", "webhook-timestamp": String(ts), "webhook-signature": `v1,${mac}` }), NOW_MS);
    })(),
    reason: "future_timestamp",
    message: `timestamp ${NOW_S + 3600} is 3600 s ahead of the relay's clock, outside the 300 s tolerance`,
  },
  {
    name: "Svix without an id",
    result: preset("svix", SW_SECRET)(req({ "svix-timestamp": String(NOW_S), "svix-signature": "v1,AAAA" }), NOW_MS),
    reason: "missing_id",
    message: "missing Svix-Id or Webhook-Id header",
  },
  {
    name: "Standard Webhooks with only unknown versions",
    result: preset("standard-webhooks", SW_SECRET)(req({ "webhook-id": "m", "webhook-timestamp": String(NOW_S), "webhook-signature": "v1a,AAAA" }), NOW_MS),
    reason: "malformed_signature",
    message: "Webhook-Signature has no v1,<base64> signature",
  },
  {
    name: "Slack without its timestamp header",
    result: preset("slack")(req({ "x-slack-signature": `v0=${hex("x")}` }), NOW_MS),
    reason: "missing_timestamp",
    message: "missing X-Slack-Request-Timestamp header",
  },
  {
    name: "Slack timestamp in milliseconds",
    result: preset("slack")(req({ "x-slack-signature": `v0=${hex(`v0:${NOW_MS}:${BODY}`)}`, "x-slack-request-timestamp": String(NOW_MS) }), NOW_MS),
    reason: "future_timestamp",
    message: `timestamp ${NOW_MS} is ${NOW_MS - NOW_S} s ahead of the relay's clock, outside the 300 s tolerance (it looks like milliseconds; seconds are expected)`,
  },
  {
    name: "a shared secret that does not match",
    result: buildVerifier({ kind: "shared-secret", header: "X-Hook-Key", secrets: [SECRET, `${SECRET}-2`] })(req({ "x-hook-key": "guess" }), NOW_MS),
    reason: "bad_signature",
    message: "X-Hook-Key does not match any of the 2 configured secrets",
  },
  {
    name: "a shared secret that is missing",
    result: buildVerifier({ kind: "shared-secret", header: "X-Hook-Key", secrets: [SECRET] })(req({}), NOW_MS),
    reason: "missing_signature",
    message: "missing X-Hook-Key header",
  },
  {
    name: "GitLab without its token",
    result: preset("gitlab")(req({}), NOW_MS),
    reason: "missing_signature",
    message: "missing X-Gitlab-Token header",
  },
  {
    name: "Basic auth without credentials",
    result: buildVerifier({ kind: "basic", username: "relay", secrets: [SECRET] })(req({}), NOW_MS),
    reason: "missing_credentials",
    message: "missing Authorization header (Basic credentials expected)",
  },
  {
    name: "Basic auth with a bearer token",
    result: buildVerifier({ kind: "basic", username: "relay", secrets: [SECRET] })(req({ authorization: "Bearer x" }), NOW_MS),
    reason: "malformed_credentials",
    message: "Authorization is not Basic base64(username:password)",
  },
  {
    name: "Basic auth with a wrong password",
    result: buildVerifier({ kind: "basic", username: "relay", secrets: [SECRET] })(req({ authorization: basic("relay:guess") }), NOW_MS),
    reason: "bad_credentials",
    message: "the Basic username or password does not match",
  },
  {
    name: "Mailgun without a token",
    result: preset("mailgun")(req({}, JSON.stringify({ signature: { timestamp: String(NOW_S), signature: hex("x") } })), NOW_MS),
    reason: "missing_token",
    message: "the body's signature block has no token",
  },
  {
    name: "Mailgun without a signature block",
    result: preset("mailgun")(req({}, "{}"), NOW_MS),
    reason: "missing_signature",
    message: "the body's signature block has no signature",
  },
  {
    name: "Twilio with a body that is not the one hashed in the URL",
    result: (() => {
      const url = `https://hooks.example.com/in/tw?bodySHA256=${"0".repeat(64)}`;
      const sig = createHmac("sha1", SECRET).update(url).digest("base64");
      return buildVerifier({ kind: "preset", preset: "twilio", secrets: [SECRET], toleranceSec: 300, url })(req({ "x-twilio-signature": sig }, BODY, url), NOW_MS);
    })(),
    reason: "body_hash_mismatch",
    message: "the body's SHA-256 does not match bodySHA256 in the URL",
  },
  {
    name: "Twilio signed for another URL",
    result: preset("twilio")(req({ "x-twilio-signature": createHmac("sha1", SECRET).update("https://elsewhere/").digest("base64") }), NOW_MS),
    reason: "bad_signature",
    message: "X-Twilio-Signature does not match: the request was not signed with the configured secret (for the URL the provider called: check verify.url or server.public_url)",
  },
];

test("each rejection says in words what was wrong", () => {
  for (const c of cases) expect({ name: c.name, result: c.result }).toEqual({ name: c.name, result: { ok: false, reason: c.reason, message: c.message } });
});

test("no message repeats its code, shows a secret or the expected signature", () => {
  const expected = [hex(BODY), createHmac("sha256", SECRET).update(BODY).digest("base64")];
  for (const c of cases) {
    if (c.result.ok) continue;
    expect({ name: c.name, message: c.result.message }).not.toEqual({ name: c.name, message: expect.stringContaining(c.result.reason) });
    for (const hidden of [SECRET, SW_SECRET, ...expected]) expect(c.result.message).not.toContain(hidden);
  }
});
