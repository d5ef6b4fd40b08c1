import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { runCleanups, storeAt, targetConfig, tempDir } from "../../test/delivery/fixtures.ts";
import { decideOutcome } from "../core/delivery-outcome.ts";
import { silentLogger } from "../log/logger.ts";
import { openCircuit } from "../store/target-state.ts";
import { TargetHealth } from "./target-health.ts";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(() => runCleanups(cleanups));

test("a success whose write found the stored state healthy (no row back) makes the cached state healthy too", async () => {
  const store = await storeAt(join(tempDir(cleanups), "s.db"), cleanups);
  const t = targetConfig("t", "http://unused");
  const health = new TargetHealth(store, new Map([["t", t]]), { threshold: 3, baseMs: 1000, maxMs: 60_000 }, silentLogger);
  // Another relay's view: the circuit open; this one reads it, then the other closes it.
  await openCircuit(store.writer, { name: "t", untilMs: 5000, nowMs: 1000 });
  await health.refresh(true);
  expect(health.gate("t", 6000)).toEqual({ open: true, probeOnly: true });
  const success = decideOutcome({ kind: "response", status: 200, retryAfter: null, location: null }, t.retry, 1, 6000, 0.5);
  expect(success.health).toBe("success");
  await health.afterOutcome(t, success, { target: null }, 6000);
  expect(health.gate("t", 6000)).toEqual({ open: true, probeOnly: false });
});
