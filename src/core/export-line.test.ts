import { expect, test } from "bun:test";
import { exportLine, parseExportLine, type ExportedEvent } from "./export-line.ts";

const event: ExportedEvent = {
  id: "evt_01M92SYX95NNVH428MPEKMYMHD",
  source: "shop",
  eventType: "order.paid",
  dedupeKey: "k1",
  receivedAt: Date.UTC(2026, 1, 28, 12),
  duplicates: 0,
  lastDuplicateAt: null,
  erasedAt: null,
  unrouted: false,
  status: "delivered",
  request: { method: "POST", path: "/in/shop", query: "", headers: [["content-type", "application/json"]], body: new TextEncoder().encode("{}"), contentType: "application/json", remoteAddr: null },
  deliveries: [],
};

test("a line round-trips, and a time that is not a date of the calendar, or before 1970, is a bad line", () => {
  const line = exportLine(event);
  expect(parseExportLine(line)).toMatchObject({ ok: true, event: { id: event.id, receivedAt: event.receivedAt } });
  const withTime = (t: string) => parseExportLine(line.replace("2026-02-28T12:00:00.000Z", t));
  expect(withTime("2026-02-30T00:00:00Z")).toEqual({ ok: false, reason: "receivedAt: 2026-02-30T00:00:00Z is not a date of the calendar" });
  expect(withTime("2026-02-28T25:00:00Z")).toMatchObject({ ok: false });
  expect(withTime("1969-12-31T23:59:59Z")).toEqual({ ok: false, reason: "receivedAt: 1969-12-31T23:59:59Z is before 1970" });
  expect(withTime("2028-02-29T00:00:00Z")).toMatchObject({ ok: true, event: { receivedAt: Date.UTC(2028, 1, 29) } });
});
