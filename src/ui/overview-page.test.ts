import { expect, test } from "bun:test";
import type { Overview } from "../store/overview.ts";
import { overviewPage } from "./overview-page.ts";

const STEPS = 288;
const flat = (v: number) => Array.from({ length: STEPS }, () => v);

test("a per-target chart draws the targets with anything to show, the largest first, and the rest as one line summed", () => {
  const delivered: Record<string, number[]> = {};
  for (let i = 0; i < 200; i++) delivered[`t${String(i).padStart(3, "0")}`] = flat(i < 20 ? 20 - i : 0); // 20 busy, 180 idle
  const o: Overview = { startMs: Date.UTC(2026, 11, 5), stepMs: 300_000, received: flat(1), rejected: flat(0), delivered, failed: {}, latencyP50: flat(5), latencyP95: flat(9), queue: {} };
  const html = overviewPage(o).value;
  const chart = html.slice(html.indexOf('id="chart-delivered"'), html.indexOf('id="chart-failed"'));
  const labels = [...chart.matchAll(/data-series="([^"]+)"/g)].map((m) => m[1]);
  // As many lines as there are line styles, each told apart: the five largest, then the rest.
  expect(labels).toEqual(["t000", "t001", "t002", "t003", "t004", "15 other targets"]);
  // The rest is their sum: 15 + 14 + … + 1 = 120 a step, 288 steps.
  expect(chart).toMatch(/15 other targets\s*<span class="muted">total<\/span> <span class="total">34560<\/span>/);
  expect(chart).not.toContain("t150");
  // 200 lines were two charts of ~700 KB each.
  expect(chart.length).toBeLessThan(40_000);
  // A chart where no target has anything says so, with no legend of zeros.
  const failed = html.slice(html.indexOf('id="chart-failed"'), html.indexOf('id="chart-latency"'));
  expect(failed).toContain("No failed attempts in the last 24 hours.");
  expect(failed).not.toContain("data-series");
});
