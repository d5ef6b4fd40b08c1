/**
 * One conformance table for every preset: each row signs a request the way
 * the provider does (with the official library where one exists) and the
 * same behaviour tests run against every row.
 */
import { describe, expect, test } from "bun:test";
import { createHmac, randomBytes } from "node:crypto";
import { sign as octokitSign } from "@octokit/webhooks-methods";
import { Webhook as StandardWebhook } from "standardwebhooks";
import Stripe from "stripe";
import { Webhook as SvixWebhook } from "svix";
import twilio from "twilio";
import type { InboundRequest, PresetName } from "../types.ts";
import { buildVerifier } from "./index.ts";

const NOW_MS = 1_700_000_000_500; // a half second in, to pin floor(now) rounding
const NOW_S = Math.floor(NOW_MS / 1000);
const TOLERANCE_SEC = 300;
const BODY = '{"id":"evt_1","type":"order.paid","event_id":"evt_1"}';
const NON_ASCII_BODY = '{"name":"ë Ñ ú ✓"}\n';
const TWILIO_URL = "https://hooks.example.com/in/twilio?foo=1&bar=2";
const SQUARE_URL = "https://hooks.example.com/in/square";
const stripe = new Stripe("sk_test_unused");

const whsec = () => `whsec_${randomBytes(32).toString("base64")}`;
const hmac = (alg: string, key: string, data: string, enc: "hex" | "base64") =>
  createHmac(alg, key).update(data, "utf8").digest(enc);

interface Signed {
  headers: Record<string, string>;
  body: string;
  url?: string;
}

interface Row {
  preset: PresetName;
  secrets: [string, string];
  /** Sign `body` with `secret` at timestamp `ts` (in the scheme's unit). */
  sign: (body: string, secret: string, ts: number) => Promise<Signed> | Signed;
  /** Header carrying the signature (removed for the missing-header test). */
  signatureHeader: string;
  timestamp?: { unit: "s" | "ms" };
  /** Points and GitLab tokens do not cover the body at all. */
  bodyUnprotected?: boolean;
  /** How to corrupt the signed material in the body (default: change the event id). */
  tamper?: (body: string) => string;
  url?: string;
}

const standardHeaders = (prefix: string, id: string, ts: number, sig: string) => ({
  [`${prefix}-id`]: id,
  [`${prefix}-timestamp`]: String(ts),
  [`${prefix}-signature`]: sig,
});

