/**
 * Delivery end to end, in process: real SQLite file with the real migrations,
 * real HTTP targets on port 0, the official `standardwebhooks` library as the
 * oracle, the scheduler driven by drain() and a fake clock.
 */
import { afterEach, expect, setSystemTime, test } from "bun:test";
import { Webhook as SvixWebhook } from "svix";
import { join } from "node:path";
import type { TargetConfig } from "../../src/config/types.ts";
import { createScheduler, type Scheduler } from "../../src/delivery/scheduler.ts";
import { createLogger } from "../../src/log/logger.ts";
import type { Store } from "../../src/store/index.ts";
import { fakeClock, recordingTarget, runCleanups, SECRET, storeAt, submitEvent, targetConfig, tempDir, verify, type Reply } from "./fixtures.ts";
import { storedOrder } from "../../src/store/deliveries.ts";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(() => runCleanups(cleanups));

async function setup(targets: TargetConfig[], extra: Partial<Parameters<typeof createScheduler>[0]> = {}) {
  const clock = fakeClock();
  const store = await storeAt(join(tempDir(cleanups), "d.db"), cleanups, clock);
  const scheduler = createScheduler({ store, targets, clock, random: () => 0.5, pollMs: 60_000, ...extra });
  cleanups.unshift(() => scheduler.stop(100));
  return { clock, store, scheduler };
}

async function deliveryRows(store: Store) {
  const rs = await store.reads.execute(`SELECT target, status, attempts, last_error FROM deliveries ORDER BY ${storedOrder(store.reads.dialect)}`);
  return rs.rows.map((r) => ({ target: r.target, status: r.status, attempts: r.attempts, lastError: r.last_error }));
}

test("the target receives the provider's exact bytes and headers, signed so the official library verifies", async () => {
  const target = recordingTarget(cleanups);
  const { clock, store, scheduler } = await setup([targetConfig("t", target.url)], { forwardHeadersFor: () => ["x-provider-event", "cookie", "host"] });
  const body = new TextEncoder().encode('{"name":"ë Ñ ú ✓","n":1.50}\n');
  const id = await submitEvent(store, {
    targets: ["t"], receivedAt: clock(), body,
    headers: [["Host", "hooks.example.com"], ["X-Provider-Event", "points.added"], ["Cookie", "a=b"], ["content-type", "application/json"]],
  });
  await scheduler.drain();
  expect(target.received).toHaveLength(1);
  const rec = target.received[0]!;
  expect(rec.body).toEqual(body);
  expect(() => verify(rec)).not.toThrow();
  expect(rec.headers.get("webhook-id")).toBe(id);
  expect(rec.headers.get("webhook-timestamp")).toBe(String(Math.floor(clock() / 1000)));
  expect(rec.headers.get("content-type")).toBe("application/json");
  expect(rec.headers.get("hookrelay-source")).toBe("src");
  expect(rec.headers.get("hookrelay-event-type")).toBe("thing.happened");
  expect(rec.headers.get("hookrelay-attempt")).toBe("1");
  expect(rec.headers.get("x-provider-event")).toBe("points.added");
  expect(rec.headers.get("cookie")).toBeNull();
  expect(rec.headers.get("host")).not.toBe("hooks.example.com");
  expect(await deliveryRows(store)).toEqual([{ target: "t", status: "delivered", attempts: 1, lastError: null }]);
});

