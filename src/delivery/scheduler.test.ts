import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import type { TargetConfig } from "../config/types.ts";
import { fakeClock, recordingTarget, runCleanups, storeAt, submitEvent, targetConfig, tempDir } from "../../test/delivery/fixtures.ts";
import { createLogger } from "../log/logger.ts";
import { createScheduler, type SchedulerOptions } from "./scheduler.ts";
import { storedOrder } from "../store/deliveries.ts";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(() => runCleanups(cleanups));

async function setup(targets: TargetConfig[], extra: Partial<SchedulerOptions> = {}, file?: string) {
  const clock = fakeClock();
  const store = await storeAt(file ?? join(tempDir(cleanups), "s.db"), cleanups, clock);
  const make = (over: Partial<SchedulerOptions> = {}) => {
    const s = createScheduler({ store, targets, clock, random: () => 0.5, pollMs: 60_000, ...extra, ...over });
    cleanups.unshift(() => s.stop(100));
    return s;
  };
  return { clock, store, scheduler: make(), make };
}

const statuses = async (store: Awaited<ReturnType<typeof setup>>["store"]) =>
  (await store.reads.execute(`SELECT status FROM deliveries ORDER BY ${storedOrder(store.reads.dialect)}`)).rows.map((r) => r.status);

/**
 * How many targets each lease statement written to `store` asked for (it names each as :t<i>),
 * and every write's promise, to wait for them.
 */
function targetsAsked(store: Awaited<ReturnType<typeof setup>>["store"]) {
  const asked: number[] = [];
  const written: Promise<unknown>[] = [];
  const writer = store.writer as { write: typeof store.writer.write };
  const write = writer.write.bind(store.writer);
  writer.write = (stmts, durability) => {
    for (const s of stmts) if (typeof s !== "string" && /SET status = 'delivering'/.test(s.sql)) asked.push(Object.keys(s.args ?? {}).filter((k) => /^t\d+$/.test(k)).length);
    const done = write(stmts, durability);
    written.push(done.catch(() => null));
    return done;
  };
  return { asked, written };
}

test("an ordered target receives events one at a time in receive order, a retry holding the line", async () => {
  const target = recordingTarget(cleanups, (_r, n) => ({ status: n === 1 ? 500 : 200 }));
  const { clock, store, scheduler } = await setup([targetConfig("o", target.url, { ordered: true, concurrency: 8 })]);
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) ids.push(await submitEvent(store, { targets: ["o"], receivedAt: clock() + i }));
  clock.advance(10);
  await scheduler.drain();
  expect(target.received).toHaveLength(1);
  clock.advance(5_000);
  await scheduler.drain();
  expect(target.received.map((r) => r.headers.get("webhook-id"))).toEqual([ids[0]!, ...ids]);
  // One at a time: each request arrived after the previous reply.
  for (let i = 1; i < target.received.length; i++) expect(target.received[i]!.at).toBeGreaterThanOrEqual(target.received[i - 1]!.doneAt);
});

test("an ordered target in the config holds back none of the other targets' deliveries, wherever it is listed", async () => {
  const target = recordingTarget(cleanups, () => ({ status: 200 }));
  for (const order of [["o", "a"], ["a", "o"]]) {
    const { clock, store, scheduler } = await setup(order.map((name) => targetConfig(name, target.url, { ordered: name === "o" })));
    // Pending, as retries, redeliveries and a backlog are: only a round's lease sends them.
    for (let i = 0; i < 3; i++) await submitEvent(store, { targets: ["a"], receivedAt: clock() + i });
    clock.advance(10);
    await scheduler.drain();
    expect(await statuses(store)).toEqual(["delivered", "delivered", "delivered"]);
  }
  expect(target.received).toHaveLength(6);
});