const ROWS: Row[] = [
  {
    preset: "standard-webhooks",
    secrets: [whsec(), whsec()],
    sign: (body, secret, ts) => ({
      headers: standardHeaders("webhook", "msg_1", ts, new StandardWebhook(secret).sign("msg_1", new Date(ts * 1000), body)),
      body,
    }),
    signatureHeader: "webhook-signature",
    timestamp: { unit: "s" },
  },
  {
    preset: "svix",
    secrets: [whsec(), whsec()],
    sign: (body, secret, ts) => ({
      headers: standardHeaders("svix", "msg_1", ts, new SvixWebhook(secret).sign("msg_1", new Date(ts * 1000), body)),
      body,
    }),
    signatureHeader: "svix-signature",
    timestamp: { unit: "s" },
  },
  {
    preset: "gitlab",
    secrets: [whsec(), whsec()],
    sign: (body, secret, ts) => ({
      headers: {
        ...standardHeaders("webhook", "idem_1", ts, new StandardWebhook(secret).sign("idem_1", new Date(ts * 1000), body)),
        "idempotency-key": "idem_1",
      },
      body,
    }),
    signatureHeader: "webhook-signature",
    timestamp: { unit: "s" },
  },
  {
    preset: "stripe",
    secrets: ["whsec_stripe_primary", "whsec_stripe_rolled"],
    sign: async (body, secret, ts) => ({
      headers: { "Stripe-Signature": await stripe.webhooks.generateTestHeaderStringAsync({ payload: body, secret, timestamp: ts }) },
      body,
    }),
    signatureHeader: "stripe-signature",
    timestamp: { unit: "s" },
  },
  {
    preset: "github",
    secrets: ["gh secret ✓", "gh-old"],
    sign: async (body, secret) => ({ headers: { "X-Hub-Signature-256": await octokitSign(secret, body) }, body }),
    signatureHeader: "x-hub-signature-256",
  },
  {
    preset: "shopify",
    secrets: ["shpss_new", "shpss_old"],
    sign: (body, secret) => ({ headers: { "X-Shopify-Hmac-SHA256": hmac("sha256", secret, body, "base64") }, body }),
    signatureHeader: "x-shopify-hmac-sha256",
  },
  {
    preset: "slack",
    secrets: ["8f742231b10e8888abcd99yyyzzz85a5", "slack-old"],
    sign: (body, secret, ts) => ({
      headers: { "X-Slack-Signature": `v0=${hmac("sha256", secret, `v0:${ts}:${body}`, "hex")}`, "X-Slack-Request-Timestamp": String(ts) },
      body,
    }),
    signatureHeader: "x-slack-signature",
    timestamp: { unit: "s" },
  },
  {
    preset: "twilio",
    secrets: ["twilio-primary-token", "twilio-secondary-token"],
    sign: (body, secret) => {
      const params = { MessageSid: "SM1", Body: body, From: "+15550001111" };
      return {
        headers: { "X-Twilio-Signature": twilio.getExpectedTwilioSignature(secret, TWILIO_URL, params) },
        body: new URLSearchParams(params).toString(),
        url: TWILIO_URL,
      };
    },
    signatureHeader: "x-twilio-signature",
  },
  {
    preset: "paddle",
    secrets: ["pdl_ntfset_01_new", "pdl_ntfset_01_old"],
    sign: (body, secret, ts) => ({
      headers: { "Paddle-Signature": `ts=${ts};h1=${hmac("sha256", secret, `${ts}:${body}`, "hex")}` },
      body,
    }),
    signatureHeader: "paddle-signature",
    timestamp: { unit: "s" },
  },
  {
    preset: "square",
    secrets: ["sq-signature-key", "sq-old-key"],
    sign: (body, secret) => ({
      headers: { "x-square-hmacsha256-signature": hmac("sha256", secret, SQUARE_URL + body, "base64") },
      body,
      url: SQUARE_URL,
    }),
    signatureHeader: "x-square-hmacsha256-signature",
    url: SQUARE_URL,
  },
  {
    preset: "mailgun",
    secrets: ["key-mailgun-new", "key-mailgun-old"],
    sign: (body, secret, ts) => {
      const token = "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0";
      const signature = { timestamp: String(ts), token, signature: hmac("sha256", secret, `${ts}${token}`, "hex") };
      return { headers: { "content-type": "application/json" }, body: `{"signature":${JSON.stringify(signature)},"event-data":${body}}` };
    },
    signatureHeader: "(body)",
    timestamp: { unit: "s" },
    tamper: (body) => body.replace('"token":"a8', '"token":"b8'),
  },
  {
    preset: "points",
    secrets: ["points-shared-secret", "points-old-secret"],
    sign: (body, secret) => ({ headers: { "X-Webhook-Secret": secret, "X-Webhook-Event": "approved" }, body }),
    signatureHeader: "x-webhook-secret",
    bodyUnprotected: true,
  },
  {
    preset: "ploints",
    secrets: ["whsec_k8x2ploints", "whsec_oldploints"],
    sign: (body, secret) => ({ headers: { "X-Ploints-Signature": hmac("sha256", secret, body, "hex") }, body }),
    signatureHeader: "x-ploints-signature",
  },
  {
    preset: "poynt",
    secrets: ["not-the-secret-you-know", "poynt-old"],
    sign: (body, secret) => ({ headers: { "Poynt-Webhook-Signature": hmac("sha1", secret, body, "base64") }, body }),
    signatureHeader: "poynt-webhook-signature",
  },
  {
    preset: "point",
    secrets: ["point-signing-secret", "point-old"],
    sign: (body, secret, ts) => ({
      headers: { "point-signature": `t=${ts},v1=${hmac("sha256", secret, `${ts}.${body}`, "hex")}` },
      body,
    }),
    signatureHeader: "point-signature",
    timestamp: { unit: "ms" },
  },
  {
    preset: "pinpoint",
    secrets: ["pinpoint-signing-secret", "pinpoint-old"],
    sign: (body, secret) => ({ headers: { "PINPOINT-HMAC-SHA256": hmac("sha256", secret, body, "base64") }, body }),
    signatureHeader: "pinpoint-hmac-sha256",
  },
];

