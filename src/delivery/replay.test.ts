import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { fakeClock, recordingTarget, runCleanups, storeAt, submitEvent, targetConfig, tempDir } from "../../test/delivery/fixtures.ts";
import { replay } from "./replay.ts";
import { createScheduler } from "./scheduler.ts";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(() => runCleanups(cleanups));

test("replaying failed deliveries sends those events again with the same webhook-id", async () => {
  let ok = false;
  const target = recordingTarget(cleanups, () => ({ status: ok ? 200 : 500 }));
  const clock = fakeClock();
  const store = await storeAt(join(tempDir(cleanups), "r.db"), cleanups, clock);
  const targets = [targetConfig("t", target.url, { retry: { scheduleMs: [0], jitter: 0 } })];
  const config = { targets, routes: [{ from: "src", to: ["t"], eventTypes: null }] };
  const scheduler = createScheduler({ store, targets, clock, random: () => 0.5, pollMs: 60_000 });
  cleanups.unshift(() => scheduler.stop(100));
  const failed = await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  await scheduler.drain();
  ok = true;
  await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  await scheduler.drain();

  expect(await replay(store, config, { status: "failed", dryRun: true, nowMs: clock() })).toBe(1);
  expect(await replay(store, config, { dryRun: true, nowMs: clock() })).toBe(2);
  expect(await replay(store, config, { target: "gone-from-config", dryRun: true, nowMs: clock() })).toBe(0);
  expect(await replay(store, config, { source: "other", dryRun: true, nowMs: clock() })).toBe(0);
  expect(await replay(store, config, { status: "failed", dryRun: false, nowMs: clock() })).toBe(1);
  await scheduler.drain();
  expect(target.received.map((r) => r.headers.get("webhook-id"))).toEqual([failed, expect.any(String), failed]);
  expect(await replay(store, config, { status: "failed", dryRun: true, nowMs: clock() })).toBe(0);
});

test("replay reaches a target routed after the events arrived", async () => {
  const target = recordingTarget(cleanups);
  const clock = fakeClock();
  const store = await storeAt(join(tempDir(cleanups), "r2.db"), cleanups, clock);
  await submitEvent(store, { targets: [], receivedAt: clock(), eventType: "points.added" });
  await submitEvent(store, { targets: [], receivedAt: clock(), eventType: "order.created" });
  const targets = [targetConfig("new", target.url)];
  const config = { targets, routes: [{ from: "src", to: ["new"], eventTypes: ["points.*"] }] };
  expect(await replay(store, config, { target: "new", dryRun: false, nowMs: clock() })).toBe(1);
  const scheduler = createScheduler({ store, targets, clock, random: () => 0.5, pollMs: 60_000 });
  cleanups.unshift(() => scheduler.stop(100));
  await scheduler.drain();
  expect(target.received.map((r) => r.headers.get("hookrelay-event-type"))).toEqual(["points.added"]);
});
