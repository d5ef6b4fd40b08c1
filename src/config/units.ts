/**
 * Durations and sizes as written in the config: `"500ms"`, `"10s"`, `"5m"`,
 * `"2h"`, `"7d"`; `"100b"`, `"512kb"`, `"1mb"`, `"1gb"` (binary: 1kb = 1024 bytes).
 * Plain numbers are refused on purpose: `timeout = 10` is ambiguous (s? ms?).
 */

export type UnitResult = { ok: true; value: number } | { ok: false; error: string };

const DURATION_UNITS_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * A duration in the largest unit that divides it, as an operator would write it in the config.
 *
 * @example durationText(604_800_000) // "7d"
 * @example durationText(90_000) // "90s"
 */
export function durationText(ms: number): string {
  const units = Object.entries(DURATION_UNITS_MS).sort(([, a], [, b]) => b - a);
  const [unit, size] = units.find(([, size]) => ms % size === 0) ?? ["ms", 1];
  return `${ms / size}${unit}`;
}

const SIZE_UNITS_BYTES: Record<string, number> = {
  b: 1,
  kb: 1024,
  mb: 1024 ** 2,
  gb: 1024 ** 3,
};

const AMOUNT = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/i;

/** Renders a config value the way the user wrote it, for error messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (typeof value === "string") return JSON.stringify(value);
  if (value instanceof Date) return value.toISOString();
  // TOML dates and times parse to Temporal-like objects that print as written.
  if (value !== null && typeof value === "object" && "epochMilliseconds" in value) return String(value);
  if (Array.isArray(value)) return value.length === 0 ? "an empty list" : "a list";
  if (value !== null && typeof value === "object") return "a table";
  return String(value);
}

function parseAmount(
  input: unknown,
  units: Record<string, number>,
  example: string,
  kind: string,
): UnitResult {
  const fail: UnitResult = {
    ok: false,
    // The units listed: "5 sec" or "1MiB" is refused, and what would do is said.
    error: `expected a ${kind} like "${example}" (${unitList(units)}), got ${describeValue(input)}`,
  };
  if (typeof input !== "string") return fail;
  const match = AMOUNT.exec(input);
  if (!match) return fail;
  const factor = units[match[2]!.toLowerCase()];
  if (factor === undefined) return fail;
  const value = Math.round(Number(match[1]) * factor);
  if (!Number.isSafeInteger(value)) return fail;
  return { ok: true, value };
}

function unitList(units: Record<string, number>): string {
  const names = Object.keys(units);
  return `${names.slice(0, -1).join(", ")} or ${names.at(-1)}`;
}

/** Parses `"500ms" | "10s" | "5m" | "2h" | "7d"` into milliseconds. */
export function parseDurationMs(input: unknown): UnitResult {
  return parseAmount(input, DURATION_UNITS_MS, "10s", "duration");
}

/** Parses `"100b" | "512kb" | "1mb" | "1gb"` into bytes (1kb = 1024). */
export function parseSizeBytes(input: unknown): UnitResult {
  return parseAmount(input, SIZE_UNITS_BYTES, "1mb", "size");
}

/** Parses a rate like `"50/s"`, `"10/m"` or `"100/h"` into requests per second. */
export function parseRatePerSec(input: unknown): UnitResult {
  const fail: UnitResult = {
    ok: false,
    error: `expected a rate like "50/s" or "10/m", got ${describeValue(input)}`,
  };
  if (typeof input !== "string") return fail;
  const match = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(s|m|h)\s*$/i.exec(input);
  if (!match) return fail;
  const count = Number(match[1]);
  if (!(count > 0)) return fail;
  const perSec = { s: 1, m: 60, h: 3600 }[match[2]!.toLowerCase() as "s" | "m" | "h"];
  return { ok: true, value: count / perSec };
}
