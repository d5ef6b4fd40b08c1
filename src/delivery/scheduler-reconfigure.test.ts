/**
 * The scheduler takes a new target list (a config reload) without a second
 * engine: in-flight attempts finish on the target they started with, the
 * next attempt uses the new URL and secrets, and a removed target's
 * deliveries wait in the store until it comes back.
 */
import { createLogger } from "../log/logger.ts";
import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { fakeClock, recordingTarget, runCleanups, storeAt, submitEvent, targetConfig, tempDir } from "../../test/delivery/fixtures.ts";
import { createScheduler } from "./scheduler.ts";
import { storedOrder } from "../store/deliveries.ts";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(() => runCleanups(cleanups));

async function setup(targets: Parameters<typeof createScheduler>[0]["targets"], extra: Partial<Parameters<typeof createScheduler>[0]> = {}) {
  const clock = fakeClock();
  const store = await storeAt(join(tempDir(cleanups), "s.db"), cleanups, clock);
  const scheduler = createScheduler({ store, targets, clock, random: () => 0.5, pollMs: 60_000, ...extra });
  cleanups.unshift(() => scheduler.stop(100));
  return { clock, store, scheduler };
}

/** Drains until `done` (a reload's target changes are applied by the running engine a moment later), at most a second. */
async function drainUntil(scheduler: { drain(): Promise<void> }, done: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !done(); i++) {
    await scheduler.drain();
    await Bun.sleep(10);
  }
}

const deliveries = async (store: Awaited<ReturnType<typeof setup>>["store"]) =>
  (await store.reads.execute(`SELECT target, status, attempts FROM deliveries ORDER BY ${storedOrder(store.reads.dialect)}`)).rows.map((r) => ({ target: r.target, status: r.status, attempts: r.attempts }));

test("a target's new URL gets the next attempt; the attempt in flight finishes at the old one", async () => {
  const old = recordingTarget(cleanups, () => ({ status: 500 }));
  const moved = recordingTarget(cleanups);
  const { clock, store, scheduler } = await setup([targetConfig("t", old.url, { retry: { scheduleMs: [0, 1000], jitter: 0 } })]);
  await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  const first = scheduler.tick();
  await old.until(1);
  scheduler.setTargets([targetConfig("t", moved.url, { retry: { scheduleMs: [0, 1000], jitter: 0 } })]);
  await first;
  await scheduler.drain();
  // The attempt in flight was recorded (a 500, retry due in 1 s); the retry goes to the new URL.
  expect(old.received).toHaveLength(1);
  clock.advance(1000);
  await scheduler.drain();
  expect(moved.received).toHaveLength(1);
  expect(await deliveries(store)).toEqual([{ target: "t", status: "delivered", attempts: 2 }]);
});

test("a removed target's deliveries stay pending, untouched, and flow again when it comes back", async () => {
  const rx = recordingTarget(cleanups);
  const t = targetConfig("t", rx.url);
  const { clock, store, scheduler } = await setup([t]);
  scheduler.setTargets([]);
  await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  await scheduler.drain();
  expect(rx.received).toHaveLength(0);
  expect(scheduler.claim("t")).toBeNull();
  expect(await deliveries(store)).toEqual([{ target: "t", status: "pending", attempts: 0 }]);
  scheduler.setTargets([t]);
  await scheduler.drain();
  expect(rx.received).toHaveLength(1);
  expect(await deliveries(store)).toEqual([{ target: "t", status: "delivered", attempts: 1 }]);
});

test("slots stay right across a reload: an attempt in flight still counts against the target's concurrency", async () => {
  let release = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const rx = recordingTarget(cleanups);
  const slow = Bun.serve({ hostname: "127.0.0.1", port: 0, async fetch() { await gate; return new Response("ok"); } });
  cleanups.push(() => slow.stop(true));
  const { clock, store, scheduler } = await setup([targetConfig("t", `http://127.0.0.1:${slow.port}/`, { concurrency: 1 })]);
  await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  // One sent, one leased ahead waiting for the slot.
  expect(await scheduler.tick()).toBe(2);
  scheduler.setTargets([targetConfig("t", rx.url, { concurrency: 1 })]);
  // The slot is still taken by the attempt in flight: nothing more is leased or claimed.
  expect(await scheduler.tick()).toBe(0);
  expect(scheduler.claim("t")).toBeNull();
  expect(scheduler.inFlight()).toBe(1);
  release();
  await scheduler.drain();
  expect(rx.received).toHaveLength(1);
  expect((await deliveries(store)).map((d) => d.status)).toEqual(["delivered", "delivered"]);
});

test("what a removed target had leased ahead goes back to the queue uncounted; its attempt in flight finishes", async () => {
  let release = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const slow = Bun.serve({ hostname: "127.0.0.1", port: 0, async fetch() { await gate; return new Response("ok"); } });
  cleanups.push(() => slow.stop(true));
  const t = targetConfig("t", `http://127.0.0.1:${slow.port}/`, { concurrency: 1 });
  const { clock, store, scheduler } = await setup([t]);
  await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  // One sent, one leased ahead waiting for the slot.
  expect(await scheduler.tick()).toBe(2);
  scheduler.setTargets([]);
  release();
  await scheduler.drain();
  expect(await deliveries(store)).toEqual([
    { target: "t", status: "delivered", attempts: 1 },
    { target: "t", status: "pending", attempts: 0 },
  ]);
  const leased = await store.reads.execute("SELECT count(*) AS n FROM deliveries WHERE lease_id IS NOT NULL");
  expect(Number(leased.rows[0]!.n)).toBe(0);
});