test("a half-open circuit's probe is its oldest due delivery, never a fresh event's claim", async () => {
  const target = recordingTarget(cleanups, () => ({ status: 500 }));
  const { clock, store, scheduler } = await setup([targetConfig("t", target.url, { concurrency: 4 })], {
    circuit: { threshold: 2, baseMs: 10_000, maxMs: 60_000 },
  });
  for (let i = 0; i < 2; i++) await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  await scheduler.drain();
  expect(target.received).toHaveLength(2);
  // Open: nothing is claimed. Half-open once its time is up: still nothing, the probe is leased.
  expect(scheduler.claim("t")).toBeNull();
  clock.advance(10_000);
  expect(scheduler.claim("t")).toBeNull();
  await scheduler.drain();
  expect(target.received).toHaveLength(3);
});

test("a target failing many in a row is backed off as a whole, then probed once", async () => {
  let up = false;
  const target = recordingTarget(cleanups, () => ({ status: up ? 200 : 500 }));
  const { clock, store, scheduler } = await setup([targetConfig("t", target.url, { concurrency: 1 })], {
    circuit: { threshold: 3, baseMs: 10_000, maxMs: 60_000 },
  });
  for (let i = 0; i < 6; i++) await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  await scheduler.drain();
  // Three failures open the circuit: the other three events are not tried one by one.
  expect(target.received).toHaveLength(3);
  clock.advance(9_999);
  await scheduler.drain();
  expect(target.received).toHaveLength(3);
  clock.advance(1);
  up = true;
  await scheduler.drain();
  // The probe succeeds, the circuit closes: the three untried events and the three retries (due by now) go.
  expect(target.received).toHaveLength(9);
  expect(await statuses(store)).toEqual(Array(6).fill("delivered"));
  const state = await store.reads.execute("SELECT consecutive_failures, circuit_open_until FROM target_state");
  expect(state.rows[0]).toMatchObject({ consecutive_failures: 0, circuit_open_until: null });
});

test("a half-open circuit that fails again stays open twice as long", async () => {
  const target = recordingTarget(cleanups, () => ({ status: 500 }));
  const { clock, store, scheduler } = await setup([targetConfig("t", target.url, { concurrency: 1, retry: { scheduleMs: [0, 1], jitter: 0 } })], {
    circuit: { threshold: 2, baseMs: 10_000, maxMs: 60_000 },
  });
  for (let i = 0; i < 5; i++) await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  await scheduler.drain();
  expect(target.received).toHaveLength(2);
  clock.advance(10_000);
  await scheduler.drain();
  expect(target.received).toHaveLength(3);
  clock.advance(19_999);
  await scheduler.drain();
  expect(target.received).toHaveLength(3);
  clock.advance(1);
  await scheduler.drain();
  expect(target.received).toHaveLength(4);
  // And twice as long again: 40 s.
  clock.advance(39_999);
  await scheduler.drain();
  expect(target.received).toHaveLength(4);
  clock.advance(1);
  await scheduler.drain();
  expect(target.received).toHaveLength(5);
});

test("a failed probe doubles the circuit's last wait, however long the target sat idle failing before it opened", async () => {
  const target = recordingTarget(cleanups, () => ({ status: 500 }));
  const { clock, store, scheduler } = await setup([targetConfig("t", target.url, { concurrency: 1, retry: { scheduleMs: [0, 3_600_000], jitter: 0 } })], {
    circuit: { threshold: 2, baseMs: 10_000, maxMs: 60_000 },
  });
  // One failure, then fourteen quiet minutes: the target has been "failing" all along.
  await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  await scheduler.drain();
  clock.advance(14 * 60_000);
  for (let i = 0; i < 3; i++) await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  await scheduler.drain();
  expect(target.received).toHaveLength(2); // the second failure opened it (10 s)
  clock.advance(10_000);
  await scheduler.drain();
  expect(target.received).toHaveLength(3); // the probe failed: 20 s, not the maximum
  clock.advance(20_000);
  await scheduler.drain();
  expect(target.received).toHaveLength(4);
});

