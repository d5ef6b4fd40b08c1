import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { HmacAlgorithm, SignatureEncoding, VerifyResult } from "../types.ts";
import { configuredSecrets, OK, reject } from "./result.ts";

/** A piece of signed content: text (hashed as UTF-8) or raw bytes. */
export type Part = string | Uint8Array;

/**
 * Strict decoders: a signature must be in the provider's canonical form
 * (lowercase hex, standard padded base64). Node's Buffer decoders are lenient
 * (they skip junk, accept base64url), so we require the round trip to be exact.
 */
const DECODERS: Record<SignatureEncoding, (text: string) => Buffer | null> = {
  hex: (text) => roundTrip(text, "hex"),
  base64: (text) => roundTrip(text, "base64"),
};

function roundTrip(text: string, encoding: BufferEncoding): Buffer | null {
  if (text === "") return null;
  const bytes = Buffer.from(text, encoding);
  return bytes.toString(encoding) === text ? bytes : null;
}

/**
 * The key bytes a secret written in `encoding` stands for, or null when it is
 * not written so, whole: hex in pairs, or standard base64 (padding optional;
 * a `whsec_` prefix, as Standard Webhooks writes its keys, dropped first;
 * whitespace at either end ignored).
 * The one reading of an encoded secret: config refuses what this refuses, so
 * a verifier or a signer never gets a key a lenient decoder cut short.
 *
 * @example decodeKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "base64") // 24 bytes
 */
export function decodeKey(secret: string, encoding: SignatureEncoding): Uint8Array | null {
  // Whitespace is never part of an encoded key: an env var's line break is dropped, not refused.
  const trimmed = secret.trim();
  if (encoding === "hex") return /^([0-9a-fA-F]{2})+$/.test(trimmed) ? new Uint8Array(Buffer.from(trimmed, "hex")) : null;
  const text = trimmed.startsWith("whsec_") ? trimmed.slice("whsec_".length) : trimmed;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.replace(/=+$/, "").length % 4 === 1) return null;
  return new Uint8Array(Buffer.from(text, "base64"));
}

/** Decode a signature strictly; null when it is not canonical hex/base64. */
export function decodeSignature(encoding: SignatureEncoding, text: string): Buffer | null {
  return DECODERS[encoding](text);
}

/** HMAC of the concatenated parts. */
export function hmacDigest(algorithm: HmacAlgorithm, key: Uint8Array, parts: readonly Part[]): Buffer {
  const mac = createHmac(algorithm, key);
  for (const part of parts) mac.update(part);
  return mac.digest();
}

/** Constant-time byte comparison that returns false (never throws) on a length mismatch. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Constant-time string equality for bearer secrets. Hashing both sides first
 * gives equal lengths, so the comparison leaks neither content nor length.
 */
export function secretsEqual(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

/** Lowercase hex SHA-256 of raw bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** A plain-string secret used as its UTF-8 bytes (Stripe, GitHub, Slack…). */
export function utf8Key(secret: string): Uint8Array {
  return Buffer.from(secret, "utf8");
}

/** What checkSignatures compares: every key × content variant against every candidate. */
export interface SignatureCheck {
  algorithm: HmacAlgorithm;
  encoding: SignatureEncoding;
  keys: readonly Uint8Array[];
  /** Signed content, one list per variant (Twilio tries several URLs). */
  contents: readonly (readonly Part[])[];
  /** Encoded signatures from the request, prefix already removed. */
  candidates: readonly string[];
  /** Where the signatures came from, for messages ("X-Hub-Signature-256"). */
  label: string;
  /** Appended to the mismatch message (URL-signed schemes: which URL to check). */
  hint?: string;
}

const ENCODING_NAMES: Record<SignatureEncoding, string> = { hex: "lowercase hex", base64: "base64" };

/**
 * The one HMAC check every scheme uses: passes when any candidate equals the
 * HMAC of any content variant under any key (rotation), compared as bytes in
 * constant time. `malformed_signature` when no candidate decodes at all.
 */
export function checkSignatures(check: SignatureCheck): VerifyResult {
  const decoded = check.candidates
    .map((c) => decodeSignature(check.encoding, c))
    .filter((b): b is Buffer => b !== null);
  const scheme = `HMAC-${check.algorithm.toUpperCase()}`;
  if (decoded.length === 0) return reject("malformed_signature", `${check.label} is not a ${ENCODING_NAMES[check.encoding]} ${scheme}`);
  for (const key of check.keys) {
    for (const parts of check.contents) {
      const expected = hmacDigest(check.algorithm, key, parts);
      if (decoded.some((sig) => bytesEqual(sig, expected))) return OK;
    }
  }
  const hint = check.hint ? ` (${check.hint})` : "";
  return reject("bad_signature", `${check.label} does not match: the request was not signed with ${configuredSecrets(check.keys.length)}${hint}`);
}
