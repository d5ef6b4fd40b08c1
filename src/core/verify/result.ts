import type { InboundRequest, VerifyResult } from "../types.ts";

/** A built verifier: raw request plus the injected clock in, a result value out. */
export type Verifier = (req: InboundRequest, nowMs: number) => VerifyResult;

/** The one success value. */
export const OK: VerifyResult = { ok: true };

/** A rejection with a short snake_case reason. */
export function reject(reason: string): VerifyResult {
  return { ok: false, reason };
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