test("a failed probe doubles the wait the circuit opened for, though attempts in flight failed later", async () => {
  // Two fail at once and open the circuit (10 s); the two others still in flight fail 4 s later.
  const target = recordingTarget(cleanups, (_r, n) => ({ status: 500, delayMs: n > 2 ? 300 : 0 }));
  let clock: ReturnType<typeof fakeClock> | undefined;
  let opened = false;
  const log = createLogger("info", (l) => {
    if (JSON.parse(l).msg === "target circuit open" && !opened) (opened = true), clock?.advance(4_000);
  });
  const run = await setup([targetConfig("t", target.url, { concurrency: 4, retry: { scheduleMs: [0, 1], jitter: 0 } })], {
    circuit: { threshold: 2, baseMs: 10_000, maxMs: 60_000 },
    log,
  });
  clock = run.clock;
  const { store, scheduler } = run;
  for (let i = 0; i < 4; i++) await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  await scheduler.drain();
  expect(target.received).toHaveLength(4);
  clock.advance(6_000); // the circuit's 10 s are up: the probe fails
  await scheduler.drain();
  expect(target.received).toHaveLength(5);
  // Twice the 10 s it opened for, not twice what was left of them when the last failure was written.
  clock.advance(19_999);
  await scheduler.drain();
  expect(target.received).toHaveLength(5);
  clock.advance(1);
  await scheduler.drain();
  expect(target.received).toHaveLength(6);
});

test("a target failing continuously for disable_after is disabled with its last error, deliveries kept", async () => {
  const target = recordingTarget(cleanups, () => ({ status: 502 }));
  const lines: Record<string, unknown>[] = [];
  const reported: string[] = [];
  const { clock, store, scheduler } = await setup(
    [targetConfig("t", target.url, { disableAfterMs: 3_600_000, retry: { scheduleMs: [0, 1_800_000, 1_800_000, 1_800_000], jitter: 0 } })],
    { log: createLogger("info", (l) => lines.push(JSON.parse(l))), onAttempt: (r) => reported.push(r.status) },
  );
  await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  await scheduler.drain();
  clock.advance(1_800_000);
  await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  await scheduler.drain();
  expect(scheduler.isPaused("t")).toBe(false);
  clock.advance(1_800_000);
  await scheduler.drain();
  expect(scheduler.isPaused("t")).toBe(true);
  const state = await store.reads.execute("SELECT disabled_by, disabled_reason, last_error FROM target_state");
  expect(state.rows[0]).toMatchObject({ disabled_by: "auto", last_error: "HTTP 502" });
  expect(String(state.rows[0]!.disabled_reason)).toContain("last error: HTTP 502");
  expect(await statuses(store)).toEqual(["paused", "paused"]);
  // The failure that disabled it says what became of its delivery: paused, not a retry at some time.
  const last = lines.filter((l) => String(l.msg).startsWith("attempt failed")).at(-1)!;
  expect(last).toMatchObject({ msg: "attempt failed; the target is disabled, delivery paused", level: "warn" });
  expect(last.nextAttemptAt).toBeUndefined();
  // And the metrics count it so (outcome "paused"), not as a retry.
  expect(reported.at(-1)).toBe("paused");
  // (both deliveries failing in the round that disabled it end paused.)
  expect(reported).toEqual(["pending", "pending", "pending", "paused", "paused"]);
  // Both failures of that round crossed disable_after: disabled once, said once.
  expect(lines.filter((l) => l.msg === "target disabled")).toHaveLength(1);
});

