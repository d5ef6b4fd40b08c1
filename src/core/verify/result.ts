import type { InboundRequest, VerifyResult } from "../types.ts";

/** A built verifier: raw request plus the injected clock in, a result value out. */
export type Verifier = (req: InboundRequest, nowMs: number) => VerifyResult;

/** The one success value. */
export const OK: VerifyResult = { ok: true };

/** A rejection: a short snake_case reason and what was wrong, in words. */
export function reject(reason: string, message: string): VerifyResult {
  return { ok: false, reason, message };
}

/** A header name as HTTP documents spell it: `x-hub-signature-256` → `X-Hub-Signature-256`. */
export function headerLabel(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase());
}

/** `missing X-Sig header`, naming each alternative (`missing Svix-Id or Webhook-Id header`). */
export function missingHeader(reason: string, names: readonly string[]): VerifyResult {
  return reject(reason, `missing ${names.map(headerLabel).join(" or ")} header`);
}

/** The mismatch hint of schemes that sign the URL they called (Twilio, Square, `{url}` templates). */
export const SIGNED_URL_HINT = "for the URL the provider called: check verify.url or server.public_url";

/** "the configured secret" or "any of the N configured secrets", for mismatch messages. */
export function configuredSecrets(count: number): string {
  return count === 1 ? "the configured secret" : `any of the ${count} configured secrets`;
}

/** First non-empty value among header names (lookups are case-insensitive). */
export function firstHeader(headers: Headers, names: readonly string[]): string | null {
  for (const name of names) {
    const value = headers.get(name);
    if (value !== null && value !== "") return value;
  }
  return null;
}

/**
 * Candidate signatures from a single-signature header. A header sent twice
 * arrives joined with ", "; signatures in hex or base64 never contain a comma,
 * so each comma-separated part is tried on its own.
 */
export function commaCandidates(value: string): string[] {
  return value
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "");
}
