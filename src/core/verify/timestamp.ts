import type { VerifyResult } from "../types.ts";
import { OK, reject } from "./result.ts";

/**
 * How a scheme's timestamp is read. Too old and too new are both rejected,
 * Stripe's and Paddle's too, though their own libraries check only the past:
 * a leaked request with a timestamp far ahead would otherwise never go stale.
 */
export interface TimestampRule {
  /** Unix seconds, Unix milliseconds, or an RFC 3339 time (Twitch: `2024-05-01T12:00:00.123456789Z`). */
  unit: "s" | "ms" | "rfc3339";
}

// Digits only: no sign, no fraction, no exponent, no spaces. 15 digits keeps
// every value an exact integer in a double (ms timestamps are 13 digits).
const INTEGER = /^[0-9]{1,15}$/;
// A seconds timestamp this large is a millisecond one (1e11 s is the year 5138), and a
// millisecond one this small a seconds one (1e11 ms is March 1973).
const LOOKS_LIKE_MS = 1e11;

// RFC 3339's date-time: a date, "T", a time with optional fraction, and "Z" or an offset.
const RFC3339 = /^\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d{1,9})?([Zz]|[+-]\d\d:\d\d)$/;

/** Parse a timestamp strictly as a non-negative integer; null for anything else. */
export function parseTimestamp(text: string): number | null {
  return INTEGER.test(text) ? Number(text) : null;
}

/** A timestamp in its rule's unit as a number of that unit (an RFC 3339 time: ms); null when it is not one. */
function timestampValue(text: string, unit: TimestampRule["unit"]): number | null {
  if (unit !== "rfc3339") return parseTimestamp(text);
  const ms = RFC3339.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isNaN(ms) ? null : ms;
}

const UNIT_WORDS: Record<TimestampRule["unit"], string> = {
  s: "a Unix time in seconds",
  ms: "a Unix time in milliseconds",
  rfc3339: "an RFC 3339 time (2024-05-01T12:00:00Z)",
};

/**
 * The rejection for a timestamp that is absent or not an integer, else null.
 * `where` names it in messages: a header name, or a phrase like
 * "the t= timestamp in Stripe-Signature".
 */
export function timestampProblem(text: string | null, where: { missing: string; label: string }, unit: TimestampRule["unit"]): VerifyResult | null {
  if (text === null || text === "") return reject("missing_timestamp", where.missing);
  if (timestampValue(text, unit) === null) return reject("bad_timestamp", `${where.label} is not ${UNIT_WORDS[unit]}`);
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
  const ts = timestampValue(text!, rule.unit)!;
  if (toleranceSec <= 0) return OK;
  const now = rule.unit === "s" ? Math.floor(nowMs / 1000) : nowMs;
  const tolerance = rule.unit === "s" ? toleranceSec : toleranceSec * 1000;
  const offSec = (units: number) => (rule.unit === "s" ? units : Math.round(units / 1000));
  const shown = rule.unit === "rfc3339" ? text! : String(ts);
  const outside = `outside the ${toleranceSec} s tolerance`;
  if (now - ts > tolerance) {
    const hint = rule.unit === "ms" && ts < LOOKS_LIKE_MS ? " (it looks like seconds; milliseconds are expected)" : "";
    return reject("stale_timestamp", `timestamp ${shown} is ${offSec(now - ts)} s old, ${outside}${hint}`);
  }
  if (ts - now > tolerance) {
    const hint = rule.unit === "s" && ts > LOOKS_LIKE_MS ? " (it looks like milliseconds; seconds are expected)" : "";
    return reject("future_timestamp", `timestamp ${shown} is ${offSec(ts - now)} s ahead of the relay's clock, ${outside}${hint}`);
  }
  return OK;
}