test("config enabled = false starts the target disabled, and config re-enables only what config disabled", async () => {
  const target = recordingTarget(cleanups);
  const file = join(tempDir(cleanups), "cfg.db");
  const lines: Record<string, unknown>[] = [];
  const log = createLogger("info", (l) => lines.push(JSON.parse(l)));
  const off = await setup([targetConfig("t", target.url, { enabled: false })], { log }, file);
  await off.scheduler.start();
  expect(off.scheduler.isPaused("t")).toBe(true);
  await submitEvent(off.store, { targets: ["t"], receivedAt: off.clock(), paused: ["t"] });
  await off.scheduler.stop();
  // Restart with the target enabled in config: it flows.
  const on = createScheduler({ store: off.store, targets: [targetConfig("t", target.url)], clock: off.clock, random: () => 0.5, pollMs: 60_000 });
  cleanups.unshift(() => on.stop(100));
  await on.drain();
  expect(target.received).toHaveLength(1);
  // Disabled at run time (API): a restart with the target enabled in config keeps it disabled.
  await on.disableTarget("t", "maintenance");
  const again = createScheduler({ store: off.store, targets: [targetConfig("t", target.url)], clock: off.clock, random: () => 0.5, pollMs: 60_000, log });
  cleanups.unshift(() => again.stop(100));
  await again.start();
  expect(again.isPaused("t")).toBe(true);
  // Config toggled off and on again (two reloads): the target disabled at run time flows again.
  const settled = async (paused: boolean) => {
    for (let i = 0; i < 100 && again.isPaused("t") !== paused; i++) await Bun.sleep(10);
    return again.isPaused("t");
  };
  again.setTargets([targetConfig("t", target.url, { enabled: false })]);
  await Bun.sleep(50);
  expect(await settled(true)).toBe(true);
  expect((await off.store.reads.execute("SELECT disabled_by FROM target_state")).rows[0]).toMatchObject({ disabled_by: "config" });
  again.setTargets([targetConfig("t", target.url)]);
  expect(await settled(false)).toBe(false);
  // Said as an operator's disable and enable are (the config taking over the operator's disable changes nothing to say).
  const said = lines.filter((l) => String(l.msg).startsWith("target ")).map((l) => [l.msg, l.by]);
  expect(said).toEqual([["target disabled", "config"], ["target enabled", "config"]]);
  // A reload that leaves `enabled` as it was does not undo an operator's enable of a target the config disables.
  again.setTargets([targetConfig("t", target.url, { enabled: false })]);
  expect(await settled(true)).toBe(true);
  await again.enableTarget("t");
  again.setTargets([targetConfig("t", target.url, { enabled: false, timeoutMs: 2_000 })]);
  await Bun.sleep(100);
  expect(again.isPaused("t")).toBe(false);
});

test("an erased event's delivery is cancelled without a request", async () => {
  const target = recordingTarget(cleanups);
  const { clock, store, scheduler } = await setup([targetConfig("t", target.url)]);
  const id = await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  await store.reads.execute({ sql: "UPDATE events SET body = NULL, headers = NULL, erased_at = 1 WHERE id = ?", args: [id] });
  await scheduler.drain();
  expect(target.received).toHaveLength(0);
  expect(await statuses(store)).toEqual(["cancelled"]);
});

test("a rate caps how many attempts start in any second of the clock, a pause banking no second's worth", async () => {
  const target = recordingTarget(cleanups);
  const { clock, store, scheduler } = await setup([targetConfig("t", target.url, { ratePerSec: 20, concurrency: 50 })]);
  for (let i = 0; i < 60; i++) await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  await scheduler.drain();
  expect(target.received).toHaveLength(2); // a tenth of a second's worth at once
  for (let step = 0; step < 20; step++) {
    clock.advance(50);
    await scheduler.drain();
  }
  // The first second: 20 and the 2 banked, not 20 banked and 20 more.
  expect(target.received).toHaveLength(22);
  clock.advance(10_000); // a pause banks a tenth of a second's worth again, no more
  await scheduler.drain();
  expect(target.received).toHaveLength(24);
});

test("deliveries yield to providers queueing for their ack, down to the floor, and come back once the queue is gone", async () => {
  const target = recordingTarget(cleanups, () => "hang");
  const wait = { ms: 40 };
  const period = { t: 0 };
  const { clock, store, scheduler } = await setup([targetConfig("t", target.url, { concurrency: 16 })], {
    ingestFirst: { ackWaitMs: () => wait.ms, now: () => period.t, busyAtMs: 16, floor: 2, periodMs: 100 },
  });
  await scheduler.tick(); // nothing due yet; the first busy period
  for (let i = 0; i < 20; i++) await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  period.t = 100;
  const leased = [await scheduler.tick(), await scheduler.tick()];
  wait.ms = 0;
  for (let i = 2; i <= 4; i++) {
    period.t = i * 100;
    leased.push(await scheduler.tick());
  }
  // Busy a second period: the floor (2), nothing more in the same period; calm: 4, 8, then uncapped:
  // the target's own 16 and a lease ahead of them (the last 4 of the 20 wait for a slot).
  expect(leased).toEqual([2, 0, 2, 4, 12]);
  await target.until(16);
  expect(scheduler.inFlight()).toBe(16);
});

