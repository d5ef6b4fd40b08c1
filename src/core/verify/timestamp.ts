import type { VerifyResult } from "../types.ts";
import { OK, reject } from "./result.ts";

/**
 * How a scheme's timestamp is read. Too old and too new are both rejected,
 * Stripe's and Paddle's too, though their own libraries check only the past:
 * a leaked request with a timestamp far ahead would otherwise never go stale.
 */
export interface TimestampRule {
  unit: "s" | "ms";
}

// Digits only: no sign, no fraction, no exponent, no spaces. 15 digits keeps
// every value an exact integer in a double (ms timestamps are 13 digits).
const INTEGER = /^[0-9]{1,15}$/;
// A seconds timestamp this large is a millisecond one (1e11 s is the year 5138), and a
// millisecond one this small a seconds one (1e11 ms is March 1973).
const LOOKS_LIKE_MS = 1e11;

/** Parse a timestamp strictly as a non-negative integer; null for anything else. */
export function parseTimestamp(text: string): number | null {
  return INTEGER.test(text) ? Number(text) : null;
}

/**
 * The rejection for a timestamp that is absent or not an integer, else null.
 * `where` names it in messages: a header name, or a phrase like
 * "the t= timestamp in Stripe-Signature".
 */
export function timestampProblem(text: string | null, where: { missing: string; label: string }, unit: TimestampRule["unit"]): VerifyResult | null {
  if (text === null || text === "") return reject("missing_timestamp", where.missing);
  if (parseTimestamp(text) === null) return reject("bad_timestamp", `${where.label} is not a Unix time in ${unit === "s" ? "seconds" : "milliseconds"}`);
  return null;
}

/** A header's timestamp names for timestampProblem. */
export function timestampHeader(label: string): { missing: string; label: string } {
  return { missing: `missing ${label} header`, label };
}

/**
 * Check a timestamp value against the injected clock. A tolerance of
 * 0 disables the window. Exactly `toleranceSec` away still passes, like the
 * official libraries, which compare whole seconds (`floor(now)`).
 */
export function checkTimestamp(
  text: string | null,
  nowMs: number,
  toleranceSec: number,
  rule: TimestampRule,
  where: { missing: string; label: string } = timestampHeader("timestamp"),
): VerifyResult {
  const problem = timestampProblem(text, where, rule.unit);
  if (problem) return problem;
  const ts = parseTimestamp(text!)!;
  if (toleranceSec <= 0) return OK;
  const now = rule.unit === "s" ? Math.floor(nowMs / 1000) : nowMs;
  const tolerance = rule.unit === "s" ? toleranceSec : toleranceSec * 1000;
  const offSec = (units: number) => (rule.unit === "s" ? units : Math.round(units / 1000));
  const outside = `outside the ${toleranceSec} s tolerance`;
  if (now - ts > tolerance) {
    const hint = rule.unit === "ms" && ts < LOOKS_LIKE_MS ? " (it looks like seconds; milliseconds are expected)" : "";
    return reject("stale_timestamp", `timestamp ${ts} is ${offSec(now - ts)} s old, ${outside}${hint}`);
  }
  if (ts - now > tolerance) {
    const hint = rule.unit === "s" && ts > LOOKS_LIKE_MS ? " (it looks like milliseconds; seconds are expected)" : "";
    return reject("future_timestamp", `timestamp ${ts} is ${offSec(ts - now)} s ahead of the relay's clock, ${outside}${hint}`);
  }
  return OK;
}
