import { expect, test } from "bun:test";
import { counted, sizeText, utcTimeText } from "./quantity-text.ts";

test("sizes are in binary units, bytes spelled out below a KiB", () => {
  expect([0, 1, 1023, 1024, 1536, 961_843, 1024 ** 2, 5 * 1024 ** 3, 3 * 1024 ** 5].map(sizeText)).toEqual([
    "0 bytes", "1 byte", "1023 bytes", "1.0 KiB", "1.5 KiB", "939.3 KiB", "1.0 MiB", "5.0 GiB", "3072.0 TiB",
  ]);
});

test("a count takes the singular for exactly one", () => {
  expect([0, 1, 2].map((n) => counted(n, "delivery", "deliveries"))).toEqual(["0 deliveries", "1 delivery", "2 deliveries"]);
});

test("a time reads as the UI prints it, to the second", () => {
  expect(utcTimeText("2026-12-05T07:24:19.397Z")).toBe("2026-12-05 07:24:19");
  expect(utcTimeText("2026-12-05T07:24:19Z")).toBe("2026-12-05 07:24:19");
});
