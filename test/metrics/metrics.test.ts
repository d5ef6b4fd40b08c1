import { afterEach, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { disableTarget, openCircuit } from "../../src/store/target-state.ts";
import { startTestRelay, type TestRelay } from "../support/relay.ts";

const SECRET = "whsec_k8x2_metrics";
const TOKEN = "admin-token-for-metrics-test";
const sign = (body: string) => createHmac("sha256", SECRET).update(body).digest("hex");

const CONFIG = `
[admin]
token = "${TOKEN}"
[[sources]]
name = "ploints"
verify = { preset = "ploints", secret = "${SECRET}" }
[[targets]]
name = "orders"
url = "http://127.0.0.1:9/hooks"
signing = { secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }
[[routes]]
from = "ploints"
to = ["orders"]
`;

let relay: TestRelay;
afterEach(async () => relay?.close());

const scrape = (token: string | null = TOKEN) =>
  relay.app.adminApp.handle(
    new Request("http://127.0.0.1:8081/metrics", { headers: token ? { authorization: `Bearer ${token}` } : {} }),
  );

type Series = Map<string, number>;

/** Parses the text exposition format strictly: every line is HELP, TYPE or a sample of a declared family. */
function parseExposition(text: string): Series {
  expect(text.endsWith("\n")).toBe(true);
  const types = new Map<string, string>();
  const series: Series = new Map();
  const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
  const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`;
  const sample = new RegExp(`^(${NAME})(\\{(?:${LABEL})(?:,${LABEL})*\\})? (-?[0-9.e+-]+|\\+Inf|-Inf|NaN)$`);
  for (const line of text.slice(0, -1).split("\n")) {
    let m: RegExpExecArray | null;
    if ((m = new RegExp(`^# HELP (${NAME}) .+$`).exec(line))) continue;
    if ((m = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram)$`).exec(line))) {
      expect(types.has(m[1]!)).toBe(false);
      types.set(m[1]!, m[2]!);
      continue;
    }
    m = sample.exec(line);
    if (!m) throw new Error(`not Prometheus text: ${JSON.stringify(line)}`);
    // A sample belongs to a declared family; _bucket/_sum/_count only to a histogram.
    const name = m[1]!;
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, "");
    expect(types.get(family)).toBe(family === name ? types.get(name)! : "histogram");
    series.set(`${m[1]}${m[2] ?? ""}`, Number(m[3]));
  }
  return series;
}

test("/metrics needs the admin bearer token", async () => {
  relay = await startTestRelay(CONFIG);
  expect((await scrape(null)).status).toBe(401);
  expect((await scrape("wrong")).status).toBe(401);
  const res = await scrape();
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
});

test("counters move with received, duplicate and rejected traffic, and queue depth follows the store", async () => {
  relay = await startTestRelay(CONFIG);
  const before = parseExposition(await (await scrape()).text());
  expect(before.get('hookrelay_received_total{source="ploints"}')).toBe(0);
  expect(before.get('hookrelay_queue_depth{target="orders"}')).toBe(0);

  const body = '{"id":"evt_m1","type":"points.earned"}';
  expect((await relay.post("ploints", body, { "x-ploints-signature": sign(body) })).status).toBe(200);
  expect((await relay.post("ploints", body, { "x-ploints-signature": sign(body) })).status).toBe(200);
  const other = '{"id":"evt_m2"}';
  expect((await relay.post("ploints", other, { "x-ploints-signature": sign(other) })).status).toBe(200);
  expect((await relay.post("ploints", other, { "x-ploints-signature": "00" })).status).toBe(401);

  const after = parseExposition(await (await scrape()).text());
  expect(after.get('hookrelay_received_total{source="ploints"}')).toBe(2);
  expect(after.get('hookrelay_duplicates_total{source="ploints"}')).toBe(1);
  expect(after.get('hookrelay_rejected_total{source="ploints",reason="bad_signature"}')).toBe(1);
  expect(after.get('hookrelay_queue_depth{target="orders"}')).toBe(2);
  expect(after.get('hookrelay_oldest_pending_age_seconds{target="orders"}')).toBeGreaterThanOrEqual(0);
  expect(after.get("hookrelay_store_size_bytes")).toBeGreaterThan(0);
  expect(after.get("hookrelay_store_writable")).toBe(1);
  // The standard process metrics: memory after a burst, a restart's start time, CPU used.
  expect(after.get("process_resident_memory_bytes")).toBeGreaterThan(10 * 1024 * 1024);
  expect(Math.abs(after.get("process_start_time_seconds")! - (Date.now() - performance.now()) / 1000)).toBeLessThan(5);
  expect(after.get("process_cpu_seconds_total")).toBeGreaterThan(0);
});

test("requests refused before verification are counted by code, from zero: an unknown source, a body over max_body", async () => {
  relay = await startTestRelay(`[server]\nmax_body = "1kb"\n${CONFIG}`);
  const before = parseExposition(await (await scrape()).text());
  for (const code of ["unknown_source", "body_too_large", "read_timeout", "server_busy", "store_unavailable"]) expect(before.get(`hookrelay_refused_total{code="${code}"}`)).toBe(0);
  expect((await relay.post("plionts", "{}")).status).toBe(404);
  expect((await relay.post("plionts", "{}")).status).toBe(404);
  const big = JSON.stringify({ id: "big", pad: "x".repeat(2000) });
  expect((await relay.post("ploints", big, { "x-ploints-signature": sign(big) })).status).toBe(413);
  const after = parseExposition(await (await scrape()).text());
  expect(after.get('hookrelay_refused_total{code="unknown_source"}')).toBe(2);
  expect(after.get('hookrelay_refused_total{code="body_too_large"}')).toBe(1);
  expect(after.get('hookrelay_received_total{source="ploints"}')).toBe(0);
});

test("each target's state is one series of a state set: ok, then circuit_open, off when an operator disables it", async () => {
  relay = await startTestRelay(CONFIG);
  const state = async () => {
    const series = parseExposition(await (await scrape()).text());
    const on = ["ok", "circuit_open", "disabled", "off"].filter((s) => series.get(`hookrelay_target_state{target="orders",state="${s}"}`) === 1);
    expect(["ok", "circuit_open", "disabled", "off"].map((s) => series.has(`hookrelay_target_state{target="orders",state="${s}"}`))).toEqual([true, true, true, true]);
    return on;
  };
  expect(await state()).toEqual(["ok"]);
  await openCircuit(relay.store.writer, { name: "orders", untilMs: Date.now() + 60_000, nowMs: Date.now() });
  expect(await state()).toEqual(["circuit_open"]);
  await disableTarget(relay.store.writer, { name: "orders", reason: "maintenance", by: "api", nowMs: Date.now() });
  expect(await state()).toEqual(["off"]);
});

test("attempts reported by the delivery engine fill the deliveries counter and the latency histogram", async () => {
  relay = await startTestRelay(CONFIG);
  relay.app.metrics.onAttempt({ target: "orders", status: "delivered", durationMs: 42 });
  relay.app.metrics.onAttempt({ target: "orders", status: "pending", durationMs: 3000 });
  relay.app.metrics.recordAttempt("orders", "failed", 12_000);
  const m = parseExposition(await (await scrape()).text());
  expect(m.get('hookrelay_deliveries_total{target="orders",outcome="delivered"}')).toBe(1);
  expect(m.get('hookrelay_deliveries_total{target="orders",outcome="retrying"}')).toBe(1);
  expect(m.get('hookrelay_deliveries_total{target="orders",outcome="failed"}')).toBe(1);
  expect(m.get('hookrelay_attempt_duration_seconds_bucket{target="orders",le="0.05"}')).toBe(1);
  expect(m.get('hookrelay_attempt_duration_seconds_bucket{target="orders",le="5"}')).toBe(2);
  expect(m.get('hookrelay_attempt_duration_seconds_bucket{target="orders",le="+Inf"}')).toBe(3);
  expect(m.get('hookrelay_attempt_duration_seconds_count{target="orders"}')).toBe(3);
  expect(m.get('hookrelay_attempt_duration_seconds_sum{target="orders"}')).toBeCloseTo(15.042);
});
