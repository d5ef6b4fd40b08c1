import type { VerifyResult } from "../types.ts";
import { OK, reject } from "./result.ts";

/** How a scheme's timestamp is read and which side of the window is enforced. */
export interface TimestampRule {
  unit: "s" | "ms";
  /** "both": too old and too new are rejected; "past": only too old (Stripe, Paddle). */
  window: "both" | "past";
}

// Digits only: no sign, no fraction, no exponent, no spaces. 15 digits keeps
// every value an exact integer in a double (ms timestamps are 13 digits).
const INTEGER = /^[0-9]{1,15}$/;

/** Parse a timestamp strictly as a non-negative integer; null for anything else. */
export function parseTimestamp(text: string): number | null {
  return INTEGER.test(text) ? Number(text) : null;
}

/**
 * Check a timestamp header value against the injected clock. A tolerance of
 * 0 disables the window. Exactly `toleranceSec` away still passes, like the
 * official libraries, which compare whole seconds (`floor(now)`).
 */
export function checkTimestamp(
  text: string | null,
  nowMs: number,
  toleranceSec: number,
  rule: TimestampRule,
): VerifyResult {
  if (text === null) return reject("missing_timestamp");
  const ts = parseTimestamp(text);
  if (ts === null) return reject("bad_timestamp");
  if (toleranceSec <= 0) return OK;
  const now = rule.unit === "s" ? Math.floor(nowMs / 1000) : nowMs;
  const tolerance = rule.unit === "s" ? toleranceSec : toleranceSec * 1000;
  if (now - ts > tolerance) return reject("stale_timestamp");
  if (rule.window === "both" && ts - now > tolerance) return reject("future_timestamp");
  return OK;
}
