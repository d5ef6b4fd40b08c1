import { expect, test } from "bun:test";
import { lineChart, niceCeil, tickText } from "./svg-chart.ts";

const base = { id: "c", title: "Things", unit: "", startMs: Date.UTC(2026, 0, 1, 0, 0), stepMs: 300_000, summary: "total" as const, empty: "Nothing." };

test("a chart is SVG with UTC hour labels and a legend with each series' total, and carries no style attribute", () => {
  const values = Array.from({ length: 288 }, (_, i) => (i % 10 === 0 ? 3 : 0));
  const out = lineChart({ ...base, series: [{ label: "received", values }, { label: "<b>x</b>", values: values.map(() => 1) }] }).value;
  expect(out).toContain("<svg");
  expect(out).toContain(">03:00</text>");
  expect(out).toContain('data-series="received"');
  expect(out).toMatch(/received\s+<span class="muted">total<\/span> <span class="total">87<\/span>/);
  expect(out).toContain("&lt;b&gt;x&lt;/b&gt;");
  expect(out).not.toContain("<b>");
  expect(out).not.toMatch(/\sstyle=/);
});

test("a chart whose values are all zero or missing says so instead of drawing", () => {
  const out = lineChart({ ...base, series: [{ label: "p50", values: [null, 0, null] }] }).value;
  expect(out).not.toContain("<svg");
  expect(out).toContain('<p class="empty">Nothing.</p>');
});

test("a value alone between gaps is drawn as a dot", () => {
  const out = lineChart({ ...base, series: [{ label: "p95", values: [null, 40, null, 10, 20] }] }).value;
  expect(out.match(/<circle /g)?.length).toBe(1);
});

test("the y axis tops out at 1, 2 or 5 times a power of ten", () => {
  expect([0, 1, 3, 7, 10, 11, 480, 0.3].map(niceCeil)).toEqual([1, 1, 5, 10, 10, 20, 500, 0.5]);
});

test("y-axis labels stay short enough for the margin: seconds past 1000 ms, thousands past 10000", () => {
  expect(tickText(500, "ms")).toBe("500 ms");
  expect(tickText(10_000, "ms")).toBe("10 s");
  expect(tickText(2_500, "ms")).toBe("2.5 s");
  expect(tickText(20_000, "")).toBe("20k");
  expect(tickText(5_000, "")).toBe("5000");
  const out = lineChart({ ...base, unit: "ms", summary: "peak", series: [{ label: "p99", values: [9_000, 200] }] }).value;
  expect(out).toContain(">10 s</text>");
  // The legend keeps the whole figure.
  expect(out).toContain('<span class="total">9000</span> ms');
});

test("an hour label at the right edge ends there instead of being cut in half; the others are centred on their hour", () => {
  // 24 h from 00:05: the last hour line (24:00) falls five minutes from the right edge.
  const out = lineChart({ ...base, startMs: base.startMs + 300_000, series: [{ label: "received", values: Array.from({ length: 288 }, () => 1) }] }).value;
  const labels = [...out.matchAll(/<text class="tick x[^"]*" x="([\d.]+)" y="[\d.]+" text-anchor="(\w+)">/g)].map((m) => ({ x: Number(m[1]), anchor: m[2] }));
  expect(labels.length).toBe(8); // every 3 h
  expect(labels.at(-1)!.anchor).toBe("end");
  expect(labels.slice(0, -1).every((l) => l.anchor === "middle")).toBe(true);
});
