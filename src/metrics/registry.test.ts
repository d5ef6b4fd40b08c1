import { expect, test } from "bun:test";
import { escapeLabel, Registry } from "./registry.ts";

test("label values escape backslash, double quote and newline", () => {
  expect(escapeLabel('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
});

test("a counter renders HELP and TYPE lines, then one line per label set", async () => {
  const r = new Registry();
  const c = r.counter("x_total", "Things.\nCounted.", ["source"]);
  c.inc({ source: "a" });
  c.inc({ source: "a" }, 2);
  c.inc({ source: 'q"uote' });
  expect(await r.render()).toBe(
    '# HELP x_total Things.\\nCounted.\n# TYPE x_total counter\nx_total{source="a"} 3\nx_total{source="q\\"uote"} 1\n',
  );
});

test("a histogram renders cumulative buckets, +Inf, sum and count", async () => {
  const r = new Registry();
  const h = r.histogram("d_seconds", "Durations.", ["target"], [0.1, 1]);
  h.observe({ target: "t" }, 0.05);
  h.observe({ target: "t" }, 0.5);
  h.observe({ target: "t" }, 3);
  expect((await r.render()).split("\n").slice(2, 7)).toEqual([
    'd_seconds_bucket{target="t",le="0.1"} 1',
    'd_seconds_bucket{target="t",le="1"} 2',
    'd_seconds_bucket{target="t",le="+Inf"} 3',
    'd_seconds_sum{target="t"} 3.55',
    'd_seconds_count{target="t"} 3',
  ]);
});

test("a gauge is computed at each scrape", async () => {
  const r = new Registry();
  let n = 1;
  r.gauge("g", "A gauge.", () => [{ labels: {}, value: n++ }]);
  expect(await r.render()).toContain("\ng 1\n");
  expect(await r.render()).toContain("\ng 2\n");
});
