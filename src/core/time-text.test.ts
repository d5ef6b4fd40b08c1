import { expect, test } from "bun:test";
import { parseUtcTime } from "./time-text.ts";

test("a time without a zone is UTC, whatever the process's zone; with one, its offset counts", () => {
  expect(parseUtcTime("2026-12-05T23:26:05")).toBe(Date.UTC(2026, 11, 5, 23, 26, 5));
  expect(parseUtcTime("2026-12-05 23:26")).toBe(Date.UTC(2026, 11, 5, 23, 26));
  expect(parseUtcTime("2026-12-05")).toBe(Date.UTC(2026, 11, 5));
  expect(parseUtcTime("2026-12-05T23:26:05.250Z")).toBe(Date.UTC(2026, 11, 5, 23, 26, 5, 250));
  expect(parseUtcTime("2026-12-05T23:28:30+05:30")).toBe(Date.UTC(2026, 11, 5, 17, 58, 30));
  expect(parseUtcTime("2026-12-05T15:00:00-0800")).toBe(Date.UTC(2026, 11, 5, 23));
});

test("the process's own zone changes nothing (a child run under another TZ reads the same)", async () => {
  const script = `import { parseUtcTime } from ${JSON.stringify(new URL("./time-text.ts", import.meta.url).pathname)}; console.log(parseUtcTime("2026-12-05T23:26:05"))`;
  for (const tz of ["Asia/Kolkata", "America/Los_Angeles"]) {
    const run = Bun.spawnSync([process.execPath, "-e", script], { env: { ...process.env, TZ: tz } });
    expect([tz, run.stdout.toString().trim()]).toEqual([tz, String(Date.UTC(2026, 11, 5, 23, 26, 5))]);
  }
});

test("dates not of the calendar, and anything but ISO 8601, are refused rather than guessed", () => {
  for (const bad of ["2026-02-30", "2026-13-01", "2026-12-05T24:00", "2026-12-05T23:60", "Dec 5", "12/05/2026", "2026-12-05T23:26:05+25:00", "1733441165", ""]) expect([bad, parseUtcTime(bad)]).toEqual([bad, null]);
});