test("while deliveries yield, slots freed within a period wait for the next period's round instead of one lease each", async () => {
  const target = recordingTarget(cleanups);
  const wait = { ms: 40 };
  const period = { t: 0 };
  const { clock, store, scheduler } = await setup([targetConfig("t", target.url, { concurrency: 16 })], {
    ingestFirst: { ackWaitMs: () => wait.ms, now: () => period.t, busyAtMs: 16, floor: 2, periodMs: 100 },
  });
  await scheduler.tick(); // the first busy period
  for (let i = 0; i < 20; i++) await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  period.t = 100;
  expect(await scheduler.tick()).toBe(2); // capped at the floor: this period's round
  await scheduler.drain();
  expect(target.received).toHaveLength(2);
  period.t = 150;
  expect(scheduler.inFlight()).toBe(0);
  expect(await scheduler.tick()).toBe(0); // both slots free again, but the round of this period was taken
  period.t = 200;
  expect(await scheduler.tick()).toBe(2);
});

test("once a burst is over, the cap relaxes without rounds of its own: an idle relay stops yielding within a few periods", async () => {
  const lines: Record<string, unknown>[] = [];
  const wait = { ms: 40 };
  const target = recordingTarget(cleanups);
  // Real time, short periods, and a poll far away: nothing but the scheduler's own wake-ups runs a round.
  const { scheduler } = await setup([targetConfig("t", target.url, { concurrency: 16 })], {
    pollMs: 3_600_000,
    log: createLogger("info", (l) => lines.push(JSON.parse(l))),
    ingestFirst: { ackWaitMs: () => wait.ms, busyAtMs: 16, floor: 2, periodMs: 20 },
  });
  await scheduler.start();
  for (let i = 0; i < 3 && !scheduler.yielding(); i++) {
    await Bun.sleep(25);
    await scheduler.tick();
  }
  expect(scheduler.yielding()).toBe(true);
  wait.ms = 0;
  // 2 → 4 → 8 → 16 (the ceiling): four periods, ~80 ms; a loaded machine delays each timer, so bounded at 3 s.
  for (let i = 0; i < 150 && scheduler.yielding(); i++) await Bun.sleep(20);
  expect(scheduler.yielding()).toBe(false);
  expect(lines.filter((l) => l.msg === "deliveries yielded to queueing ingest requests")).toHaveLength(1);
});

test("a burst is logged once it is over, and a second burst within the minute adds no line of its own", async () => {
  const lines: Record<string, unknown>[] = [];
  const wait = { ms: 0 };
  const period = { t: 0 };
  const target = recordingTarget(cleanups);
  const { scheduler } = await setup([targetConfig("t", target.url, { concurrency: 4 })], {
    log: createLogger("info", (l) => lines.push(JSON.parse(l))),
    ingestFirst: { ackWaitMs: () => wait.ms, now: () => period.t, busyAtMs: 16, floor: 2, periodMs: 100 },
  });
  // Busy two periods (capped at 2), then calm until the cap is gone (4 is the targets' ceiling).
  const burst = async () => {
    for (const n of [40, 40, 0, 0]) {
      wait.ms = n;
      period.t += 100;
      await scheduler.tick();
    }
  };
  await burst();
  await burst();
  const yielded = lines.filter((l) => l.msg === "deliveries yielded to queueing ingest requests");
  expect(yielded).toHaveLength(1);
  expect(yielded[0]).toMatchObject({ level: "info", lowestInFlight: 2 });
  expect(yielded[0]).not.toHaveProperty("episodes");
});

