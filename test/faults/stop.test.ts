/**
 * How long a stop may take, whatever the targets and senders do: a stop
 * waits a bounded time for attempts in flight (a target that takes a minute
 * has its delivery handed back, delivered again after the restart) and for
 * requests still arriving (a sender dripping its body is cut off; nothing of
 * it was acknowledged), so that it ends inside a service manager's stop
 * timeout (the unit's TimeoutStopSec=30). Signals that would end the process
 * without a drain are ignored; a second stop signal ends it at once.
 */
import { expect, test } from "bun:test";
import type { RunningBinary } from "../support/binary.ts";
import { perTestCleanups, rawHttp, recordingTarget, relayToml, sendEvent, serveBinary } from "../support/fault-harness.ts";
import { waitFor } from "../support/wait.ts";

const { later, scratch, track } = perTestCleanups();

/** Sends SIGTERM; resolves with the exit code and how long the process took to end. */
async function timedStop(bin: RunningBinary): Promise<{ code: number; ms: number }> {
  const started = performance.now();
  const code = await bin.stop("SIGTERM");
  return { code, ms: performance.now() - started };
}

test("a stop waits at most 10 s for a target that takes a minute; its delivery is handed back and delivered after the restart", async () => {
  const dir = scratch();
  // The first request hangs (a 60 s timeout would let it); the next is answered.
  const target = recordingTarget((_hit, n) => (n === 1 ? "hang" : new Response("ok")));
  later(() => target.stop());
  const toml = relayToml({ targets: [{ url: target.url, timeout: "60s" }] });
  const bin = track(await serveBinary(dir, toml));
  const sent = await sendEvent(bin.publicUrl, JSON.stringify({ id: "slow_target", type: "x" }));
  expect(sent.status).toBe(200);
  await waitFor("the attempt at the target", () => target.hits.length === 1, 5_000);
  const stop = await timedStop(bin);
  expect(stop.code).toBe(0);
  expect(stop.ms).toBeGreaterThan(9_000);
  expect(stop.ms).toBeLessThan(14_000);
  const logs = bin.logs();
  expect(logs).toContain('"msg":"waiting for attempts in flight","attempts":1');
  expect(logs).toContain('"msg":"attempts still in flight at shutdown are due again","attempts":1');

  const again = track(await serveBinary(dir, toml));
  await waitFor("the delivery again after the restart", () => target.hits.length === 2, 10_000);
  expect(target.hits[1]!.webhookId).toBe(target.hits[0]!.webhookId);
  expect((await timedStop(again)).code).toBe(0);
}, 40_000);

test("a sender dripping its body does not hold the stop: its connection is closed after 5 s", async () => {
  const dir = scratch();
  const bin = track(await serveBinary(dir, relayToml({ readTimeout: "30s" })));
  const port = Number(new URL(bin.publicUrl).port);
  const head = ["POST /in/p HTTP/1.1", `Host: 127.0.0.1:${port}`, "Content-Length: 1000", "X-Ploints-Signature: 00"].join("\r\n") + "\r\n\r\n";
  // One byte every 200 ms: 200 s for the body, far past the stop.
  const drip = rawHttp(port, [head, ...Array.from({ length: 1000 }, () => "x")], { gapMs: 200, waitMs: 30_000 });
  await Bun.sleep(500);
  const stop = await timedStop(bin);
  expect(stop.code).toBe(0);
  expect(stop.ms).toBeGreaterThan(4_500);
  expect(stop.ms).toBeLessThan(9_000);
  expect(bin.logs()).toContain('"msg":"closing requests still arriving at shutdown (none was acknowledged)"');
  const reply = await drip;
  expect(reply.status).toBeNull();
  expect(reply.closed).toBe(true);
}, 30_000);

test("SIGUSR1 and SIGUSR2 are logged and ignored; a second SIGTERM during the drain ends the process at once with exit 1", async () => {
  const dir = scratch();
  const target = recordingTarget(() => "hang");
  later(() => target.stop());
  const bin = track(await serveBinary(dir, relayToml({ targets: [{ url: target.url, timeout: "60s" }] })));
  bin.proc.kill("SIGUSR1");
  bin.proc.kill("SIGUSR2");
  await waitFor("both logged", () => (bin.logs().match(/"msg":"signal ignored"/g) ?? []).length === 2, 5_000);
  expect(bin.proc.exitCode).toBeNull();
  expect((await sendEvent(bin.publicUrl, JSON.stringify({ id: "after_usr", type: "x" }))).status).toBe(200);
  await waitFor("the attempt at the target", () => target.hits.length === 1, 5_000);
  // The first stop waits for the hanging attempt; the second does not.
  bin.proc.kill("SIGTERM");
  await waitFor("the drain under way", () => bin.logs().includes('"msg":"waiting for attempts in flight"'), 5_000);
  const started = performance.now();
  bin.proc.kill("SIGTERM");
  expect(await bin.proc.exited).toBe(1);
  expect(performance.now() - started).toBeLessThan(2_000);
  expect(bin.logs()).toContain('"msg":"second signal: stopping now, without finishing the drain"');
}, 30_000);
