import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import twilio from "twilio";
import type { InboundRequest } from "../types.ts";
import { buildVerifier } from "./index.ts";
import { twilioParamString, twilioUrlVariants } from "./twilio.ts";

const TOKEN = "twilio-auth-token";
const NOW_MS = 1_700_000_000_000;

function req(signature: string, url: string, body: string): InboundRequest {
  return { method: "POST", url, headers: new Headers({ "X-Twilio-Signature": signature }), body: new TextEncoder().encode(body) };
}
const verifier = (url?: string) => buildVerifier({ kind: "preset", preset: "twilio", secrets: [TOKEN], toleranceSec: 300, url });

describe("Twilio JSON bodies (bodySHA256)", () => {
  const body = '{"name":"ë Ñ ú ✓"}\n';
  const hash = createHash("sha256").update(body).digest("hex");
  const url = `https://hooks.example.com/in/twilio?bodySHA256=${hash}`;
  const signature = twilio.getExpectedTwilioSignature(TOKEN, url, {});

  test("a JSON body whose hash matches the bodySHA256 query verifies, as validateRequestWithBody does", () => {
    expect(twilio.validateRequestWithBody(TOKEN, signature, url, body)).toBe(true);
    expect(verifier()(req(signature, url, body), NOW_MS)).toEqual({ ok: true });
  });

  test("a tampered JSON body is rejected as body_hash_mismatch", () => {
    expect(verifier()(req(signature, url, body.replace("ë", "e")), NOW_MS)).toMatchObject({ ok: false, reason: "body_hash_mismatch" });
  });

  test("a configured URL without a query keeps the request's bodySHA256 query", () => {
    const configured = "https://hooks.example.com/in/twilio";
    expect(verifier(configured)(req(signature, `http://10.0.0.2/in/twilio?bodySHA256=${hash}`, body), NOW_MS)).toEqual({ ok: true });
  });
});

describe("Twilio URL and parameter rules", () => {
  test("a signature over the URL with the default port verifies against the URL without it, and vice versa", () => {
    const params = { A: "1" };
    const withPort = twilio.getExpectedTwilioSignature(TOKEN, "https://example.com:443/in/t", params);
    const withoutPort = twilio.getExpectedTwilioSignature(TOKEN, "https://example.com/in/t", params);
    expect(verifier()(req(withPort, "https://example.com/in/t", "A=1"), NOW_MS)).toEqual({ ok: true });
    expect(verifier()(req(withoutPort, "https://example.com:443/in/t", "A=1"), NOW_MS)).toEqual({ ok: true });
  });

  test("URL variants match the official validator's list", () => {
    expect(twilioUrlVariants("https://example.com/a?x=1")).toEqual(["https://example.com/a?x=1", "https://example.com:443/a?x=1"]);
  });

  test("multi-valued parameters are deduped and sorted as twilio-node does", () => {
    const body = "To=%2B2&Media=b&Media=a&Media=b&Body=hi+there";
    expect(twilioParamString(new TextEncoder().encode(body))).toBe("Bodyhi thereMediaaMediabTo+2");
    const url = "https://example.com/in/t";
    const signature = twilio.getExpectedTwilioSignature(TOKEN, url, { To: "+2", Media: ["b", "a", "b"], Body: "hi there" });
    expect(twilio.validateRequest(TOKEN, signature, url, { To: "+2", Media: ["b", "a", "b"], Body: "hi there" })).toBe(true);
    expect(verifier()(req(signature, url, body), NOW_MS)).toEqual({ ok: true });
  });

  test("a GET with parameters only in the query signs the URL alone", () => {
    const url = "https://example.com/in/t?CallSid=CA1&From=%2B1";
    const signature = twilio.getExpectedTwilioSignature(TOKEN, url, {});
    const get: InboundRequest = { method: "GET", url, headers: new Headers({ "X-Twilio-Signature": signature }), body: new Uint8Array() };
    expect(verifier()(get, NOW_MS)).toEqual({ ok: true });
  });

  test("an added form parameter is rejected as bad_signature", () => {
    const url = "https://example.com/in/t";
    const signature = twilio.getExpectedTwilioSignature(TOKEN, url, { A: "1" });
    expect(verifier()(req(signature, url, "A=1&B=2"), NOW_MS)).toMatchObject({ ok: false, reason: "bad_signature" });
  });
});