test("wake() sends a newly stored event without waiting for the poll", async () => {
  const target = recordingTarget(cleanups);
  const { clock, store, scheduler } = await setup([targetConfig("t", target.url)], { pollMs: 3_600_000 });
  await scheduler.start();
  await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  scheduler.wake();
  await target.until(1);
  expect(target.received).toHaveLength(1);
});

test("a retry is sent when it falls due, without waiting for the poll", async () => {
  const target = recordingTarget(cleanups, (_r, n) => (n === 1 ? { status: 503 } : { status: 200 }));
  // The engine's clock runs in real time here: the retry's wake is a real timer.
  const fake = fakeClock();
  const started = performance.now();
  const clock = () => fake() + Math.round(performance.now() - started);
  const { store, scheduler } = await setup([targetConfig("t", target.url, { retry: { scheduleMs: [100, 100], jitter: 0 } })], { pollMs: 3_600_000, clock });
  await scheduler.start();
  await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  scheduler.wake();
  await target.until(2);
  // Due 100 ms after the failure, not at the hour's poll.
  const gap = target.received[1]!.at - target.received[0]!.at;
  expect(gap).toBeGreaterThanOrEqual(99);
  expect(gap).toBeLessThan(2_000);
  await scheduler.drain();
  expect(await statuses(store)).toEqual(["delivered"]);
});

test("a burst of failures in flight together opens the circuit once, with one log line", async () => {
  const lines: Record<string, unknown>[] = [];
  const target = recordingTarget(cleanups, () => ({ status: 500, delayMs: 20 }));
  const { clock, store, scheduler } = await setup([targetConfig("t", target.url, { concurrency: 16 })], {
    circuit: { threshold: 3, baseMs: 10_000, maxMs: 60_000 },
    log: createLogger("info", (l) => lines.push(JSON.parse(l))),
  });
  for (let i = 0; i < 16; i++) await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  await scheduler.drain();
  expect(target.received).toHaveLength(16);
  expect(lines.filter((l) => l.msg === "target circuit open")).toHaveLength(1);
  // Sixteen failures at once are one failure of the target: the circuit waits the base time, not 2^13 of it (capped).
  const [state] = (await store.reads.execute("SELECT consecutive_failures, circuit_open_until FROM target_state")).rows;
  expect(Number(state!.consecutive_failures)).toBe(16);
  expect(Number(state!.circuit_open_until) - clock()).toBe(10_000);
  // Every failure that will be retried says so, with when.
  expect(lines.filter((l) => l.msg === "attempt failed; will retry" && l.level === "warn" && typeof l.nextAttemptAt === "string")).toHaveLength(16);
});

test("a circuit that opened says until when, in ISO time, and says so again when a probe closes it", async () => {
  const lines: Record<string, unknown>[] = [];
  let up = false;
  const target = recordingTarget(cleanups, () => ({ status: up ? 200 : 500 }));
  const { clock, store, scheduler } = await setup([targetConfig("t", target.url, { retry: { scheduleMs: [1_000, 1_000, 1_000, 1_000], jitter: 0 } })], {
    circuit: { threshold: 2, baseMs: 10_000, maxMs: 60_000 },
    log: createLogger("info", (l) => lines.push(JSON.parse(l))),
  });
  const opened = clock();
  for (let i = 0; i < 2; i++) await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  await scheduler.drain();
  expect(lines.find((l) => l.msg === "target circuit open")).toMatchObject({ target: "t", until: new Date(opened + 10_000).toISOString() });
  expect(lines.some((l) => l.msg === "target circuit closed")).toBe(false);
  up = true;
  clock.advance(10_000);
  await scheduler.drain();
  expect(await statuses(store)).toEqual(["delivered", "delivered"]);
  expect(lines.filter((l) => l.msg === "target circuit closed")).toEqual([expect.objectContaining({ level: "info", target: "t", failingForMs: 10_000 })]);
});