test("a provider's svix-* headers never reach the target, so the svix library verifies the relay's signature", async () => {
  const target = recordingTarget(cleanups);
  // Named explicitly, as a user might: the svix library reads svix-* before webhook-*.
  const { clock, store, scheduler } = await setup([targetConfig("t", target.url)], { forwardHeadersFor: () => ["svix-id", "svix-timestamp", "svix-signature", "x-provider-event"] });
  const body = new TextEncoder().encode('{"type":"invoice.paid"}');
  const providerSigned = [["svix-id", "msg_provider"], ["svix-timestamp", "1700000000"], ["svix-signature", "v1,cHJvdmlkZXI="], ["x-provider-event", "a"]] as [string, string][];
  await submitEvent(store, { targets: ["t"], receivedAt: clock(), body, headers: [...providerSigned, ["content-type", "application/json"]] });
  await scheduler.drain();
  const rec = target.received[0]!;
  expect(rec.headers.get("svix-signature")).toBeNull();
  expect(rec.headers.get("x-provider-event")).toBe("a");
  const h = Object.fromEntries(rec.headers);
  setSystemTime(new Date(Number(h["webhook-timestamp"]) * 1000));
  try {
    expect(new SvixWebhook(SECRET).verify(Buffer.from(rec.body).toString(), h)).toEqual({ type: "invoice.paid" });
  } finally {
    setSystemTime();
  }
});

test("500, 500, 200 makes exactly three attempts with one webhook-id, each freshly signed", async () => {
  const target = recordingTarget(cleanups, (_r, n) => ({ status: n < 3 ? 500 : 200 }));
  const { clock, store, scheduler } = await setup([targetConfig("t", target.url, { retry: { scheduleMs: [0, 5_000, 60_000, 300_000], jitter: 0.2 } })]);
  await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  await scheduler.drain();
  expect(target.received).toHaveLength(1);
  // 5 s ± 20 % jitter (random 0.5 → exactly 5 s): not yet due at 4.9 s.
  clock.advance(4_900);
  await scheduler.drain();
  expect(target.received).toHaveLength(1);
  clock.advance(100);
  await scheduler.drain();
  clock.advance(60_000);
  await scheduler.drain();
  clock.advance(600_000);
  await scheduler.drain();
  expect(target.received).toHaveLength(3);
  expect(new Set(target.received.map((r) => r.headers.get("webhook-id"))).size).toBe(1);
  expect(target.received.map((r) => r.headers.get("hookrelay-attempt"))).toEqual(["1", "2", "3"]);
  expect(new Set(target.received.map((r) => r.headers.get("webhook-timestamp"))).size).toBe(3);
  for (const r of target.received) expect(() => verify(r)).not.toThrow();
  expect(await deliveryRows(store)).toEqual([{ target: "t", status: "delivered", attempts: 3, lastError: null }]);
  const attempts = await store.reads.execute("SELECT status_code FROM attempts ORDER BY at");
  expect(attempts.rows.map((r) => r.status_code)).toEqual([500, 500, 200]);
});

test("after the last scheduled attempt the delivery is failed and keeps its last error", async () => {
  const target = recordingTarget(cleanups, () => ({ status: 500 }));
  const { clock, store, scheduler } = await setup([targetConfig("t", target.url, { retry: { scheduleMs: [0, 1_000], jitter: 0 } })]);
  await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  await scheduler.drain();
  clock.advance(1_000);
  await scheduler.drain();
  clock.advance(86_400_000);
  await scheduler.drain();
  expect(target.received).toHaveLength(2);
  expect(await deliveryRows(store)).toEqual([{ target: "t", status: "failed", attempts: 2, lastError: "HTTP 500" }]);
});

test("a 302 is a failure and its Location is never requested", async () => {
  const target = recordingTarget(cleanups, (r) => (r.path === "/hooks" ? { status: 302, headers: { location: "/elsewhere" } } : { status: 200 }));
  const { clock, store, scheduler } = await setup([targetConfig("t", target.url)]);
  await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  await scheduler.drain();
  expect(target.received.map((r) => r.path)).toEqual(["/hooks"]);
  const [row] = await deliveryRows(store);
  expect(row).toMatchObject({ status: "pending", attempts: 1 });
  expect(String(row!.lastError)).toContain("HTTP 302: redirect not followed");
});

