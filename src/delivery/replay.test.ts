import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { rows } from "../../test/support/relay.ts";
import { parseRouteFilter, type RouteFilter } from "../core/route-filter.ts";
import { fakeClock, recordingTarget, runCleanups, storeAt, submitEvent, targetConfig, tempDir } from "../../test/delivery/fixtures.ts";
import { replay } from "./replay.ts";
import { createScheduler } from "./scheduler.ts";

const cleanups: (() => void | Promise<void>)[] = [];
const server = { maxBodyBytes: 1 << 20 };
afterEach(() => runCleanups(cleanups));

test("replaying failed deliveries sends those events again with the same webhook-id", async () => {
  let ok = false;
  const target = recordingTarget(cleanups, () => ({ status: ok ? 200 : 500 }));
  const clock = fakeClock();
  const store = await storeAt(join(tempDir(cleanups), "r.db"), cleanups, clock);
  const targets = [targetConfig("t", target.url, { retry: { scheduleMs: [0], jitter: 0 } })];
  const config = { targets, server, routes: [{ from: "src", to: ["t"], eventTypes: null }] };
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
  const config = { targets, server, routes: [{ from: "src", to: ["new"], eventTypes: ["points.*"] }] };
  expect(await replay(store, config, { status: "failed", dryRun: true, nowMs: clock() })).toBe(0);
  expect(await replay(store, config, { status: "unrouted", dryRun: true, nowMs: clock() })).toBe(1);
  expect(await replay(store, config, { target: "new", dryRun: false, nowMs: clock() })).toBe(1);
  // Now delivered to (pending): no longer unrouted.
  expect(await replay(store, config, { status: "unrouted", dryRun: true, nowMs: clock() })).toBe(0);
  const scheduler = createScheduler({ store, targets, clock, random: () => 0.5, pollMs: 60_000 });
  cleanups.unshift(() => scheduler.stop(100));
  await scheduler.drain();
  expect(target.received.map((r) => r.headers.get("hookrelay-event-type"))).toEqual(["points.added"]);
});

test("replay routes stored events through the route filters, reading their stored body (decoded), headers and query", async () => {
  const target = recordingTarget(cleanups);
  const clock = fakeClock();
  const store = await storeAt(join(tempDir(cleanups), "r3.db"), cleanups, clock);
  const json = [["content-type", "application/json"]] as [string, string][];
  const big = await submitEvent(store, { targets: [], receivedAt: clock(), body: '{"amount": 20000}', headers: json });
  await submitEvent(store, { targets: [], receivedAt: clock(), body: '{"amount": 50}', headers: json });
  const zipped = await submitEvent(store, {
    targets: [],
    receivedAt: clock(),
    body: gzipSync('{"amount": 30000}'),
    headers: [...json, ["content-encoding", "gzip"]],
  });
  const acme = await submitEvent(store, { targets: [], receivedAt: clock(), body: "{}", headers: [...json, ["X-Shop", "acme"]] });
  const targets = [targetConfig("big", target.url), targetConfig("acme", target.url)];
  const filter = (f: unknown) => (parseRouteFilter(f) as { ok: true; filter: RouteFilter }).filter;
  const config = {
    targets,
    server,
    routes: [
      { from: "src", to: ["big"], eventTypes: null, filter: filter({ body: { amount: { $gte: 10000 } } }) },
      { from: "src", to: ["acme"], eventTypes: null, filter: filter({ headers: { "x-shop": "acme" } }) },
    ],
  };
  expect(await replay(store, config, { dryRun: false, nowMs: clock() })).toBe(3);
  const pairs = await rows(store, "SELECT event_id, target FROM deliveries");
  expect(pairs.map((r) => `${r.event_id} ${r.target}`).sort()).toEqual([`${big} big`, `${zipped} big`, `${acme} acme`].sort());
});