test("while ingest runs a second round is written while one is in flight, never a third; without ingest, one at a time", async () => {
  const target = recordingTarget(cleanups, (_r, n) => ({ status: 200, delayMs: n * 15 }));
  const { clock, store } = await setup([targetConfig("t", target.url, { concurrency: 8 })]);
  // Every write of the scheduler is held 60 ms, as a write waiting behind an ingest commit is.
  let writing = 0;
  let most = 0;
  const slowWriter = {
    ...store.writer,
    async write(...args: Parameters<typeof store.writer.write>) {
      most = Math.max(most, ++writing);
      try {
        await Bun.sleep(60);
        return await store.writer.write(...args);
      } finally {
        writing--;
      }
    },
  };
  const run = async (ingestRunning: boolean) => {
    most = 0;
    const before = (await statuses(store)).length;
    for (let i = 0; i < 8; i++) await submitEvent(store, { targets: ["t"], receivedAt: clock() });
    const scheduler = createScheduler({ store: { ...store, writer: slowWriter }, targets: [targetConfig("t", target.url, { concurrency: 8 })], clock, random: () => 0.5, pollMs: 60_000 });
    cleanups.unshift(() => scheduler.stop(1_000));
    // Ingest asks for a slot for each fresh event (here one, given back as a duplicate's would be).
    if (ingestRunning && scheduler.claim("t")) scheduler.unclaim("t");
    await scheduler.start();
    for (let i = 0; i < 200 && (await statuses(store)).some((s) => s !== "delivered"); i++) await Bun.sleep(25);
    await scheduler.stop(1_000);
    expect(await statuses(store)).toEqual(Array(before + 8).fill("delivered"));
    return most;
  };
  expect(await run(false)).toBe(1);
  expect(await run(true)).toBe(2);
});