test("410 disables the target, later events wait paused, and all are delivered after enable", async () => {
  let gone = true;
  const target = recordingTarget(cleanups, () => ({ status: gone ? 410 : 200 }));
  const { clock, store, scheduler } = await setup([targetConfig("t", target.url)]);
  await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  await scheduler.drain();
  expect(scheduler.isPaused("t")).toBe(true);
  // Ingest asks isPaused and inserts the next event's delivery as paused.
  await submitEvent(store, { targets: ["t"], receivedAt: clock(), paused: scheduler.isPaused("t") ? ["t"] : [] });
  clock.advance(600_000);
  await scheduler.drain();
  expect(target.received).toHaveLength(1);
  expect((await deliveryRows(store)).map((r) => r.status)).toEqual(["paused", "paused"]);
  const state = await store.reads.execute("SELECT disabled, disabled_by, last_error FROM target_state WHERE name = 't'");
  expect(state.rows[0]).toMatchObject({ disabled: 1, disabled_by: "gone", last_error: "HTTP 410 Gone: target disabled" });
  gone = false;
  expect(await scheduler.enableTarget("t")).toBe(2);
  await scheduler.drain();
  expect(target.received).toHaveLength(3);
  expect((await deliveryRows(store)).map((r) => r.status)).toEqual(["delivered", "delivered"]);
});

test("a delivery stored paused in the moment its target was enabled is resumed, not left waiting for another enable", async () => {
  const target = recordingTarget(cleanups);
  const { clock, store, scheduler } = await setup([targetConfig("t", target.url)]);
  await scheduler.disableTarget("t", "maintenance");
  await scheduler.enableTarget("t");
  // Ingest decided "paused" on its cache a moment before the enable was written, and committed after it.
  await submitEvent(store, { targets: ["t"], receivedAt: clock(), paused: ["t"] });
  await scheduler.drain();
  expect(target.received).toHaveLength(1);
  expect(await deliveryRows(store)).toEqual([{ target: "t", status: "delivered", attempts: 1, lastError: null }]);
});

test("enabling a target that was failing sends one probe first, not its whole queue; a success lets the rest go", async () => {
  let down = true;
  const target = recordingTarget(cleanups, () => ({ status: down ? 503 : 200 }));
  const { clock, store, scheduler } = await setup([targetConfig("t", target.url, { concurrency: 8, retry: { scheduleMs: [0, 3_600_000], jitter: 0 } })]);
  await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  await scheduler.drain();
  expect(target.received).toHaveLength(1);
  await scheduler.disableTarget("t", "maintenance");
  for (let i = 0; i < 12; i++) await submitEvent(store, { targets: ["t"], receivedAt: clock(), paused: ["t"] });
  // Enabled while the target is still down: one attempt probes it, and its failure holds the rest back.
  // The first event's delivery (waiting an hour for its retry) was paused too.
  expect(await scheduler.enableTarget("t")).toBe(13);
  await scheduler.drain();
  expect(target.received).toHaveLength(2);
  const [state] = (await store.reads.execute("SELECT consecutive_failures, circuit_open_until FROM target_state WHERE name = 't'")).rows;
  expect(Number(state!.consecutive_failures)).toBe(2);
  expect(Number(state!.circuit_open_until)).toBeGreaterThan(clock());
  // Back up: the next probe goes through and the queue follows (the failed probe waits for its own retry).
  down = false;
  clock.advance(6_000);
  await scheduler.drain();
  expect(target.received).toHaveLength(2 + 12);
  const statuses = (await deliveryRows(store)).map((r) => r.status);
  expect(statuses.filter((x) => x === "delivered")).toHaveLength(12);
  // The probe: pending for its retry, or failed when it was the first event's last scheduled attempt.
  expect(statuses.filter((x) => x !== "delivered")).toEqual([expect.stringMatching(/^(pending|failed)$/)]);
});