test("a delivery leased ahead that waited longer than its lease allows (a reload lowered the concurrency) goes back instead of being sent", async () => {
  const ids: string[] = [];
  const target = Bun.serve({ hostname: "127.0.0.1", port: 0, async fetch(req) { ids.push(req.headers.get("webhook-id")!); await Bun.sleep(500); return new Response("ok"); } });
  cleanups.push(() => target.stop(true));
  const t = (concurrency: number) => targetConfig("t", `http://127.0.0.1:${target.port}/`, { concurrency, timeoutMs: 1_200 });
  const lines: string[] = [];
  const { clock, store, scheduler } = await setup([t(4)], { log: createLogger("debug", (l) => lines.push(l)) });
  for (let i = 0; i < 12; i++) await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  // Four sent, eight leased ahead (a wait of two attempts: 2.4 s); then one at a time: the
  // waiting ones would start 0.5, 1, … 4 s later.
  expect(await scheduler.tick()).toBe(12);
  scheduler.setTargets([t(1)]);
  await scheduler.drain();
  // Those that would have waited past two of the target's timeouts went back to the queue, uncounted, and were leased anew.
  const handedBack = lines.filter((l) => l.includes("waited for a slot longer than its lease allows"));
  expect(handedBack.length).toBeGreaterThanOrEqual(1);
  expect(await deliveries(store)).toEqual(Array(12).fill({ target: "t", status: "delivered", attempts: 1 }));
  expect(new Set(ids).size).toBe(12);
  expect(ids).toHaveLength(12);
}, 20_000);

test("a reload that changes how a target is reached probes its open circuit now, not at the circuit's old time", async () => {
  const broken = recordingTarget(cleanups, () => ({ status: 503 }));
  const fixed = recordingTarget(cleanups);
  const retry = { scheduleMs: [0, 1000, 1000, 1000], jitter: 0 };
  const { clock, store, scheduler } = await setup([targetConfig("t", broken.url, { retry })], { circuit: { threshold: 3, baseMs: 60_000, maxMs: 300_000 } });
  await scheduler.start(); // a reload's target changes are applied by a running engine
  for (let i = 0; i < 3; i++) await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  await scheduler.drain();
  expect(broken.received).toHaveLength(3);
  const [open] = (await store.reads.execute("SELECT circuit_open_until FROM target_state WHERE name = 't'")).rows;
  expect(Number(open!.circuit_open_until)).toBeGreaterThan(clock() + 30_000);
  clock.advance(2000);
  scheduler.setTargets([targetConfig("t", fixed.url, { retry })]);
  await drainUntil(scheduler, () => fixed.received.length > 0);
  // One probe at once to the new URL; its success lets the rest go.
  expect(fixed.received.length).toBeGreaterThan(0);
  await scheduler.drain();
  expect(await deliveries(store)).toEqual(Array(3).fill({ target: "t", status: "delivered", attempts: 2 }));
});

test("a target named again by a reload, or found at a start, with its circuit open is probed now, not at the circuit's old time", async () => {
  const broken = recordingTarget(cleanups, () => ({ status: 503 }));
  const fixed = recordingTarget(cleanups);
  const retry = { scheduleMs: [0, 1000, 1000, 1000], jitter: 0 };
  const circuit = { threshold: 3, baseMs: 60_000, maxMs: 300_000 };
  const file = join(tempDir(cleanups), "s.db");
  const clock = fakeClock();
  const store = await storeAt(file, cleanups, clock);
  const lines: string[] = [];
  const make = (url: string) => {
    const s = createScheduler({ store, targets: [targetConfig("t", url, { retry })], clock, random: () => 0.5, pollMs: 60_000, circuit, log: createLogger("info", (l) => lines.push(l)) });
    cleanups.unshift(() => s.stop(100));
    return s;
  };
  const scheduler = make(broken.url);
  await scheduler.start();
  for (let i = 0; i < 3; i++) await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  await scheduler.drain();
  expect(broken.received).toHaveLength(3);
  // Removed, then named again with the fixed URL.
  scheduler.setTargets([]);
  await scheduler.drain();
  clock.advance(2000);
  scheduler.setTargets([targetConfig("t", fixed.url, { retry })]);
  await drainUntil(scheduler, () => fixed.received.length > 0);
  expect(fixed.received.length).toBeGreaterThan(0);
  expect(lines.some((l) => l.includes("target circuit probes now: a reload named it again"))).toBe(true);
  await scheduler.stop(100);

  // A start finds a circuit left open (by a relay that then stopped): probed at once too.
  await store.writer.write([{ sql: "UPDATE target_state SET circuit_open_until = ?, consecutive_failures = 3 WHERE name = 't'", args: [clock() + 120_000] }]);
  await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  const before = fixed.received.length;
  const restarted = make(fixed.url);
  await restarted.start();
  await drainUntil(restarted, () => fixed.received.length > before);
  expect(fixed.received.length).toBeGreaterThan(before);
  expect(lines.some((l) => l.includes("target circuit probes now: the relay started"))).toBe(true);
});
