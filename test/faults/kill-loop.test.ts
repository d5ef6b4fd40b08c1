/**
 * The kill -9 loop: a provider sends 3,000 distinct signed events at a steady
 * rate (retrying anything not acknowledged, as providers do), the compiled
 * binary is SIGKILLed three times while ingest and delivery are both busy and
 * restarted each time, then a final clean run. Nothing acknowledged may be
 * missing from the store, and every acknowledged event must reach the target.
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import type { RunningBinary } from "../support/binary.ts";
import { openStoreFile, provider, recordingTarget, relayToml, scratchDir, serveBinary } from "../support/fault-harness.ts";
import { waitFor } from "../support/wait.ts";

const EVENTS = 3000;
const KILLS = 3;

const tmp = scratchDir("hookrelay-killloop-");
const t = recordingTarget(async () => {
  // A little latency keeps attempts in flight when the kills land.
  await Bun.sleep(5 + Math.floor(Math.random() * 20));
  return new Response("ok");
});
let bin: RunningBinary | null = null;
afterAll(async () => {
  if (bin && bin.proc.exitCode === null) await bin.stop("SIGKILL");
  await t.stop();
  tmp.remove();
});

test("3 SIGKILLs during 3,000 events lose no acknowledged event and no delivery", async () => {
  const started = performance.now();
  const db = join(tmp.dir, "data/relay.db");
  // A short target timeout keeps the lease (timeout + the engine's margin) short: the
  // last kill's leases come back within seconds.
  const toml = relayToml({ targets: [{ url: t.url, timeout: "1s", connectTimeout: "500ms", concurrency: 16 }] });
  bin = await serveBinary(tmp.dir, toml);
  const send = provider({ rps: 300, total: EVENTS, prefix: "loop", url: () => bin?.publicUrl ?? null });

  const kills: { ackedBefore: number; inFlightAtTarget: number; restartMs: number }[] = [];
  for (let k = 1; k <= KILLS; k++) {
    await waitFor(`${k * 750} acked`, () => send.acked.size >= k * 750, 30_000, 10);
    // Land the kill while attempts are at the target as well as requests at the relay, when
    // there are any: after a kill the dead process's leases hold the target's slots until they expire.
    await waitFor("an attempt in flight", () => t.inFlight() > 0, 1_000, 1).catch(() => {});
    const running = bin!;
    const inFlightAtTarget = t.inFlight();
    bin = null;
    running.proc.kill("SIGKILL");
    await running.proc.exited;
    const t0 = performance.now();
    bin = await serveBinary(tmp.dir, toml);
    kills.push({ ackedBefore: send.acked.size, inFlightAtTarget, restartMs: Math.round(performance.now() - t0) });
  }
  await send.done;
  // Final clean run: everything acknowledged reaches the target (the last kill's leases expire first).
  await waitFor("every acked event at the target", () => [...send.acked.values()].every((id) => t.byId.has(id)), 60_000, 200);
  // An attempt the killed process made may have reached the target while its row still says
  // `delivering`: that lease expires, and the delivery is sent again and recorded. Wait for it.
  const watcher = await openStoreFile(db);
  try {
    const open = async () =>
      Number((await watcher.reads.execute("SELECT count(*) AS n FROM deliveries WHERE status <> 'delivered'")).rows[0]!.n);
    await waitFor("every delivery recorded as delivered", async () => (await open()) === 0, 60_000, 200);
  } finally {
    await watcher.close();
  }
  expect(await bin!.stop()).toBe(0);
  bin = null;

  const store = await openStoreFile(db);
  const events = await store.reads.execute("SELECT id, dedupe_key FROM events");
  const deliveries = await store.reads.execute("SELECT status, count(*) AS n FROM deliveries GROUP BY status");
  await store.close();
  const stored = new Map(events.rows.map((r) => [String(r.id), String(r.dedupe_key)]));
  const ackedLost = [...send.acked].filter(([key, id]) => stored.get(id) !== key).length;
  const deliveriesLost = [...send.acked.values()].filter((id) => !t.byId.has(id)).length;
  const redelivered = [...t.byId.values()].filter((n) => n > 1).length;
  const retriedAfterNoAnswer = send.unanswered.size;

  console.log(
    [
      `kill -9 loop: ${KILLS} SIGKILLs, ${EVENTS} events, ${Math.round((performance.now() - started) / 1000)} s`,
      ...kills.map((k, i) => `  kill ${i + 1}: after ${k.ackedBefore} acked, ${k.inFlightAtTarget} attempts at the target; restarted in ${k.restartMs} ms`),
      `  acked events: ${send.acked.size}; stored events: ${stored.size}; requests answered by nothing and retried by the provider: ${retriedAfterNoAnswer}`,
      `  acked events lost: ${ackedLost}`,
      `  deliveries lost: ${deliveriesLost} (events delivered more than once, at-least-once after a kill: ${redelivered})`,
      `  deliveries by status: ${deliveries.rows.map((r) => `${r.status}=${r.n}`).join(", ")}`,
    ].join("\n"),
  );
  expect(kills).toHaveLength(KILLS);
  expect(send.acked.size).toBe(EVENTS);
  expect(ackedLost).toBe(0);
  expect(deliveriesLost).toBe(0);
  // A retry of an event stored before the kill was deduped, never stored twice or acked with another id.
  expect(send.ackedTwice).toEqual([]);
  expect(stored.size).toBe(EVENTS);
  expect(deliveries.rows.map((r) => [r.status, r.n])).toEqual([["delivered", EVENTS]]);
}, 150_000);