test("a burst of 410s (attempts in flight together) disables the target once", async () => {
  const target = recordingTarget(cleanups, () => ({ status: 410 }));
  const lines: string[] = [];
  const log = createLogger("info", (line) => lines.push(line));
  const { clock, store, scheduler } = await setup([targetConfig("t", target.url, { concurrency: 4 })], { log });
  for (let i = 0; i < 4; i++) await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  await scheduler.drain();
  expect(target.received).toHaveLength(4);
  const disabled = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === "target disabled");
  expect(disabled).toHaveLength(1);
  expect(disabled[0]).toMatchObject({ target: "t", by: "gone" });
  expect(scheduler.isPaused("t")).toBe(true);
});

test("a hanging target times out without starving another target", async () => {
  const hanging = recordingTarget(cleanups, () => "hang");
  const healthy = recordingTarget(cleanups);
  const { clock, store, scheduler } = await setup([
    targetConfig("slow", hanging.url, { timeoutMs: 1500, concurrency: 2 }),
    targetConfig("fast", healthy.url),
  ]);
  for (let i = 0; i < 6; i++) await submitEvent(store, { targets: i < 2 ? ["slow", "fast"] : ["fast"], receivedAt: clock() });
  const started = performance.now();
  const drained = scheduler.drain();
  await healthy.until(6);
  // Every fast delivery arrived while the slow target's attempts were still hanging.
  expect(performance.now() - started).toBeLessThan(1500);
  expect(hanging.received).toHaveLength(2);
  await drained;
  expect(performance.now() - started).toBeGreaterThanOrEqual(1400);
  const rows = await deliveryRows(store);
  expect(rows.filter((r) => r.target === "fast").every((r) => r.status === "delivered")).toBe(true);
  const slow = rows.filter((r) => r.target === "slow");
  expect(slow.map((r) => [r.status, r.attempts])).toEqual([["pending", 1], ["pending", 1]]);
  expect(slow.every((r) => r.lastError === "timeout after 1500ms")).toBe(true);
});

test("Retry-After on a 429 shorter than the schedule's next delay waits for the schedule", async () => {
  const target = recordingTarget(cleanups, (_r, n) => (n === 1 ? { status: 429, headers: { "retry-after": "1" } } : { status: 200 }));
  const { clock, store, scheduler } = await setup([targetConfig("t", target.url, { retry: { scheduleMs: [0, 60_000, 300_000], jitter: 0 } })]);
  await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  await scheduler.drain();
  clock.advance(59_000);
  await scheduler.drain();
  expect(target.received).toHaveLength(1);
  clock.advance(1_000);
  await scheduler.drain();
  expect(target.received).toHaveLength(2);
});

test("Retry-After on a 503 longer than the schedule's next delay is honoured", async () => {
  const target = recordingTarget(cleanups, (_r, n) => (n === 1 ? { status: 503, headers: { "retry-after": "20" } } : { status: 200 }));
  const { clock, store, scheduler } = await setup([targetConfig("t", target.url, { retry: { scheduleMs: [0, 5_000, 60_000], jitter: 0 } })]);
  await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  await scheduler.drain();
  clock.advance(19_000);
  await scheduler.drain();
  expect(target.received).toHaveLength(1);
  clock.advance(1_000);
  await scheduler.drain();
  expect(target.received).toHaveLength(2);
  expect((await deliveryRows(store))[0]!.status).toBe("delivered");
});

test("during a secret rotation every delivery verifies with either secret", async () => {
  const OLD = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
  const target = recordingTarget(cleanups);
  const { clock, store, scheduler } = await setup([targetConfig("t", target.url, { signingSecrets: [SECRET, OLD] })]);
  await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  await scheduler.drain();
  expect(() => verify(target.received[0]!, SECRET)).not.toThrow();
  expect(() => verify(target.received[0]!, OLD)).not.toThrow();
});

test("listen targets are never pushed", async () => {
  const { clock, store, scheduler } = await setup([{ ...targetConfig("alice", "http://127.0.0.1:9/"), kind: "listen", url: "" }]);
  await submitEvent(store, { targets: ["alice"], receivedAt: clock() });
  expect(await scheduler.tick()).toBe(0);
  expect((await deliveryRows(store))[0]!.status).toBe("pending");
});
