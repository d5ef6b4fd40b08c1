import { describe, expect, test } from "bun:test";
import { durationText, parseDurationMs, parseRatePerSec, parseSizeBytes } from "./units.ts";

describe("parseDurationMs", () => {
  test("reads every unit from milliseconds to days", () => {
    expect(parseDurationMs("500ms")).toEqual({ ok: true, value: 500 });
    expect(parseDurationMs("10s")).toEqual({ ok: true, value: 10_000 });
    expect(parseDurationMs("5m")).toEqual({ ok: true, value: 300_000 });
    expect(parseDurationMs("2h")).toEqual({ ok: true, value: 7_200_000 });
    expect(parseDurationMs("7d")).toEqual({ ok: true, value: 604_800_000 });
    expect(parseDurationMs("0s")).toEqual({ ok: true, value: 0 });
    expect(parseDurationMs("1.5s")).toEqual({ ok: true, value: 1500 });
  });

  test("refuses bare numbers, unknown units and words with a message naming the input", () => {
    expect(parseDurationMs(10)).toEqual({ ok: false, error: 'expected a duration like "10s" (ms, s, m, h or d), got 10' });
    expect(parseDurationMs("ten")).toEqual({ ok: false, error: 'expected a duration like "10s" (ms, s, m, h or d), got "ten"' });
    expect(parseDurationMs("10").ok).toBe(false);
    expect(parseDurationMs("10y").ok).toBe(false);
    expect(parseDurationMs("-5s").ok).toBe(false);
  });
});

describe("parseSizeBytes", () => {
  test("uses binary multiples", () => {
    expect(parseSizeBytes("100b")).toEqual({ ok: true, value: 100 });
    expect(parseSizeBytes("512kb")).toEqual({ ok: true, value: 512 * 1024 });
    expect(parseSizeBytes("1mb")).toEqual({ ok: true, value: 1024 * 1024 });
    expect(parseSizeBytes("1GB")).toEqual({ ok: true, value: 1024 ** 3 });
  });

  test("refuses numbers without a unit", () => {
    expect(parseSizeBytes(12)).toEqual({ ok: false, error: 'expected a size like "1mb" (b, kb, mb or gb), got 12' });
    expect(parseSizeBytes("1m").ok).toBe(false);
  });
});

describe("parseRatePerSec", () => {
  test("converts per-minute and per-hour rates to per-second", () => {
    expect(parseRatePerSec("50/s")).toEqual({ ok: true, value: 50 });
    expect(parseRatePerSec("10/m")).toEqual({ ok: true, value: 10 / 60 });
    expect(parseRatePerSec("3600/h")).toEqual({ ok: true, value: 1 });
    expect(parseRatePerSec("0/s").ok).toBe(false);
    expect(parseRatePerSec("fast").ok).toBe(false);
  });
});

test("a duration is written back in the largest unit that divides it", () => {
  expect(durationText(604_800_000)).toBe("7d");
  expect(durationText(129_600_000)).toBe("36h");
  expect(durationText(90_000)).toBe("90s");
  expect(durationText(1_500)).toBe("1500ms");
});
