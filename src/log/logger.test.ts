import { expect, test } from "bun:test";
import { createLogger } from "./logger.ts";

test("a provider's text that a terminal would act on is written as JSON escapes: one inert line, the same value parsed", () => {
  const lines: string[] = [];
  const log = createLogger("info", (l) => lines.push(l), false);
  const type = "x\u009b31mRED\u2028y\u202eevil";
  log.info("received", { eventType: type });
  expect(lines).toHaveLength(1);
  expect(/[\u0080-\u009f\u2028\u2029\u202a-\u202e]/.test(lines[0]!)).toBe(false);
  expect(lines[0]).toContain("x\\u009b31mRED\\u2028y\\u202eevil");
  expect(JSON.parse(lines[0]!).eventType).toBe(type);
  // Ordinary text (accents, emoji) stays as it is.
  log.info("received", { eventType: "café ✓" });
  expect(lines[1]).toContain('"eventType":"café ✓"');
});

test("a reload's new level moves the floor at once", () => {
  const lines: string[] = [];
  const log = createLogger("info", (l) => lines.push(l), false);
  log.debug("hidden");
  log.setLevel?.("debug");
  log.debug("shown");
  log.setLevel?.("warn");
  log.info("hidden again");
  expect(lines.map((l) => JSON.parse(l).msg)).toEqual(["shown"]);
});