test("alone on its store, a relay leases ahead: a freed slot takes the next delivery without waiting for a write, never past the concurrency", async () => {
  const target = recordingTarget(cleanups, () => ({ status: 200, delayMs: 5 }));
  const { clock, store } = await setup([]);
  for (let i = 0; i < 12; i++) await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  // Every write takes 400 ms: in that time the attempts of one lease round finish one after another.
  const slowWriter = {
    ...store.writer,
    async write(...args: Parameters<typeof store.writer.write>) {
      await Bun.sleep(400);
      return await store.writer.write(...args);
    },
  };
  const scheduler = createScheduler({ store: { ...store, writer: slowWriter }, targets: [targetConfig("t", target.url, { concurrency: 3 })], clock, random: () => 0.5, pollMs: 60_000 });
  cleanups.unshift(() => scheduler.stop(1_000));
  // One round leases the concurrency (3) and twice as many ahead; all nine are sent before any other write is back.
  expect(await scheduler.tick()).toBe(9);
  const leasedAt = performance.now();
  await target.until(9);
  expect(performance.now() - leasedAt).toBeLessThan(300);
  const edges = target.received.flatMap((r) => [[r.at, 1], [r.doneAt, -1]] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let most = 0;
  for (const [, d] of edges) most = Math.max(most, (open += d));
  expect(most).toBeLessThanOrEqual(3);
  await scheduler.drain();
  expect(await statuses(store)).toEqual(Array(12).fill("delivered"));
  expect(target.received).toHaveLength(12);
});

test("a delivery leased ahead is handed back uncounted, never sent, when its target's circuit may open while it waits", async () => {
  const target = recordingTarget(cleanups, () => ({ status: 500, delayMs: 5 }));
  const { clock, store, scheduler } = await setup([targetConfig("t", target.url, { concurrency: 2, retry: { scheduleMs: [0, 60_000], jitter: 0 } })], {
    circuit: { threshold: 1, baseMs: 10_000, maxMs: 60_000 },
  });
  for (let i = 0; i < 4; i++) await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  expect(await scheduler.tick()).toBe(4);
  await scheduler.drain();
  // The first failure may open the circuit: the two leased ahead go back to the queue untried.
  expect(target.received).toHaveLength(2);
  const rows = await store.reads.execute(`SELECT status, attempts FROM deliveries ORDER BY ${storedOrder(store.reads.dialect)}`);
  expect(rows.rows.map((r) => [r.status, r.attempts])).toEqual([["pending", 1], ["pending", 1], ["pending", 0], ["pending", 0]]);
});

test("a rated target's next attempt goes when its token is due, not at another target's round (real clock)", async () => {
  const fast = recordingTarget(cleanups);
  const slow = recordingTarget(cleanups);
  const store = await storeAt(join(tempDir(cleanups), "r.db"), cleanups);
  const scheduler = createScheduler({
    store,
    targets: [targetConfig("fast", fast.url, { ratePerSec: 100 / 60, concurrency: 4 }), targetConfig("slow", slow.url, { ratePerSec: 1, concurrency: 4 })],
    clock: Date.now,
    random: () => 0.5,
    pollMs: 60_000,
  });
  cleanups.unshift(() => scheduler.stop(100));
  await scheduler.start();
  for (let i = 0; i < 8; i++) await submitEvent(store, { targets: ["fast", "slow"], receivedAt: Date.now() });
  scheduler.wake();
  await fast.until(8);
  // At 100/m the gaps are 0.6 s; paced by the 1/s target's rounds they were 0.8-1 s.
  const gaps = fast.received.slice(2).map((r, i) => r.at - fast.received[i + 1]!.at);
  expect(gaps.reduce((a, b) => a + b, 0) / gaps.length).toBeLessThan(750);
}, 10_000);

test("a round asks the store only for the targets that may have due work; a poll or a wake without names, for every target", async () => {
  const target = recordingTarget(cleanups);
  const configs = Array.from({ length: 50 }, (_, i) => targetConfig(`t${i}`, target.url));
  const { store, scheduler, clock } = await setup(configs);
  const { asked, written } = targetsAsked(store);
  await scheduler.start();
  while (asked.length === 0) await Bun.sleep(5);
  expect(asked).toEqual([50]); // the first round: every target
  // Its write done before the event is stored (else that round may lease it: PostgreSQL's writer runs it later).
  await Promise.all(written);
  await submitEvent(store, { targets: ["t7"], receivedAt: clock() });
  scheduler.wake(["t7"]);
  await target.until(1);
  // Its outcome's round asks for none: t7's lease came back short of what it asked (nothing more due).
  await Bun.sleep(100);
  expect(asked).toEqual([50, 1]);
  expect(await statuses(store)).toEqual(["delivered"]);
  scheduler.wake();
  while (asked.length === 2) await Bun.sleep(5);
  expect(asked).toEqual([50, 1, 50]);
});

test("a retry falling due wakes a round of its own that asks the store for its target alone, long before the poll", async () => {
  let failed = false;
  const target = recordingTarget(cleanups, () => {
    if (failed) return { status: 200 };
    failed = true;
    return { status: 500 };
  });
  const configs = Array.from({ length: 20 }, (_, i) => targetConfig(`t${i}`, target.url, { retry: { scheduleMs: [0, 150], jitter: 0 } }));
  // The machine's clock, for the store and the engine: a retry's wake-up waits on it.
  const store = await storeAt(join(tempDir(cleanups), "s.db"), cleanups, Date.now);
  const scheduler = createScheduler({ store, targets: configs, clock: Date.now, random: () => 0.5, pollMs: 60_000 });
  cleanups.unshift(() => scheduler.stop(100));
  const { asked, written } = targetsAsked(store);
  await scheduler.start();
  while (asked.length === 0) await Bun.sleep(5);
  await Promise.all(written);
  await submitEvent(store, { targets: ["t7"], receivedAt: Date.now() });
  scheduler.wake(["t7"]);
  await target.until(1);
  const failedAt = performance.now();
  await target.until(2);
  // Sent again at its time (150 ms), by a round that asked for t7 alone; the poll is a minute away.
  expect(performance.now() - failedAt).toBeGreaterThanOrEqual(140);
  expect(performance.now() - failedAt).toBeLessThan(5_000);
  expect(asked).toEqual([20, 1, 1]);
  while ((await statuses(store))[0] !== "delivered") await Bun.sleep(5);
});
