import { expect, test } from "bun:test";
import { Webhook } from "standardwebhooks";
import { decodeSigningSecret, signStandardWebhook } from "./outbound-signing.ts";

const NEW = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OLD = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const body = new TextEncoder().encode('{"name":"ë Ñ ú ✓"}\n');

function headers(id: string, ts: number, sig: string): Record<string, string> {
  return { "webhook-id": id, "webhook-timestamp": String(ts), "webhook-signature": sig };
}

test("the official standardwebhooks library verifies our signature", () => {
  const ts = Math.floor(Date.now() / 1000);
  const sig = signStandardWebhook("evt_1", ts, body, [decodeSigningSecret(NEW)!]);
  expect(() => new Webhook(NEW).verify(Buffer.from(body), headers("evt_1", ts, sig))).not.toThrow();
});

test("during rotation both secrets sign and either one verifies", () => {
  const ts = Math.floor(Date.now() / 1000);
  const sig = signStandardWebhook("evt_2", ts, body, [decodeSigningSecret(NEW)!, decodeSigningSecret(OLD)!]);
  expect(sig.split(" ")).toHaveLength(2);
  for (const secret of [NEW, OLD]) {
    expect(() => new Webhook(secret).verify(Buffer.from(body), headers("evt_2", ts, sig))).not.toThrow();
  }
});

test("a signature over other bytes does not verify", () => {
  const ts = Math.floor(Date.now() / 1000);
  const sig = signStandardWebhook("evt_3", ts, body, [decodeSigningSecret(NEW)!]);
  const trimmed = Buffer.from(body.subarray(0, body.length - 1));
  expect(() => new Webhook(NEW).verify(trimmed, headers("evt_3", ts, sig))).toThrow();
});

test("the secret is base64-decoded, not used as a string", () => {
  expect(decodeSigningSecret(NEW)).toEqual(new Uint8Array(Buffer.from("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "base64")));
  expect(decodeSigningSecret("whsec_not base64!")).toBeNull();
});

test("an id containing a full stop is refused", () => {
  expect(() => signStandardWebhook("a.b", 1, body, [new Uint8Array([1])])).toThrow();
});
