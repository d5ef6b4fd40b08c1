/**
 * Standard Webhooks v1 producer (PROVIDERS.md §1): HMAC-SHA256 over
 * `{id}.{timestampSec}.{body}` keyed with the base64-DECODED secret, standard
 * padded base64, one `v1,<sig>` entry per secret so both sign during rotation.
 */
import { createHmac } from "node:crypto";
import { decodeKey } from "./verify/hmac.ts";

/** Decodes a `whsec_…` secret (prefix optional) into the HMAC key bytes; null if not base64. */
export function decodeSigningSecret(secret: string): Uint8Array | null {
  return decodeKey(secret, "base64");
}

/**
 * The `webhook-signature` header value: `v1,<b64>` per key, space-separated.
 * Throws on an id containing "." (it would make the signed content ambiguous)
 * or a non-integer timestamp: both are our own values, so that is a bug.
 *
 * @example signStandardWebhook("evt_1", 1700000000, body, [key]) // "v1,K5oZ…="
 */
export function signStandardWebhook(id: string, timestampSec: number, body: Uint8Array, keys: Uint8Array[]): string {
  if (id.includes(".") || id === "") throw new Error(`webhook id ${JSON.stringify(id)} is empty or contains "."`);
  if (!Number.isInteger(timestampSec)) throw new Error("webhook timestamp must be integer seconds");
  const prefix = `${id}.${timestampSec}.`;
  return keys
    .map((key) => `v1,${createHmac("sha256", key).update(prefix).update(body).digest("base64")}`)
    .join(" ");
}