function toRequest(signed: Signed, body = signed.body): InboundRequest {
  return {
    method: "POST",
    url: signed.url ?? "https://hooks.example.com/in/source",
    headers: new Headers(signed.headers),
    body: new TextEncoder().encode(body),
  };
}

function verifierFor(row: Row, secrets: string[] = row.secrets) {
  return buildVerifier({ kind: "preset", preset: row.preset, secrets, toleranceSec: TOLERANCE_SEC, url: row.url });
}

/** "now" in the row's timestamp unit, shifted by `offsetSec`. */
function tsAt(row: Row, offsetSec: number): number {
  return row.timestamp?.unit === "ms" ? NOW_MS + offsetSec * 1000 : NOW_S + offsetSec;
}

function without(signed: Signed, header: string): Signed {
  if (header === "(body)") return { ...signed, body: signed.body.replace('"signature":{', '"unsigned":{') };
  const headers = Object.fromEntries(Object.entries(signed.headers).filter(([k]) => k.toLowerCase() !== header));
  return { ...signed, headers };
}

for (const row of ROWS) {
  describe(`preset ${row.preset}`, () => {
    const [primary, secondary] = row.secrets;

    test("a freshly signed request verifies", async () => {
      const signed = await row.sign(BODY, primary, tsAt(row, 0));
      expect(verifierFor(row)(toRequest(signed), NOW_MS)).toEqual({ ok: true });
    });

    test("a request signed with the second secret in the list verifies", async () => {
      const signed = await row.sign(BODY, secondary, tsAt(row, 0));
      expect(verifierFor(row)(toRequest(signed), NOW_MS)).toEqual({ ok: true });
    });

    test("a request signed with a secret not in the list is rejected", async () => {
      const signed = await row.sign(BODY, whsec(), tsAt(row, 0));
      expect(verifierFor(row)(toRequest(signed), NOW_MS).ok).toBe(false);
    });

    test("a non-ASCII body with a trailing newline verifies byte-exact", async () => {
      const signed = await row.sign(NON_ASCII_BODY, primary, tsAt(row, 0));
      const verify = verifierFor(row);
      expect(verify(toRequest(signed), NOW_MS)).toEqual({ ok: true });
      // Twilio signs decoded form values and Mailgun only its signature block.
      if (!row.bodyUnprotected && row.preset !== "twilio" && row.preset !== "mailgun") {
        const withoutNewline = toRequest(signed, signed.body.replace(/\n(?=[^\n]*$)/, ""));
        expect(verify(withoutNewline, NOW_MS).ok).toBe(false);
      }
    });

    test("a request without the signature is rejected as missing_signature", async () => {
      const signed = await row.sign(BODY, primary, tsAt(row, 0));
      expect(verifierFor(row)(toRequest(without(signed, row.signatureHeader)), NOW_MS)).toMatchObject({
        ok: false,
        reason: "missing_signature",
      });
    });

    if (row.bodyUnprotected) {
      test("a tampered body still passes because the scheme does not sign the body", async () => {
        const signed = await row.sign(BODY, primary, tsAt(row, 0));
        expect(verifierFor(row)(toRequest(signed, BODY.replace("evt_1", "evt_2")), NOW_MS)).toEqual({ ok: true });
      });
    } else {
      test("a tampered body is rejected as bad_signature", async () => {
        const signed = await row.sign(BODY, primary, tsAt(row, 0));
        const tampered = (row.tamper ?? ((b: string) => b.replace("evt_1", "evt_2")))(signed.body);
        expect(tampered).not.toBe(signed.body);
        expect(verifierFor(row)(toRequest(signed, tampered), NOW_MS)).toMatchObject({ ok: false, reason: "bad_signature" });
      });
    }

    if (row.timestamp) {
      test("a timestamp exactly at the tolerance edge in the past passes", async () => {
        const signed = await row.sign(BODY, primary, tsAt(row, -TOLERANCE_SEC));
        expect(verifierFor(row)(toRequest(signed), NOW_MS)).toEqual({ ok: true });
      });

      test("a timestamp one unit older than the tolerance is rejected as stale_timestamp", async () => {
        const old = tsAt(row, -TOLERANCE_SEC) - 1;
        const signed = await row.sign(BODY, primary, old);
        expect(verifierFor(row)(toRequest(signed), NOW_MS)).toMatchObject({ ok: false, reason: "stale_timestamp" });
      });

      test("a stale timestamp passes when the tolerance is 0 (disabled)", async () => {
        const signed = await row.sign(BODY, primary, tsAt(row, -86_400));
        const verify = buildVerifier({ kind: "preset", preset: row.preset, secrets: row.secrets, toleranceSec: 0, url: row.url });
        expect(verify(toRequest(signed), NOW_MS)).toEqual({ ok: true });
      });

      test("a timestamp exactly at the tolerance edge in the future passes", async () => {
        const signed = await row.sign(BODY, primary, tsAt(row, TOLERANCE_SEC));
        expect(verifierFor(row)(toRequest(signed), NOW_MS)).toEqual({ ok: true });
      });

      test("a timestamp one unit beyond the tolerance in the future is rejected as future_timestamp (Stripe and Paddle too, stricter than their libraries)", async () => {
        const signed = await row.sign(BODY, primary, tsAt(row, TOLERANCE_SEC) + 1);
        expect(verifierFor(row)(toRequest(signed), NOW_MS)).toMatchObject({ ok: false, reason: "future_timestamp" });
      });
    }
  });
}

