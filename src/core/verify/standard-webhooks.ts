import { checkSignatures, decodeKey } from "./hmac.ts";
import { firstHeader, headerLabel, missingHeader, reject, type Verifier } from "./result.ts";
import { checkTimestamp, timestampProblem } from "./timestamp.ts";

/** Header names to read, first present wins (svix accepts svix-* or webhook-*). */
export interface StandardHeaderNames {
  id: readonly string[];
  timestamp: readonly string[];
  signature: readonly string[];
}

/** The spec's own names (Standard Webhooks, GitLab signing token). */
export const WEBHOOK_HEADERS: StandardHeaderNames = {
  id: ["webhook-id"],
  timestamp: ["webhook-timestamp"],
  signature: ["webhook-signature"],
};

/** Svix names first, falling back to webhook-* per header like the svix library. */
export const SVIX_HEADERS: StandardHeaderNames = {
  id: ["svix-id", "webhook-id"],
  timestamp: ["svix-timestamp", "webhook-timestamp"],
  signature: ["svix-signature", "webhook-signature"],
};

/**
 * The HMAC key of a Standard Webhooks secret: `whsec_` stripped, the rest
 * base64-decoded (decodeKey); null when it is not base64. Unlike Stripe, the
 * string itself is never the key, and neither is an empty one: anyone can
 * sign with that.
 */
export function standardWebhooksKey(secret: string): Uint8Array | null {
  const key = decodeKey(secret, "base64");
  return key !== null && key.length > 0 ? key : null;
}

/**
 * `v1` signatures from a `webhook-signature` value: a space-separated list of
 * `version,signature`. A header sent twice arrives joined by ", ", which leaves
 * a trailing comma on an entry; base64 never ends in a comma, so it is dropped.
 * Other versions (`v1a`, future ones) are ignored, as the spec asks.
 */
export function v1Signatures(value: string): string[] {
  const signatures: string[] = [];
  for (const raw of value.split(/\s+/)) {
    const entry = raw.endsWith(",") ? raw.slice(0, -1) : raw;
    const comma = entry.indexOf(",");
    if (comma > 0 && entry.slice(0, comma) === "v1") signatures.push(entry.slice(comma + 1));
  }
  return signatures;
}

/** Standard Webhooks / Svix / GitLab signing: HMAC-SHA256 base64 over `{id}.{ts}.{body}`, ±tolerance. */
export function standardWebhooksVerifier(
  secrets: readonly string[],
  toleranceSec: number,
  names: StandardHeaderNames = WEBHOOK_HEADERS,
): Verifier {
  // Config refuses a secret that is no key for standard-webhooks and svix; GitLab's verifier passes only those that are.
  const keys = secrets.map(standardWebhooksKey).filter((key) => key !== null);
  if (keys.length === 0) return () => reject("bad_signature", "no configured secret is a signing key (\"whsec_\" followed by base64)");
  const where = {
    missing: `missing ${names.timestamp.map(headerLabel).join(" or ")} header`,
    label: names.timestamp.map(headerLabel).join(" or "),
  };
  return (req, nowMs) => {
    const signatureName = names.signature.find((name) => (req.headers.get(name) ?? "") !== "");
    if (signatureName === undefined) return missingHeader("missing_signature", names.signature);
    const signature = req.headers.get(signatureName)!;
    const label = headerLabel(signatureName);
    const id = firstHeader(req.headers, names.id);
    if (id === null) return missingHeader("missing_id", names.id);
    const timestamp = firstHeader(req.headers, names.timestamp);
    const problem = timestampProblem(timestamp, where, "s");
    if (problem) return problem;
    const candidates = v1Signatures(signature);
    if (candidates.length === 0) return reject("malformed_signature", `${label} has no v1,<base64> signature`);
    const result = checkSignatures({
      algorithm: "sha256",
      encoding: "base64",
      keys,
      contents: [[`${id}.${timestamp}.`, req.body]],
      candidates,
      label,
    });
    return result.ok ? checkTimestamp(timestamp, nowMs, toleranceSec, { unit: "s" }, where) : result;
  };
}