describe("official libraries agree with the relay", () => {
  test("stripe-node accepts what the relay accepts and rejects a tampered body", async () => {
    const secret = "whsec_stripe_primary";
    const header = await stripe.webhooks.generateTestHeaderStringAsync({ payload: NON_ASCII_BODY, secret, timestamp: NOW_S });
    const event = await stripe.webhooks.constructEventAsync(NON_ASCII_BODY, header, secret, 300, undefined, NOW_MS);
    expect(event).toEqual(JSON.parse(NON_ASCII_BODY));
    expect(stripe.webhooks.constructEventAsync(BODY, header, secret, 300, undefined, NOW_MS)).rejects.toThrow();
  });

  test("a Standard Webhooks header with several entries verifies when any v1 matches", () => {
    const [oldKey, newKey] = [whsec(), whsec()];
    const sigOld = new StandardWebhook(oldKey).sign("msg_2", new Date(NOW_S * 1000), BODY);
    const sigNew = new StandardWebhook(newKey).sign("msg_2", new Date(NOW_S * 1000), BODY);
    const req = toRequest({ headers: standardHeaders("webhook", "msg_2", NOW_S, `v1a,AAAA ${sigOld} ${sigNew}`), body: BODY });
    const verify = buildVerifier({ kind: "preset", preset: "standard-webhooks", secrets: [newKey], toleranceSec: 300 });
    expect(verify(req, NOW_MS)).toEqual({ ok: true });
  });

  test("svix verifies with webhook-* header names as the svix library does", () => {
    const key = whsec();
    const sig = new SvixWebhook(key).sign("msg_3", new Date(NOW_S * 1000), BODY);
    const req = toRequest({ headers: standardHeaders("webhook", "msg_3", NOW_S, sig), body: BODY });
    const verify = buildVerifier({ kind: "preset", preset: "svix", secrets: [key], toleranceSec: 300 });
    expect(verify(req, NOW_MS)).toEqual({ ok: true });
  });
});
